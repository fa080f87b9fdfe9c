"""Timings of the pure-torch point ops on this machine's CPU (ms per call, median of repeats)."""
import time

import torch

from p2ikit.ops import farthest_point_sample, knn


def bench(fn, repeats=5):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2] * 1e3


if __name__ == "__main__":
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    pts = torch.rand(32, 1024, 3)
    fps_ms = bench(lambda: farthest_point_sample(pts, 512))
    print(f"FPS   B=32 N=1024 -> 512           : {fps_ms:8.1f} ms")
    q, r = torch.rand(32, 512, 3), torch.rand(32, 1024, 3)
    print(f"kNN   k=32 query 32x512, ref 32x1024: {bench(lambda: knn(q, r, 32)):8.1f} ms")
