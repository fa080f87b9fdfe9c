"""The dashboard tutorial run headless with nbclient (store_widget_state): the saved widget state
must hold the trained curves, the look-back slider, the view images and the similarity heatmaps."""
import json
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from p2ikit.widgets import PlotlyAdapter

NB = Path(__file__).resolve().parents[1] / "nbs" / "tutorial_dashboard.ipynb"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _models(nb, name=None):
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    return {k: m for k, m in state.items() if name is None or m["model_name"] == name}


def _figures(nb) -> list[list[dict]]:
    "The traces of every plotly FigureWidget in the saved state."
    traces = (PlotlyAdapter.saved_traces(m["state"]) for m in _models(nb).values())
    return [t for t in traces if t is not None]


def test_tutorial_headless_widget_state(tmp_path, monkeypatch):
    monkeypatch.setenv("P2IKIT_TUTORIAL_FAST", "1")
    monkeypatch.setenv("P2IKIT_TUTORIAL_OUT", str(tmp_path / "runs"))
    shutil.copy(NB, tmp_path / NB.name)
    nb = nbformat.read(tmp_path / NB.name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(nb, tmp_path / "executed.ipynb")

    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    summary = json.loads(last.strip().splitlines()[-1])
    assert summary["phase"] == "finished" and summary["errors"] == [], summary
    steps, snapshots = summary["steps"], summary["snapshots"]
    assert steps == summary["total_steps"] == 30
    assert summary["snapshot_steps"] == list(range(0, 31, 5))        # every 5 steps, from step 0

    # the dashboard is the displayed output of its cell, and its model is in the saved state
    view = "application/vnd.jupyter.widget-view+json"
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if o.output_type in ("display_data", "execute_result") and view in o.data]
    assert len(shown) == 1
    models = _models(nb)
    assert shown[0].data[view]["model_id"] in models

    # curves: one trace per loss part, lr and throughput at every step; the validation probe's
    # diagnostics (shortcut gap) at the steps it ran
    curves = next(f for f in _figures(nb) if any(t.get("name") == "loss" for t in f))
    names = [t["name"] for t in curves]
    assert names[:4] == ["loss", "transfer", "consistency", "global"], names
    every = [t for t in curves if t["name"] not in ("shortcut_gap", "val_transfer")]
    assert {"lr", "samples_per_s"} <= set(names) and "shortcut_gap" in names, names
    assert all(len(t["x"]) == len(t["y"]) == steps for t in every)
    gap = next(t for t in curves if t["name"] == "shortcut_gap")
    assert 0 < len(gap["x"]) < steps and gap["x"][-1] == steps

    # the look-back slider spans the kept snapshots and shows the newest
    slider = next(m["state"] for m in _models(nb, "IntSliderModel").values()
                  if m["state"].get("description") == "snapshot")
    assert slider["max"] == snapshots - 1 and slider["value"] == snapshots - 1

    status = [m["state"]["value"] for m in _models(nb, "HTMLModel").values()
              if "samples/s" in m["state"].get("value", "")]
    assert len(status) == 1 and "<b>finished</b>" in status[0]
    assert f"step {steps}/{steps}" in status[0]

    # view images (4 views x (teacher input + 3 depth styles + 4 reconstruction rows)): PNG bytes
    images = _models(nb, "ImageModel")
    assert len(images) >= 4 * 4
    assert all(m["state"].get("format") == "png" for m in images.values())

    # the similarity explorer: the view images and non-trivial teacher and student heatmaps
    sim = next(f for f in _figures(nb) if any(t.get("name") == "input 0" for t in f))
    heat = {t["name"]: t["z"] for t in sim if t.get("type") == "heatmap"}
    assert sorted(heat) == sorted(f"{r} {v}" for r in ("teacher", "student") for v in range(4))
    for name, z in heat.items():
        values = [v for row in _rows(z) for v in row]
        assert max(values) > min(values), f"{name} is flat"
        assert max(values) <= 1 + 1e-5 and min(values) >= -1 - 1e-5


def _rows(z):
    "Heatmap z from the saved state: a nested list, or plotly's typed-array dict."
    if isinstance(z, list): return z
    import base64
    import numpy as np
    raw = base64.b64decode(z["bdata"]) if "bdata" in z else bytes(z["value"])
    arr = np.frombuffer(raw, dtype=z["dtype"])
    return arr.reshape(z["shape"]).tolist()
