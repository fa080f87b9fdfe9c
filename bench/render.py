"""Renderer timings on this machine's CPU at the size a training step uses: B=32 clouds of N=1024
points, V=10 views at 224×224 (PointCLIP V2's rig). Prints the z-buffer with visibility
(`render_points`) against its memory floor, timed alternately in one run: filling the same output
buffers (depth float, mask bool, index long, B·V·H·W each) and one scatter of as many entries as
the z-buffer scatters (one per visible point); then ms per batch (median of repeats) for every
depth style, the vectorised realistic projection against the step-by-step port of
PointCLIP V2 (the test oracle in tests/test_render_realistic.py) timed alternately in this one run,
their agreement, the peak memory of each call and the time to ray-cast a 10k-triangle mesh in 10
views.

Peak memory is the growth of the resident set size during one call, in a fresh Python process that
builds only that call's inputs and runs it once to warm up: the kernel's peak RSS (VmHWM) is reset
through /proc/self/clear_refs just before the call and read after it, minus the RSS at the reset.
torch's CPU allocations are invisible to tracemalloc; RSS sees them all."""
import gc
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_render_realistic import port_for_rig, realistic_port  # noqa: E402

from p2ikit.shapes import Mesh, sample_surface  # noqa: E402
from p2ikit.ops import random_rotation  # noqa: E402
from p2ikit.pictures import render_depth_images, render_mesh  # noqa: E402
from p2ikit.pictures import DEPTH_STYLES  # noqa: E402
from p2ikit.render import RIGS, lift, render_points, splat  # noqa: E402
from timing import alternate

B, N, V, S = 32, 1024, 10, 224


def torus(R=0.68, r=0.3, n_major=100, n_minor=50):
    "A 2·100·50 = 10,000-triangle torus about the y axis."
    a = torch.arange(n_major) * 2 * math.pi / n_major
    b = torch.arange(n_minor) * 2 * math.pi / n_minor
    A, Bm = torch.meshgrid(a, b, indexing="ij")
    ring = R + r * Bm.cos()
    verts = torch.stack([ring * A.cos(), r * Bm.sin(), ring * A.sin()], -1).view(-1, 3)
    i, j = torch.meshgrid(torch.arange(n_major), torch.arange(n_minor), indexing="ij")
    def q(di, dj):
        return ((i + di) % n_major * n_minor + (j + dj) % n_minor).flatten()
    faces = torch.cat([torch.stack([q(0, 0), q(1, 0), q(1, 1)], -1),
                       torch.stack([q(0, 0), q(1, 1), q(0, 1)], -1)])
    return verts, faces


def clouds(seed=0):
    "B surface clouds: N points sampled by area from the torus, each turned by a random rotation."
    pts = sample_surface(Mesh(*torus()), B * N, seed=seed)[0].view(B, N, 3)
    return pts @ random_rotation(B, generator=seed).transpose(1, 2)


def calls():
    "name -> setup(); each setup builds only its own inputs and returns the call to time."
    rig = RIGS.build("pointclip_v2_10", image_size=S)
    pts = clouds()
    def splat_setup():
        rend, feats = render_points(pts, rig), torch.randn(B, N, 384)
        return lambda: splat(feats, rend, 14)
    def lift_setup():
        rend, maps = render_points(pts, rig), torch.randn(B, V, 384, 14, 14)
        return lambda: lift(maps, rend)
    def mesh_setup():
        mesh = torus()
        return lambda: render_mesh(mesh, rig)
    def style(name):
        return lambda: lambda: render_depth_images(pts, rig, name)
    return {
        "render_points (z-buffer, radius 0)": lambda: lambda: render_points(pts, rig),
        "render_points (z-buffer, radius 2)": lambda: lambda: render_points(pts, rig, radius=2),
        "style 'pointclip'": style("pointclip"),
        "style 'realistic' (vectorised)": style("realistic"),
        "style 'realistic' (all B*V images at once)": lambda: lambda: DEPTH_STYLES["realistic"](
            pts, rig, S, images=10 ** 9),
        "style 'realistic' (V2 port, oracle)": lambda: lambda: port_for_rig(pts, rig),
        "style 'zbuffer' (radius 2)": style("zbuffer"),
        "splat C=384 -> 14x14": splat_setup,
        "lift 14x14 C=384": lift_setup,
        "render_mesh 10k triangles, 10 views": mesh_setup,
    }


def memory_floor(pts, rig):
    "The floor's call: fill the outputs, scatter once as many entries as the z-buffer does."
    rend = render_points(pts, rig)
    image = torch.arange(B * V).view(B, V, 1) * S * S
    keys = (image + rend.pixel)[rend.visible]
    vals = torch.arange(len(keys))
    def floor():
        depth = torch.zeros(B, V, 1, S, S)
        mask = torch.zeros(B, V, 1, S, S, dtype=torch.bool)
        index = torch.full((B * V * S * S,), -1, dtype=torch.long)
        index.scatter_(0, keys, vals)
        return depth, mask, index
    return floor, len(keys)


def timed(fn, repeats):
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def peak_mb(name):
    "Peak RSS growth (MB) of one call, in a fresh process (this script with --peak NAME)."
    out = subprocess.run([sys.executable, __file__, "--peak", name], capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else float("nan")


def _status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])


if __name__ == "__main__" and sys.argv[1:2] == ["--peak"]:
    with torch.no_grad():
        fn = calls()[sys.argv[2]]()
        fn()  # warm-up: lazy inits are not the call's memory
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        before = _status_kb("VmRSS")
        fn()
    print((_status_kb("VmHWM") - before) / 1024)
elif __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()} (shared machine: figures are noisy)")
    print(f"B={B} clouds, N={N} points, V={V} views (pointclip_v2_10), {S}x{S}\n")
    fns = {name: setup() for name, setup in calls().items()}
    with torch.no_grad():
        floor, entries = memory_floor(clouds(), RIGS.build("pointclip_v2_10", image_size=S))
        zb = fns["render_points (z-buffer, radius 0)"]
        for threads in sorted({1, torch.get_num_threads()}):
            torch.set_num_threads(threads)
            t = alternate({"render": zb, "floor": floor}, 5)
            print(f"z-buffer + visibility, {threads} thread(s): z-buffer {t['render']:.1f} ms, "
                  f"memory floor {t['floor']:.1f} ms (fill depth/mask/index + scatter of {entries} "
                  f"entries), ratio {t['render'] / t['floor']:.2f}x (medians of 5 alternating)")
        torch.set_num_threads(threads)
        print()
        # the realistic pair, alternately in one run
        fast_ms, port_ms = [], []
        fast_fn = fns["style 'realistic' (vectorised)"]
        port_fn = fns["style 'realistic' (V2 port, oracle)"]
        whole_fn = fns["style 'realistic' (all B*V images at once)"]
        whole_ms = []
        fast_fn()
        port_fn()
        whole_fn()
        for _ in range(3):
            fast_ms += timed(fast_fn, 1)
            port_ms += timed(port_fn, 1)
            whole_ms += timed(whole_fn, 1)
        pts, rig = clouds(), RIGS.build("pointclip_v2_10", image_size=S)
        fast = render_depth_images(pts, rig, "realistic")
        diff = (fast - port_for_rig(pts, rig)).abs().max().item()
        own = (fast - realistic_port(pts, size=S)).abs()
        print(f"{'call':40s} {'ms/batch':>9s} {'peak MB':>8s}")
        for name, fn in fns.items():
            if "realistic" in name:
                ms = fast_ms if "vectorised" in name else port_ms if "port" in name else whole_ms
            else:
                ms = timed(fn, 2)
            print(f"{name:40s} {statistics.median(ms):9.1f} {peak_mb(name):8.1f}")
    f, p, w = (statistics.median(ms) for ms in (fast_ms, port_ms, whole_ms))
    same = bool((fast_fn() == whole_fn()).all())
    print(f"\nrealistic, 20 images at a time vs all B*V at once: {w / f:.2f}x faster "
          f"({f:.0f} ms vs {w:.0f} ms), identical output: {same}")
    print(f"\nrealistic: port / vectorised = {p / f:.2f}x (medians of 3 alternating runs: "
          f"{p:.0f} ms vs {f:.0f} ms)")
    print(f"realistic: max |vectorised - port| over {B}x{V} images at {S}px = {diff:.2e} "
          f"(same view matrices)")
    print(f"realistic vs the port with V2's own float32 Euler matrices: max diff "
          f"{own.max().item():.2e}, {(own > 1e-5).float().mean().item() * 100:.3f}% of pixels "
          f"differ by > 1e-5")
    print(f"load average at the end {os.getloadavg()}")
