"""Every evaluation protocol end to end on SyntheticShapes (6 classes, 256 points, 64 px views)
with a tiny open_clip teacher built in-process (random weights) and a tiny PointNet student, and
the proof that PointCLIP's view weights are fitted without touching the test split."""
import inspect

import numpy as np
import pytest
import torch

from p2ikit import evaluate as ev
from p2ikit.backbones import make_backbone
from p2ikit.cache import FeatureCache
from p2ikit.core import BadInput
from p2ikit.datasets import SyntheticShapes
from p2ikit.metrics import ResultTable, harmonic_mean
from p2ikit.render import RIGS
from p2ikit.teachers import POINTCLIP_FEWSHOT_TEMPLATES, OpenCLIPTeacher
from p2ikit.transforms import (Episode, base_novel_split, few_shot_folds, load_few_shot_folds,
                               save_few_shot_folds)

CLASSES = ["chair", "table", "airplane", "mug", "lamp", "car"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    "Tiny tensors: a thread pool costs more than it saves (and the machine is shared)."
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def world():
    train, val, test = (SyntheticShapes(split, num_points=256, samples_per_class=n, classes=CLASSES)
                        for split, n in (("train", 10), ("val", 4), ("test", 6)))
    torch.manual_seed(0)
    teacher = OpenCLIPTeacher("p2i-test-vit", image_size=64)
    student = make_backbone("pointnet", preset="tiny")
    return dict(train=train, val=val, test=test, teacher=teacher, student=student,
                rig=RIGS.build("pointclip6", image_size=64))


@pytest.fixture(scope="module")
def table():
    return ResultTable()


class Spy(torch.utils.data.Dataset):
    "Logs each read as (name, index) into a shared list."
    def __init__(self, ds, name, log):
        self.ds, self.name, self.log, self.classes = ds, name, log, ds.classes

    def __len__(self): return len(self.ds)
    def __getitem__(self, i):
        self.log.append((self.name, i))
        return self.ds[i]


class ShuffledLabels(torch.utils.data.Dataset):
    "The same clouds, labels permuted: an adversarial test split that would change a fit on it."
    def __init__(self, ds, seed=0):
        self.ds, self.classes = ds, ds.classes
        self.perm = np.random.default_rng(seed).permutation(len(ds.classes))
    def __len__(self): return len(self.ds)
    def __getitem__(self, i):
        item = dict(self.ds[i])
        item["label"] = int(self.perm[item["label"]])
        return item


def test_view_weight_search_takes_no_test_data():
    for f in (ev.search_view_weights, ev.fit_view_weights):
        assert not [p for p in inspect.signature(f).parameters if "test" in p], f


def test_view_weights_are_fitted_on_val_only(world, table):
    w, test, val = world["teacher"], world["test"], world["val"]
    log = []
    rep = ev.zero_shot_classify(w, Spy(test, "test", log), rig=world["rig"],
                                view_weights="search", val_dataset=Spy(val, "val", log),
                                progress=False)
    names = [n for n, _ in log]
    first_test = names.index("test")
    assert set(names[:first_test]) == {"val"} and "val" not in names[first_test:]
    # test read once, after the weights
    assert sorted(i for n, i in log if n == "test") == list(range(len(test)))
    alone = ev.fit_view_weights(w, val, rig=world["rig"], progress=False).tolist()
    assert rep.info["view_weights"] == alone and rep.info["weights"] == "val_search"
    # an adversarial test split (labels permuted) leaves the weights unchanged
    other = ev.zero_shot_classify(w, ShuffledLabels(test), rig=world["rig"], view_weights="search",
                                  val_dataset=val, progress=False)
    assert other.info["view_weights"] == alone
    # NaN-poisoned test features could not have been read: the search accepts only val features,
    # and NaN is refused
    feats, labels = ev.extract_features(w, val, world["rig"], per_view=True, progress=False)
    text = w.encode_text(CLASSES)
    poisoned = torch.cat([feats, torch.full_like(feats, float("nan"))])
    assert ev.search_view_weights(feats, labels, text).tolist() == alone
    with pytest.raises(BadInput, match="non-finite"):
        ev.search_view_weights(poisoned, torch.cat([labels, labels]), text)
    table.add(rep.row())


@pytest.mark.parametrize("version,rig", [("v1", RIGS.build("pointclip10", image_size=64)),
                                         ("v2", RIGS.build("pointclip_v2_10", image_size=64))])
def test_zero_shot_versions(world, table, version, rig):
    rep = ev.zero_shot_classify(world["teacher"], world["test"], version=version, rig=rig,
                                view_weights=torch.linspace(0.5, 1, 10), progress=False)
    assert rep.info["method"] == f"pointclip_{version}" and rep.info["weights"] == "given"
    assert rep.confusion.shape == (6, 6) and rep.confusion.sum() == len(world["test"])
    assert 0 <= rep.top1 <= rep.top5 <= 100 and rep.per_class.shape == (6,)
    table.add(rep.row())


def test_pointclip_views_presets():
    rig, style = ev.pointclip_views("v1", image_size=32)
    assert (len(rig), style) == (6, "pointclip")
    assert len(ev.pointclip_views("v1", num_views=10)[0]) == 10
    rig, style = ev.pointclip_views("v2")
    assert (len(rig), style, rig.image_size) == (10, "realistic", 224)
    with pytest.raises(BadInput, match="`num_views`"):
        ev.pointclip_views("v2", num_views=6)
    with pytest.raises(BadInput, match="`version`"):
        ev.pointclip_views("v3")


def test_extract_features_with_cache(world, tmp_path):
    t, ds, rig = world["teacher"], world["val"], world["rig"]
    plain = ev.extract_features(t, ds, rig, per_view=True, progress=False)
    cache = FeatureCache(tmp_path)
    first = ev.extract_features(t, ds, rig, per_view=True, cache=cache, progress=False)
    again = ev.extract_features(t, ds, rig, per_view=True, cache=cache, progress=False)
    torch.testing.assert_close(first[0], plain[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(again[0], plain[0], atol=1e-5, rtol=1e-5)
    assert cache.stats["hits"] >= len(ds) * len(rig) and torch.equal(again[1], plain[1])
    with pytest.raises(BadInput, match="`per_view`"):
        ev.extract_features(world["student"], ds, per_view=True)


def test_linear_probe_and_svm(world, table):
    s = world["student"]
    (xtr, ytr), (xva, yva), (xte, yte) = (ev.extract_features(s, world[k], progress=False)
                                          for k in ("train", "val", "test"))
    probe = ev.few_shot_linear_probe(xtr, ytr, ways=(5,), shots=(2, 5), n_query=5, progress=False)
    assert probe.column("protocol") == ["linear_probe"] * 2
    assert all(r["episodes"] == 10 for r in probe)
    assert all(0 <= r["accuracy"] <= 100 and r["ci95"] >= 0 for r in probe)
    svm = ev.linear_svm_protocol(xtr, ytr, xva, yva, xte, yte, Cs=(0.01, 1.0))
    assert svm["protocol"] == "linear_svm" and svm["C"] in (0.01, 1.0)
    assert svm["samples"] == len(world["test"])
    table.extend(probe)
    table.add(svm)


def test_finetune_on_saved_folds(world, table, tmp_path):
    train, test = world["train"], world["test"]
    folds = few_shot_folds(train.labels, n_way=5, k_shot=3, n_folds=2, n_test=3, seed=0,
                           test_labels=test.labels)
    save_few_shot_folds(folds, tmp_path / "folds.json", train.labels, test.labels)
    folds = load_few_shot_folds(tmp_path / "folds.json", train.labels, test.labels)
    ft = ev.finetune_protocol(lambda: make_backbone("pointnet", preset="tiny"), train, folds, test,
                              epochs=2, progress=False)
    assert (ft["protocol"], ft["way"], ft["shot"], ft["folds"]) == ("finetune", 5, 3, 2)
    assert "ci95" not in ft
    assert len(ft["accuracies"]) == 2 and all(0 <= a <= 100 for a in ft["accuracies"])
    alien = Episode([9, 10, 11, 12, 13], folds[0].support, folds[0].query)
    with pytest.raises(BadInput, match="outside its classes"):  # folds for other labels are caught
        ev.finetune_fold(world["student"], train, alien, test, epochs=1)
    table.add(ft)


def test_adapter_and_base_novel(world, table):
    t, rig = world["teacher"], RIGS.build("pointclip10", image_size=64)
    vtr, ytr = ev.extract_features(t, world["train"], rig, per_view=True, progress=False)
    vte, yte = ev.extract_features(t, world["test"], rig, per_view=True, progress=False)
    text = t.encode_text(CLASSES, POINTCLIP_FEWSHOT_TEMPLATES)
    ad = ev.adapter_protocol(vtr, ytr, vte, yte, text, k_shot=4, runs=2, epochs=20)
    assert (ad["protocol"], ad["way"], ad["shot"], ad["runs"]) == ("pointclip_adapter", 6, 4, 2)
    base, novel = base_novel_split(CLASSES, num_novel=2, seed=0)
    adapter = ev.fit_inter_view_adapter(vtr, ytr, text, epochs=5)
    with torch.no_grad():
        scores = ev.adapter_logits(adapter, vte, text)
    bn = ev.base_novel_report(scores, yte, base, novel, classes=CLASSES)
    assert bn["n_base"] + bn["n_novel"] == len(world["test"])
    assert bn["hm"] == pytest.approx(harmonic_mean(bn["base"], bn["novel"]))
    table.add(ad)
    table.add(protocol="pointclip_adapter", method="base_to_novel", **bn)


def test_table_names_every_protocol(table):
    # runs last in this module: every protocol above added its rows (a failing one fails on its own)
    if len(table) < 8:
        pytest.skip("needs the rows of the whole module; run the file, not this test alone")
    protocols = set(table.column("protocol"))
    expected = {"zero_shot", "linear_probe", "linear_svm", "finetune", "pointclip_adapter"}
    assert protocols == expected, protocols
    md, html = table.to_markdown(), table.to_html()
    assert all(p in md and p in html for p in protocols)
    assert md.count("\n") == len(table) + 1 and html.count("<tr>") == len(table) + 1
