"""Throughput of the synthetic shape benchmark on one core: shapes per second with 2048-point
samples, built fresh, with meshes, read back from the on-disk cache, and through a DataLoader with
collate_points."""
import sys
import tempfile
import time

import numpy as np
import torch

from p2ikit.datasets import SyntheticShapes
from p2ikit.shapes import SYNTHETIC_CATEGORIES
from p2ikit.transforms import collate_points


def rate(ds, n, repeats=3):
    "Best-of-repeats shapes/s reading items spread over every category (each repeat: new items)."
    idx = np.linspace(0, len(ds) - 1, n * repeats).astype(int)
    best = 0.0
    for r in range(repeats):
        t = time.perf_counter()
        for i in idx[r::repeats]:
            ds[int(i)]
        best = max(best, n / (time.perf_counter() - t))
    return best


if __name__ == "__main__":
    torch.set_num_threads(1)
    N, n = 2048, int(sys.argv[1]) if len(sys.argv) > 1 else 300  # a smaller n for a quick check
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{len(SYNTHETIC_CATEGORIES)} categories, {N} points per shape, {n} shapes per timing "
          f"(best of 3)")
    ds = SyntheticShapes("train", num_points=N, samples_per_class=64)
    print(f"fresh (mesh built + sampled)       : {rate(ds, n):8.0f} shapes/s   (target >= 100)")
    dsm = SyntheticShapes("train", num_points=N, samples_per_class=64, with_mesh=True,
                          rotate_up=True)
    print(f"fresh, with_mesh, rotate_up        : {rate(dsm, n):8.0f} shapes/s")
    with tempfile.TemporaryDirectory() as tmp:
        dsc = SyntheticShapes("train", num_points=N, samples_per_class=64, with_mesh=True,
                              cache_dir=tmp)
        idx = np.linspace(0, len(dsc) - 1, n).astype(int)
        t = time.perf_counter()
        for i in idx:
            dsc[int(i)]
        print(f"first epoch, writing the cache    : {n / (time.perf_counter() - t):8.0f} shapes/s")
        t = time.perf_counter()
        for i in idx:
            dsc[int(i)]
        print(f"later epoch, from the cache       : {n / (time.perf_counter() - t):8.0f} shapes/s"
              f"   ({dsc.cache_stats})")
    loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, collate_fn=collate_points,
                                         generator=torch.Generator().manual_seed(0))
    t, seen = time.perf_counter(), 0
    for b in loader:
        seen += len(b["label"])
        if seen >= n:
            break
    print(f"DataLoader (0 workers, batch 32)   : {seen / (time.perf_counter() - t):8.0f} shapes/s")
