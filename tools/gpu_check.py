"""`make gpu-check`: on a machine with a CUDA device, the GPU paths against the CPU ones.

- render_points, splat, lift, FPS and kNN on CUDA against the same call on the CPU (FPS on CUDA is
  the pure-torch loop, on the CPU fpsample: in float64 both are the torch loop and must agree
  exactly; in float32 the share of equal picks is printed);
- every recipe a few optimiser steps on CUDA with autocast (`optim.amp` 'auto': bf16), at the demo's
  sizes with an untrained RenderNet teacher (its weights do not change what runs), step times.

Exits 0 with the single line "no CUDA device" where torch sees none; 1 if a check fails. Needs only
the project's own set-up (`make setup`): no download, no data set (SyntheticShapes is generated).
`--device cpu` runs the same checks with the CPU on both sides (a dry run of this script).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import fields, replace

import torch

FAILED: list[str] = []


def check(name: str, ok: bool, detail: str = ""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        FAILED.append(name)


def moved(rendering, device):
    "`rendering` with every tensor on `device`."
    return replace(rendering, **{f.name: getattr(rendering, f.name).to(device)
                                 for f in fields(rendering)
                                 if torch.is_tensor(getattr(rendering, f.name))})


def check_ops(dev: torch.device):
    from p2ikit.ops import farthest_point_sample, knn
    from p2ikit.render import RIGS, lift, render_points, splat
    g = torch.Generator().manual_seed(0)
    pts = torch.randn(4, 1024, 3, generator=g) * torch.tensor([0.5, 0.3, 0.2])
    rig = RIGS.build("pointclip_v2_10", image_size=224)
    cpu, gpu = render_points(pts, rig, radius=1), render_points(pts.to(dev), rig, radius=1)
    same_vis = (cpu.visible == gpu.visible.cpu()).float().mean().item()
    check("render_points visible", same_vis > 0.999, f"{same_vis:.5f} of (cloud, view, point)")
    both = cpu.mask & gpu.mask.cpu()
    ddiff = (cpu.depth - gpu.depth.cpu()).abs()[both].max().item() if both.any() else 0.0
    same_idx = (cpu.index == gpu.index.cpu()).float().mean().item()
    check("render_points depth", ddiff < 1e-4, f"max |cpu - cuda| {ddiff:.2e} where both drew")
    check("render_points index", same_idx > 0.995, f"{same_idx:.5f} of pixels agree")
    feats = torch.randn(4, 1024, 32, generator=g)
    on = moved(cpu, dev)                                   # the CPU's rendering: exact inputs
    s_cpu, s_gpu = splat(feats, cpu, 14), splat(feats.to(dev), on, 14).cpu()
    check("splat", torch.allclose(s_cpu, s_gpu, atol=1e-5),
          f"max diff {(s_cpu - s_gpu).abs().max().item():.2e}")
    maps = torch.randn(4, len(rig), 32, 14, 14, generator=g)
    l_cpu, l_gpu = lift(maps, cpu), lift(maps.to(dev), on).cpu()
    check("lift", torch.allclose(l_cpu, l_gpu, atol=1e-5),
          f"max diff {(l_cpu - l_gpu).abs().max().item():.2e}")
    cloud = torch.rand(8, 1024, 3, generator=g)
    f64 = farthest_point_sample(cloud.double(), 512).equal(
        farthest_point_sample(cloud.double().to(dev), 512).cpu())
    check("FPS float64 (torch loop on both)", f64)
    same = (farthest_point_sample(cloud, 512) ==
            farthest_point_sample(cloud.to(dev), 512).cpu()).float().mean().item()
    print(f"     FPS float32, fpsample (cpu) vs torch loop ({dev.type}): {same:.4f} of picks equal")
    q = torch.rand(8, 512, 3, generator=g)
    d_cpu, i_cpu = knn(q, cloud, 16)
    d_gpu, i_gpu = knn(q.to(dev), cloud.to(dev), 16)
    same = (i_cpu == i_gpu.cpu()).float().mean().item()
    check("kNN indices", same > 0.99, f"{same:.4f} equal")
    check("kNN distances", torch.allclose(d_cpu, d_gpu.cpu(), atol=1e-4),
          f"max diff {(d_cpu - d_gpu.cpu()).abs().max().item():.2e}")


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def check_recipes(dev: torch.device, steps: int):
    from p2ikit.recipes import RECIPES, build_trainer, recipe_config
    from p2ikit.rendernet import RenderNetTeacher
    for recipe in RECIPES.names:
        with tempfile.TemporaryDirectory() as out:
            try:
                cfg = recipe_config(recipe, {
                    "run": {"seed": 0, "out_dir": out, "name": recipe, "progress": False,
                            "device": str(dev)},
                    "data": {"num_points": 512, "samples_per_class": 2, "batch_size": 16},
                    "render": {"views": 6, "image_size": 64},
                    "optim": {"epochs": 1000, "max_steps": steps, "warmup_steps": 1,
                              "amp": "auto"}})
                teacher = RenderNetTeacher({"num_classes": 10, "embed_dim": 128, "width": 24,
                                            "image_size": 64, "mean": [0.5] * 3,
                                            "std": [0.25] * 3})
                trainer = build_trainer(cfg, teacher=teacher)
                sync(dev)
                trainer.fit()
                sync(dev)
                hist = trainer.history
                finite = all(torch.isfinite(torch.tensor(r["loss"])) for r in hist)
                ms = [16e3 / r["samples_per_s"] for r in hist[1:] or hist]
                check(f"recipe {recipe}", len(hist) == steps and finite,
                      f"{len(hist)} steps on {dev}, amp {trainer.amp_dtype}, median step "
                      f"{statistics.median(ms):.1f} ms (first {16e3 / hist[0]['samples_per_s']:.0f}"
                      f" ms), last loss {hist[-1]['loss']:.4f}")
            except Exception as e:
                check(f"recipe {recipe}", False, f"{type(e).__name__}: {str(e)[:300]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), or cpu for a dry run")
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device")
        return 0
    dev = torch.device(a.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU (dry run)"
    print(f"torch {torch.__version__} on {name}", flush=True)
    t = time.perf_counter()
    check_ops(dev)
    check_recipes(dev, a.steps)
    print(f"{len(FAILED)} check(s) failed{': ' + ', '.join(FAILED) if FAILED else ''} "
          f"({time.perf_counter() - t:.0f} s)")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
