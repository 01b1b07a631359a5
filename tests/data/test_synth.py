from __future__ import annotations

import colorsys
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.color import deltaE_ciede2000

from hfpc.data.images import load_image
from hfpc.data.synth import (
    FURNITURE,
    KIND_GENERATIONS,
    KINDS,
    WORDS,
    _text_artifacts,
    generate_demo_set,
    kind_schedule,
    make_sample,
    misspell,
)
from hfpc.scene import lab
from hfpc.types import Sample


def test_every_kind_present_with_labels(demo_samples: list[Sample]) -> None:
    kinds = {s.meta["kind"] for s in demo_samples}
    assert kinds == set(KINDS)
    for s in demo_samples:
        label, failure = KINDS[s.meta["kind"]]
        assert s.label == label and s.failure == failure
        assert Path(s.original).exists() and Path(s.generated).exists() and Path(s.mask).exists()


def test_cutout_alpha_matches_white_original(demo_samples: list[Sample]) -> None:
    s = demo_samples[0]
    cut = load_image(s.mask)
    white = load_image(s.original)
    assert cut.alpha is not None and 0.01 < cut.alpha.mean() < 0.6
    outside = white.rgb[~cut.alpha]
    assert outside.mean() > 245  # white background where the cut-out is transparent


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    def digest(root: Path) -> str:
        h = hashlib.sha256()
        for p in sorted(root.rglob("*")):
            if p.is_file():
                h.update(p.name.encode() + p.read_bytes())
        return h.hexdigest()

    a = generate_demo_set(tmp_path / "a", n=4, seed=11, size=128).parent
    b = generate_demo_set(tmp_path / "b", n=4, seed=11, size=128).parent
    c = generate_demo_set(tmp_path / "c", n=4, seed=12, size=128).parent
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)


def test_kind_schedule_proportions() -> None:
    sched = kind_schedule(200, seed=0)
    assert sched.count("good") == 50 and sched.count("moved") == 20
    assert sched.count("size_mismatch") == 10 and sched.count("text_changed") == 10
    assert sorted(sched) != sched  # shuffled
    with pytest.raises(ValueError, match="unknown kinds"):
        kind_schedule(4, 0, {"good": 1, "levitating": 1})


def test_added_kinds_keep_the_earlier_kinds_samples(tmp_path: Path) -> None:
    """A kind that joined later takes samples after the earlier kinds': theirs stay byte for byte."""
    first = dict.fromkeys(KIND_GENERATIONS[0], 1)
    assert kind_schedule(2 * len(KINDS), 3, dict.fromkeys(KINDS, 1))[:2 * len(first)] == \
        kind_schedule(2 * len(first), 3, first)
    a = generate_demo_set(tmp_path / "a", n=len(first), seed=5, size=96, kinds=first)
    b = generate_demo_set(tmp_path / "b", n=len(KINDS), seed=5, size=96, kinds=dict.fromkeys(KINDS, 1))
    ra = [json.loads(x) for x in a.read_text().splitlines()]
    rb = [json.loads(x) for x in b.read_text().splitlines()]
    assert [r["kind"] for r in rb[:len(ra)]] == [r["kind"] for r in ra]
    assert {r["kind"] for r in rb[len(ra):]} == set(KIND_GENERATIONS[1])
    for x, y in zip(ra, rb):
        assert (a.parent / x["generated"]).read_bytes() == (b.parent / y["generated"]).read_bytes(), x["kind"]


def test_floating_product_clears_the_surface_without_shadow() -> None:
    for i in range(4):
        f = make_sample(np.random.default_rng([8, i]), 256, "floating")
        g = make_sample(np.random.default_rng([8, i]), 256, "good")
        assert np.array_equal(f.original, g.original)
        assert f.extra["gap"] >= 0.04 * 256  # wall visible between the product and the surface's back edge


def test_size_mismatch_furniture_smaller_than_the_product() -> None:
    seen = set()
    for i in range(6):
        s = make_sample(np.random.default_rng([9, i]), 256, "size_mismatch")
        g = make_sample(np.random.default_rng([9, i]), 256, "good")
        assert np.array_equal(s.original, g.original) and not np.array_equal(s.generated, g.generated)
        assert s.extra["furniture"] in FURNITURE and 0.1 < s.extra["furniture_height_ratio"] < 1.0
        seen.add(s.extra["furniture"])
    assert len(seen) > 1


def test_text_changed_prints_another_word_on_the_same_product() -> None:
    rng = np.random.default_rng(0)
    for w in WORDS:
        assert misspell(w, rng) != w
    s = make_sample(np.random.default_rng([10, 0]), 256, "text_changed")
    assert s.extra["printed"] != s.extra["word"] and s.extra["word"] in s.caption
    assert KINDS["text_changed"] == (0, "product_text_changed")


def test_text_artifact_watermark_covers_background_not_product() -> None:
    canvas = np.full((128, 128, 3), 0.5, np.float32)
    prod = np.zeros((128, 128), np.float32)
    prod[40:90, 40:90] = 1
    _text_artifacts(canvas, prod, np.random.default_rng(1))
    changed = np.abs(canvas - 0.5).max(axis=2) > 0.02
    assert changed[prod == 0].mean() > 0.01 and not changed[prod > 0].any()


def test_missing_kind_removes_product() -> None:
    s = make_sample(np.random.default_rng([5, 0]), 256, "missing")
    g = make_sample(np.random.default_rng([5, 0]), 256, "good")
    assert np.array_equal(s.original, g.original)
    assert not np.array_equal(s.generated, g.generated)



def _scene_and_product_lab(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Median CIELAB of a sample's scene just around its products, and of its products."""
    s = make_sample(np.random.default_rng([7, seed]), 256, kind)
    cut = (s.cutout[..., 3] > 127).astype(np.uint8)
    around = cv2.dilate(cut, np.ones((13, 13), np.uint8)) > cv2.dilate(cut, np.ones((5, 5), np.uint8))
    g = lab(s.generated)
    return np.median(g[around], 0), np.median(g[cut > 0], 0)


def test_indistinct_scene_takes_the_products_colour() -> None:
    """Around an indistinct product the scene has the product's colour (whatever light the scene has);
    around a good one it has its own."""
    near = [deltaE_ciede2000(*_scene_and_product_lab("indistinct", seed)) for seed in range(8)]
    far = [deltaE_ciede2000(*_scene_and_product_lab("good", seed)) for seed in range(8)]
    assert np.median(near) < 8 and np.median(far) > 15, (near, far)


def test_scene_colours_are_turned_away_from_the_products_outside_indistinct_samples() -> None:
    """A backdrop drawn in a product's own colour would make a good sample indistinct: it is turned away."""
    from hfpc.data.synth import AVOID_DELTA_E, _away_from, _lab1

    product = (0.55, 0.35, 0.7)
    hsv = (0.77, 0.5, 0.7)  # close to the product's purple
    drawn = np.asarray(colorsys.hsv_to_rgb(*hsv), np.float32)
    assert np.linalg.norm(_lab1(drawn) - _lab1(product)) < AVOID_DELTA_E
    moved = _away_from(drawn, hsv, [product])
    assert np.linalg.norm(_lab1(moved) - _lab1(product)) >= AVOID_DELTA_E
    far_hsv = (0.3, 0.4, 0.8)  # a green wall stays as drawn
    far = np.asarray(colorsys.hsv_to_rgb(*far_hsv), np.float32)
    assert np.array_equal(_away_from(far, far_hsv, [product]), far)
