"""Depth as an input of the ``placement`` check: a product in front of the surface below it floats,
one standing on it does not (a stand-in depth model of known output), and tiny random Depth
Anything checkpoints through the loader and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from hfpc.checks.placement import PlacementCheck, PlacementSettings
from hfpc.models import depth as depth_mod
from hfpc.models.depth import base_depth_step
from tests.checks.test_placement import S, item_for, scene


def _floor() -> np.ndarray:
    """Inverse depth of a floor seen from above: nearer (larger) towards the bottom of the frame."""
    return np.repeat(np.linspace(0.2, 1.0, S, dtype=np.float32)[:, None], S, axis=1)


def _standing(mask: np.ndarray) -> np.ndarray:
    """The product upright on the floor: at the floor's depth where its base touches it."""
    d = _floor()
    base = np.nonzero(mask)[0].max()
    d[mask] = d[base, 0]
    return d


def _in_front(mask: np.ndarray) -> np.ndarray:
    """The same product hanging well in front of the floor behind its base."""
    d = _floor()
    d[mask] = d[np.nonzero(mask)[0].max(), 0] + 0.3
    return d


class _StandIn:
    def __init__(self, disparity: np.ndarray) -> None:
        self.disparity = disparity

    def predict(self, images: list[np.ndarray]) -> list[np.ndarray]:
        return [cv2.resize(self.disparity, (im.shape[1], im.shape[0]), interpolation=cv2.INTER_NEAREST)
                for im in images]


def test_base_depth_step_tells_standing_from_in_front() -> None:
    _, mask = scene()
    standing = base_depth_step(_standing(mask), mask, 0.08, 0.06)
    front = base_depth_step(_in_front(mask), mask, 0.08, 0.06)
    assert standing is not None and front is not None
    assert standing <= 0.02 < 0.3 < front
    assert base_depth_step(_floor(), np.zeros((S, S), bool), 0.08, 0.06) is None
    bottom = np.zeros((S, S), bool)
    bottom[S - 40:, 200:300] = True  # nothing of the frame below the base
    assert base_depth_step(_floor(), bottom, 0.08, 0.06) is None


@pytest.mark.parametrize("disparity, floats", [(_standing, False), (_in_front, True)])
def test_depth_decides_a_product_that_the_shadow_rule_passes(monkeypatch: pytest.MonkeyPatch, disparity: object,
                                                             floats: bool) -> None:
    rgb, mask = scene()  # a contact shadow: the 2-D rules pass it
    monkeypatch.setattr(depth_mod, "load_depth", lambda *a: _StandIn(disparity(mask)))
    check = PlacementCheck(PlacementSettings(depth_model="stand-in"))
    assert check.process_parallel is False
    r = check.run(item_for(rgb, [mask]))
    assert r.details["products"][0]["depth_step"] is not None
    assert r.passed is not floats, r.explanation
    if floats:
        assert r.failure == "floating" and r.findings[0].code == "depth_gap"
        assert "in front of the surface below it" in r.findings[0].sentence


def test_without_a_depth_model_nothing_changes() -> None:
    rgb, mask = scene()
    r = PlacementCheck(PlacementSettings()).run(item_for(rgb, [mask]))
    assert r.passed and "depth_step" not in r.details["products"][0]


torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_depth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hfpc.models.random_weights import save_random_depth_anything

    return save_random_depth_anything(tmp_path_factory.mktemp("depth") / "depth-anything")


def test_tiny_depth_anything_loads_and_predicts_per_image_size(tiny_depth: Path) -> None:
    from hfpc.errors import ModelNotAvailableError

    model = depth_mod.load_depth(str(tiny_depth), "cpu", "fp32")
    a, b = np.zeros((120, 90, 3), np.uint8), np.zeros((60, 90, 3), np.uint8)
    out = model.predict([a, b, a])
    assert [o.shape for o in out] == [(120, 90), (60, 90), (120, 90)] and out[0].dtype == np.float32
    with pytest.raises(ModelNotAvailableError, match="no config.json"):
        depth_mod.load_depth(str(tiny_depth.parent), "cpu", "fp32")


def test_filter_with_depth_end_to_end(tiny_depth: Path, demo_set: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hfpc.cli import app

    profile = tmp_path / "depth.toml"
    profile.write_text(f'[checks.consistency]\n[checks.placement]\ndepth_model = "{tiny_depth}"\n', encoding="utf-8")
    manifest = demo_set.parent / "first3.jsonl"
    manifest.write_text("".join(demo_set.read_text().splitlines(keepends=True)[:3]))
    out = tmp_path / "r.jsonl"
    r = CliRunner().invoke(app, ["filter", str(manifest), "-o", str(out), "--profile", str(profile)])
    assert r.exit_code in (0, 1), r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 3 and not any(x.get("error") for x in rows)
    judged = [p for x in rows for p in x["checks"]["placement"]["details"]["products"]]
    assert judged and all("depth_step" in p for p in judged)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    profile.write_text('[checks.consistency]\n[checks.placement]\ndepth_model = "depth"\n', encoding="utf-8")
    r = CliRunner().invoke(app, ["filter", str(manifest), "-o", str(tmp_path / "r2.jsonl"), "--profile", str(profile)])
    assert r.exit_code == 2 and "Depth-Anything-V2-Small-hf" in r.output and "hfpc models pull" in r.output
