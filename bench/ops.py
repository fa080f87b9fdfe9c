"""Point ops on this machine's CPU against the libraries, side by side in one run (ms per call,
median of alternating repeats), so the ratios hold even on a loaded machine:

- FPS, B=32, N=1024 -> 512: `farthest_point_sample` (fpsample on CPU), its pure-torch loop (the GPU
  path) and the fpsample library called directly on the same clouds, one cloud at a time;
- kNN and ball query at the sizes the backbones use, against scipy's cKDTree (build + query of
  every cloud, one worker).
"""
import os

import fpsample
import torch
from scipy.spatial import cKDTree

from p2ikit.ops import ball_query, farthest_point_sample, knn
from timing import alternate

REPEATS = 5


def fpsample_direct(pts, m):
    return [fpsample.fps_sampling(p, m, start_idx=0) for p in pts.numpy()]


def kdtree_knn(q, r, k):
    return [cKDTree(rb).query(qb, k, workers=1) for qb, rb in zip(q.numpy(), r.numpy())]


def kdtree_ball(q, r, radius, k):
    return [cKDTree(rb).query_ball_point(qb, radius, workers=1)
            for qb, rb in zip(q.numpy(), r.numpy())]


def row(name, ours, lib, lib_name):
    print(f"{name:46s} {ours:8.1f} ms   {lib_name} {lib:8.1f} ms   ours/{lib_name} "
          f"{ours / lib:5.2f}x")


if __name__ == "__main__":
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()} (1, 5, 15 min)")
    pts = torch.rand(32, 1024, 3)
    same = bool((farthest_point_sample(pts, 512) ==
                 farthest_point_sample(pts, 512, backend="torch")).all())
    t = alternate({"ours": lambda: farthest_point_sample(pts, 512),
                   "torch": lambda: farthest_point_sample(pts, 512, backend="torch"),
                   "fpsample": lambda: fpsample_direct(pts, 512)})
    row("FPS B=32 N=1024 -> 512 (fpsample path)", t["ours"], t["fpsample"], "fpsample")
    row("FPS B=32 N=1024 -> 512 (pure torch, GPU path)", t["torch"], t["fpsample"], "fpsample")
    print(f"{'':46s} identical indices, fpsample path vs torch loop: {same}")
    cases = [  # (what, B, M queries, N references, k)
        ("kNN DGCNN base, self, k=20", 32, 1024, 1024, 20),
        ("kNN DGCNN tiny (demo), self, k=10", 16, 512, 512, 10),
        ("kNN PT base grouping, 64 centres, k=32", 32, 64, 1024, 32),
        ("kNN PT tiny (demo) grouping, 32 c., k=16", 16, 32, 512, 16),
        ("kNN interpolate 1024 pts <- 64 centres, k=3", 32, 1024, 64, 3),
    ]
    for what, B, M, N, k in cases:
        r = torch.rand(B, N, 3)
        q = r if M == N else torch.rand(B, M, 3)
        t = alternate({"ours": lambda: knn(q, r, k), "kd": lambda: kdtree_knn(q, r, k)})
        row(what, t["ours"], t["kd"], "cKDTree")
    q, r = torch.rand(32, 512, 3), torch.rand(32, 1024, 3)
    t = alternate({"ours": lambda: ball_query(q, r, 0.2, 32),
                   "kd": lambda: kdtree_ball(q, r, 0.2, 32)})
    row("ball query 512 <- 1024, r=0.2, k=32 (PN++)", t["ours"], t["kd"], "cKDTree")
    print(f"load average at the end {os.getloadavg()}")
