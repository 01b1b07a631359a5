"""Shape growth: a part grown onto a product is found and pointed at; shadows, floors,
neighbouring objects and see-through holes are not growth."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hfpc.consistency.analyze import analyze_pair
from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.growth import growth_share

S = 240
RED = (200, 40, 40)
BOX = (90, 70, 150, 150)  # x0, y0, x1, y1 of the product in both images


def _product(img: np.ndarray) -> None:
    """A red box with a white label and a dark stripe (texture for the locator)."""
    x0, y0, x1, y1 = BOX
    img[y0:y1, x0:x1] = RED
    img[y0 + 20:y0 + 45, x0 + 10:x1 - 10] = (245, 245, 235)
    cv2.putText(img, "AB", (x0 + 14, y0 + 40), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (30, 30, 30), 2)
    img[y1 - 12:y1 - 6, x0:x1] = (120, 20, 20)


def _original() -> tuple[np.ndarray, np.ndarray]:
    img = np.full((S, S, 3), 255, np.uint8)
    _product(img)
    mask = np.zeros((S, S), bool)
    x0, y0, x1, y1 = BOX
    mask[y0:y1, x0:x1] = True
    return img, mask


def _scene(seed: int = 0) -> np.ndarray:
    """A wall over a wooden floor, with mild noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((S, S, 3), np.float32)
    img[:130] = (150, 170, 185)
    img[130:] = (150, 115, 80)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _shadow(img: np.ndarray) -> None:
    """A soft contact shadow on the floor under the product."""
    x0, _, x1, y1 = BOX
    m = np.zeros(img.shape[:2], np.float32)
    cv2.ellipse(m, ((x0 + x1) // 2, y1 + 4), ((x1 - x0) // 2 + 12, 12), 0, 0, 360, 1.0, -1)
    m = cv2.GaussianBlur(m, (0, 0), 4)[..., None]
    img[:] = np.clip(img * (1 - 0.55 * m), 0, 255).astype(np.uint8)


def _generated(kind: str) -> np.ndarray:
    img = _scene()
    _shadow(img)
    x0, y0, x1, y1 = BOX
    if kind == "pedestal":
        img[y1:y1 + 35, x0 + 6:x1 - 6] = (185, 36, 36)
    elif kind == "legs":
        for lx in (x0 + 4, x1 - 14):
            img[y1:y1 + 40, lx:lx + 10] = (185, 36, 36)
    elif kind == "thin_legs":
        for lx in (x0 + 6, x1 - 9):
            img[y1:y1 + 20, lx:lx + 3] = (185, 36, 36)
    elif kind == "sliver":
        # the product drawn two pixels lower: an alignment sliver along its base, no part
        img[y1:y1 + 2, x0:x1] = (185, 36, 36)
    elif kind == "neighbour":
        # a blue cabinet standing right against the product's side
        img[y0 + 10:y1 + 10, x1:x1 + 45] = (40, 60, 160)
    _product(img)
    return img


@pytest.fixture(scope="module")
def original() -> tuple[np.ndarray, np.ndarray]:
    return _original()


@pytest.mark.parametrize("kind", ["pedestal", "legs"])
def test_grown_part_is_flagged_and_pointed_at(original: tuple[np.ndarray, np.ndarray], kind: str) -> None:
    img, mask = original
    report = analyze_pair(img, mask, _generated(kind), ConsistencySettings())
    findings = [f for f in report.findings() if f.failure == "shape_hallucination"]
    assert findings, report.explanation()
    f = findings[0]
    assert f.code == "grown" and "below" in f.where
    # the box is the growth under the product, not the product itself
    assert f.box is not None and f.box[1] >= (BOX[3] - 3) / S and f.box[3] <= (BOX[3] + 45) / S
    assert report.products[0].comparison.growth > ConsistencySettings().max_growth


@pytest.mark.parametrize("kind", ["plain", "neighbour"])
def test_shadow_and_touching_neighbour_are_not_growth(original: tuple[np.ndarray, np.ndarray], kind: str) -> None:
    img, mask = original
    report = analyze_pair(img, mask, _generated(kind), ConsistencySettings())
    assert report.passed, report.explanation()
    assert report.products[0].comparison.growth < 0.01


def test_moved_product_with_shadow_is_not_growth(original: tuple[np.ndarray, np.ndarray]) -> None:
    img, mask = original
    gen = _generated("plain")
    moved = np.roll(gen, (6, -30), axis=(0, 1))
    moved[:, -30:] = gen[:, -30:]
    report = analyze_pair(img, mask, moved, ConsistencySettings())
    assert report.passed, report.explanation()


def test_hole_and_part_the_mask_missed_are_not_growth() -> None:
    gen = _scene()
    located = np.zeros((S, S), bool)
    located[60:160, 60:180] = True
    located[90:130, 90:150] = False  # a frame: the window in it is see-through
    gen[located] = RED
    gen[90:130, 90:150] = (190, 40, 40)  # the generated image fills the window
    share, grown = growth_share(gen, located)
    assert share == 0.0 and not grown.any()

    # a base under the product that the original shows but its (segmented) mask missed
    gen2 = _scene()
    box = np.zeros((S, S), bool)
    box[60:140, 80:160] = True
    gen2[box] = RED
    gen2[140:165, 85:155] = (185, 36, 36)
    grown_share, _ = growth_share(gen2, box)
    assert grown_share > 0.1  # without the original it looks grown
    orig = np.full((S, S, 3), 255, np.uint8)
    orig[box] = RED
    orig[140:165, 85:155] = (185, 36, 36)
    same = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    share2, _ = growth_share(gen2, box, original=orig, original_mask=box, matrix=same)
    assert share2 == 0.0


def test_original_palettes_are_kept_per_original(monkeypatch: pytest.MonkeyPatch) -> None:
    """The original's palettes are learned once per original; the answers do not change."""
    import hfpc.consistency.growth as growth

    box = np.zeros((S, S), bool)
    box[60:140, 80:160] = True
    orig = np.full((S, S, 3), 255, np.uint8)
    orig[box] = RED
    orig[140:165, 85:155] = (185, 36, 36)
    same = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    gens = []
    for seed in (1, 2):
        g = _scene(seed)
        g[box] = RED
        g[140:165, 85:155] = (185, 36, 36)  # the part the mask missed
        g[60:140, 160:175] = (190, 38, 38)  # a part that grew
        gens.append(g)
    plain = [growth_share(g, box, original=orig, original_mask=box, matrix=same) for g in gens]
    calls = []
    real = growth._original_palettes
    monkeypatch.setattr(growth, "_original_palettes", lambda *a: calls.append(1) or real(*a))
    cache: dict = {}
    kept = [growth_share(g, box, original=orig, original_mask=box, matrix=same, cache=cache) for g in gens]
    assert len(calls) == 1
    for (a, ga), (b, gb) in zip(plain, kept):
        assert a == b and (ga == gb).all()
    assert plain[0][0] > 0  # the grown part is still found, the missed part still is not


def test_a_part_that_does_not_touch_the_product_is_not_growth_even_with_no_contact_floor() -> None:
    """A blob of the product's colour beside it, not touching, is a scene object: with the
    contact floor at 0 it must still be measured (and not counted), not crash."""
    gen = np.full((200, 200, 3), (40, 120, 40), np.uint8)
    located = np.zeros((200, 200), bool)
    located[60:140, 60:140] = True
    gen[located] = (200, 30, 30)
    gen[95:105, 152:162] = (200, 30, 30)  # beside it, 12 px away
    share, grown = growth_share(gen, located, settings=ConsistencySettings(growth_min_contact=0.0))
    assert share == 0.0 and not grown.any()
    gen[70:130, 140:160] = (200, 30, 30)  # a part attached along its side is growth
    share, grown = growth_share(gen, located, settings=ConsistencySettings(growth_min_contact=0.0))
    assert share > 0.1 and grown[100, 150]


def test_thin_legs_are_growth_by_their_reach_and_a_sliver_is_not(original: tuple[np.ndarray, np.ndarray]) -> None:
    """Thin legs add under 3 % of the area but reach far below the product; an alignment
    sliver along its base reaches nowhere."""
    img, mask = original
    report = analyze_pair(img, mask, _generated("thin_legs"), ConsistencySettings())
    c = report.products[0].comparison
    assert c.growth < ConsistencySettings().max_growth
    assert c.growth_extent > ConsistencySettings().max_growth_extent
    assert "grown" in report.codes, report.explanation()
    # the reach is what catches them: without its gate they pass
    assert analyze_pair(img, mask, _generated("thin_legs"), ConsistencySettings(max_growth_extent=None)).passed
    sliver = analyze_pair(img, mask, _generated("sliver"), ConsistencySettings())
    assert sliver.passed, sliver.explanation()
    assert sliver.products[0].comparison.growth_extent < ConsistencySettings().max_growth_extent
