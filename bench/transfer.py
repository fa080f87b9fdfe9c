"""The transfer benchmark: does the teacher's knowledge reach the student, against every control?

    python bench/transfer.py                 # full: 5 seeds, mvnet + pointmcd, val-novel classes
    python bench/transfer.py --split test    # the test-novel classes: run once, at the end
    python bench/transfer.py --quick         # seconds: the tests' toy sizes
    python bench/transfer.py --no-parts      # without the part-segmentation block

Prints one table (each arm's mean ± 95% t-interval over training seeds, `e`: over episodes for
arms that do not depend on the seed; per recipe the paired difference teacher − random-weight
teacher with its 95% t-interval) and the shortcut gaps; then the part-segmentation block (instance
and class mIoU of the dense linear probe and 1-shot part segmentation per arm, the supervised upper
bound, teacher − random per recipe); writes runs/benchmark*/benchmark.{json,md}.
"""
import argparse
import dataclasses
import os
import time

import numpy as np

from p2ikit.benchmark import QUICK_BENCHMARK, TransferBenchmark, run_transfer_benchmark
from p2ikit.parts import SYNTHETIC_PARTS


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="toy sizes (seconds), for the tests")
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--seeds", type=int, default=None, help="number of training seeds")
    ap.add_argument("--steps", type=int, default=None, help="pretraining steps per run")
    ap.add_argument("--workers", type=int, default=None, help="training processes at once")
    ap.add_argument("--recipes", default=None, help="comma-separated, e.g. mvnet,pointmcd")
    ap.add_argument("--episodes", type=int, default=None, help="few-shot episodes per task")
    ap.add_argument("--no-parts", action="store_true", help="skip the part-segmentation block")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    bench = QUICK_BENCHMARK if a.quick else TransferBenchmark()
    changes = {"split": a.split}
    if a.seeds: changes["seeds"] = tuple(range(a.seeds))
    if a.steps: changes["steps"] = a.steps
    if a.workers: changes["workers"] = a.workers
    if a.recipes: changes["recipes"] = tuple(a.recipes.split(","))
    if a.episodes: changes["episodes"] = a.episodes
    if a.no_parts: changes["part_block"] = False
    bench = dataclasses.replace(bench, **changes)
    out = a.out or f"runs/benchmark{'-quick' if a.quick else ''}-{bench.split}"
    start, load = time.perf_counter(), os.getloadavg()
    result = run_transfer_benchmark(bench, out, progress=not a.quick)
    minutes = (time.perf_counter() - start) / 60
    print(f"transfer benchmark, {bench.split}-novel classes, {len(bench.seeds)} training seeds, "
          f"{bench.steps} steps, {bench.episodes} episodes per task; probed: each model's frozen "
          "global feature (PointTransformer.global_proj of [cls, max token]; the teacher's "
          "view-mean global feature) by logistic regression:")
    print(result["table"].to_markdown())
    for arm, gaps in result["shortcut_gap"].items():
        each = ", ".join(f"{g:.3f}" for g in gaps)
        print(f"shortcut gap, {arm}: {np.mean(gaps):.3f} (seeds: {each})")
    if result["part_table"] is not None:
        where = "test" if bench.split == "test" else "a second val draw"
        cats = bench.part_classes or SYNTHETIC_PARTS.categories
        parts = sum(len(SYNTHETIC_PARTS.ids(c)) for c in cats)
        print(f"\npart segmentation, synthetic parts ({len(cats)} categories, {parts} parts), "
              f"read on {where}, {len(bench.seeds)} seeds, "
              f"{bench.part_episodes} 1-shot episodes per seed:")
        print(result["part_table"].to_markdown())
    print(f"{minutes:.1f} min; load average at the start {load[0]:.2f}, at the end "
          f"{os.getloadavg()[0]:.2f}; results in {result['dir']}")


if __name__ == "__main__":
    main()
