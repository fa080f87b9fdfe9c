"""Bad-input sweep over p2ikit.teachers: every public entry point rejects wrong arguments, files and specs with a
P2IError that names the argument or the file; plus one tiny end-to-end run of the RenderNet command-line entry."""
import json

import pytest
import torch

from p2ikit.core import BadInput, CorruptCheckpoint, MissingWeights
from p2ikit.teachers import (FeatureCache, OpenCLIPTeacher, RenderNet, RenderNetTeacher, check_images,
                             find_openclip_weights, format_prompts, load_openclip_weights, load_teacher,
                             read_state_dict, register_openclip_config, render_mesh_views, train_rendernet,
                             train_rendernet_cli)


@pytest.fixture(scope="module")
def vit():
    return OpenCLIPTeacher("p2i-test-vit")


good = torch.rand(2, 3, 32, 32)
nan = good.clone(); nan[0, 1, 2, 3] = float("nan")

IMAGES = {  # bad images -> words the message must hold
    "rank": (torch.rand(3, 32, 32), "(M, 3, H, W)"),
    "channels": (torch.rand(2, 1, 32, 32), "(M, 3, H, W)"),
    "empty": (torch.rand(0, 3, 32, 32), "empty"),
    "nan": (nan, "non-finite"),
    "range": (good * 255, "[0, 1]"),
    "integer": ((good * 255).to(torch.uint8), "floating"),
    "numpy": (good.numpy(), "torch.Tensor"),
}


@pytest.mark.parametrize("case", list(IMAGES))
def test_images_are_checked_everywhere(case, vit, tmp_path):
    bad, words = IMAGES[case]
    for call in (check_images, vit, lambda x: FeatureCache(tmp_path).get_or_compute(vit, x)):
        with pytest.raises(BadInput) as e: call(bad)
        assert "`images`" in str(e.value) and words in str(e.value), str(e.value)


def test_openclip_arguments(vit, tmp_path):
    with pytest.raises(BadInput, match="`model_name`"): OpenCLIPTeacher("")
    with pytest.raises(BadInput, match="not an open_clip architecture"): OpenCLIPTeacher("ViT-Q-99")
    with pytest.raises(BadInput, match="`image_size`"): OpenCLIPTeacher("p2i-test-vit", image_size=0)
    with pytest.raises(BadInput, match=r"`dense_layer` must be an int in \[-2, 1\]"):
        OpenCLIPTeacher("p2i-test-vit", dense_layer=5)
    with pytest.raises(BadInput, match=r"`dense_layer` must be an int in \[-4, 3\]"):
        OpenCLIPTeacher("p2i-test-rn", dense_layer=-5)
    with pytest.raises(BadInput, match="known tags"): find_openclip_weights("ViT-B-16", "not-a-tag")
    with pytest.raises(BadInput, match="must be None with 'local-dir:'"):
        OpenCLIPTeacher(f"local-dir:{tmp_path}", pretrained="openai")
    with pytest.raises(MissingWeights, match="open_clip_config.json"): OpenCLIPTeacher(f"local-dir:{tmp_path}")
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": {}}))
    with pytest.raises(MissingWeights, match="no weights"): OpenCLIPTeacher(f"local-dir:{tmp_path}")
    with pytest.raises(BadInput, match="`cfg`"): register_openclip_config("x", {"embed_dim": 3})


def test_missing_weights_name_model_tag_and_place(tmp_path):
    with pytest.raises(MissingWeights) as e:
        OpenCLIPTeacher("RN50", pretrained="openai", weights_dir=tmp_path / "w", cache_dir=tmp_path / "c")
    msg = str(e.value)
    assert "'RN50'" in msg and "'openai'" in msg and str(tmp_path / "w" / "RN50" / "openai") in msg, msg
    assert "never downloads" in msg


def test_checkpoint_files(vit, tmp_path):
    with pytest.raises(MissingWeights, match="No checkpoint file"): read_state_dict(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CorruptCheckpoint, match="junk.pt"): read_state_dict(tmp_path / "junk.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 12)
    with pytest.raises(CorruptCheckpoint, match="junk.safetensors"): read_state_dict(tmp_path / "junk.safetensors")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "nostate.pt")
    with pytest.raises(CorruptCheckpoint, match="does not hold a state dict"): read_state_dict(tmp_path / "nostate.pt")
    sd = vit.model.state_dict()
    torch.save({"module." + k: v for k, v in sd.items()}, tmp_path / "ddp.pt")  # DDP prefix unwrapped
    torch.save({"state_dict": sd, "epoch": 1}, tmp_path / "wrapped.pt")         # open_clip training checkpoints
    for name in ("ddp.pt", "wrapped.pt"):
        assert torch.equal(OpenCLIPTeacher("p2i-test-vit", pretrained=tmp_path / name)(good).dense, vit(good).dense)
    wrong = dict(sd); wrong["visual.proj"] = torch.zeros(5, 5); del wrong["visual.ln_post.weight"]; wrong["extra"] = sd["logit_scale"]
    torch.save(wrong, tmp_path / "wrong.pt")
    with pytest.raises(CorruptCheckpoint) as e: load_openclip_weights(OpenCLIPTeacher("p2i-test-vit").model, tmp_path / "wrong.pt", "p2i-test-vit")
    msg = str(e.value)
    assert "1 missing keys" in msg and "1 unexpected keys" in msg and "1 shape mismatches" in msg and "wrong.pt" in msg, msg
    assert msg.count("\n") == 0 and len(msg) < 800  # one readable paragraph, not a page of keys


def test_text_arguments(vit):
    for bad in ("chair", [], [""], [3]):
        with pytest.raises(BadInput, match="`classnames`"): vit.encode_text(bad)
    with pytest.raises(BadInput, match="'{}'"): vit.encode_text(["chair"], ["a chair"])
    with pytest.raises(BadInput, match="`templates`"): vit.encode_text(["chair"], "nonsense")
    assert format_prompts(["a_b"], ["{}!"]) == [["a b!"]]


def test_cache_arguments(vit, tmp_path):
    with pytest.raises(BadInput, match="`max_bytes`"): FeatureCache(tmp_path, max_bytes=0)
    with pytest.raises(BadInput, match="`dtype`"): FeatureCache(tmp_path, dtype=torch.int8)
    cache = FeatureCache(tmp_path)
    with pytest.raises(BadInput, match="`teacher`"): cache.get_or_compute(torch.nn.Identity(), good)
    with pytest.raises(BadInput, match="`key_extra`"): cache.get_or_compute(vit, good, key_extra=3)


def test_rendernet_arguments(tmp_path):
    with pytest.raises(BadInput, match="`num_classes`"): RenderNet(0)
    with pytest.raises(BadInput, match="lacks 'mean'"): RenderNetTeacher({"num_classes": 2, "embed_dim": 4, "width": 2, "image_size": 16})
    with pytest.raises(MissingWeights, match="No RenderNet checkpoint"): RenderNetTeacher.load(tmp_path / "none.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CorruptCheckpoint, match="not a RenderNet checkpoint"): RenderNetTeacher.load(tmp_path / "other.pt")
    cfg = {"num_classes": 2, "embed_dim": 4, "width": 2, "image_size": 16, "mean": [0.5] * 3, "std": [0.2] * 3}
    t = RenderNetTeacher(cfg, classes=["a", "b"])
    t.save(tmp_path / "ok.pt")
    ck = torch.load(tmp_path / "ok.pt", weights_only=True)
    ck["config"]["width"] = 3
    torch.save(ck, tmp_path / "mismatch.pt")
    with pytest.raises(CorruptCheckpoint, match="mismatch.pt.*shape mismatches"): RenderNetTeacher.load(tmp_path / "mismatch.pt")
    with pytest.raises(BadInput, match="`views`"): render_mesh_views([{"mesh": None}], views=0)
    with pytest.raises(BadInput, match="`image_kind`"): render_mesh_views([{"mesh": None}], image_kind="normals")
    with pytest.raises(BadInput, match="need a `mesh`"): render_mesh_views([{"label": 0}], progress=False)
    with pytest.raises(BadInput, match="`epochs`"): train_rendernet(epochs=0)
    with pytest.raises(BadInput, match="`val_dataset` is required"): train_rendernet(dataset=[{"mesh": None}])


@pytest.mark.parametrize("spec", ["", "clip:ViT-B-16:openai", "openclip:ViT-B-16", "openclip:", "rendernet:", 3])
def test_load_teacher_specs(spec):
    with pytest.raises(BadInput, match="`spec` must be"): load_teacher(spec)


def test_rendernet_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "rn.pt"
    assert train_rendernet_cli(["--out", str(out), "--classes", "cube", "sphere", "torus", "--samples-per-class", "2",
                                "--epochs", "1", "--image-size", "32", "--views", "2", "--width", "4",
                                "--embed-dim", "8", "--batch-size", "4"]) == 0
    printed = capsys.readouterr().out
    assert "Validation accuracy (val split)" in printed and str(out) in printed
    teacher = load_teacher(f"rendernet:{out}")
    assert teacher.classes == ["cube", "sphere", "torus"] and teacher(good).dense.shape == (2, 8, 4, 4)
    assert torch.load(out, weights_only=True)["report"]["val_shapes"] == 6
