"""A corpus of damaged and edge-case files of every format the kit reads, written here, each read
through the kit: it must either load correctly (the expected size, finite, inside the unit sphere
after the kit's normalisation) or raise a P2IError subclass whose message names the file; never
another exception, never garbage, never a hang or a runaway allocation. Then checkpoint faults: a
bad checkpoint is refused before anything is applied (model and optimiser untouched)."""
from __future__ import annotations

import json
import resource
import struct
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from p2ikit.cache import FeatureCache
from p2ikit.config import Config, apply_overrides
from p2ikit.core import (CorruptCheckpoint, MissingData, P2IError, normalize_unit_sphere,
                         tensor_digests)
from p2ikit.datasets import ModelNetH5, ScanObjectNN, ShapeFolder, ShapeNet55
from p2ikit.formats import read_shape
from p2ikit.shapes import make_shape, sample_surface
from p2ikit.teachers import TeacherOut, read_state_dict
from p2ikit.trainer import (Method, StepHook, Trainer, load_checkpoint, save_checkpoint)

CUBE = make_shape("cube", 0)
V, F = CUBE.vertices.numpy().astype(np.float64), CUBE.faces.numpy()
SQUARE = "0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n"  # a quad, a pentagon-ready ring and an apex
PTS = np.random.default_rng(0).normal(size=(50, 3))
NRM = PTS / np.linalg.norm(PTS, axis=1, keepdims=True)

# ------------------------------------------------------------------ writers of the formats
def off_text(V=V, F=F, head=None):
    head = head or f"OFF\n{len(V)} {len(F)} 0"
    return "\n".join([head] + [" ".join(map(repr, v)) for v in V.tolist()]
                     + [f"{len(f)} " + " ".join(map(str, f)) for f in F]) + "\n"


def ply_ascii(V=V, F=F, extra_v="", rows=None):
    head = ["ply", "format ascii 1.0", f"element vertex {len(V)}", "property float x",
            "property float y", "property float z"] + ([extra_v] if extra_v else [])
    if F is not None:
        head += [f"element face {len(F)}", "property list uchar int vertex_indices"]
    body = rows if rows is not None else (
        [" ".join(map(repr, v)) for v in V.tolist()]
        + ([f"{len(f)} " + " ".join(map(str, f)) for f in F] if F is not None else []))
    return "\n".join(head + ["end_header"] + body) + "\n"


def ply_binary(V=V, F=F, order="<", counts=None):
    nv, nf = counts or (len(V), len(F))
    fmt = {"<": "binary_little_endian", ">": "binary_big_endian"}[order]
    head = (f"ply\nformat {fmt} 1.0\nelement vertex {nv}\nproperty float x\nproperty float y\n"
            f"property float z\nelement face {nf}\nproperty list uchar int vertex_indices\n"
            "end_header\n").encode()
    faces = b"".join(struct.pack(order + "B3i", 3, *f) for f in F.tolist())
    return head + V.astype(order + "f4").tobytes() + faces


def obj_text(V=V, faces=None):
    faces = faces if faces is not None else [" ".join(str(i + 1) for i in f) for f in F]
    rows = [f"v {x} {y} {z}" for x, y, z in V.tolist()] + [f"f {f}" for f in faces]
    return "\n".join(rows) + "\n"


def stl_binary(V=V, F=F, count=None):
    rows = np.zeros(len(F), np.dtype([("n", "<f4", 3), ("c", "<f4", (3, 3)), ("a", "<u2")]))
    rows["c"] = V[F]
    return bytes(80) + struct.pack("<I", len(F) if count is None else count) + rows.tobytes()


def stl_ascii(V=V, F=F):
    out = ["solid t"]
    for tri in V[F].tolist():
        out += ["facet normal 0 0 1", "outer loop"] + [f"vertex {x} {y} {z}" for x, y, z in tri]
        out += ["endloop", "endfacet"]
    return "\n".join(out + ["endsolid t"]) + "\n"


def pcd_head(n, kind, fields="x y z normal_x normal_y normal_z"):
    k = len(fields.split())
    return (f"# .PCD v0.7\nVERSION 0.7\nFIELDS {fields}\nSIZE {' '.join(['4'] * k)}\n"
            f"TYPE {' '.join(['F'] * k)}\nCOUNT {' '.join(['1'] * k)}\nWIDTH {n}\nHEIGHT 1\n"
            f"VIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA {kind}\n")


def pcd_ascii(P=PTS, N=NRM, n=None):
    return pcd_head(len(P) if n is None else n, "ascii") + "\n".join(
        " ".join(map(repr, r)) for r in np.c_[P, N].tolist()) + "\n"


def pcd_binary(P=PTS, N=NRM, n=None):
    return pcd_head(len(P) if n is None else n, "binary").encode() + \
        np.c_[P, N].astype("<f4").tobytes()


def npy_bytes(a) -> bytes:
    import io
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def xyz(a, sep=" ", nl="\n"):
    return nl.join(sep.join(map(repr, r)) for r in np.asarray(a).tolist()) + nl


LOAD, ERROR, EITHER = "load", "error", "either"
# name -> (file name, content (str/bytes/callable(path)), expected, {what a load must give})
C = {}


def add(name, fname, content, expect, **want):
    C[name] = (fname, content, expect, want)


def mkdir(p):
    p.mkdir()


def loop(p):
    p.symlink_to(p)


# OFF
add("off_valid", "a.off", off_text(), LOAD, faces=len(F))
add("off_quad_pentagon", "a.off", "OFF\n5 2 0\n" + SQUARE + "4 0 1 2 3\n5 0 1 2 3 4\n", LOAD,
    faces=5)
add("off_glued_counts", "a.off", off_text(head=f"OFF{len(V)} {len(F)} 0"), LOAD, faces=len(F))
add("off_crlf", "a.off", off_text().replace("\n", "\r\n"), LOAD, faces=len(F))
add("off_latin1_comment", "a.off", ("# créé\n" + off_text()).encode("latin-1"), LOAD,
    faces=len(F))
add("off_cut_in_vertices", "a.off", off_text()[:60], ERROR)
add("off_cut_in_faces", "a.off", off_text()[:-30], ERROR)
add("off_cut_mid_line", "a.off", off_text()[:-3], ERROR)
add("off_huge_counts", "a.off", "OFF\n2000000000 2000000000 0\n0 0 0\n", ERROR)
add("off_face_minus_one", "a.off", "OFF\n4 1 0\n" + SQUARE[:24] + "3 0 1 -1\n", ERROR,
    says="-1")
add("off_face_past_end", "a.off", "OFF\n4 1 0\n" + SQUARE[:24] + "3 0 1 9\n", ERROR, says="9")
add("off_nan", "a.off", off_text().replace(repr(float(V[0, 0])), "nan", 1), ERROR)
add("off_1e300", "a.off", off_text(V * 1e300), ERROR)
add("off_no_faces", "a.off", off_text(F=np.zeros((0, 3), int)), LOAD, points=len(V))
add("off_zero_area", "a.off", "OFF\n3 1 0\n0 0 0\n1 1 1\n2 2 2\n3 0 1 2\n", ERROR)
add("off_garbage", "a.off", bytes(range(256)) * 4, ERROR)
# PLY
add("ply_ascii", "a.ply", ply_ascii(), LOAD, faces=len(F))
add("ply_binary_le", "a.ply", ply_binary(), LOAD, faces=len(F))
add("ply_binary_be", "a.ply", ply_binary(order=">"), LOAD, faces=len(F))
add("ply_crlf", "a.ply", ply_ascii().replace("\n", "\r\n"), LOAD, faces=len(F))
add("ply_quads_pentagon", "a.ply", ply_ascii(np.array(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1.]]), np.zeros((2, 3), int),
    rows=SQUARE.splitlines() + ["4 0 1 2 3", "5 0 1 2 3 4"]), LOAD, faces=5)
for frac in (0.3, 0.6, 0.97):
    add(f"ply_binary_cut_{frac}", "a.ply", ply_binary()[: int(len(ply_binary()) * frac)], ERROR)
add("ply_ascii_cut", "a.ply", ply_ascii()[:-40], ERROR)
add("ply_ascii_bad_face", "a.ply", ply_ascii().replace("\n3 ", "\n3 x ", 1), ERROR)
add("ply_header_only_binary", "a.ply", ply_binary()[: ply_binary().index(b"end_header") + 11],
    ERROR)
add("ply_header_only_ascii", "a.ply", ply_ascii().split("end_header")[0] + "end_header\n", ERROR)
add("ply_huge_vertices", "a.ply", ply_binary(counts=(40_000_000, 12)), ERROR, heavy=True)
add("ply_huge_faces_ascii", "a.ply", ply_ascii().replace(f"element face {len(F)}",
                                                         "element face 900000000"), ERROR,
    heavy=True)
add("ply_points_normals", "a.ply", ply_ascii(np.c_[PTS, NRM], None, "property float nx\n"
                                             "property float ny\nproperty float nz"), LOAD,
    points=len(PTS), normals=True)
add("ply_points_colour", "a.ply", ply_ascii(PTS, None, "property uchar red\nproperty uchar "
                                            "green\nproperty uchar blue",
                                            rows=[" ".join(map(repr, p)) + " 200 13 255"
                                                  for p in PTS.tolist()]),
    LOAD, points=len(PTS), normals=False)
add("ply_face_minus_one", "a.ply", ply_ascii(F=np.array([[0, 1, -1]])), ERROR, says="-1")
add("ply_nan", "a.ply", ply_ascii(np.where(np.arange(V.size).reshape(V.shape) == 4, np.nan, V)),
    ERROR)
add("ply_no_end_header", "a.ply", "ply\nformat ascii 1.0\nelement vertex 3\n", ERROR)
add("ply_garbage", "a.ply", b"ply\n" + bytes(range(256)) * 4, ERROR)
# OBJ
add("obj_triangles", "a.obj", obj_text(), LOAD, faces=len(F))
add("obj_quads_ngons", "a.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\n"
    "f 1 2 3 4\nf 1 2 3 4 5\n", LOAD, faces=5)
add("obj_negative", "a.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf -4 -3 -2 -1\n", LOAD, faces=2)
add("obj_slashes", "a.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nvt 0 0\nvn 0 0 1\n"
    "f 1/1/1 2/1/1 3/1/1\nf 1//1 2//1 3//1\n", LOAD, faces=2)
add("obj_crlf", "a.obj", obj_text().replace("\n", "\r\n"), LOAD, faces=len(F))
add("obj_latin1_comment", "a.obj", ("# créé\n" + obj_text()).encode("latin-1"), LOAD,
    faces=len(F))
add("obj_index_zero", "a.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nf 0 1 2\n", ERROR)
add("obj_index_past_end", "a.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nf 1 2 9\n", ERROR, says="vertex 9")
add("obj_negative_too_far", "a.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nf -1 -2 -7\n", ERROR)
add("obj_bad_number", "a.obj", "v 0 0 zero\nv 1 0 0\nv 1 1 0\nf 1 2 3\n", ERROR)
add("obj_cut_mid_face", "a.obj", obj_text()[:-4], ERROR)
add("obj_cut_mid_vertex", "a.obj", "v 0 0 0\nv 1 0 0\nv 1 1", ERROR)
add("obj_points_only", "a.obj", obj_text(PTS, faces=[]), LOAD, points=len(PTS))
add("obj_comments_only", "a.obj", "# nothing here\n", ERROR)
add("obj_1e300", "a.obj", obj_text(V * 1e300), ERROR)
# STL
add("stl_binary", "a.stl", stl_binary(), LOAD, faces=len(F))
add("stl_ascii", "a.stl", stl_ascii(), LOAD, faces=len(F))
add("stl_binary_cut", "a.stl", stl_binary()[:-20], ERROR)
add("stl_binary_huge_count", "a.stl", stl_binary(count=2**31), ERROR, heavy=True)
add("stl_ascii_cut_mid_facet", "a.stl", stl_ascii()[: len(stl_ascii()) // 2], ERROR)
add("stl_ascii_cut_at_facet", "a.stl", stl_ascii().rsplit("endfacet", 3)[0] + "endfacet\n",
    ERROR)
add("stl_zero_area", "a.stl", stl_binary(np.zeros((3, 3)), np.array([[0, 1, 2]])), ERROR)
add("stl_nan", "a.stl", stl_binary(np.where(np.arange(V.size).reshape(V.shape) == 2, np.nan, V)),
    ERROR)
# PCD
add("pcd_ascii", "a.pcd", pcd_ascii(), LOAD, points=50, normals=True)
add("pcd_binary", "a.pcd", pcd_binary(), LOAD, points=50, normals=True)
add("pcd_crlf", "a.pcd", pcd_ascii().replace("\n", "\r\n"), LOAD, points=50, normals=True)
add("pcd_xyz_only", "a.pcd", pcd_head(50, "ascii", "x y z") + xyz(PTS), LOAD, points=50,
    normals=False)
add("pcd_ascii_cut", "a.pcd", pcd_ascii()[:-200], ERROR)
add("pcd_binary_cut", "a.pcd", pcd_binary()[:-10], ERROR)
add("pcd_ascii_huge", "a.pcd", pcd_ascii(n=10**9), ERROR, heavy=True)
add("pcd_binary_huge", "a.pcd", pcd_binary(n=10**9), ERROR, heavy=True)
add("pcd_no_data_line", "a.pcd", pcd_head(50, "ascii").replace("DATA ascii\n", ""), ERROR)
add("pcd_nan", "a.pcd", pcd_ascii(np.where(np.arange(150).reshape(50, 3) == 7, np.nan, PTS)),
    ERROR)
add("pcd_zero_normals", "a.pcd", pcd_ascii(N=np.zeros((50, 3))), ERROR)


def pcd_compressed(points=50, cut=0):
    "A binary_compressed (LZF) PCD written by Open3D, its POINTS set to `points`, cut short."
    def w(path):
        import open3d as o3d
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(PTS))
        o3d.io.write_point_cloud(str(path), pc, compressed=True)
        raw = path.read_bytes().replace(b"POINTS 50", f"POINTS {points}".encode())
        path.write_bytes(raw.replace(b"WIDTH 50", f"WIDTH {points}".encode())[: -cut or None])
    return w


add("pcd_compressed", "a.pcd", pcd_compressed(), LOAD, points=50, normals=False)
add("pcd_compressed_cut", "a.pcd", pcd_compressed(cut=40), ERROR)
add("pcd_compressed_huge", "a.pcd", pcd_compressed(points=900_000_000), ERROR, heavy=True)
# xyz / txt
add("xyz_normals", "a.xyz", xyz(np.c_[PTS, NRM]), LOAD, points=50, normals=True)
add("xyz_rgb_columns", "a.xyz", xyz(np.c_[PTS, np.tile([[255, 128, 3]], (50, 1))]), LOAD,
    points=50, normals=False)
add("xyz_zero_normals", "a.xyz", xyz(np.c_[PTS, np.zeros((50, 3))]), ERROR)
add("xyz_long_normals", "a.xyz", xyz(np.c_[PTS, -3 * NRM]), ERROR)
add("xyz_one_point", "a.xyz", "1 2 3\n", ERROR)
add("xyz_identical", "a.xyz", "1 2 3\n" * 20, ERROR)
add("xyz_1e300", "a.xyz", xyz(PTS * 1e300), ERROR)
add("xyz_nan", "a.xyz", xyz(PTS).replace(repr(float(PTS[3, 1])), "nan"), ERROR)
add("txt_commas_crlf", "a.txt", xyz(np.c_[PTS, NRM], ",", "\r\n"), LOAD, points=50, normals=True)
add("txt_latin1_in_data", "a.txt", ("1 2 3\n4 5 é\n").encode("latin-1"), ERROR)
add("txt_two_columns", "a.txt", "1 2\n3 4\n", ERROR)
add("txt_ragged", "a.txt", "1 2 3\n4 5\n", ERROR)
add("xyz_garbage", "a.xyz", bytes(range(256)) * 4, ERROR)
# npy
add("npy_valid", "a.npy", npy_bytes(np.c_[PTS, NRM].astype(np.float32)), LOAD, points=50,
    normals=True)
add("npy_int", "a.npy", npy_bytes((PTS * 100).astype(np.int32)), LOAD, points=50)
add("npy_1e300", "a.npy", npy_bytes(PTS * 1e300), ERROR)
add("npy_nan", "a.npy", npy_bytes(np.where(PTS > 1.5, np.nan, PTS)), ERROR)
add("npy_cut", "a.npy", npy_bytes(PTS)[:-50], ERROR)
add("npy_huge_header", "a.npy", npy_bytes(PTS).replace(b"(50, 3)", b"(999999999, 3)"), ERROR,
    heavy=True)
add("npy_1d", "a.npy", npy_bytes(np.arange(9.)), ERROR)
add("npy_two_columns", "a.npy", npy_bytes(PTS[:, :2]), ERROR)
add("npy_object", "a.npy", lambda p: np.save(p, np.array([None, 1], dtype=object)), ERROR)
add("npy_complex", "a.npy", npy_bytes(PTS.astype(complex)), ERROR)
add("npy_strings", "a.npy", npy_bytes(np.array([["a", "b", "c"]] * 3)), ERROR)
# the file itself
for ext in (".off", ".ply", ".obj", ".stl", ".pcd", ".xyz", ".txt", ".npy"):
    add(f"zero_bytes{ext}", f"a{ext}", b"", ERROR)
add("directory_off", "a.off", mkdir, ERROR)
add("directory_npy", "a.npy", mkdir, ERROR)
add("symlink_loop_ply", "a.ply", loop, ERROR)
add("symlink_loop_xyz", "a.xyz", loop, ERROR)
add("missing_stl", "a.stl", None, ERROR, missing=True)


def write(path: Path, content):
    if content is None:
        return
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode())


def check_unit(points):
    assert points.dtype == torch.float32 and torch.isfinite(points).all()
    assert points.norm(dim=-1).max() <= 1 + 1e-4


def read_direct(path: Path, want: dict):
    "read_shape, then the kit's normalisation; asserts what a correct load gives."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # colour columns are ignored with a warning
        d = read_shape(path)
    if "faces" in want:
        assert "mesh" in d and d["mesh"].faces.shape == (want["faces"], 3), d
        check_unit(normalize_unit_sphere(sample_surface(d["mesh"], 256)[0])[0])
    else:
        assert "points" in d and d["points"].shape == (want["points"], 3), d
        if "normals" in want:
            assert (d["normals"] is not None) == want["normals"]
        if d["normals"] is not None:
            assert torch.allclose(d["normals"].norm(dim=-1), torch.ones(1), atol=0.05)
        check_unit(normalize_unit_sphere(d["points"])[0])


def read_folder(root: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = ShapeFolder(root, num_points=64)
        check_unit(ds[0]["points"])


RESULTS: dict[str, str] = {}
KB = 1024


def outcome(name, fn, path: Path, expect: str, want: dict):
    "Run `fn`, classify it (loaded / refused / crash / wrong), record and return it."
    rss0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    try:
        fn()
        got = "loaded"
    except P2IError as e:
        msg = str(e)
        named = path.name in msg and (want.get("says") is None or want["says"] in msg)
        got = "refused" if named else f"unnamed: {msg[:300]}"
    except AssertionError as e:
        got = f"wrong: {e}"
    except Exception as e:  # noqa: BLE001 - the point: anything else is a crash
        got = f"crash: {type(e).__name__}: {e}"
    took = time.perf_counter() - t0
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) * KB
    if took > 30 or grew > 2**30:
        got = f"crash: {took:.1f} s, +{grew / 2**20:.0f} MB peak RSS"
    if got == "loaded" and expect == ERROR:
        got = "wrong: loaded a file that must be refused"
    if got == "refused" and expect == LOAD:
        got = "wrong: refused a valid file"
    RESULTS[name] = got
    return got, took, grew


@pytest.mark.parametrize("name", list(C))
def test_corpus_file(tmp_path, name):
    fname, content, expect, want = C[name]
    path = tmp_path / "c" / fname
    path.parent.mkdir()
    write(path, content)
    got, took, grew = outcome(name, lambda: read_direct(path, want), path, expect, want)
    assert got in ("loaded", "refused"), f"{name}: {got}"
    if want.get("heavy"):
        assert took < 30 and grew < 2**30, (took, grew)
    if path.is_file() and not path.is_symlink():   # the same file through the folder reader
        got, _, _ = outcome(name + " (folder)", lambda: read_folder(tmp_path), path, expect,
                            want)
        assert got in ("loaded", "refused"), f"{name} through ShapeFolder: {got}"


# ------------------------------------------------------------------ HDF5 and ShapeNet55 layouts
CLOUDS = np.random.default_rng(1).normal(size=(4, 64, 3)).astype(np.float32)
H5 = {  # name -> (arrays, expected); arrays written into the file as given
    "h5_valid": ({"data": CLOUDS, "label": np.array([[0], [1], [2], [0]], np.uint8),
                  "normal": CLOUDS / np.linalg.norm(CLOUDS, axis=-1, keepdims=True)}, LOAD),
    "h5_float_whole_labels": ({"data": CLOUDS, "label": np.array([0., 1., 2., 0.])}, LOAD),
    "h5_string_labels": ({"data": CLOUDS, "label": np.array([b"chair", b"lamp"] * 2)}, ERROR),
    "h5_float_labels": ({"data": CLOUDS, "label": np.array([0.7, 1.0, 2.0, 0.0])}, ERROR),
    "h5_label_minus_one": ({"data": CLOUDS, "label": np.array([0, -1, 2, 0])}, ERROR),
    "h5_label_too_big": ({"data": CLOUDS, "label": np.array([0, 1, 7, 0])}, ERROR),
    "h5_label_count": ({"data": CLOUDS, "label": np.array([0, 1])}, ERROR),
    "h5_normals_shape": ({"data": CLOUDS, "label": np.zeros(4, int),
                          "normal": np.zeros((4, 32, 3))}, ERROR),
    "h5_zero_normals": ({"data": CLOUDS, "label": np.zeros(4, int),
                         "normal": np.zeros((4, 64, 3))}, ERROR),
    "h5_no_label": ({"data": CLOUDS}, ERROR),
    "h5_data_2d": ({"data": CLOUDS[0], "label": np.zeros(64, int)}, ERROR),
    "h5_string_data": ({"data": np.array([[b"a"] * 3] * 4), "label": np.zeros(4, int)}, ERROR),
    "h5_1e300": ({"data": CLOUDS.astype(np.float64) * 1e300, "label": np.zeros(4, int)}, ERROR),
    "h5_nan_row": ({"data": np.where(np.arange(4)[:, None, None] == 2, np.nan, CLOUDS),
                    "label": np.zeros(4, int)}, ERROR),
    "h5_one_point_rows": ({"data": np.ones((4, 64, 3), np.float32),
                           "label": np.zeros(4, int)}, ERROR),
}
SPECIAL_H5 = ["h5_truncated", "h5_garbage", "h5_huge_declared", "sonn_valid", "sonn_label_shape",
              "sn55_valid", "sn55_1e300", "sn55_cut", "sn55_identical"]


def modelnet_root(root: Path, write_file) -> Path:
    root.mkdir(parents=True)
    (root / "shape_names.txt").write_text("a\nb\nc\n")
    (root / "test_files.txt").write_text("data/x/ply_data_test0.h5\n")
    write_file(root / "ply_data_test0.h5")
    return root / "ply_data_test0.h5"


def h5_write(arrays: dict):
    def w(path):
        with h5py.File(path, "w") as f:
            for k, v in arrays.items():
                f[k] = v
    return w


def read_all(ds):
    assert len(ds) > 0
    for i in range(len(ds)):
        check_unit(ds[i]["points"])


@pytest.mark.parametrize("name", list(H5))
def test_corpus_h5(tmp_path, name):
    arrays, expect = H5[name]
    path = modelnet_root(tmp_path / "mn", h5_write(arrays))
    got, _, _ = outcome(name, lambda: read_all(ModelNetH5(tmp_path / "mn", "test", num_points=32)),
                        path, expect, {"says": {"h5_label_minus_one": "-1"}.get(name)})
    assert got in ("loaded", "refused"), f"{name}: {got}"


def huge_declared(path):
    with h5py.File(path, "w") as f:
        f.create_dataset("data", shape=(10**6, 2048, 3), dtype="f4", chunks=(1, 2048, 3))
        f["label"] = np.zeros(10**6, np.uint8)


@pytest.mark.parametrize("name", SPECIAL_H5)
def test_corpus_h5_special(tmp_path, name):
    good = h5_write(H5["h5_valid"][0])
    if name.startswith("h5_"):
        if name == "h5_truncated":
            def w(p):
                good(p)
                p.write_bytes(p.read_bytes()[:1500])
        else:
            w = huge_declared if name == "h5_huge_declared" else \
                (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4))
        path = modelnet_root(tmp_path / "mn", w)
        fn = lambda: read_all(ModelNetH5(tmp_path / "mn", "test", num_points=32))  # noqa: E731
        expect = ERROR
    elif name.startswith("sonn_"):
        path = tmp_path / "h5_files" / "main_split" / "test_objectdataset.h5"
        path.parent.mkdir(parents=True)
        label = np.array([0, 1, 2, 0]) if name == "sonn_valid" else np.zeros((4, 2), int)
        h5_write({"data": CLOUDS * 3 + 1, "label": label})(path)
        fn = lambda: read_all(ScanObjectNN(tmp_path / "h5_files", "test", num_points=32))  # noqa
        expect = LOAD if name == "sonn_valid" else ERROR
    else:
        root = tmp_path / "sn"
        (root / "ShapeNet-55").mkdir(parents=True)
        (root / "shapenet_pc").mkdir()
        fname = "03001627-" + "0" * 32 + ".npy"
        (root / "ShapeNet-55" / "test.txt").write_text(fname + "\n")
        path = root / "shapenet_pc" / fname
        a = {"sn55_valid": PTS, "sn55_1e300": PTS * 1e300, "sn55_cut": PTS,
             "sn55_identical": np.ones((50, 3))}[name]
        path.write_bytes(npy_bytes(a)[: -30 if name == "sn55_cut" else None])
        fn = lambda: read_all(ShapeNet55(root, "test", num_points=32))  # noqa: E731
        expect = LOAD if name == "sn55_valid" else ERROR
    got, took, grew = outcome(name, fn, path, expect, {})
    assert got in ("loaded", "refused"), f"{name}: {got}"
    assert took < 30 and grew < 2**30


def test_missing_file_is_missing_data(tmp_path):
    with pytest.raises(MissingData, match="a.off: no such file"):
        read_shape(tmp_path / "a.off")


# ------------------------------------------------------------------ checkpoints
class Toy(Method):
    recipe = "toy"

    def __init__(self, hidden=16, seed=1):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.Linear(hidden, 1))

    def forward(self, inputs):
        mse = (self.net(inputs["x"]).squeeze(-1) - inputs["y"]).pow(2).mean()
        return mse, {"mse": mse}


class Data(torch.utils.data.Dataset):
    def __init__(self, n=32):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x.sum(1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i], "index": i}


def toy_cfg(steps=6):
    return apply_overrides(Config(recipe="toy"), {
        "data": {"batch_size": 8}, "run": {"progress": False},
        "optim": {"epochs": 10, "max_steps": steps, "warmup_steps": 1, "lr": 1e-2}})


def trained(run_dir=None, steps=3, hidden=16):
    return Trainer(Toy(hidden), Data(), toy_cfg(steps), run_dir=run_dir).fit()


def snapshot(t):
    return ({k: v.clone() for k, v in t.method.state_dict().items()},
            repr(t.optimizer.state_dict()), repr(t.scheduler.state_dict()), t.step)


def same(a, b):
    return (a[1:] == b[1:]) and all(torch.equal(a[0][k], b[0][k]) for k in a[0])


def rewrite(src: Path, dst: Path, change):
    "A checkpoint changed by `change(state)`, saved with fresh digests (only `change` is bad)."
    state = torch.load(src, weights_only=True)
    change(state)
    body = {k: v for k, v in state.items() if k != "digests"}
    torch.save({**body, "digests": tensor_digests(body)}, dst)
    return dst


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    run = tmp_path_factory.mktemp("ckpt")
    t = trained(run / "run")
    return t, run / "run" / "checkpoints" / "last.pt"


def flip_inside_tensor(src: Path, dst: Path, tensor: torch.Tensor):
    raw = bytearray(src.read_bytes())
    at = bytes(raw).find(tensor.detach().cpu().numpy().tobytes())
    assert at > 0
    raw[at + 3] ^= 0x10
    dst.write_bytes(bytes(raw))
    return dst


FAULTS = {
    "no model": lambda s: s.pop("model"),
    "model tensor missing": lambda s: s["model"].pop("net.0.bias"),
    "no step": lambda s: s.pop("step"),
    "step not an int": lambda s: s.update(step="seven"),
    "optimizer of another architecture": None,            # built in the test
    "optimizer groups differ": lambda s: s["optimizer"]["param_groups"].pop(),
    "scheduler garbage": lambda s: s.update(scheduler={"x": 1}),
    "rng garbage": lambda s: s.update(rng={"torch": torch.zeros(3, dtype=torch.uint8)}),
    "digest missing": "digests",
}


@pytest.mark.parametrize("fault", ["byte flip in a weight", *FAULTS])
def test_bad_checkpoint_changes_nothing(tmp_path, saved, fault):
    t, ckpt = saved
    if fault == "byte flip in a weight":
        bad = flip_inside_tensor(ckpt, tmp_path / "bad.pt", t.method.net[0].weight)
        says = "`model.net.0.weight`"
    elif fault == "digest missing":
        state = torch.load(ckpt, weights_only=True)
        state["digests"].pop("model.net.0.weight")
        torch.save(state, tmp_path / "bad.pt")
        bad, says = tmp_path / "bad.pt", "net.0.weight` has no recorded digest"
    elif fault == "optimizer of another architecture":
        other = trained(steps=2, hidden=24)                 # same parameter count, other shapes
        bad = rewrite(ckpt, tmp_path / "bad.pt",
                      lambda s: s.update(optimizer=other.optimizer.state_dict()))
        says = "another model's optimizer"
    else:
        bad, says = rewrite(ckpt, tmp_path / "bad.pt", FAULTS[fault]), "bad.pt"
    victim = Trainer(Toy(), Data(), toy_cfg())
    victim.fit()                                            # a model with a state of its own
    before = snapshot(victim)
    rng = torch.get_rng_state()
    with pytest.raises(CorruptCheckpoint) as e:
        victim.load_checkpoint(bad)
    assert "bad.pt" in str(e.value) and says in str(e.value), str(e.value)
    assert same(before, snapshot(victim)), fault
    assert torch.equal(rng, torch.get_rng_state())
    if fault == "byte flip in a weight":
        from p2ikit.experiments import load_student
        with pytest.raises(CorruptCheckpoint, match="does not match its digest"):
            load_student(bad)


def test_save_checkpoint_resume_round_trip(tmp_path, saved):
    t, _ = saved
    plain = save_checkpoint(tmp_path / "plain.pt", t.method, step=3)
    with pytest.warns(UserWarning, match="no optimizer state"):
        back = Trainer(Toy(seed=5), Data(), toy_cfg()).load_checkpoint(plain)
    assert (back.step, back.epoch, back.batch_in_epoch) == (3, 0, 3)
    assert all(torch.equal(a, b) for a, b in zip(back.method.state_dict().values(),
                                                 t.method.state_dict().values()))
    back.fit()
    assert back.step == 6
    full = Trainer(Toy(seed=5), Data(), toy_cfg()).load_checkpoint(
        save_checkpoint(tmp_path / "full.pt", t.method, t.optimizer, t.scheduler, step=3))
    assert repr(full.optimizer.state_dict()) == repr(t.optimizer.state_dict())


def test_resume_cleans_the_run_folder(tmp_path):
    run = tmp_path / "run"
    mid = tmp_path / "mid.pt"

    def keep_step_3(trainer, record):
        if record["step"] == 3:
            trainer.save_checkpoint(mid)
    t = Trainer(Toy(), Data(), toy_cfg(6), run_dir=run, callbacks=[StepHook(keep_step_3)])
    t.fit()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    (run / "checkpoints" / ".last.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 7, "lo')                          # torn by a kill
    Trainer(Toy(), Data(), toy_cfg(6), run_dir=run).load_checkpoint(mid).fit()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]                      # no step twice, the torn line gone
    assert not list((run / "checkpoints").glob("*.tmp"))
    for p in (run / "checkpoints" / "last.pt", run / "config.json", run / "metrics.jsonl"):
        assert oct(p.stat().st_mode & 0o777) == "0o644", p


def test_torchscript_needs_the_flag(tmp_path):
    torch.jit.save(torch.jit.script(nn.Linear(3, 2)), str(tmp_path / "ts.pt"))
    with pytest.raises(P2IError, match="TorchScript archive: torch.jit.load runs the code"):
        read_state_dict(tmp_path / "ts.pt")
    assert sorted(read_state_dict(tmp_path / "ts.pt", trust_torchscript=True)) == ["bias", "weight"]


class FakeTeacher(nn.Module):
    identity, embed_dim, dense_dim, dense_size = "fake", 4, 4, (2, 2)

    def forward(self, images):
        m = images.mean((1, 2, 3))
        return TeacherOut(m[:, None].repeat(1, 4), m[:, None, None, None].repeat(1, 4, 2, 2))


@pytest.mark.parametrize("damage", ["null header", "list header", "directory"])
def test_feature_cache_bad_entry_is_recomputed(tmp_path, damage):
    fc = FeatureCache(tmp_path / "fc")
    images = torch.rand(2, 3, 8, 8)
    first = fc.get_or_compute(FakeTeacher(), images)
    path = next((tmp_path / "fc").rglob("*.p2ifc"))
    magic = path.read_bytes()[:7]
    if damage == "directory":
        path.unlink()
        path.mkdir()
    else:
        head = b"null" if damage == "null header" else b"[1, 2]"
        path.write_bytes(magic + struct.pack("<Q", len(head)) + head)
    with pytest.warns(UserWarning, match="unusable"):
        again = fc.get_or_compute(FakeTeacher(), images)
    assert torch.equal(first.dense, again.dense) and fc.stats["corrupt"] == 1
    assert path.is_file()


def test_corpus_summary():
    "The corpus as a whole (run after the cases above): its size and that nothing slipped."
    bad = {k: v for k, v in RESULTS.items() if v not in ("loaded", "refused")}
    files = len(C) + len(H5) + len(SPECIAL_H5)
    counts = {k: sum(v == k for v in RESULTS.values()) for k in ("loaded", "refused")}
    print(f"\ncorpus: {files} files, {len(RESULTS)} reads; {counts['loaded']} loaded correctly, "
          f"{counts['refused']} refused naming the file; "
          f"{sum(v.startswith('crash') for v in bad.values())} crashes, "
          f"{sum(not v.startswith('crash') for v in bad.values())} silent wrong results")
    assert files >= 60 and not bad, bad
