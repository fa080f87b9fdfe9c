"""Bad-input sweep for p2ikit.render and p2ikit.pictures: every public entry rejects NaN, empty and
mis-shaped clouds, mismatched renderings and bad meshes with a P2IError that names the argument;
edge cases (points off the image, empty views) give empty images, never wrapped pixels or NaN."""
import numpy as np
import pytest
import torch

from p2ikit.core import BadInput, P2IError
from p2ikit.pictures import DEPTH_STYLES, render_depth_images, render_mesh
from p2ikit.render import (RIGS, Rendering, ViewRig, correspondences, lift, render_points, splat,
                           splat_mask)

RIG = RIGS.build("pointclip6", image_size=16)
good = torch.rand(2, 32, 3) - 0.5
nan = good.clone()
nan[1, 3, 1] = float("nan")
inf = good.clone()
inf[0, 0, 0] = float("inf")
empty = torch.rand(2, 0, 3)
rank2 = torch.rand(32, 3)
wrong_c = torch.rand(2, 32, 2)
ints = torch.zeros(2, 32, 3, dtype=torch.long)

CLOUD_CALLS = {
    "project": lambda p: RIG.project(p),
    "render_points": lambda p: render_points(p, RIG),
    "render_points.radius": lambda p: render_points(p, RIG, radius=2),
    **{style: (lambda p, s=style: render_depth_images(p, RIG, s)) for style in DEPTH_STYLES},
}


@pytest.mark.parametrize("name", list(CLOUD_CALLS))
@pytest.mark.parametrize("bad,what", [
    (nan, "cloud(s) [1]"), (inf, "cloud(s) [0]"), (empty, "empty"), (rank2, "(B, N, 3)"),
    (wrong_c, "(B, N, 3)"), (ints, "floating point"), (np.zeros((2, 4, 3)), "torch.Tensor")])
def test_cloud_inputs(name, bad, what):
    with pytest.raises(P2IError) as e:
        CLOUD_CALLS[name](bad)
    assert "`points`" in str(e.value) and what in str(e.value), str(e.value)


def test_bad_arguments():
    rend = render_points(good, RIG)
    cases = [
        (lambda: render_points(good, "pointclip6"), "`rig` must be a ViewRig"),
        (lambda: render_points(good, RIG, radius=-1), "`radius` must be >= 0"),
        (lambda: render_depth_images(good, RIG, "depth"), "`style` must be one of"),
        (lambda: render_depth_images(good, RIG, size=0), "`size` must be a positive int"),
        (lambda: RIGS.build("ring", k=2, size=8), "takes no argument(s) ['size']"),
        (lambda: splat(torch.rand(3, 32, 4), rend), "`rendering.visible` has B=2"),
        (lambda: splat(torch.rand(2, 31, 4), rend), "`rendering.visible` has N=32"),
        (lambda: splat(torch.rand(2, 32), rend), "`features` must have shape (B, N, C)"),
        (lambda: splat(torch.rand(2, 32, 4), rend, size=(0, 4)), "`size` must be None"),
        (lambda: splat(torch.rand(2, 32, 4), "rendering"), "`rendering` must be a Rendering"),
        (lambda: splat_mask(rend, size=2.5), "`size` must be None"),
        (lambda: lift(torch.rand(2, 5, 4, 8, 8), rend), "`maps` must have shape (2, 6, *, *, *)"),
        (lambda: lift(torch.rand(2, 6, 4, 8), rend), "`maps` must have shape"),
        (lambda: correspondences(rend, -1, 2), "`i` must be a view index in 0..5"),
        (lambda: correspondences(rend, 0, 1.0), "`j` must be a view index"),
        (lambda: ViewRig([0., 90.], elevation=[0.]), "`elevation` has V=1"),
        (lambda: ViewRig([0., float("nan")]), "`azimuth` has 1 non-finite"),
        (lambda: ViewRig([0.], distance=0.), "`distance` must be > 0"),
        (lambda: ViewRig([0.], image_size=0), "`image_size` must be a positive int"),
        (lambda: ViewRig([0.], projection="perspective", fov=180), "`fov` must be in (0, 180)"),
        (lambda: ViewRig([]), "`azimuth` is empty"),
        (lambda: RIGS.build("ring", k=0), "`k` must be > 0"),
        (lambda: RIGS.build("random", k=3, elevation_range=(50, 10)), "`elevation_range`"),
        (lambda: RIGS.build("fisheye6"), "the rig must be one of"),
    ]
    for call, msg in cases:
        with pytest.raises(BadInput) as e:
            call()
        assert msg in str(e.value), (msg, str(e.value))


def test_bad_meshes():
    v = torch.rand(4, 3)
    f = torch.tensor([[0, 1, 2], [0, 2, 3]])
    cases = [
        ((v, torch.zeros(0, 3, dtype=torch.long)), "no faces"),
        ((v, np.zeros((0, 3), dtype=np.int64)), "no faces"),
        ((v, f + 2), "indexes vertices 0..3"),
        ((v, f.float()), "integer vertex indices"),
        ((v, f[:, :2]), "`mesh.faces` must have shape (F, 3)"),
        ((torch.full((4, 3), float("nan")), f), "`mesh.vertices` has 12 non-finite"),
        ((v[:, :2], f), "`mesh.vertices` must have shape (Nv, 3)"),
        (v, "`mesh` must be (vertices, faces)"),
    ]
    for mesh, msg in cases:
        with pytest.raises(BadInput) as e:
            render_mesh(mesh, RIG)
        assert msg in str(e.value), (msg, str(e.value))


def test_mesh_object_and_numpy_inputs():
    class Mesh:  # stands in for the kit's Mesh: anything with .vertices and .faces
        vertices = np.array([[-.5, -.5, 0], [.5, -.5, 0], [.5, .5, 0], [-.5, .5, 0]],
                            dtype=np.float32)
        faces = np.array([[0, 1, 2], [0, 2, 3]])
    rig = ViewRig([0.], image_size=16)
    a = render_mesh(Mesh(), rig)
    b = render_mesh((torch.from_numpy(Mesh.vertices), torch.from_numpy(Mesh.faces)), rig)
    assert a.mask.sum() == 64 and torch.equal(a.rgb, b.rgb)  # the square covers the middle 8×8
    assert torch.allclose(a.depth[a.mask], torch.tensor(2.5))
    assert a.rgb.shape == (1, 3, 16, 16) and a.normal.shape == (1, 3, 16, 16)


def test_points_off_the_image_never_wrap():
    rig = ViewRig([0.], image_size=8)
    # just past the right edge on row 3, and just past the bottom: a wrapped index would land on
    # row 4 col 0 / row 0
    pts = torch.tensor([[[1.01, 0.1, 0.], [-0.1, -1.01, 0.], [0.99, 0.1, 0.]]])
    rend = render_points(pts, rig, radius=1)
    assert rend.pixel[0, 0].tolist()[:2] == [-1, -1] and not rend.visible[0, 0, :2].any()
    assert set(rend.index.unique().tolist()) == {-1, 2}
    assert not rend.mask[0, 0, 0, :, 0].any()  # nothing leaked into column 0
    img = render_depth_images(pts, rig, "pointclip")
    assert (img > 0).sum() == 3  # one pixel (×3 channels) from the last point


def test_empty_views_are_empty_not_nan():
    far = torch.full((2, 5, 3), 4.0)
    rig = RIGS.build("ring", k=3, image_size=12)
    rend = render_points(far, rig)
    assert not rend.mask.any() and not rend.visible.any() and (rend.index == -1).all()
    for style, background in (("pointclip", 0.0), ("zbuffer", 1.0)):
        img = render_depth_images(far, rig, style)
        assert torch.isfinite(img).all() and (img == background).all()
    feats = torch.rand(2, 5, 3, requires_grad=True)
    out = splat(feats, rend, 4)
    assert (out == 0).all() and out.shape == (2, 3, 3, 4, 4)
    out.sum().backward()
    assert (feats.grad == 0).all()
    assert (lift(torch.rand(2, 3, 3, 4, 4), rend) == 0).all()
    assert all(len(t) == 0 for t in correspondences(rend, 0, 1))
    # a single point (zero extent) through the realistic style: finite, one blob
    one = render_depth_images(torch.zeros(1, 1, 3), rig, "realistic", size=110)
    assert torch.isfinite(one).all() and one.min() == 0
    assert (one < 1).sum() == 3 * 3 * 9 * 9  # 7×7 pool, 3×3 blur


def test_perspective_drops_points_behind_the_camera():
    rig = ViewRig([0.], distance=2., projection="perspective", image_size=16)
    pts = torch.tensor([[[0., 0, 0], [0., 0, 3.]]])  # the second is behind the camera at z=2
    rend = render_points(pts, rig)
    assert rend.visible[0, 0].tolist() == [True, False] and rend.pixel[0, 0, 1] == -1


def test_deterministic_and_dtype():
    pts = torch.rand(2, 200, 3) - 0.5
    pts[:, 100:] = pts[:, :100]  # every point has a twin: ties everywhere
    a, b = render_points(pts, RIG, radius=1), render_points(pts, RIG, radius=1)
    assert torch.equal(a.index, b.index) and torch.equal(a.visible, b.visible)
    assert a.index.max() < 100  # the lower twin always wins
    d = render_points(pts.double(), RIG, radius=1)
    assert torch.equal(d.index, a.index) and d.depth.dtype == torch.float64
    assert isinstance(a, Rendering) and (a.B, a.V, a.N, a.H, a.W) == (2, 6, 200, 16, 16)
