"""Bad-input sweep over every public loss of p2ikit.losses and p2ikit.image_losses: NaN, empty
tensors, wrong ranks, mismatched sizes, out-of-range indices and bad options raise a P2IError
naming the argument; a size clash between two tensors names both of their shapes."""
import math
import re

import pytest
import torch

from p2ikit import image_losses as IL
from p2ikit import losses as L
from p2ikit.core import BadInput, P2IError

B, V, D, h, w, N = 2, 3, 4, 4, 4, 10


def f(*shape): return torch.randn(*shape)
def m(*shape): return torch.rand(*shape) > 0.3


def _pixel():
    px = torch.randint(0, h * w, (B, V, N))
    px[0, 0, :3] = -1
    return px


def _consistency(**k):
    corr = (torch.tensor([0, 1]), torch.tensor([3, 5]), torch.tensor([2, 7]))
    return L.multiview_consistency_loss(k.pop("features"), 0, 1, corr, **k)


ALL = "all"
# name -> (callable, good keyword arguments (factory), free: {arg: set of dims that may change |
# ALL}, rank_free: args whose rank may change)
CASES = {
    "feature_transfer_loss": (
        L.feature_transfer_loss,
        lambda: dict(student=f(B, V, D, h, w), teacher=f(B, V, D, h, w), mask=m(B, V, 1, h, w)),
        {}, ()),
    "multiview_consistency_loss": (
        _consistency, lambda: dict(features=f(B, V, D, h, w), mask=m(B, V, 1, h, w)),
        {"features": {2}}, ()),
    "visible_max_pool": (
        L.visible_max_pool, lambda: dict(features=f(B, N, D), visible=m(B, V, N)),
        {"features": {2}, "visible": {1}}, ()),
    "ViewDescriptor": (
        L.ViewDescriptor(D, 5), lambda: dict(features=f(B, N, D), visible=m(B, V, N)),
        {"visible": {1}}, ()),
    "PointMCDLoss": (
        L.PointMCDLoss(D, 5),
        lambda: dict(features=f(B, N, D), visible=m(B, V, N), teacher=f(B, V, 5)), {}, ()),
    "label_smoothing_ce": (
        L.label_smoothing_ce, lambda: dict(logits=f(B, 5), target=torch.tensor([0, 4])),
        {"logits": {1}}, ()),
    "info_nce": (L.info_nce, lambda: dict(a=f(B, D), b=f(B, D)), {}, ()),
    "nt_xent": (L.nt_xent, lambda: dict(a=f(B, D), b=f(B, D)), {}, ()),
    "ContrastiveLoss": (
        L.ContrastiveLoss(learnable=True), lambda: dict(a=f(B, D), b=f(B, D)), {}, ()),
    "crosspoint_loss": (
        L.crosspoint_loss, lambda: dict(z1=f(B, D), z2=f(B, D), image=f(B, D)), {}, ()),
    "ulip_loss": (
        L.ulip_loss, lambda: dict(point=f(B, D), image=f(B, D), text=f(B, D)), {}, ()),
    "point_pixel_info_nce": (
        L.point_pixel_info_nce,
        lambda: dict(point_feats=f(B, N, D), pixel_feats=f(B, V, D, h, w), pixel=_pixel(),
                     visible=m(B, V, N), mask=m(B, V, 1, h, w)),
        {}, ()),
    "supcon_loss": (
        L.supcon_loss, lambda: dict(features=f(6, D), labels=torch.tensor([0, 0, 1, 1, 2, 2])),
        {"features": {1}}, ()),
    "view_invariant_loss": (
        L.view_invariant_loss, lambda: dict(features=f(B, 3, D)), {"features": ALL}, ()),
    "uncertainty_weighted": (
        lambda **k: L.uncertainty_weighted(w=1.0, **k),
        lambda: dict(l_img=torch.tensor(1.0), l_depth=torch.tensor(2.0)), {}, ()),
    "UncertaintyWeightedLoss": (
        L.UncertaintyWeightedLoss(),
        lambda: dict(l_img=torch.tensor(1.0), l_depth=torch.tensor(2.0)), {}, ()),
    "token_cosine_loss": (
        L.token_cosine_loss,
        lambda: dict(student=f(B, 5, D), teacher=f(B, 5, D), mask=m(B, 5)), {}, ()),
    "i2p_mae_loss": (
        L.i2p_mae_loss,
        lambda: dict(pred_points=f(3, 8, 3), true_points=f(3, 9, 3), pred_feats=f(B, 5, D),
                     teacher_feats=f(B, 5, D), mask=m(B, 5)),
        {"pred_points": {1}, "true_points": {1}}, ()),
    "cosine_negatives_loss": (
        L.cosine_negatives_loss, lambda: dict(pred=f(6, D), target=f(6, D), mask=m(6)), {}, ()),
    "image_l1_loss": (
        IL.image_l1_loss,
        lambda: dict(pred=f(B, V, 3, 8, 8), target=f(B, V, 3, 8, 8), mask=m(B, V, 1, 8, 8)),
        {}, ()),
    "edge_loss": (
        lambda **k: IL.edge_loss(ssim_weight=0.5, **k),
        lambda: dict(pred=f(B, V, 3, 8, 8), target=f(B, V, 3, 8, 8), mask=m(B, V, 1, 8, 8)),
        {}, ()),
    "ssim_loss": (
        IL.ssim_loss, lambda: dict(pred=f(6, 3, 8, 8), target=f(6, 3, 8, 8), mask=m(6, 1, 8, 8)),
        {}, ()),
    "image_gradients": (
        IL.image_gradients, lambda: dict(images=f(2, 3, 8, 8)), {"images": ALL}, ()),
    "ssim": (IL.ssim, lambda: dict(pred=f(2, 3, 8, 8), target=f(2, 3, 8, 8)), {}, ()),
    "PatchDiscriminator": (
        IL.PatchDiscriminator(3, base_channels=4, num_layers=1), lambda: dict(x=f(2, 3, 8, 8)),
        {"x": {0, 2, 3}}, ("x",)),
    "gan_discriminator_loss": (
        IL.gan_discriminator_loss,
        lambda: dict(real_logits=f(2, 1, 3, 3), fake_logits=f(4, 1, 3, 3)),
        {"real_logits": ALL, "fake_logits": ALL}, ("real_logits", "fake_logits")),
    "gan_generator_loss": (
        IL.gan_generator_loss, lambda: dict(fake_logits=f(2, 1, 3, 3)), {"fake_logits": ALL},
        ("fake_logits",)),
    "kl_distill_loss": (
        L.kl_distill_loss, lambda: dict(student_logits=f(B, 5), teacher_logits=f(B, 5)), {}, ()),
}
NOT_SCALAR = ("image_gradients", "ssim", "PatchDiscriminator", "visible_max_pool",
              "ViewDescriptor")


def _call(name, kwargs):
    fn = CASES[name][0]
    return fn(**kwargs)


def _tensor_args(name):
    return [k for k, v in CASES[name][1]().items() if isinstance(v, torch.Tensor)]


def _check_message(msg, bad_name, bad, kwargs):
    "The message names the bad argument, and every other tensor argument it names with its shape."
    assert f"`{bad_name}`" in msg, msg
    for other in set(re.findall(r"`([^`]+)`", msg)) - {bad_name}:
        if other in kwargs and isinstance(kwargs[other], torch.Tensor):
            assert str(tuple(kwargs[other].shape)) in msg, (other, msg)


def _raises(name, kwargs, error=BadInput) -> str:
    "The message of the `error` that calling case `name` with `kwargs` raises."
    with pytest.raises(error) as e:
        _call(name, kwargs)
    return str(e.value)


@pytest.mark.parametrize("name", list(CASES))
def test_good_inputs_give_finite_scalars(name):
    out = _call(name, CASES[name][1]())
    if name in NOT_SCALAR:
        return
    assert out.shape == () and torch.isfinite(out), out


SWEEP = [(n, a) for n in CASES for a in _tensor_args(n)]


@pytest.mark.parametrize("name,arg", SWEEP, ids=[f"{n}-{a}" for n, a in SWEEP])
def test_nan_and_empty(name, arg):
    kwargs = CASES[name][1]()
    x = kwargs[arg]
    if x.is_floating_point():
        bad = x.clone()
        bad.view(-1)[0] = float("nan")
        msg = _raises(name, {**kwargs, arg: bad}, P2IError)
        assert f"`{arg}`" in msg and "non-finite" in msg, msg
    if x.ndim:
        bad = x.narrow(0, 0, 0)
        _check_message(_raises(name, {**kwargs, arg: bad}), arg, bad, {**kwargs, arg: bad})


@pytest.mark.parametrize("name,arg", SWEEP, ids=[f"{n}-{a}" for n, a in SWEEP])
def test_wrong_rank(name, arg):
    kwargs = CASES[name][1]()
    if arg in CASES[name][3]:
        pytest.skip("any rank is valid here")
    x = kwargs[arg]
    bads = [x[None]] + ([x[..., 0]] if x.ndim else [])
    if CASES[name][2].get(arg) == ALL:
        bads = [b for b in bads if b.ndim != x.ndim]
    for bad in bads:
        msg = _raises(name, {**kwargs, arg: bad})
        _check_message(msg, arg, bad, {**kwargs, arg: bad})
        assert str(tuple(bad.shape)) in msg, msg


@pytest.mark.parametrize("name,arg", SWEEP, ids=[f"{n}-{a}" for n, a in SWEEP])
def test_mismatched_sizes(name, arg):
    kwargs = CASES[name][1]()
    free = CASES[name][2].get(arg, set())
    x = kwargs[arg]
    for d in range(x.ndim):
        if free == ALL or d in free:
            continue
        bad = torch.cat([x, x.narrow(d, 0, 1)], d)
        msg = _raises(name, {**kwargs, arg: bad})
        _check_message(msg, arg, bad, {**kwargs, arg: bad})
        assert str(tuple(bad.shape)) in msg, msg


@pytest.mark.parametrize("fn,a,b", [
    (L.feature_transfer_loss, f(B, V, D, h, w), f(B, V, D + 1, h, w)),
    (L.token_cosine_loss, f(B, 5, D), f(B, 6, D)),
    (L.info_nce, f(B, D), f(B + 1, D)),
    (L.kl_distill_loss, f(B, 5), f(B, 4)),
    (IL.image_l1_loss, f(B, V, 3, 8, 8), f(B, V, 3, 8, 9)),
    (IL.image_l1_loss, f(B, V, 3, 8, 8), f(B * V, 3, 8, 8)),
    (L.cosine_negatives_loss, f(6, D), f(5, D)),
])
def test_both_shapes_named(fn, a, b):
    with pytest.raises(BadInput) as e:
        fn(a, b)
    msg = str(e.value)
    assert str(tuple(a.shape)) in msg and str(tuple(b.shape)) in msg, msg


def _consistency_at(t):
    no_pair = (torch.tensor([0]),) * 3
    return L.multiview_consistency_loss(f(B, V, D, h, w), 0, 1, no_pair, temperature=t)


TEMPERATURE_CALLS = {
    "multiview_consistency_loss": _consistency_at,
    "info_nce": lambda t: L.info_nce(f(B, D), f(B, D), temperature=t),
    "nt_xent": lambda t: L.nt_xent(f(B, D), f(B, D), temperature=t),
    "crosspoint_loss": lambda t: L.crosspoint_loss(f(B, D), f(B, D), f(B, D), temperature=t),
    "ulip_loss": lambda t: L.ulip_loss(f(B, D), f(B, D), f(B, D), temperature=t),
    "point_pixel_info_nce": lambda t: L.point_pixel_info_nce(f(B, N, D), f(B, V, D, h, w),
                                                             _pixel(), temperature=t),
    "supcon_loss": lambda t: L.supcon_loss(f(4, D), torch.tensor([0, 0, 1, 1]), temperature=t),
    "view_invariant_loss": lambda t: L.view_invariant_loss(f(B, 2, D), temperature=t),
    "kl_distill_loss": lambda t: L.kl_distill_loss(f(B, 5), f(B, 5), temperature=t),
    "ContrastiveLoss": lambda t: L.ContrastiveLoss(temperature=t),
}


@pytest.mark.parametrize("name", list(TEMPERATURE_CALLS))
@pytest.mark.parametrize("t", [0, -0.1, float("nan"), float("inf"), "0.1",
                               torch.tensor([0.1, 0.2])])
def test_bad_temperature(name, t):
    with pytest.raises(BadInput, match="`temperature`"):
        TEMPERATURE_CALLS[name](t)


def _mvc(c, corr, i=0, j=1, **k):
    return L.multiview_consistency_loss(c["feats"], i, j, corr, **k)


BAD_CALLS = [  # (words the message holds, a call that must raise BadInput)
    ("pix_j", lambda c: _mvc(c, (c["b"], c["i"], c["j"] + 16))),
    ("batch", lambda c: _mvc(c, (c["b"] + 1, c["i"], c["j"]))),
    ("pix_i", lambda c: _mvc(c, (c["b"], c["i"][:1], c["j"]))),
    ("pix_i", lambda c: _mvc(c, (c["b"], c["i"].float(), c["j"]))),
    ("`correspondences`", lambda c: _mvc(c, c["corr"][:2])),
    ("`i`", lambda c: _mvc(c, c["corr"], i=-1)),
    ("`j`", lambda c: _mvc(c, c["corr"], j=V)),
    ("`mask`", lambda c: _mvc(c, c["corr"], mask=torch.ones(B, V, 1, h, w))),
    ("`pixel`", lambda c: L.point_pixel_info_nce(f(B, N, D), c["feats"], _pixel() - 2)),
    ("`pixel`", lambda c: L.point_pixel_info_nce(f(B, N, D), c["feats"], _pixel().float())),
    ("`target`", lambda c: L.label_smoothing_ce(f(B, 5), torch.tensor([0, 5]))),
    ("`eps`", lambda c: L.label_smoothing_ce(f(B, 5), torch.tensor([0, 1]), eps=1.0)),
    ("`logits`", lambda c: L.label_smoothing_ce(f(B, 1), torch.tensor([0, 0]))),
    ("`kind`", lambda c: L.feature_transfer_loss(c["feats"], c["feats"], kind="l2")),
    ("`beta`", lambda c: L.feature_transfer_loss(c["feats"], c["feats"], kind="smooth_l1",
                                                 beta=0)),
    ("`mask`", lambda c: L.feature_transfer_loss(c["feats"], c["feats"],
                                                 mask=-torch.ones(B, V, 1, h, w))),
    ("`mask`", lambda c: L.feature_transfer_loss(
        c["feats"], c["feats"], mask=torch.ones(B, V, 1, h, w, dtype=torch.long))),
    ("`kind`", lambda c: IL.gan_generator_loss(f(3), kind="wgan")),
    ("`kind`", lambda c: IL.gan_discriminator_loss(f(3), f(3), kind="wgan")),
    ("`kind`", lambda c: L.ContrastiveLoss(kind="triplet")),
    ("`weights`", lambda c: L.ulip_loss(f(B, D), f(B, D), f(B, D), weights=(1, 1))),
    ("`margin`", lambda c: L.cosine_negatives_loss(f(6, D), f(6, D), margin=-1)),
    ("`w`", lambda c: L.uncertainty_weighted(torch.tensor(1.), torch.tensor(1.), 0.)),
    ("`init_w`", lambda c: L.UncertaintyWeightedLoss(init_w=-1)),
    ("`in_dim`", lambda c: L.PointMCDLoss(0, 4)),
    ("`teacher_dim`", lambda c: L.ViewDescriptor(4, 0)),
    ("`window_size`", lambda c: IL.ssim(f(1, 1, 8, 8), f(1, 1, 8, 8), window_size=4)),
    ("`norm`", lambda c: IL.PatchDiscriminator(3, norm="layer")),
    ("too small", lambda c: IL.PatchDiscriminator(3, num_layers=3)(f(1, 3, 16, 16))),
    ("`feature_weight`", lambda c: L.i2p_mae_loss(f(3, 8, 3), f(3, 8, 3), f(B, 5, D), f(B, 5, D),
                                                  feature_weight=-1)),
    ("`from_size`", lambda c: L.rescale_pixel_index(_pixel(), (0, 4), (2, 2))),
    ("`pixel`", lambda c: L.rescale_pixel_index(_pixel(), (2, 2), (1, 1))),
]


@pytest.mark.parametrize("words,call", BAD_CALLS, ids=[f"{i}-{w}" for i, (w, _) in
                                                       enumerate(BAD_CALLS)])
def test_bad_indices_and_options(words, call):
    b, i, j = torch.tensor([0, 1]), torch.tensor([3, 5]), torch.tensor([2, 7])
    ctx = dict(feats=f(B, V, D, h, w), b=b, i=i, j=j, corr=(b, i, j))
    with pytest.raises(BadInput, match=re.escape(words)):
        call(ctx)


def test_lossspec_rejects_bad_config_and_inputs():
    with pytest.raises(BadInput, match="non-empty dict"):
        IL.LossSpec({})
    with pytest.raises(BadInput, match="`weight`"):
        IL.LossSpec({"transfer": float("nan")})
    with pytest.raises(BadInput, match="unknown loss"):
        IL.LossSpec({"x": {"loss": "nope"}})
    with pytest.raises(BadInput, match="bad options"):
        IL.LossSpec({"info_nce": {"temp": 0.1}})
    spec = IL.LossSpec({"info_nce": 1.0})
    with pytest.raises(BadInput, match="must be a dict, a tuple or a scalar"):
        spec(info_nce=3.0)
    with pytest.raises(BadInput, match="`info_nce`"):
        spec(info_nce=torch.ones(2))
    with pytest.raises(BadInput, match="non-finite"):
        spec(info_nce=torch.tensor(math.nan))
    with pytest.raises(BadInput, match="`a`"):
        spec(info_nce=dict(a=f(B, D)[None], b=f(B, D)))
