"""The causes of disagreement seen on real generated images, each in both directions.

Every test builds a small scene by hand (a product rendered by the demo generator, composited
into a new background) where the truth is known: a benign change must pass and a real change
of the same kind must fail.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hfpc.consistency import ConsistencySettings, analyze_pair
from hfpc.consistency.segment_classic import segment_original
from hfpc.data.synth import ProductSpec, render_product

SIZE = 384


def _product(colour=(0.75, 0.2, 0.15), word: str = "NOVA",
             pattern: str | None = "dots") -> tuple[np.ndarray, np.ndarray]:
    spec = ProductSpec("box", colour, (0.95, 0.9, 0.6), word, 170, 0.85, pattern)
    tile = render_product(spec)
    rgb = (np.clip(tile.rgb, 0, 1) * 255).astype(np.uint8)
    return rgb, tile.alpha > 0.5


def _scene(rgb: np.ndarray, alpha: np.ndarray, bg: np.ndarray, x: int, y: int) -> np.ndarray:
    out = bg.copy()
    h, w = alpha.shape
    region = out[y:y + h, x:x + w]
    region[alpha] = rgb[alpha]
    return out


def _backdrop(kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "white":
        return np.full((SIZE, SIZE, 3), 250, np.uint8)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32), (0, 0), 6)
    base = np.array([70, 120, 160], np.float32) + 60 * noise[..., None] / (noise.std() + 1e-6)
    ramp = np.linspace(0.8, 1.1, SIZE, dtype=np.float32)[:, None, None]
    return np.clip(base * ramp, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def product() -> tuple[np.ndarray, np.ndarray]:
    return _product()


def _original(product: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    rgb, alpha = product
    return _scene(rgb, alpha, _backdrop("white"), 100, 110)


def test_mirrored_rotated_and_shrunk_products_are_found_and_pass(product) -> None:
    rgb, alpha = product
    orig = _original(product)
    bg = _backdrop("scene")
    # mirrored, at 60 % of its size
    m_rgb = cv2.resize(rgb[:, ::-1], None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    m_alpha = cv2.resize(alpha[:, ::-1].astype(np.uint8), None, fx=0.6, fy=0.6, interpolation=cv2.INTER_NEAREST) > 0
    rep = analyze_pair(orig, None, _scene(m_rgb, m_alpha, bg, 40, 200))
    assert rep.passed, rep.explanation()
    assert rep.products[0].location.mirrored and "mirrored" in rep.explanation()
    # rotated by 12 degrees (on a padded tile, so no corner is cut)
    pad = 30
    p_rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT)
    p_alpha = cv2.copyMakeBorder(alpha.astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_CONSTANT)
    h, w = p_alpha.shape
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.0)
    r_rgb = cv2.warpAffine(p_rgb, rot, (w, h), flags=cv2.INTER_LINEAR)
    r_alpha = cv2.warpAffine(p_alpha, rot, (w, h), flags=cv2.INTER_NEAREST) > 0
    rep = analyze_pair(orig, None, _scene(r_rgb, r_alpha, bg, 120, 90))
    assert rep.passed, rep.explanation()
    assert abs(abs(rep.products[0].location.rotation) - 12) < 4
    # shrunk to a quarter: compared where both have detail, not upsampled
    s_rgb = cv2.resize(rgb, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    s_alpha = cv2.resize(alpha.astype(np.uint8), None, fx=0.25, fy=0.25, interpolation=cv2.INTER_NEAREST) > 0
    rep = analyze_pair(orig, None, _scene(s_rgb, s_alpha, bg, 250, 260))
    assert rep.passed, rep.explanation()
    assert rep.products[0].location.scale == pytest.approx(0.25, rel=0.15)


def test_a_different_product_at_the_same_spot_fails(product) -> None:
    orig = _original(product)
    other_rgb, other_alpha = _product(colour=(0.15, 0.55, 0.2), word="ZEST", pattern="stripes")
    rep = analyze_pair(orig, None, _scene(other_rgb, other_alpha, _backdrop("scene"), 100, 110))
    assert not rep.passed
    assert rep.failure in ("product_replaced", "product_altered", "product_missing")


def test_see_through_holes_leave_the_mask(product) -> None:
    """A frame with a window shows the backdrop: the generator repaints it, which is no change."""
    rgb, alpha = product
    holed = alpha.copy()
    h, w = alpha.shape
    holed[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = False
    orig = _scene(rgb, holed, _backdrop("white"), 100, 110)
    masks, _ = segment_original(orig, None, ConsistencySettings())
    assert len(masks) == 1
    window = np.zeros((SIZE, SIZE), bool)
    window[110 + h // 3 + 3: 110 + 2 * h // 3 - 3, 100 + w // 3 + 3: 100 + 2 * w // 3 - 3] = True
    assert not (masks[0] & window).any()
    gen = _scene(rgb, holed, _backdrop("scene"), 100, 110)
    assert analyze_pair(orig, None, gen).passed
    # the frame itself repainted still fails
    recoloured = rgb.copy()
    recoloured[..., [0, 2]] = recoloured[..., [2, 0]]
    assert not analyze_pair(orig, None, _scene(recoloured, holed, _backdrop("scene"), 100, 110)).passed


def test_poster_text_is_not_a_product(product) -> None:
    rgb, alpha = product
    orig = _original(product)
    cv2.putText(orig, "SALE -50%", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (200, 20, 20), 2, cv2.LINE_AA)
    cv2.putText(orig, "new", (300, 360), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
    masks, _ = segment_original(orig, None, ConsistencySettings())
    assert len(masks) == 1
    gen = _scene(rgb, alpha, _backdrop("scene"), 100, 110)
    rep = analyze_pair(orig, None, gen)
    assert rep.passed, rep.explanation()


def test_parts_inside_a_product_belong_to_it_and_products_side_by_side_stay_apart() -> None:
    """A toaster's dark slots, cut off from its body by a band of the backdrop's colour, are
    pieces of the toaster; two boxes side by side are two products."""
    img = np.full((SIZE, SIZE, 3), 235, np.uint8)
    cv2.rectangle(img, (90, 120), (330, 330), (60, 90, 160), -1)  # the body
    cv2.rectangle(img, (140, 150), (290, 220), (235, 235, 235), -1)  # a band of the backdrop's colour
    cv2.rectangle(img, (170, 170), (260, 200), (20, 20, 20), -1)  # a slot seen through it
    masks, _ = segment_original(img, None, ConsistencySettings())
    assert len(masks) == 1
    assert masks[0][185, 215]
    apart = np.full((SIZE, SIZE, 3), 235, np.uint8)
    cv2.rectangle(apart, (40, 150), (170, 300), (60, 90, 160), -1)
    cv2.rectangle(apart, (230, 160), (360, 310), (160, 60, 40), -1)
    assert len(segment_original(apart, None, ConsistencySettings())[0]) == 2


def test_flat_product_in_place_passes_and_recolour_fails() -> None:
    orig = _backdrop("white")
    mask = np.zeros((SIZE, SIZE), bool)
    mask[120:280, 130:250] = True
    orig[mask] = (200, 40, 40)
    gen = _backdrop("scene")
    gen[mask] = (203, 42, 38)
    rep = analyze_pair(orig, None, gen)
    assert rep.passed, rep.explanation()
    gen[mask] = (40, 60, 200)
    assert not analyze_pair(orig, None, gen).passed


def test_scene_light_passes_and_a_recoloured_part_fails(product) -> None:
    rgb, alpha = product
    orig = _original(product)
    bg = _backdrop("scene")
    gen = _scene(rgb, alpha, bg, 100, 110).astype(np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    warm = np.stack([1.25 - 0.3 * xx, 1.05 - 0.2 * xx, 0.8 - 0.1 * yy], axis=2)  # warm light from the left
    lit = np.clip(gen * warm, 0, 255).astype(np.uint8)
    placed = np.zeros((SIZE, SIZE), bool)
    placed[110:110 + alpha.shape[0], 100:100 + alpha.shape[1]] = alpha
    lit[~placed] = bg[~placed]
    rep = analyze_pair(orig, None, lit)
    assert rep.passed, rep.explanation()
    # the top third of the product turned a different hue under the same light
    part = placed.copy()
    ys = np.nonzero(placed)[0]
    part[ys.min() + (ys.max() - ys.min()) // 3:] = False
    changed = lit.copy()
    changed[part] = changed[part][:, [2, 1, 0]]
    rep = analyze_pair(orig, None, changed)
    assert not rep.passed
    assert "top" in rep.explanation()


def test_same_pair_scores_the_same_alone_and_after_others(product) -> None:
    """Segmentation draws from OpenCV's random generator: it is seeded, so order does not matter."""
    orig = _original(product)
    orig[:, :, 1] = np.clip(orig[:, :, 1].astype(int) + np.linspace(0, 30, SIZE, dtype=int)[None], 0, 255)
    gen = _scene(*product, _backdrop("scene"), 100, 110)
    first = analyze_pair(orig, None, gen, ConsistencySettings(grabcut="always"))
    cv2.setRNGSeed(1234)
    np.random.default_rng(0).random(100)
    analyze_pair(_backdrop("scene", 3), None, gen, ConsistencySettings(grabcut="always"))
    again = analyze_pair(orig, None, gen, ConsistencySettings(grabcut="always"))
    assert first.value == again.value and first.passed == again.passed
    assert [p.details() for p in first.products] == [p.details() for p in again.products]


@pytest.mark.parametrize("region, words", [
    ((0.0, 0.35, 0.0, 1.0), ("top",)),
    ((0.65, 1.0, 0.0, 1.0), ("bottom",)),
    ((0.3, 0.7, 0.0, 0.35), ("middle left",)),
    ((0.3, 0.7, 0.65, 1.0), ("middle right",)),
])
def test_sentence_and_heatmap_point_at_the_changed_region(product, region, words) -> None:
    """A defect whose region is known: the sentence names it and the heatmap is hottest there."""
    from hfpc.consistency.heatmap import render_heatmap

    rgb, alpha = product
    orig = _original(product)
    h, w = alpha.shape
    y0, y1, x0, x1 = int(region[0] * h), int(region[1] * h), int(region[2] * w), int(region[3] * w)
    part = np.zeros_like(alpha)
    part[y0:y1, x0:x1] = alpha[y0:y1, x0:x1]
    changed = rgb.copy()
    changed[part] = (30, 200, 60)
    gen = _scene(changed, alpha, _backdrop("scene"), 100, 110)
    rep = analyze_pair(orig, None, gen)
    assert not rep.passed
    assert any(w_ in rep.explanation() for w_ in words), rep.explanation()
    heat = render_heatmap(rep).astype(np.float32)
    inside = np.zeros(gen.shape[:2], bool)
    inside[110 + y0:110 + y1, 100 + x0:100 + x1] = part[y0:y1, x0:x1]
    rest = np.zeros(gen.shape[:2], bool)
    rest[110:110 + h, 100:100 + w] = alpha & ~part
    rest &= ~(cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    # heat is drawn in warm colours (jet): red minus blue is larger where the change is
    warmth = heat[..., 0] - heat[..., 2]
    assert warmth[inside].mean() > warmth[rest].mean() + 20


@pytest.mark.parametrize("canvas", [(1024, 512), (1536, 512), (512, 1536), (768, 512)])
def test_outpainting_to_any_canvas_keeps_the_product(product, canvas) -> None:
    """The same product pasted unchanged into a wider or taller canvas passes, whatever its shape."""
    rgb, alpha = product
    orig = _original(product)
    w, h = canvas
    big = cv2.resize(_backdrop("scene"), (w, h))
    x0, y0 = (w - SIZE) // 2, (h - SIZE) // 2
    big[y0:y0 + SIZE, x0:x0 + SIZE] = _scene(rgb, alpha, _backdrop("scene"), 100, 110)
    rep = analyze_pair(orig, None, big)
    assert rep.passed, rep.explanation()


def test_thresholds_print_apart_and_unbounded_settings_are_refused() -> None:
    from pydantic import ValidationError

    from hfpc.consistency.analyze import _below

    text = _below(0.5496, 0.55)
    left, right = text.split(" < ")
    assert left != right and float(left) < 0.55
    for bad in ({"search_scales": 100000}, {"min_scale": 2.0, "max_scale": 1.0}, {"max_side": 100000}):
        with pytest.raises(ValidationError):
            ConsistencySettings(**bad)


def _bag(stripes: bool) -> tuple[np.ndarray, np.ndarray]:
    """A plain shaded bag (no print), optionally with stripes painted on."""
    img = np.zeros((160, 140, 3), np.float32)
    alpha = np.zeros((160, 140), np.uint8)
    cv2.rectangle(alpha, (10, 30), (130, 150), 1, -1)
    cv2.ellipse(alpha, (70, 30), (35, 25), 0, 180, 360, 1, 6)
    img[:] = np.array([150, 180, 40], np.float32) * np.linspace(1.1, 0.8, 140, dtype=np.float32)[None, :, None]
    if stripes:
        for k in range(-160, 140, 26):
            cv2.line(img, (k, 0), (k + 160, 160), (40, 60, 170), 9)
    img[alpha == 0] = 0
    return np.clip(img, 0, 255).astype(np.uint8), alpha > 0


@pytest.mark.parametrize("blur", [0.8, 2.5])
def test_redrawn_plain_product_passes_and_painted_stripes_fail(blur: float) -> None:
    """Compared as redrawn (coarsely), a re-rendered plain bag keeps its flat surface, softened
    or not; stripes painted on it add texture that coarse colours alone average away."""
    from hfpc.consistency.analyze import _findings
    from hfpc.consistency.compare import compare_product
    from hfpc.consistency.locate import similarity

    s = ConsistencySettings()
    rgb, alpha = _bag(False)
    orig = np.full((SIZE, SIZE, 3), 250, np.uint8)
    orig[50:210, 60:200][alpha] = rgb[alpha]
    mask = np.zeros((SIZE, SIZE), bool)
    mask[50:210, 60:200] = alpha
    small = cv2.resize(alpha.astype(np.uint8), None, fx=0.8, fy=0.8, interpolation=cv2.INTER_NEAREST) > 0
    matrix = similarity(0.8, 150 - 0.8 * 60, 120 - 0.8 * 50)
    codes = {}
    for stripes in (False, True):
        src = cv2.resize(_bag(stripes)[0], None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA).astype(np.float32)
        src = cv2.GaussianBlur(src, (0, 0), blur) * np.array([1.1, 1.0, 0.85], np.float32)  # warm light
        gen = _backdrop("scene")
        h, w = small.shape
        gen[120:120 + h, 150:150 + w][small] = np.clip(src, 0, 255).astype(np.uint8)[small]
        comp = compare_product(orig, mask, gen, matrix, s, tolerance=1, side=s.redrawn_side)
        codes[stripes] = [f.code for f in _findings(comp, None, False, s)]
    assert codes[False] == []
    assert "pattern" in codes[True]
