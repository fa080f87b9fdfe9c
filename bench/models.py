"""Parameter counts and CPU forward+backward times of the backbones and decoders (tiny and base).

Backbones: B=8 clouds of N=1024 points. Decoders alone (features given, as leaves that require
grad): B=8, N=1024, the V=6 PointCLIP views rendered at 224 px; feature decoders ('projection',
'attention') to D=512 maps of 14x14 (a ViT-B/16 CLIP teacher at 224 px), 'image' to RGB at 224x224
(what a frozen 2D backbone takes in P2P-style prompting). Decoder in_dim is the matching point
transformer's width (96 tiny, 384 base), with its 32/64 tokens. Times are the median of a few
repeats after a warm-up: wall-clock and this process's CPU time. The default is one thread
(--threads): on a shared machine extra threads mostly spin, and CPU ms then shows the cost without
the waiting for other jobs that inflates wall ms.
"""
import argparse
import time

import torch

from p2ikit.backbones import BACKBONES, PointFeatures, count_parameters, make_backbone
from p2ikit.decoder import DECODERS, make_decoder
from p2ikit.ops import farthest_point_sample, index_points
from p2ikit.render import RIGS, render_points

B, N, D, FEAT_SIZE, IMAGE_SIZE = 8, 1024, 512, 14, 224
PRESETS = ("tiny", "base")


def median_ms(fn, repeats):
    "Median wall and CPU milliseconds of fn() over `repeats` calls after a warm-up."
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return sorted(wall)[len(wall) // 2] * 1e3, sorted(cpu)[len(cpu) // 2] * 1e3


def backbone_step(net, pts):
    def step():
        out = net(pts)
        outs = (out.per_point, out.global_feat, out.tokens)
        loss = sum((t * 1.0).mean() for t in outs if t is not None)
        loss.backward()
        net.zero_grad(set_to_none=True)
    return step


def decoder_step(dec, feats, rend):
    def step():
        dec(feats, rend).mean().backward()
        dec.zero_grad(set_to_none=True)
    return step


def row(kind, name, preset, params, ms, note=""):
    wall, cpu = ms
    flag = "  (> 1 s!)" if preset == "tiny" and min(wall, cpu) > 1000 else ""
    print(f"{kind:9s} {name:18s} {preset:5s} {params:>12,} {wall:9.1f} {cpu:9.1f}  {note}{flag}",
          flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; B={B}, N={N}, V=6 "
          f"(pointclip6 at {IMAGE_SIZE} px), D={D}, feature maps {FEAT_SIZE}x{FEAT_SIZE}, "
          f"images {IMAGE_SIZE}x{IMAGE_SIZE}")
    print(f"{'kind':9s} {'name':18s} {'preset':5s} {'params':>12s} {'wall ms':>9s} "
          f"{'CPU ms':>9s}  (forward+backward)")
    pts = torch.rand(B, N, 3) * 1.6 - 0.8
    for name in BACKBONES:
        for preset in args.presets:
            net = make_backbone(name, preset)
            ms = median_ms(backbone_step(net, pts), 5 if preset == "tiny" else 3)
            row("backbone", name, preset, count_parameters(net), ms, f"out_dim {net.out_dim}")
    rend = render_points(pts, RIGS.build("pointclip6", image_size=IMAGE_SIZE))
    centers = index_points(pts, farthest_point_sample(pts, 64))
    for preset, in_dim, groups in (("tiny", 96, 32), ("base", 384, 64)):
        if preset not in args.presets:
            continue
        feats = PointFeatures(torch.randn(B, N, in_dim, requires_grad=True),
                              torch.randn(B, in_dim),
                              torch.randn(B, groups, in_dim, requires_grad=True),
                              centers[:, :groups])
        for name in DECODERS:
            out_dim, size = (3, IMAGE_SIZE) if name == "image" else (D, FEAT_SIZE)
            dec = make_decoder(name, in_dim, out_dim, size, preset)
            row("decoder", name, preset, count_parameters(dec),
                median_ms(decoder_step(dec, feats, rend), 5 if preset == "tiny" else 3),
                f"in {in_dim} -> ({B}, 6, {out_dim}, {size}, {size})")
