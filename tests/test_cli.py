"""The `p2ikit` command end to end, as a user runs it: real subprocesses, real files, tiny sizes.
Checks of parsing, help and error lines call `cli.main` (what the console script runs) in this
process: a subprocess would add seconds of imports each and test nothing more; one bad argument
and `--help` still go through the installed `p2ikit` script to pin its exit statuses."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from p2ikit.cli import main
from p2ikit.recipes import RECIPES
from p2ikit.render import RIGS
from p2ikit.trainer import load_checkpoint, save_checkpoint

EXE = str(Path(sys.executable).parent / "p2ikit")
# threads as the suite's (`make test`: 1 per pytest worker, two workers on two cores)
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
TINY = ["--set", "data.num_points=128", "--set", "data.samples_per_class=2",
        "--set", "data.batch_size=4", "--set", "render.image_size=32", "--set", "render.views=3",
        "--set", "run.progress=false"]


class Weights(torch.nn.Module):
    "Stands in for a model whose weights are `sd` (to write a plain checkpoint of them)."
    def __init__(self, sd):
        super().__init__()
        self.sd = sd

    def state_dict(self, *args, **kwargs):
        return self.sd


def p2ikit(*args, cwd, timeout=600):
    return subprocess.run([EXE, *map(str, args)], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def here(tmp_path, monkeypatch, capsys):
    "`here(*args)` runs `cli.main(args)` in `tmp_path` -> (exit status, stdout, stderr)."
    monkeypatch.chdir(tmp_path)
    def run(*args):
        status = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return status, out, err
    return run


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    "A tiny RenderNet teacher trained through the CLI, shared by the tests below."
    tmp = tmp_path_factory.mktemp("teacher")
    res = p2ikit("train-teacher", "--out", tmp / "t.pt", "--epochs", 1, "--image-size", 32,
                 "--samples-per-class", 2, cwd=tmp)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp / "t.pt").is_file() and "teacher written" in res.stdout
    return tmp / "t.pt"


def test_help_and_info(tmp_path, here):
    res = p2ikit("--help", cwd=tmp_path)
    assert res.returncode == 0 and "pretrain" in res.stdout and "demo" in res.stdout
    status, out, _ = here("pretrain", "--help")
    assert status == 0 and "--set KEY=VALUE" in out
    assert all(name in " ".join(out.split()) for name in RECIPES.names)
    status, out, _ = here("train-teacher", "--help")
    flags = ["--epochs", "--image-size", "--views", "--width", "--embed-dim", "--batch-size",
             "--lr", "--weight-decay", "--label-smoothing", "--samples-per-class",
             "--image-kind", "--out", "--seed", "--device", "--split-seed", "--num-val-novel",
             "--num-test-novel"]
    assert status == 0 and all(f in out for f in flags), out
    status, out, err = here("info")
    assert status == 0 and "SyntheticShapes" in out and "SyntheticParts" in out, err
    assert torch.__version__ in out and ", ".join(RIGS.names) in out


@pytest.mark.parametrize("args,message", [
    (["render", "no/such/file.ply"], "does not exist"),
    (["render", "synthetic:unicorn"], "synthetic:<category>"),
    (["render", "synthetic:mug", "--style", "pastel"], "invalid choice: 'pastel'"),
    (["pretrain", "--set", "optim.lrr=1"], "no field `lrr`"),
    (["pretrain", "--recipe", "nonsense"], "`recipe` must be one of"),
    (["pretrain", "--config", "missing.yaml"], "does not exist"),
    (["evaluate", "missing.pt"], "does not exist"),
    (["frobnicate"], "invalid choice"),
    (["pretrain", "--set", "teacher.spec=rendernet:nowhere.pt"], "nowhere.pt"),
    (["train-teacher", "--lr", "0"], "`lr`"),
])
def test_bad_arguments_give_one_line(here, args, message):
    status, out, err = here(*args)
    assert status == 2, out + err
    err = err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and message in err, err


def test_the_installed_script_exits_2_on_a_bad_argument(tmp_path):
    res = p2ikit("pretrain", "--recipe", "nonsense", cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    err = res.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and "must be one of" in err, err


def test_render_writes_pngs(tmp_path, here):
    status, _, err = here("render", "synthetic:mug", "--size", 32, "--num-points", 256,
                          "--out", tmp_path / "png")
    assert status == 0, err
    assert len(list((tmp_path / "png").glob("*.png"))) == 12     # 6 depth + 6 shaded mesh views


def test_pretrain_config_file_resume_and_evaluate(tmp_path, teacher):
    (tmp_path / "cfg.yaml").write_text(
        "decoder:\n  type: attention\noptim:\n  max_steps: 2\n  warmup_steps: 1\n")
    args = ["pretrain", "--recipe", "mvnet", "--config", "cfg.yaml", *TINY,
            "--set", f"teacher.spec=rendernet:{teacher}",
            "--set", "run.out_dir=runs", "--set", "run.name=cli"]
    res = p2ikit(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    run = tmp_path / "runs" / "cli"
    saved = json.loads((run / "config.json").read_text())
    assert saved["decoder"]["type"] == "attention" and saved["optim"]["max_steps"] == 2
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    ckpt = run / "checkpoints" / "last.pt"
    # resume to 4 steps from the checkpoint
    res = p2ikit(*args, "--set", "optim.max_steps=4", "--resume", ckpt, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert torch.load(ckpt, weights_only=True)["step"] == 4
    res = p2ikit("evaluate", ckpt, "--episodes", 2, "--shot", 2, "--baseline", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "linear_probe" in res.stdout and "random init" in res.stdout
    # the kit's own save_checkpoint(path, model, step=...) resumes too (issue 16): one format
    plain = save_checkpoint(tmp_path / "plain.pt", Weights(load_checkpoint(ckpt)["model"]), step=2)
    res = p2ikit(*args, "--set", "optim.max_steps=3", "--set", "run.name=plain", "--resume", plain,
                 cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert load_checkpoint(tmp_path / "runs" / "plain" / "checkpoints" / "last.pt")["step"] == 3


def test_ctrl_c_saves_a_checkpoint(tmp_path, teacher):
    """SIGINT once training is under way (two metrics lines written): the run is made too long to
    end by itself first (10^6 epochs and steps; steps are fast now): exit 130 is deterministic."""
    args = ["pretrain", "--recipe", "pointmcd", *TINY, "--set", f"teacher.spec=rendernet:{teacher}",
            "--set", "optim.max_steps=1000000", "--set", "optim.epochs=1000000",
            "--set", "run.out_dir=runs", "--set", "run.name=int"]
    # a suite started in the background (`make test &`) inherits SIGINT ignored: give it back
    proc = subprocess.Popen([EXE, *map(str, args)], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    metrics = tmp_path / "runs" / "int" / "metrics.jsonl"
    deadline = time.time() + 300
    while not metrics.exists() or len(metrics.read_text().splitlines()) < 2:
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.time() < deadline, "no two metrics lines within 300 s"
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before the signal"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "checkpoint saved" in out and "interrupted" in err
    state = torch.load(tmp_path / "runs" / "int" / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] >= 2


def test_quick_demo(tmp_path):
    res = p2ikit("demo", "--quick", "--out-dir", tmp_path / "demo", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    for student in ("random init", "mvnet, teacher", "mvnet, random-weight teacher",
                    "shape statistics"):
        assert f"| {student} |" in res.stdout, res.stdout
    assert "report:" in res.stdout
    header = "| student | setting | protocol | task | mean | std | ci95 | n |"
    rows = [line for line in res.stdout.splitlines() if line.startswith("| ")]
    assert rows[0] == header and len(rows) == 1 + 4 * 5 + 1 + 2, res.stdout   # + the gaps
    assert "| run | shortcut_gap | val_transfer |" in rows
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "<table" in html and html.count("data:image/png;base64") >= 2


def test_sweep_runs_every_combination(tmp_path, teacher):
    res = p2ikit("sweep", "--recipe", "mvnet", *TINY, "--set", f"teacher.spec=rendernet:{teacher}",
                 "--set", "optim.max_steps=2", "--grid", "decoder.type=projection,attention",
                 "--out-dir", tmp_path / "sw", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    sweep = tmp_path / "sw"
    runs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert runs == ["type=attention", "type=projection"]
    for r in runs:
        saved = json.loads((sweep / r / "config.json").read_text())
        assert saved["decoder"]["type"] == r.split("=")[1]
    rows = json.loads((sweep / "sweep.json").read_text())
    assert [r["decoder.type"] for r in rows] == ["projection", "attention"]
    assert all(r["steps"] == 2 for r in rows)
    assert (sweep / "sweep.png").stat().st_size > 0
    assert "final_loss" in (sweep / "sweep.md").read_text()
