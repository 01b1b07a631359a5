"""Proportions and outline of a redrawn product: a part hidden on one side (sunk into water,
cut by the frame) passes, a product squeezed or stretched to the same box still fails."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hfpc.consistency import ConsistencySettings
from hfpc.consistency.analyze import ConsistencyReport, ProductReport
from hfpc.consistency.compare import Comparison
from hfpc.consistency.shape import ShapeMatch, match_shape
from hfpc.data.synth import ProductSpec, render_product

SIZE = 384
WATER = (40, 80, 120)


@pytest.fixture(scope="module")
def bottle() -> tuple[np.ndarray, np.ndarray]:
    tile = render_product(ProductSpec("bottle", (0.8, 0.25, 0.2), (0.95, 0.9, 0.6), "NOVA", 200, 0.45))
    return (np.clip(tile.rgb, 0, 1) * 255).astype(np.uint8), tile.alpha > 0.5


def _scene(rgb: np.ndarray, alpha: np.ndarray, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """A sky-and-sea scene with the product's top-left at (x, y), and where it was put."""
    gen = np.zeros((SIZE, SIZE, 3), np.uint8)
    gen[:] = (170, 200, 230)
    h, w = alpha.shape
    put = np.zeros((SIZE, SIZE), bool)
    put[y:y + h, x:x + w] = alpha[:SIZE - y, :SIZE - x]
    gen[put] = rgb[:SIZE - y, :SIZE - x][put[y:y + h, x:x + w]]
    return gen, put


def _located(alpha: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """The whole outline fitted into the visible product's box, as a silhouette search places it
    when part of the product is hidden (smaller than the product, centred on what shows)."""
    ys, xs = np.nonzero(visible)
    k = (ys.max() + 1 - ys.min()) / alpha.shape[0]
    small = cv2.resize(alpha.astype(np.uint8), None, fx=k, fy=k, interpolation=cv2.INTER_NEAREST) > 0
    out = np.zeros((SIZE, SIZE), bool)
    y, x = ys.min(), (xs.min() + xs.max() + 1 - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small[:SIZE - y, :SIZE - x]
    return out


def _match(gen: np.ndarray, expected: np.ndarray):
    s = ConsistencySettings()
    return match_shape(gen, expected, s.max_aspect_change, s.min_outline_iou, s.hidden_cut_margin)


def test_a_product_sunk_into_water_keeps_its_proportions(bottle) -> None:
    rgb, alpha = bottle
    gen, put = _scene(rgb, alpha, 140, 60)
    line = 60 + int(0.62 * alpha.shape[0])
    gen[line:] = WATER  # the sea hides the lower part
    put[line:] = False
    m = _match(gen, _located(alpha, put))
    assert m.hidden_side == "bottom"
    assert m.aspect_change <= ConsistencySettings().max_aspect_change
    assert m.iou >= ConsistencySettings().min_outline_iou


def test_a_product_cut_by_the_frame_keeps_its_proportions(bottle) -> None:
    """Located where it stands, its expected outline is cut by the frame as the product is."""
    rgb, alpha = bottle
    x = SIZE - int(0.6 * alpha.shape[1])
    gen, put = _scene(rgb, alpha, x, 80)
    m = _match(gen, put)
    assert m.aspect_change <= ConsistencySettings().max_aspect_change
    assert m.iou >= ConsistencySettings().min_outline_iou


@pytest.mark.parametrize("fx, fy", [(1.0, 0.62), (1.35, 1.0)])
def test_a_squeezed_or_stretched_product_still_fails(bottle, fx: float, fy: float) -> None:
    """Squeezed to the height the sunk bottle shows, or widened as a generator may: no uniform
    rescale cut on one side explains it, so its proportions are reported."""
    rgb, alpha = bottle
    h, w = alpha.shape
    size = (round(w * fx), round(h * fy))
    rgb2 = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    alpha2 = cv2.resize(alpha.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    gen, put = _scene(rgb2, alpha2, 140, 60)
    gen[60 + size[1]:] = WATER  # standing on the water line, nothing hidden
    m = _match(gen, _located(alpha, put))
    assert m.hidden_side is None
    assert m.aspect_change > ConsistencySettings().max_aspect_change


@pytest.mark.parametrize("side", [None, "bottom"])
def test_the_sentence_says_when_part_of_a_passing_product_is_hidden(side: str | None) -> None:
    """A reviewer reads that the chair's base is not seen; a fully visible product says nothing of it."""
    comp = Comparison(changed_share=0.03, local_change=0.1, delta_e_mean=3, mad=5, mad_raw=9, ssim=0.8, edge=0.9)
    product = ProductReport(0, 0.1, True, [], comparison=comp, tier="redrawn",
                            shape=ShapeMatch(0.8, 0.02, None, hidden_side=side))
    text = ConsistencyReport([product], "border", np.zeros((8, 8, 3), np.uint8)).explanation()
    assert text.startswith("the product is redrawn but recognisably the same")
    assert ("its bottom hidden by the scene or the frame" in text) == (side == "bottom")
