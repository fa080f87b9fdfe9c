"""Feature-cache speed: teacher features for 256 shapes x 10 views, computed by the teacher
(uncached), then through a FeatureCache twice (cold: compute and write every entry; warm: read every
entry back, verified).

The views are real renders: PointCLIP depth maps (pictures.render_depth_images, style 'pointclip',
the pointclip10 rig at 128 px) of 256 SyntheticShapes point clouds; each teacher resizes them to its
224 px input. Two random-init open_clip ViT towers (nothing is downloaded): 'p2i-tiny-vit' (width
128, 6 blocks, patch 16 -> 14x14 dense map), the teacher the 10x target is about, and
'p2i-test-vit' (the notebook/test tower: width 32, 2 blocks, patch 32), shown for scale. The warm
pass still hashes every view (SHA-256 of its pixels) and verifies every entry's checksum.

Run: .venv/bin/python bench/teachers.py [--shapes 256] [--views 10] [--size 128]
"""
import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from p2ikit.cache import FeatureCache  # noqa: E402
from p2ikit.datasets import SyntheticShapes  # noqa: E402
from p2ikit.pictures import render_depth_images  # noqa: E402
from p2ikit.render import RIGS  # noqa: E402
from p2ikit.teachers import OpenCLIPTeacher  # noqa: E402
from p2ikit.transforms import collate_points  # noqa: E402


def render_views(n_shapes: int, n_views: int, size: int) -> torch.Tensor:
    "uint8 (n_shapes * n_views, 1, size, size) PointCLIP depth maps of SyntheticShapes clouds."
    probe = SyntheticShapes("train", num_points=16, samples_per_class=1)
    per_class = -(-n_shapes // probe.num_classes)
    ds = SyntheticShapes("train", num_points=1024, samples_per_class=per_class, seed=0)
    if n_views == 10:
        rig = RIGS.build("pointclip10", image_size=size)
    else:
        rig = RIGS.build("ring", k=n_views, elevation=20.0, image_size=size)
    # every class in turn, so the 256 shapes span all categories
    classes = range(probe.num_classes)
    order = [c * per_class + k for k in range(per_class) for c in classes][:n_shapes]
    out = []
    for i in range(0, n_shapes, 32):
        pts = collate_points([ds[j] for j in order[i:i + 32]])["points"]
        img = render_depth_images(pts, rig, style="pointclip")[:, :, :1]  # 3 equal channels
        out.append((img.flatten(0, 1) * 255).round().to(torch.uint8))
    return torch.cat(out)


def timed(fn, views: torch.Tensor, chunk: int) -> float:
    "Seconds spent in fn over all chunks (the uint8 -> float conversion is not counted)."
    total = 0.0
    for i in range(0, len(views), chunk):
        x = views[i:i + chunk].float().div(255).expand(-1, 3, -1, -1).contiguous()
        t = time.perf_counter()
        fn(x)
        total += time.perf_counter() - t
    return total


def bench_teacher(name: str, views: torch.Tensor, size: int, chunk: int):
    "Print the uncached, cold-cache and warm-cache times of open_clip tower `name` on `views`."
    teacher = OpenCLIPTeacher(name)
    n_params = sum(p.numel() for p in teacher.model.visual.parameters())
    root = tempfile.mkdtemp(prefix="p2ikit-bench-cache-")
    try:
        cache = FeatureCache(root, max_bytes=8 * 2**30)
        key = f"pointclip10:{size}px:pointclip"
        teacher(views[:4].float().div(255).expand(-1, 3, -1, -1))  # warm-up
        _ = teacher.identity                      # the weights hash is computed once, up front
        t_plain = timed(teacher, views, chunk)
        t_cold = timed(lambda x: cache.get_or_compute(teacher, x, key), views, chunk)
        t_warm = timed(lambda x: cache.get_or_compute(teacher, x, key), views, chunk)
        n = len(views)
        assert cache.stats["misses"] == n and cache.stats["hits"] == n, cache.stats
        mb = cache.size_bytes() / 2**20
        dense = f"{teacher.dense_dim}x{teacher.dense_size[0]}x{teacher.dense_size[1]}"
        print(f"\n{name} ({n_params / 1e6:.2f}M visual params, input {teacher.input_size} px, "
              f"dense {dense}), {n} views:")
        print(f"  uncached (teacher forward)     {t_plain:7.2f} s  "
              f"({1e3 * t_plain / n:6.2f} ms/view)")
        print(f"  cache, cold (compute + write)  {t_cold:7.2f} s  ({mb:.0f} MB on disk)")
        print(f"  cache, warm (read + verify)    {t_warm:7.2f} s  "
              f"({1e3 * t_warm / n:6.2f} ms/view)")
        print(f"  speed-up cached vs uncached    {t_plain / t_warm:7.1f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", type=int, default=256)
    ap.add_argument("--views", type=int, default=10)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--chunk", type=int, default=160, help="views per call (16 shapes x 10 views)")
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    t = time.perf_counter()
    views = render_views(args.shapes, args.views, args.size)
    print(f"rendered {args.shapes} shapes x {args.views} views = {len(views)} PointCLIP depth maps "
          f"at {args.size} px in {time.perf_counter() - t:.1f} s (not part of the timings below)")
    for name in ("p2i-tiny-vit", "p2i-test-vit"):
        bench_teacher(name, views, args.size, args.chunk)


if __name__ == "__main__":
    main()
