"""Every dataset reader on tiny fixture files written in its real published format, and bad-file
sweeps through each: a missing root shows the layout, a corrupt, empty or non-finite file raises
CorruptFile naming it (or with on_error='skip' is dropped and listed in `dataset.report`)."""
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from p2ikit.core import BadInput, CorruptFile, MissingData, P2IError
from p2ikit.datasets import (DATASETS, SCANOBJECTNN_CLASSES, ModelNetH5, ModelNetOFF,
                             ModelNetResampled, ScanObjectNN, ShapeFolder, ShapeNet55,
                             SyntheticShapes, find_datasets)
from p2ikit.formats import read_off, read_shape
from p2ikit.shapes import Mesh, point_to_mesh_distance
from p2ikit.transforms import (base_novel_split, collate_points, few_shot_episodes,
                               load_few_shot_folds)

CLASSES = ["chair", "cone", "mug"]


def shapes(n_per_class, n_points=300, classes=CLASSES):
    "Synthetic items (with mesh) to fill the fixtures: list of (class index, item)."
    src = SyntheticShapes("train", n_points, n_per_class, classes=classes, with_mesh=True)
    return [(int(src.labels[i]), src[i]) for i in range(len(src))]


# ------------------------------------------------------- fixture writers, one per published format
def write_resampled(root: Path, variant=40, n_train=4, n_test=2):
    ids = {"train": [], "test": []}
    for i, (c, it) in enumerate(shapes(n_train + n_test)):
        k = i % (n_train + n_test)
        sid = f"{CLASSES[c]}_{k + 1:04d}"
        ids["train" if k < n_train else "test"].append(sid)
        (root / CLASSES[c]).mkdir(parents=True, exist_ok=True)
        columns = torch.cat([it["points"], it["normals"]], 1).numpy()
        np.savetxt(root / CLASSES[c] / f"{sid}.txt", columns, fmt="%.6f", delimiter=",")
    (root / f"modelnet{variant}_shape_names.txt").write_text("\n".join(CLASSES) + "\n")
    for s in ids:
        (root / f"modelnet{variant}_{s}.txt").write_text("\n".join(ids[s]) + "\n")
    return [root / "cone" / "cone_0002.txt"]


def write_off_glued(path: Path, mesh):
    "ModelNet's own quirk: counts glued to the OFF keyword, plus a comment and a blank line."
    V, F = mesh.vertices.numpy(), mesh.faces.numpy()
    lines = [f"OFF{len(V)} {len(F)} 0", "# made by a test", ""]
    lines += [" ".join(f"{x:.6f}" for x in v) for v in V] + [f"3 {a} {b} {c}" for a, b, c in F]
    path.write_text("\n".join(lines) + "\n")


def write_modelnet_off(root: Path, n_train=3, n_test=2):
    for i, (c, it) in enumerate(shapes(n_train + n_test)):
        k = i % (n_train + n_test)
        d = root / CLASSES[c] / ("train" if k < n_train else "test")
        d.mkdir(parents=True, exist_ok=True)
        write_off_glued(d / f"{CLASSES[c]}_{k + 1:04d}.off", it["mesh"])
    return [root / "cone" / "train" / "cone_0002.off"]


def write_modelnet_h5(root: Path, n_train=6, n_test=3, P=64):
    root.mkdir(parents=True, exist_ok=True)
    items = shapes(n_train + n_test, P)
    train = [x for i, x in enumerate(items) if i % (n_train + n_test) < n_train]
    test = [x for i, x in enumerate(items) if i % (n_train + n_test) >= n_train]
    files = (("ply_data_train0.h5", train[: len(train) // 2]),
             ("ply_data_train1.h5", train[len(train) // 2:]), ("ply_data_test0.h5", test))
    for name, part in files:
        with h5py.File(root / name, "w") as f:
            f["data"] = np.stack([it["points"].numpy() for _, it in part])
            f["normal"] = np.stack([it["normals"].numpy() for _, it in part])
            f["label"] = np.array([[c] for c, _ in part], dtype=np.uint8)
            f["faceId"] = np.zeros((len(part), P), dtype=np.int32)
    (root / "shape_names.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "train_files.txt").write_text("data/modelnet40_ply_hdf5_2048/ply_data_train0.h5\n"
                                          "data/modelnet40_ply_hdf5_2048/ply_data_train1.h5\n")
    (root / "test_files.txt").write_text("data/modelnet40_ply_hdf5_2048/ply_data_test0.h5\n")
    return [root / "ply_data_train1.h5"]


def write_scanobjectnn(root: Path, P=64):
    classes = ["bag", "bin", "box"]
    items = shapes(4, P, ["cone", "cylinder", "cube"])
    for folder, suffix in (("main_split_nobg", ""), ("main_split", ""),
                           ("main_split", "_augmentedrot_scale75")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for split, part in (("training", items[::2] + items[1::4]), ("test", items[3::4])):
            with h5py.File(root / folder / f"{split}_objectdataset{suffix}.h5", "w") as f:
                # not normalised, like scans
                f["data"] = np.stack([it["points"].numpy() * 3 + 1 for _, it in part])
                f["label"] = np.array([c for c, _ in part], dtype=np.int64)
                f["mask"] = np.zeros((len(part), P), dtype=np.int64)
    assert SCANOBJECTNN_CLASSES[:3] == classes
    return [root / "main_split" / "training_objectdataset.h5"]


def write_shapenet55(root: Path, n_train=4, n_test=2):
    syn = {"chair": "03001627", "cone": "04099429", "mug": "03797390"}  # cones stand in for rockets
    (root / "ShapeNet-55").mkdir(parents=True)
    (root / "shapenet_pc").mkdir()
    lists = {"train": [], "test": []}
    for i, (c, it) in enumerate(shapes(n_train + n_test, 256)):
        k = i % (n_train + n_test)
        name = f"{syn[CLASSES[c]]}-{k:032x}.npy"
        np.save(root / "shapenet_pc" / name, it["points"].numpy())
        lists["train" if k < n_train else "test"].append(name)
    for s, names in lists.items():
        (root / "ShapeNet-55" / f"{s}.txt").write_text("\n".join(names) + "\n")
    return [root / "shapenet_pc" / f"{syn['cone']}-{1:032x}.npy"]


def write_ply_mesh(path, mesh):
    V, F = mesh.vertices.numpy(), mesh.faces.numpy()
    head = ["ply", "format ascii 1.0", f"element vertex {len(V)}", "property float x",
            "property float y", "property float z", f"element face {len(F)}",
            "property list uchar int vertex_indices", "end_header"]
    rows = [" ".join(map(str, v)) for v in V] + [f"3 {a} {b} {c}" for a, b, c in F]
    path.write_text("\n".join(head + rows) + "\n")


def write_ply_points(path, pts, nrm):
    head = ["ply", "format ascii 1.0", f"element vertex {len(pts)}"] + \
           [f"property float {k}" for k in ("x", "y", "z", "nx", "ny", "nz")] + ["end_header"]
    path.write_text("\n".join(head + [" ".join(map(str, r)) for r in np.c_[pts, nrm]]) + "\n")


def write_obj(path, mesh):
    V, F = mesh.vertices.numpy(), mesh.faces.numpy() + 1
    rows = [f"v {x} {y} {z}" for x, y, z in V] + [f"f {a} {b} {c}" for a, b, c in F]
    path.write_text("\n".join(rows) + "\n")


def write_stl(path, mesh):
    V, F = mesh.vertices.numpy(), mesh.faces.numpy()
    out = ["solid test"]
    for tri in V[F]:
        n = np.cross(tri[1] - tri[0], tri[2] - tri[0])
        n /= np.linalg.norm(n) + 1e-12
        out += [f"facet normal {n[0]} {n[1]} {n[2]}", "outer loop"]
        out += [f"vertex {x} {y} {z}" for x, y, z in tri] + ["endloop", "endfacet"]
    path.write_text("\n".join(out + ["endsolid test"]) + "\n")


def write_pcd(path, pts, nrm):
    head = ["# .PCD v0.7 - Point Cloud Data file format", "VERSION 0.7",
            "FIELDS x y z normal_x normal_y normal_z", "SIZE 4 4 4 4 4 4", "TYPE F F F F F F",
            "COUNT 1 1 1 1 1 1", f"WIDTH {len(pts)}", "HEIGHT 1", "VIEWPOINT 0 0 0 1 0 0 0",
            f"POINTS {len(pts)}", "DATA ascii"]
    path.write_text("\n".join(head + [" ".join(map(str, r)) for r in np.c_[pts, nrm]]) + "\n")


# format -> (suffix, writer, what it writes: the item's mesh or its points and normals)
FOLDER_WRITERS = {
    "off": (".off", write_off_glued, "mesh"), "ply": (".ply", write_ply_mesh, "mesh"),
    "ply_points": (".ply", write_ply_points, "points"), "obj": (".obj", write_obj, "mesh"),
    "stl": (".stl", write_stl, "mesh"), "pcd": (".pcd", write_pcd, "points"),
    "xyz": (".xyz", lambda path, p, n: np.savetxt(path, np.c_[p, n]), "points"),
    "npy": (".npy", lambda path, p, n: np.save(path, np.c_[p, n]), "points")}
FOLDER_FORMATS = list(FOLDER_WRITERS)


def write_folder(root: Path):
    "Two classes, every format in each; class = subfolder."
    items = shapes(len(FOLDER_FORMATS), 200, ["torus", "cone"])
    for i, (c, it) in enumerate(items):
        fmt = FOLDER_FORMATS[i % len(FOLDER_FORMATS)]
        d = root / ["torus", "cone"][c] / "nested"
        d.mkdir(parents=True, exist_ok=True)
        suffix, write, what = FOLDER_WRITERS[fmt]
        data = (it["mesh"],) if what == "mesh" else (it["points"].numpy(), it["normals"].numpy())
        write((d / f"shape_{fmt}").with_suffix(suffix), *data)
    return sorted((root / "cone").rglob("shape_*"))


# name -> (writer, opener(root, **kw), expected trainval/test sizes)
READERS = {
    "modelnet40_resampled": (write_resampled,
                             lambda r, **kw: ModelNetResampled(r, variant=40, **kw), (12, 6)),
    "modelnet10_resampled": (lambda r: write_resampled(r, 10),
                             lambda r, **kw: ModelNetResampled(r, variant=10, **kw), (12, 6)),
    "modelnet_off": (write_modelnet_off, lambda r, **kw: ModelNetOFF(r, **kw), (9, 6)),
    "modelnet_h5": (write_modelnet_h5, lambda r, **kw: ModelNetH5(r, **kw), (18, 9)),
    "scanobjectnn": (write_scanobjectnn,
                     lambda r, **kw: ScanObjectNN(r, variant="OBJ_BG", **kw), (9, 3)),
    "shapenet55": (write_shapenet55, lambda r, **kw: ShapeNet55(r, **kw), (12, 6)),
}


@pytest.mark.parametrize("name", list(READERS))
def test_reader_reads_fixture(tmp_path, name):
    write, open_, (n_tv, n_test) = READERS[name]
    write(tmp_path)
    tv = open_(tmp_path, split="trainval", num_points=128)
    te = open_(tmp_path, split="test", num_points=128)
    assert (len(tv), len(te)) == (n_tv, n_test)
    tr = open_(tmp_path, split="train", num_points=128)
    va = open_(tmp_path, split="val", num_points=128)
    assert len(tr) + len(va) == n_tv and len(va) >= len(set(tv.labels.tolist()))
    assert sorted(tr.labels.tolist() + va.labels.tolist()) == sorted(tv.labels.tolist())
    for ds in (tv, te):
        assert ds.labels.dtype == np.int64 and ds.num_classes == len(ds.classes)
        for i in range(len(ds)):
            it = ds[i]
            assert it["points"].dtype == torch.float32 and it["points"].shape == (128, 3)
            assert it["index"] == i and it["label"] == ds.labels[i]
            # in the unit sphere (points touch it; for meshes, the vertices do)
            r = it["points"].norm(dim=-1).max().item()
            assert 0.5 < r <= 1 + 1e-5 and (r > 1 - 1e-5 or name == "modelnet_off")
            if "normals" in it:
                assert it["normals"].shape == (128, 3)
    batch = collate_points([tv[i] for i in range(4)])
    assert batch["points"].shape == (4, 128, 3) and batch["label"].dtype == torch.long
    again = open_(tmp_path, split="trainval", num_points=128)
    assert np.array_equal(tv[2]["points"].numpy(), again[2]["points"].numpy())


def test_reader_details(tmp_path):
    write_resampled(tmp_path / "mn")
    ds = ModelNetResampled(tmp_path / "mn", "trainval", num_points=None, use_normals=False)
    assert ds[0]["points"].shape == (300, 3) and "normals" not in ds[0]
    padded = ModelNetResampled(tmp_path / "mn", "trainval", num_points=1000)
    assert padded[0]["points"].shape == (1000, 3)
    fps = ModelNetResampled(tmp_path / "mn", "trainval", num_points=64, sample="fps")[0]["points"]
    rnd = ModelNetResampled(tmp_path / "mn", "trainval", num_points=64)[0]["points"]  # 'random'
    nearest = lambda p: torch.cdist(p, p).fill_diagonal_(9).amin()
    assert nearest(fps) > nearest(rnd)
    write_modelnet_h5(tmp_path / "h5")
    h5 = ModelNetH5(tmp_path / "h5", "test", num_points=None)
    assert h5[0]["points"].shape == (64, 3) and h5[0]["normals"].shape == (64, 3)
    write_scanobjectnn(tmp_path / "so")
    for variant in ("OBJ_ONLY", "obj_bg", "PB_T50_RS"):
        so = ScanObjectNN(tmp_path / "so", "test", variant=variant, num_points=32)
        assert so.classes == SCANOBJECTNN_CLASSES and len(so) == 3
    write_shapenet55(tmp_path / "sn")
    sn = ShapeNet55(tmp_path / "sn", "trainval", num_points=64)
    assert len(sn.classes) == 55
    assert {sn.classes[c] for c in sn.labels} == {"chair", "rocket", "mug"}


def test_modelnet_off_keeps_mesh(tmp_path):
    write_modelnet_off(tmp_path)
    ds = ModelNetOFF(tmp_path, "test", num_points=256, with_mesh=True)
    it = ds[0]
    assert it["mesh"].faces.shape[1] == 3 and it["path"].endswith(".off")
    # the points lie on the mesh in the item's frame: every point is within float error of a face
    tri = it["mesh"].vertices[it["mesh"].faces]
    n = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    d = ((it["points"][:, None] - tri[None, :, 0]) * n[None]).sum(-1).abs().amin(-1)
    assert d.max() < 1e-5
    assert point_to_mesh_distance(it["points"], it["mesh"]).max() < 1e-5


def test_shape_folder_every_format(tmp_path):
    write_folder(tmp_path)
    ds = ShapeFolder(tmp_path, num_points=128, with_mesh=True)
    assert ds.classes == ["cone", "torus"] and len(ds) == 2 * len(FOLDER_FORMATS)
    kinds = {}
    for i in range(len(ds)):
        it = ds[i]
        kinds[Path(it["path"]).name] = "mesh" in it
        assert it["points"].shape == (128, 3) and torch.isfinite(it["points"]).all()
    assert kinds == {"shape_off.off": True, "shape_ply.ply": True, "shape_ply_points.ply": False,
                     "shape_obj.obj": True, "shape_stl.stl": True, "shape_pcd.pcd": False,
                     "shape_xyz.xyz": False, "shape_npy.npy": False}
    only = ShapeFolder(tmp_path, num_points=64, extensions=["npy", ".xyz"])
    assert len(only) == 4
    pcd = read_shape(tmp_path / "cone" / "nested" / "shape_pcd.pcd")
    assert pcd["normals"] is not None and pcd["points"].shape == (200, 3)


def test_missing_roots_show_layout(tmp_path):
    for name, (_, open_, _) in READERS.items():
        with pytest.raises(MissingData) as e:
            open_(tmp_path / "absent", split="train")
        msg = str(e.value)
        assert "Expected layout" in msg and "Published" in msg, name
        assert str(tmp_path / "absent") in msg, name
    with pytest.raises(MissingData, match="Expected layout"):
        ShapeFolder(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    for name, (_, open_, _) in READERS.items():
        with pytest.raises(MissingData, match="Expected layout"):
            open_(tmp_path / "empty", split="test")
    with pytest.raises(MissingData, match="no .* files"):
        ShapeFolder(tmp_path / "empty")


def test_missing_listed_files(tmp_path):
    write_resampled(tmp_path)
    (tmp_path / "mug" / "mug_0001.txt").unlink()
    with pytest.raises(MissingData, match="mug_0001.txt: listed in modelnet40_train.txt"):
        ModelNetResampled(tmp_path, "trainval")
    ds = ModelNetResampled(tmp_path, "trainval", on_error="skip")
    assert len(ds) == 11 and Path(ds.report[0].path).name == "mug_0001.txt"
    write_modelnet_h5(tmp_path / "h5")
    (tmp_path / "h5" / "ply_data_train0.h5").unlink()
    with pytest.raises(MissingData, match="ply_data_train0.h5"):
        ModelNetH5(tmp_path / "h5")


# ------------------------------------------------------- the registry, on the same fixtures
# registered name -> fixture writer; each fixture is written where the name's marker says
LAYOUTS = {"modelnet40": write_resampled, "modelnet10": lambda r: write_resampled(r, 10),
           "modelnet_off": write_modelnet_off, "modelnet40_h5": write_modelnet_h5,
           "scanobjectnn": write_scanobjectnn, "shapenet55": write_shapenet55}


def test_registry_finds_and_builds_every_reader(tmp_path):
    # the part-segmentation readers register themselves when their module is imported (by any test)
    parts = {"shapenetpart", "synthetic_parts"}
    assert set(DATASETS.names) - parts == {"synthetic", "folder", *LAYOUTS}
    assert find_datasets(tmp_path) == {}
    for name, write in LAYOUTS.items():
        root = tmp_path / Path(DATASETS.meta(name)["marker"]).parts[0]  # the reader's own root
        write(root)
        assert name in find_datasets(tmp_path), name
        ds = DATASETS.build(name, root=root, split="test", num_points=32)
        assert ds[0]["points"].shape == (32, 3) and len(ds.classes) >= 3, name
    assert set(find_datasets(tmp_path)) == set(LAYOUTS)
    write_folder(tmp_path / "mine")
    mine = DATASETS.build("folder", root=tmp_path / "mine", num_points=16)
    assert mine.classes == ["cone", "torus"]
    with pytest.raises(BadInput, match=r"`data.dataset` must be one of \['synthetic'"):
        DATASETS.check("modelnet", "data.dataset")


# ------------------------------------------------------- bad-file sweeps
def damage(path: Path, how: str):
    "Empty the file, overwrite it with binary garbage, or put a NaN into its first coordinate."
    if how == "empty":
        path.write_bytes(b"")
        return
    if how == "garbage":
        path.write_bytes(bytes(range(256)) * 8)
        return
    if path.suffix == ".h5":
        with h5py.File(path, "r+") as f:
            d = f["data"][...]
            d[1, 3, 0] = np.nan
            f["data"][...] = d
        return
    if path.suffix == ".npy":
        a = np.load(path)
        a[5, 1] = np.inf
        np.save(path, a)
        return
    lines = path.read_text().splitlines()
    after = {".ply": "end_header", ".pcd": "DATA"}
    if path.suffix in after:
        k = next(i for i, line in enumerate(lines) if line.startswith(after[path.suffix])) + 1
    elif path.suffix == ".off":
        k = 3                                      # OFF<counts>, comment, blank, first vertex
    elif path.suffix == ".obj":
        k = next(i for i, line in enumerate(lines) if line.startswith("v "))
    elif path.suffix == ".stl":
        k = next(i for i, line in enumerate(lines) if line.startswith("vertex"))
    else:
        k = 0                                      # .txt and .xyz: a data line
    sep = "," if "," in lines[k] else " "
    tok = lines[k].split(sep)
    j = 1 if path.suffix in (".obj", ".stl") else 0  # after the 'v' / 'vertex' keyword
    tok[j] = "nan"
    lines[k] = sep.join(tok)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("how", ["empty", "garbage", "nonfinite"])
@pytest.mark.parametrize("name", list(READERS))
def test_bad_files_are_named(tmp_path, name, how):
    write, open_, _ = READERS[name]
    target = write(tmp_path)[0]
    damage(target, how)
    # raise: at construction (empty files, h5 loaded up front) or when the item is read
    with pytest.raises(CorruptFile) as e:
        ds = open_(tmp_path, split="trainval", num_points=64)
        for i in range(len(ds)):
            ds[i]
    assert target.name in str(e.value), str(e.value)
    # skip: nothing fails, the file is reported, scan drops it (a dataset left empty is an error)
    if name == "scanobjectnn" and how != "nonfinite":  # one file holds the whole split
        with pytest.raises(CorruptFile, match=f"no readable item.*{target.name}"):
            open_(tmp_path, split="trainval", num_points=64, on_error="skip")
        return
    ds = open_(tmp_path, split="trainval", num_points=64, on_error="skip")
    n0 = len(ds)
    for i in range(len(ds)):
        assert torch.isfinite(ds[i]["points"]).all()
    ds.scan(progress=False)
    assert any(target.name in b.path for b in ds.report), ds.report
    assert all(torch.isfinite(ds[i]["points"]).all() for i in range(len(ds)))
    assert len(ds) <= n0 and len(ds) > 0
    assert len(ds.labels) == len(ds) == len(ds.sources)


@pytest.mark.parametrize("how", ["empty", "garbage", "nonfinite"])
def test_bad_folder_files_are_named(tmp_path, how):
    for k in range(len(FOLDER_FORMATS)):                   # one bad file at a time, each format
        root = tmp_path / f"one{k}"
        target = write_folder(root)[k]
        damage(target, how)
        with pytest.raises(CorruptFile) as e:
            ds = ShapeFolder(root, num_points=64)
            for i in range(len(ds)):
                ds[i]
        assert target.name in str(e.value), (target.name, str(e.value))
    targets = write_folder(tmp_path / "all")
    for target in targets:
        damage(target, how)
    ds = ShapeFolder(tmp_path / "all", num_points=64, on_error="skip")
    ds.scan(progress=False)
    assert len(ds) == len(FOLDER_FORMATS)
    assert {Path(b.path).name for b in ds.report} == {t.name for t in targets}


def test_off_parser_edge_cases(tmp_path):
    p = tmp_path / "a.off"
    # colour after a face
    p.write_text("OFF\n# c\n\n4 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2 255 0 0\n3 0 2 3\n")
    assert read_off(p).faces.tolist() == [[0, 1, 2], [0, 2, 3]]
    p.write_text("COFF 3 1 0\n0 0 0 1 1 1 1\n1 0 0 1 1 1 1\n0 1 0 1 1 1 1\n3 0 1 2\n")
    assert read_off(p).vertices.shape == (3, 3)
    for bad, msg in [("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "indexes vertex 7"),
                     ("PLY\n3 1 0\n", "OFF keyword"), ("OFF\nx y z\n", "bad counts"),
                     ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", "unreadable"), ("", "empty")]:
        p.write_text(bad)
        with pytest.raises(CorruptFile, match=msg):
            read_off(p)


# ------------------------------------------------------- bad arguments, multi-process determinism
def test_bad_arguments():
    with pytest.raises(BadInput, match="`split`"):
        SyntheticShapes("validation")
    with pytest.raises(BadInput, match="`classes`"):
        SyntheticShapes(classes=["unicorn"])
    with pytest.raises(BadInput, match="`num_points`"):
        SyntheticShapes(num_points=0)
    with pytest.raises(BadInput, match="`samples_per_class`"):
        SyntheticShapes(samples_per_class=0)
    with pytest.raises(BadInput, match="`on_error`"):
        ShapeFolder(".", on_error="ignore")
    with pytest.raises(BadInput, match="`sample`"):
        ModelNetResampled(".", sample="poisson")
    ds = SyntheticShapes(num_points=16, samples_per_class=1)
    with pytest.raises(BadInput, match="index"):
        ds[len(ds)]
    with pytest.raises(BadInput, match="`items`"):
        collate_points([])
    with pytest.raises(BadInput, match="`n_way`"):
        few_shot_episodes(ds.labels, 0, 1, 1, 1)
    with pytest.raises(BadInput, match="`labels`"):
        few_shot_episodes(np.zeros((2, 2), int), 1, 1, 1, 1)
    with pytest.raises(BadInput, match="`num_novel`"):
        base_novel_split(ds.classes, num_novel=28)
    with pytest.raises(BadInput, match="`faces`"):
        Mesh(torch.rand(3, 3), torch.tensor([[0, 1, 3]]))
    with pytest.raises(BadInput, match="`vertices`"):
        Mesh(torch.full((3, 3), float("nan")), torch.tensor([[0, 1, 2]]))
    with pytest.raises(P2IError):
        load_few_shot_folds("/nonexistent/folds.json")


def test_dataloader_workers_match_main_process():
    ds = SyntheticShapes(num_points=64, samples_per_class=2, classes=["chair", "vase", "torus"])
    main = collate_points([ds[i] for i in range(len(ds))])
    loader = torch.utils.data.DataLoader(ds, batch_size=len(ds), num_workers=2,
                                         collate_fn=collate_points)
    assert torch.equal(next(iter(loader))["points"], main["points"])
