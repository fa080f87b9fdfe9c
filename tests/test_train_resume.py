"""Resuming a real recipe (online augmentation, random view rigs, dropout) from a checkpoint
continues the same loss trajectory as an uninterrupted run."""
import pytest

from p2ikit.recipes import build_trainer, recipe_config
from p2ikit.teachers import OpenCLIPTeacher
from p2ikit.trainer import StepHook

TINY = ["data.num_points=128", "data.samples_per_class=1", "data.batch_size=4",
        "render.image_size=32", "render.views=3", "render.rig=random",
        "render.teacher_input=depth", "optim.max_steps=7", "optim.warmup_steps=2",
        "run.progress=false", "backbone.options.drop_path=0.1"]


def stop_at_3(trainer, record):
    if record["step"] == 3:
        trainer.stop()


@pytest.mark.parametrize("recipe", ["mvnet", "crosspoint"])
def test_resume_gives_the_same_losses(tmp_path, recipe):
    teacher = OpenCLIPTeacher("p2i-test-vit", image_size=32)
    cfg = recipe_config(recipe, TINY)
    full = build_trainer(cfg, run_dir=tmp_path / "full", teacher=teacher).fit()
    first = build_trainer(cfg, run_dir=tmp_path / "resumed", teacher=teacher)
    first.add_callback(StepHook(stop_at_3)).fit()
    second = build_trainer(cfg, run_dir=tmp_path / "resumed", teacher=teacher)
    second.load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt").fit()
    assert first.step == 3 and second.step == 7
    got = [r["loss"] for r in first.history + second.history]
    want = [r["loss"] for r in full.history]
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert len(set(round(x, 6) for x in want)) > 3        # the losses do change from step to step
