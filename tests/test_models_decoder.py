"""Bad-input and bad-config sweep for the decoders, plus rigs the notebook does not show
(perspective, random views, non-square outputs) and rebuilding from `model.config`."""
import pytest
import torch

from p2ikit.backbones import PointFeatures
from p2ikit.core import BadInput, P2IError
from p2ikit.decoder import DECODERS, make_decoder
from p2ikit.render import RIGS, render_points

B, N, C = 2, 64, 16
pts = torch.rand(B, N, 3) - 0.5
rend = render_points(pts, RIGS.build("pointclip6", image_size=16))
feats = PointFeatures(torch.randn(B, N, C), torch.randn(B, C), torch.randn(B, 8, C),
                      torch.rand(B, 8, 3) - 0.5)
plain = PointFeatures(feats.per_point, feats.global_feat)


def build(name, in_dim=C, out_size=8, **cfg):
    return make_decoder(name, in_dim, 3 if name == "image" else 12, out_size, "tiny", **cfg)


BAD = {
    "not PointFeatures": lambda: (tuple(feats), rend),
    "dict features": lambda: (feats._asdict(), rend),
    "rendering is points": lambda: (feats, pts),
    "B mismatch": lambda: (PointFeatures(feats.per_point[:1], feats.global_feat[:1]), rend),
    "N mismatch": lambda: (PointFeatures(feats.per_point[:, :10], feats.global_feat), rend),
    "in_dim mismatch": lambda: (PointFeatures(feats.per_point[..., :5], feats.global_feat), rend),
    "per_point rank 2": lambda: (PointFeatures(feats.per_point[0], feats.global_feat), rend),
    "integer features": lambda: (PointFeatures(feats.per_point.long(), feats.global_feat), rend),
    "tokens without centres": lambda: (feats._replace(centers=None), rend),
    "tokens of wrong width": lambda: (feats._replace(tokens=feats.tokens[..., :3]), rend),
    "centres NaN": lambda: (feats._replace(centers=feats.centers.masked_fill(feats.centers > 0,
                                                                             float("nan"))), rend),
    "centres count differs": lambda: (feats._replace(centers=feats.centers[:, :4]), rend),
}


@pytest.mark.parametrize("name", list(DECODERS))
@pytest.mark.parametrize("bad", list(BAD))
def test_bad_inputs(name, bad):
    dec = build(name)
    with pytest.raises(P2IError):
        dec(*BAD[bad]())


@pytest.mark.parametrize("name,cfg,arg", [
    ("projection", dict(out_size=0), "out_size"),
    ("projection", dict(out_size=(4, 4, 4)), "out_size"),
    ("projection", dict(hidden=0), "hidden"), ("projection", dict(num_up=-1), "num_up"),
    ("projection", dict(shuffle=0), "shuffle"), ("image", dict(in_dim=0), "in_dim"),
    ("attention", dict(heads=5), "heads"), ("attention", dict(num_tokens=0), "num_tokens"),
    ("attention", dict(depth=0), "depth"), ("projection", dict(init="he"), "scheme"),
])
def test_bad_config(name, cfg, arg):
    with pytest.raises(BadInput, match=f"`{arg}"):
        build(name, **cfg)


def test_registry_errors():
    with pytest.raises(BadInput, match="projection.*attention.*image"):
        make_decoder("unet", C, 8, 8)
    with pytest.raises(BadInput, match="3 \\(RGB\\) or 1"):
        make_decoder("image", C, 8, 8)
    with pytest.raises(BadInput, match=r"takes no argument\(s\) \['width'\]"):
        make_decoder("projection", C, 8, 8, width=3)
    with pytest.raises(BadInput, match="tiny"):
        make_decoder("projection", C, 8, 8, "huge")


@pytest.mark.parametrize("name", list(DECODERS))
@pytest.mark.parametrize("rig", [
    RIGS.build("ring", k=3, elevation=30, image_size=16, projection="perspective"),
    RIGS.build("random", k=2, seed=0, image_size=16)], ids=["perspective", "random"])
@pytest.mark.parametrize("tokens", [True, False], ids=["tokens", "per_point"])
def test_rigs_and_sizes(name, rig, tokens):
    r = render_points(pts, rig)
    dec = build(name, out_size=(6, 10))
    out = dec(feats if tokens else plain, r)
    assert out.shape == (B, len(rig), 3 if name == "image" else 12, 6, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list(DECODERS))
def test_rebuild_from_config(name):
    a = build(name).eval()
    b = make_decoder(**a.config).eval()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(a(feats, rend), b(feats, rend))
