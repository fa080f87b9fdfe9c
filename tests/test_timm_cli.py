"""timm teachers end to end: recipes with a tiny timm teacher, and a tiny-DINOv2 mvnet pretraining
through the `p2ikit` command (spec, weights file, TensorBoard events), as a user runs it."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import save_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from p2ikit.core import MissingWeights
from p2ikit.recipes import build_trainer, recipe_config
from p2ikit.timm_teachers import TimmTeacher, load_timm_model, timm_source
from p2ikit.transforms import collate_points

EXE = str(Path(sys.executable).parent / "p2ikit")
TINY = ["data.num_points=128", "data.samples_per_class=1", "data.batch_size=4",
        "render.image_size=32", "render.views=3", "run.progress=false",
        "backbone.options={depth: 1, num_group: 16, group_size: 8}"]


@pytest.fixture(scope="module")
def dinov2_file(tmp_path_factory):
    "A tiny DINOv2-style ViT (patch 14, registers) saved as .safetensors, as a user would have it."
    path = tmp_path_factory.mktemp("weights") / "p2i-test-dinov2.safetensors"
    save_file(load_timm_model(timm_source("p2i-test-dinov2", "random")).state_dict(), str(path))
    return path


@pytest.mark.parametrize("recipe", ["mvnet", "pointmcd"])
def test_recipes_take_a_timm_teacher(recipe, dinov2_file, tmp_path):
    teacher = TimmTeacher("p2i-test-dinov2", dinov2_file)
    cfg = recipe_config(recipe, [*TINY, "optim.max_steps=3"])
    trainer = build_trainer(cfg, run_dir=tmp_path / recipe, teacher=teacher).fit()
    assert len(trainer.history) == 3
    assert all(math.isfinite(r["loss"]) for r in trainer.history)
    assert not any(p.requires_grad for p in teacher.parameters())      # the teacher stays frozen
    inputs = trainer.method.prepare(collate_points([trainer.dataset[i] for i in range(4)]), 0)
    assert inputs["teacher_global"].shape == (4, 3, 32)                # (B, V, D) of the ViT
    assert inputs["teacher_dense"].shape == (4, 3, 32, 4, 4)           # its 4x4 patch grid
    if recipe == "mvnet":                                              # decoded into that grid
        assert trainer.method.snapshot(inputs)["student_dense"].shape == (4, 3, 32, 4, 4)


def p2ikit(*args, cwd, env=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg",
           **(env or {})}
    return subprocess.run([EXE, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_tiny_dinov2_mvnet_through_the_cli(dinov2_file, tmp_path):
    overrides = [f"teacher.spec=timm:p2i-test-dinov2:{dinov2_file}",
                 "teacher.options.image_size=28", *TINY, "optim.max_steps=3",
                 "run.sample_every=3", "run.name=dino", f"run.out_dir={tmp_path / 'runs'}"]
    res = p2ikit("pretrain", "--recipe", "mvnet", "--tensorboard",
                 *[a for o in overrides for a in ("--set", o)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    run = tmp_path / "runs" / "dino"
    assert "trained 3 steps" in res.stdout and str(run) in res.stdout
    config = json.loads((run / "config.json").read_text())
    assert config["teacher"]["spec"].startswith("timm:p2i-test-dinov2:")
    assert config["run"]["tensorboard"] is True
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    events = EventAccumulator(str(run), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("train/transfer")] == [1, 2, 3]
    assert {"train/loss", "train/consistency", "run/lr", "run/samples_per_s"} <= set(
        events.Tags()["scalars"])
    assert [e.step for e in events.Images("probe/teacher_pca")] == [3]


def test_missing_timm_weights_and_info(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = p2ikit("pretrain", "--set", "teacher.spec=timm:vit_base_patch14_dinov2.lvd142m",
                 *[a for o in TINY for a in ("--set", o)], cwd=tmp_path,
                 env={"P2IKIT_WEIGHTS": str(empty), "HF_HUB_CACHE": str(empty)})
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "vit_base_patch14_dinov2.lvd142m" in res.stderr and "lvd142m" in res.stderr
    wanted = empty / "timm" / "vit_base_patch14_dinov2.lvd142m" / "model.safetensors"
    assert str(wanted) in res.stderr
    with pytest.raises(MissingWeights, match="models--timm--p2i-test-vit"):
        TimmTeacher("p2i-test-vit", weights_dir=empty, cache_dir=empty)
    kit = tmp_path / "kit" / "timm" / "p2i-test-vit"
    kit.mkdir(parents=True)
    (kit / "model.safetensors").write_bytes(b"")
    res = p2ikit("info", cwd=tmp_path, env={"P2IKIT_WEIGHTS": str(tmp_path / "kit")})
    line = next(line for line in res.stdout.splitlines() if line.startswith("timm models"))
    assert f"p2i-test-vit: {kit / 'model.safetensors'}" in line, res.stdout
