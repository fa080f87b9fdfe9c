"""Where one training step's time goes, per recipe, at the demo's sizes (B=16 clouds of 512 points,
6 views of 64 px, the tiny point transformer, an untrained RenderNet teacher of the demo's shape:
its weights do not change its cost), and the training step against the old one.

1. Profile (this code): for every recipe one step taken apart: the augmentation, the z-buffer
   (`render_points`), the teacher's pictures, the teacher's features three ways (uncached, from the
   disk cache once it holds them, from the teacher bank), the forward of every part of the method
   (backbone, decoder, heads, each loss term of the spec), the backward split into the part above
   the backbone and the backbone's own (a stamp on the backbone's outputs marks when their gradient
   is ready), and the optimiser (clip, step, schedule, zero). ms (median of a few steps) and the
   share of the step as trained (bank where the recipe can use one, else uncached).
2. Old vs new: samples/s of whole steps of mvnet and pointmcd as `Trainer.fit` logs them, for this
   code and for commit d203b4f (before the round: no bank, the old z-buffer and FPS), each in a
   subprocess with PYTHONPATH on its worktree (`--old DIR`; without it a temporary
   `git worktree` of d203b4f is made and removed), new and old alternately, so the ratio holds on a
   loaded machine. Both sides build their trainer through the API both versions share
   (`recipe_config`, `build_trainer(cfg, teacher=...)`, `RenderNetTeacher`, `fit`).

    python bench/step.py [--steps 6] [--old DIR] [--skip-old]
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

SIZES = dict(points=512, batch=16, views=6, image=64, per_class=4, bank_rotations=36)
COMPARED = ("mvnet", "pointmcd")
OLD_COMMIT = "d203b4f"    # the last commit before this round (no bank, the old z-buffer and FPS)


def overrides(recipe: str, out: str, steps: int, bank: bool) -> dict:
    "The demo's sizes as config overrides (the demo's mvnet; other recipes their own defaults)."
    s = SIZES
    return {"run": {"seed": 0, "out_dir": out, "name": recipe, "progress": False},
            "data": {"num_points": s["points"], "samples_per_class": s["per_class"],
                     "batch_size": s["batch"]},
            "render": {"views": s["views"], "image_size": s["image"]},
            "optim": {"epochs": 1000, "max_steps": steps, "warmup_steps": 1},
            **({"teacher": {"bank_rotations": s["bank_rotations"]}} if bank else {})}


def teacher_like_demo(cls):
    "An untrained RenderNet teacher of the demo's configuration (64 px, width 24, 128 dims)."
    return cls({"num_classes": 10, "embed_dim": 128, "width": 24, "image_size": SIZES["image"],
                "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]})


# ---------------------------------------------------------------- old vs new: the worker
def worker(recipe: str, steps: int, bank: bool):
    "Run `steps` steps with whichever p2ikit is on the path; print the samples/s as JSON."
    try:
        from p2ikit.recipes import build_trainer, recipe_config   # this round's layout
        from p2ikit.rendernet import RenderNetTeacher
    except ImportError:
        from p2ikit.teachers import RenderNetTeacher               # d203b4f's layout
        from p2ikit.train import build_trainer, recipe_config
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as out:
        cfg = recipe_config(recipe, overrides(recipe, out, steps, bank))
        trainer = build_trainer(cfg, teacher=teacher_like_demo(RenderNetTeacher))
        trainer.fit()
        rates = [r["samples_per_s"] for r in trainer.history][1:]     # the first step warms up
    print(json.dumps({"samples_per_s": statistics.median(rates), "steps": len(rates)}))


@contextlib.contextmanager
def old_worktree(commit: str = OLD_COMMIT):
    "A temporary `git worktree` of `commit` beside this checkout, removed afterwards."
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "old")
        git = ["git", "-C", str(repo), "worktree"]
        subprocess.run([*git, "add", "--detach", path, commit], check=True, capture_output=True)
        try:
            yield path
        finally:
            subprocess.run([*git, "remove", "--force", path], capture_output=True)


def run_worker(path: str, recipe: str, steps: int, bank: bool) -> float:
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, __file__, "--worker", recipe, str(steps), str(int(bank))]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=path)
    if res.returncode:
        raise RuntimeError(f"{path}: {res.stderr[-1500:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])["samples_per_s"]


def old_vs_new(old: str, steps: int, rounds: int = 2, compared=COMPARED):
    new = str(Path(__file__).resolve().parents[1])
    print(f"\nold ({OLD_COMMIT} at {old}) vs new ({new}): samples/s of whole steps, 1 thread each, "
          f"{rounds} alternating run(s) of {steps} steps (median step of each, median of runs)")
    for recipe in compared:
        got = {"new (bank)": [], "new (no bank)": [], "old": []}
        for _ in range(rounds):
            got["new (bank)"].append(run_worker(new, recipe, steps, True))
            got["old"].append(run_worker(old, recipe, steps, False))
            got["new (no bank)"].append(run_worker(new, recipe, steps, False))
        m = {k: statistics.median(v) for k, v in got.items()}
        print(f"{recipe:9s} old {m['old']:6.1f}   new, no bank {m['new (no bank)']:6.1f} "
              f"({m['new (no bank)'] / m['old']:.2f}x)   new, bank {m['new (bank)']:6.1f} "
              f"({m['new (bank)'] / m['old']:.2f}x)   samples/s   load {os.getloadavg()}")


# ---------------------------------------------------------------- the profile
class Clock:
    "Accumulates ms per name over one step."
    def __init__(self):
        self.ms = {}

    def add(self, name, ms):
        self.ms[name] = self.ms.get(name, 0.0) + ms

    def wrap(self, name, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, (time.perf_counter() - t) * 1e3)
        return timed

    def hook(self, name, module):
        "Forward time of `module` (pre and post hooks)."
        start = {}
        module.register_forward_pre_hook(lambda m, a: start.__setitem__("t", time.perf_counter()))
        module.register_forward_hook(
            lambda m, a, o: self.add(name, (time.perf_counter() - start["t"]) * 1e3))


class Stamp(torch.autograd.Function):
    "Identity; its backward notes when the gradient of the tensor arrived."
    arrived = []

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        Stamp.arrived.append(time.perf_counter())
        return g


def stamp_outputs(module):
    "Every output tensor of `module` (a tensor or tuple) passes through `Stamp`."
    def hook(m, a, out):
        if torch.is_tensor(out):
            return Stamp.apply(out) if out.requires_grad else out
        if isinstance(out, tuple):
            items = [Stamp.apply(t) if torch.is_tensor(t) and t.requires_grad else t for t in out]
            return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
        return out
    module.register_forward_hook(hook)


def profile_recipe(recipe: str, steps: int):
    "{row: median ms} of one step of `recipe`, and the recipe's teacher mode as trained."
    from p2ikit import recipes
    from p2ikit.cache import FeatureCache
    from p2ikit.core import BadInput
    from p2ikit.rendernet import RenderNetTeacher
    with tempfile.TemporaryDirectory() as out:
        cfg = recipes.recipe_config(recipe, overrides(recipe, out, steps, bank=True))
        trainer = recipes.build_trainer(cfg, teacher=teacher_like_demo(RenderNetTeacher))
        method = trainer.method
        try:                        # as `make demo` trains: from the bank where the recipe can
            method.build_bank(trainer.dataset, progress=False)
            mode = "bank"
        except BadInput:            # a random rig or point pictures: no bank for this recipe
            mode = "uncached"
        clock = Clock()
        recipes.render_points = clock.wrap("render_points (z-buffer, visibility)",
                                           recipes.render_points)
        recipes.augment_batch = clock.wrap("augment", recipes.augment_batch)
        method.teacher_images = clock.wrap("teacher pictures", method.teacher_images)
        features = method.teacher_features
        if method.bank is not None:
            method.bank.lookup = clock.wrap("teacher from the bank", method.bank.lookup)
        for name, child in method.named_children():
            clock.hook(f"forward: {name}", child)
        spec = method.spec
        for name, term in spec.terms.items():
            clock.hook(f"  loss term {name}", term)
        for name in list(spec.fns):
            spec.fns[name] = clock.wrap(f"  loss term {name}", spec.fns[name])
        stamp_outputs(method.backbone)
        cache = FeatureCache(Path(out) / "cache")
        rows = []
        batches = [trainer.collate_fn([trainer.dataset[(s * cfg.data.batch_size + i)
                                                      % len(trainer.dataset)]
                                       for i in range(cfg.data.batch_size)])
                   for s in range(steps)]
        method.train()
        for step, batch in enumerate(batches):
            clock.ms = {}
            t0 = time.perf_counter()
            method.teacher_features = clock.wrap("teacher uncached (not in the step)", features)
            bank, method.bank = method.bank, None
            with torch.no_grad():                      # the teacher's three ways, apart
                images = method.teacher_images(batch, recipes.make_rig(cfg.render, step))
                method.teacher_features(images)
                method.cache = cache
                method.teacher_features(images)        # fills the cache
                method.teacher_features = clock.wrap("teacher cached (not in the step)", features)
                method.teacher_features(images)        # a hit
                method.cache = None
            method.bank = bank
            clock.ms.pop("teacher pictures", None)
            wasted = (time.perf_counter() - t0) * 1e3
            method.teacher_features = clock.wrap("teacher uncached", features)
            t = time.perf_counter()
            with torch.no_grad():
                inputs = method.prepare(batch, step)
            clock.add("prepare: other", (time.perf_counter() - t) * 1e3 - sum(
                v for k, v in clock.ms.items() if "not in the step" not in k))
            t = time.perf_counter()
            loss, parts = method(inputs)
            clock.add("forward: other (inline losses, glue)", (time.perf_counter() - t) * 1e3 - sum(
                v for k, v in clock.ms.items() if k.startswith("forward: ")))
            Stamp.arrived.clear()
            t = time.perf_counter()
            loss.backward()
            end = time.perf_counter()
            mid = max(Stamp.arrived) if Stamp.arrived else end
            clock.add("backward: above the backbone", (mid - t) * 1e3)
            clock.add("backward: backbone", (end - mid) * 1e3)
            t = time.perf_counter()
            if cfg.optim.grad_clip:
                torch.nn.utils.clip_grad_norm_(method.parameters(), cfg.optim.grad_clip)
            trainer.optimizer.step()
            trainer.scheduler.step()
            trainer.optimizer.zero_grad(set_to_none=True)
            clock.add("optimiser", (time.perf_counter() - t) * 1e3)
            clock.add("step as trained (total)", (time.perf_counter() - t0) * 1e3 - wasted)
            rows.append(dict(clock.ms))
    keys = dict.fromkeys(k for r in rows for k in r)
    return {k: statistics.median(r.get(k, 0.0) for r in rows[1:] or rows) for k in keys}, mode


def profile(steps: int, names=None):
    from p2ikit.recipes import RECIPES
    torch.set_num_threads(1)
    print(f"profile of one step, 1 thread, demo sizes {SIZES}; ms = median of {steps - 1} steps "
          f"after one warm-up; share = of the step as trained; rows marked 'not in the step' are "
          f"the teacher measured apart")
    for recipe in names or RECIPES.names:
        try:
            ms, mode = profile_recipe(recipe, steps)
        except Exception as e:
            print(f"\n{recipe}: not profiled: {type(e).__name__}: {str(e)[:200]}")
            continue
        total = ms.pop("step as trained (total)")
        print(f"\n{recipe} (teacher as trained: {mode}) — step {total:.1f} ms = "
              f"{SIZES['batch'] * 1e3 / total:.1f} samples/s, load {os.getloadavg()}")
        print(f"  {'part':44s} {'ms':>8s} {'share':>7s}")
        for k, v in ms.items():
            share = "" if "not in the step" in k else f"{100 * v / total:6.1f}%"
            print(f"  {k:44s} {v:8.1f} {share:>7s}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]), bool(int(sys.argv[4])))
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--old", help="a checkout of d203b4f (default: a temporary git worktree)")
    ap.add_argument("--skip-old", action="store_true")
    ap.add_argument("--skip-profile", action="store_true")
    ap.add_argument("--rounds", type=int, default=2, help="alternating old/new runs per recipe")
    ap.add_argument("--recipes", nargs="+", default=list(COMPARED), help="old vs new of these")
    ap.add_argument("--profile", nargs="+", default=None, help="profile these (default: all)")
    a = ap.parse_args()
    print(f"torch {torch.__version__}, load average {os.getloadavg()} (1, 5, 15 min)")
    if not a.skip_profile:
        profile(a.steps, a.profile)
    if not a.skip_old:
        with contextlib.nullcontext(a.old) if a.old else old_worktree() as old:
            old_vs_new(old, a.steps * 2, a.rounds, a.recipes)
    print(f"\nload average at the end {os.getloadavg()}")
