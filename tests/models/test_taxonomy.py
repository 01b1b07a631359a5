"""The taxonomy classifier: checkpoint round trip, the decision rule, training on labelled
reasons, and the ``taxonomy`` check through the CLI (train → filter → evaluate)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hfpc.cli import app
from hfpc.errors import ModelNotAvailableError
from hfpc.models.encoders import build_encoder
from hfpc.models.taxonomy_model import TaxonomyConfig, TaxonomyModel, scene_maps
from hfpc.training.taxonomy import calibrate_threshold, decide, sample_class
from hfpc.types import Sample

torch = pytest.importorskip("torch")
runner = CliRunner()
CLASSES = ["good", "product_altered", "floating"]


def test_checkpoint_round_trip_gives_the_same_logits(tmp_path: Path) -> None:
    enc = build_encoder("random-vit-tiny", seed=3)
    model = TaxonomyModel.for_encoder(enc, CLASSES, mlp_hidden=32).eval()
    g, o = torch.randn(2, enc.grid ** 2 + 1, enc.hidden_size), torch.randn(2, enc.grid ** 2 + 1, enc.hidden_size)
    maps = torch.rand(2, 64)
    before = model.logits(g, o, maps)
    model.save_pretrained(tmp_path / "ck", save_encoder=True)
    loaded = TaxonomyModel.from_pretrained(tmp_path / "ck")
    assert loaded.config.classes == CLASSES and loaded.encoder is not None
    assert torch.allclose(before, loaded.logits(g, o, maps), atol=1e-6)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps({"classes": ["floating", "indistinct"]}))
    with pytest.raises(ModelNotAvailableError, match="not a taxonomy model config"):
        TaxonomyModel.from_pretrained(tmp_path / "bad")


def test_classes_must_include_the_pass_class_once() -> None:
    with pytest.raises(ValueError, match="'good'"):
        TaxonomyConfig(classes=["floating", "indistinct"])
    with pytest.raises(ValueError, match="repeat"):
        TaxonomyConfig(classes=["good", "floating", "floating"])


def test_decision_passes_on_the_good_probability_and_names_the_likeliest_failure() -> None:
    probs = np.array([[0.6, 0.3, 0.1], [0.4, 0.1, 0.5], [0.45, 0.35, 0.2]])
    assert decide(probs, CLASSES, None) == ["good", "floating", "good"]
    assert decide(probs, CLASSES, 0.5) == ["good", "floating", "product_altered"]
    truth = ["good", "floating", "product_altered"]
    t, f1 = calibrate_threshold(probs, truth, CLASSES)
    assert 0.45 < t <= 0.6 and f1 == pytest.approx(1.0)


def test_sample_class_reads_label_and_reason() -> None:
    assert sample_class(Sample("a", "o", "g", label=1)) == "good"
    assert sample_class(Sample("a", "o", "g", label=0, failure="space mismatch")) == "floating"
    assert sample_class(Sample("a", "o", "g", label=0)) is None
    assert sample_class(Sample("a", "o", "g", label=0, meta={"reason": "shape hallucination"})) == "shape_hallucination"
    assert sample_class(Sample("a", "o", "g", label=0, meta={"category": "size mismatch"})) == "size_mismatch"


def test_scene_maps_are_pooled_and_scaled() -> None:
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[40:80, 60:100] = 255
    m = scene_maps(rgb, ["salience"], 8)
    assert m.shape == (64,) and m.min() == 0 and m.max() == 1
    assert m.reshape(8, 8)[3:5, 3:5].mean() > m.mean()  # the bright square draws the eye
    with pytest.raises(ValueError, match="depth"):
        scene_maps(rgb, ["depth"], 8)


def test_train_filter_evaluate(tmp_path: Path, reward_set: tuple[Path, Path]) -> None:
    train, val = reward_set
    out = tmp_path / "tax"
    r = runner.invoke(app, ["train", "taxonomy", "--train", str(train), "--val", str(val), "--encoder",
                            "random-vit-tiny", "--out", str(out), "--epochs", "3", "--no-cache"])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "training_summary.json").read_text())
    classes = summary["classes"]
    assert classes[0] == "good" and len(classes) > 3 and "validation, per class" in r.output
    history = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # it learns the training set
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["threshold"] == summary["threshold"] and cfg["encoder"] == "encoder"

    profile = tmp_path / "p.toml"
    profile.write_text(f'[checks.consistency]\nenabled = false\n[checks.taxonomy]\ncheckpoint = "{out}"\n')
    res = tmp_path / "r.jsonl"
    r = runner.invoke(app, ["filter", str(val), "-o", str(res), "-p", str(profile), "-j", "2"])
    assert r.exit_code in (0, 1), r.output
    rows = [json.loads(x) for x in res.read_text().splitlines()]
    tax = [row["checks"]["taxonomy"] for row in rows]
    assert all(set(t["details"]["probabilities"]) == set(classes) for t in tax)
    assert all(row["failure"] in classes[1:] for row in rows if not row["passed"])
    assert all(row["passed"] == t["passed"] for row, t in zip(rows, tax))
    # the check decides as training measured: the same per-class table on the validation set
    r = runner.invoke(app, ["evaluate", str(res), "--labels", str(val), "-o", str(tmp_path / "ev"),
                            "--checks", "taxonomy", "--bootstrap", "0"])
    assert r.exit_code == 0, r.output
    reasons = json.loads((tmp_path / "ev" / "metrics.json").read_text())["reasons"]
    assert reasons["macro_f1"] == pytest.approx(summary["val_macro_f1_calibrated"], abs=1e-4)
    assert set(reasons["per_reason"]) <= set(classes)


def test_training_without_reasons_is_refused(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text("".join(json.dumps({"id": f"s{i}", "original": "o.png", "generated": f"g{i}.png",
                                     "label": i % 2}) + "\n" for i in range(4)))
    r = runner.invoke(app, ["train", "taxonomy", "--train", str(m), "--encoder", "random-vit-tiny",
                            "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "name a reason" in r.output


def test_captions_go_through_the_encoders_text_tower(tmp_path: Path, tiny_clip: Path,
                                                     reward_set: tuple[Path, Path]) -> None:
    from hfpc.models.text import has_text_tower, load_text_tower

    assert has_text_tower(str(tiny_clip)) and not has_text_tower("random-vit-tiny")
    vec = load_text_tower(str(tiny_clip)).encode(["a red shoe", None, "a blue bag"])
    assert vec[1].abs().sum() == 0 and torch.allclose(vec[[0, 2]].norm(dim=1), torch.ones(2), atol=1e-5)
    assert not torch.allclose(vec[0], vec[2])
    train, val = reward_set
    out = tmp_path / "tax-clip"
    r = runner.invoke(app, ["train", "taxonomy", "--train", str(train), "--val", str(val), "--encoder",
                            str(tiny_clip), "--out", str(out), "--epochs", "2", "--no-cache"])
    assert r.exit_code == 0, r.output
    model = TaxonomyModel.from_pretrained(out)
    assert model.config.caption_dim == vec.shape[1]
    assert json.loads((out / "training_summary.json").read_text())["captions"]
    n, d = model.config.grid ** 2 + 1, model.config.hidden_size
    g, o, maps = torch.randn(2, n, d), torch.randn(2, n, d), torch.rand(2, 64)
    assert not torch.allclose(model.logits(g, o, maps, vec[[0, 0]]), model.logits(g, o, maps, vec[[2, 2]]))
    profile = tmp_path / "p.toml"
    profile.write_text(f'[checks.consistency]\nenabled = false\n[checks.taxonomy]\ncheckpoint = "{out}"\n')
    r = runner.invoke(app, ["filter", str(val), "-o", str(tmp_path / "r.jsonl"), "-p", str(profile), "-j", "1"])
    assert r.exit_code in (0, 1), r.output


def test_a_blip_checkpoint_embeds_captions_with_its_text_encoder(tmp_path: Path, tiny_blip: Path) -> None:
    import shutil

    from transformers import BertTokenizerFast

    from hfpc.models.random_weights import _vocab
    from hfpc.models.text import has_text_tower, load_text_tower

    assert not has_text_tower(str(tiny_blip))  # no tokenizer saved with it: no caption input
    ck = tmp_path / "blip"
    shutil.copytree(tiny_blip, ck)
    BertTokenizerFast(vocab=_vocab(99)).save_pretrained(ck)
    assert has_text_tower(str(ck))
    vec = load_text_tower(str(ck)).encode(["a product", "a chair", ""])
    assert vec.shape[0] == 3 and vec[2].abs().sum() == 0
    assert torch.allclose(vec[:2].norm(dim=1), torch.ones(2), atol=1e-5) and not torch.allclose(vec[0], vec[1])
