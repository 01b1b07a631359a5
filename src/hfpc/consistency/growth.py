"""Shape growth: object parts attached to a located product that the original does not have.

A generator asked to put a product in a scene sometimes extends it: legs get longer, a
pedestal, plinth or stand appears under it, an awning grows from a tent's door. Such a part
lies outside the product's outline (where the original, transformed, says the product ends),
touches the product, and continues the product's own material where it attaches. Things next
to a product that are *not* growth, and must not count:

- the floor or table under it, and the scene beyond it (they look like the background ring);
- its contact shadow and reflections (the background, darkened);
- a neighbouring scene object that merely touches it (a chair beside a figure): its colour
  differs from the part of the product it touches;
- other located products, and see-through holes of the product (background inside its
  outline, e.g. between a chair's legs);
- a thin sliver along the outline (alignment and anti-aliasing), which the tolerance absorbs.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.locate import bbox, pixels
from hfpc.types import Finding

_SHADOW_GAINS = (0.35, 0.5, 0.65, 0.8)
"""Darkenings of the background colours that count as shadow (multiplicative, in RGB)."""

_SHADE_WEIGHT = np.array([0.5, 1.0, 1.0], np.float32)
"""Weights of L, a, b when a part's colour is compared with the product's where it touches."""


def _palette(lab: np.ndarray, k: int) -> np.ndarray:
    """``k`` representative Lab colours (k-means, deterministic)."""
    if len(lab) <= k:
        return lab.astype(np.float32)
    step = max(1, len(lab) // 1500)
    data = lab[::step].astype(np.float32)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 15, 0.5)
    cv2.setRNGSeed(0)
    _, _, centres = cv2.kmeans(data, k, None, crit, 1, cv2.KMEANS_PP_CENTERS)
    return centres


def _nearest(lab: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Distance of each Lab colour to its nearest palette colour (‖x‖² − 2x·p + ‖p‖²)."""
    x = np.asarray(lab, np.float32)
    p = np.asarray(palette, np.float32)
    # palette × pixels, so the minimum runs over the first axis (numpy's reductions along a short
    # last axis are several times slower)
    d = (-2 * p) @ x.T
    d += np.einsum("ij,ij->i", p, p)[:, None]
    m = d.min(axis=0)
    m += np.einsum("ij,ij->i", x, x)
    return np.sqrt(np.maximum(m, 0, out=m))


def _lab(rgb: np.ndarray) -> np.ndarray:
    """Lab colours (L 0–100, a/b signed) of float or uint8 RGB colours shaped (…, 3)."""
    # one row of pixels: OpenCV converts a row at a time, and a column of one-pixel rows is
    # several times slower (the values are the same)
    x = np.clip(np.asarray(rgb, np.float32), 0, 255).reshape(1, -1, 3) / 255.0
    return cv2.cvtColor(x, cv2.COLOR_RGB2LAB).reshape(-1, 3)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with its enclosed holes filled."""
    m = mask.astype(np.uint8)
    pad = np.pad(m, 1)
    flood = pad.copy()
    cv2.floodFill(flood, np.zeros((pad.shape[0] + 2, pad.shape[1] + 2), np.uint8), (0, 0), 1)
    return (m > 0) | (flood[1:-1, 1:-1] == 0)


def _where(region: np.ndarray, product: np.ndarray) -> str:
    """Where a grown region lies relative to the product ("below it", "above it, on its left"…)."""
    ys, xs = np.nonzero(region)
    x0, y0, x1, y1 = bbox(product)
    cy, cx = float(ys.mean()), float(xs.mean())
    v = "below" if cy > y1 - 0.15 * (y1 - y0) else "above" if cy < y0 + 0.15 * (y1 - y0) else ""
    h = "right" if cx > x1 - 0.15 * (x1 - x0) else "left" if cx < x0 + 0.15 * (x1 - x0) else ""
    parts = ([f"{v} it"] if v else []) + ([f"on its {h}"] if h else [])
    return ", ".join(parts) or "beside it"


def _original_palettes(original: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Lab palettes of the original's product and of its backdrop (from the frame's border, away
    from any part the mask missed); None when the border shows too little backdrop."""
    prod_pal = _lab(_palette(pixels(original, mask).astype(np.float32), 8))
    b = max(2, int(0.04 * min(mask.shape)))
    border = np.ones(mask.shape, bool)
    border[b:-b, b:-b] = False
    border &= ~mask
    if border.sum() < 16:
        return None
    return prod_pal, _lab(_palette(pixels(original, border).astype(np.float32), 8))


def _original_has_part(original: np.ndarray, mask: np.ndarray, matrix: np.ndarray,
                       origin: tuple[int, int], scale: float, where: np.ndarray,
                       margin: float, cache: dict | None = None) -> np.ndarray:
    """Where the original, seen through ``matrix`` in the generated frame, shows product colours.

    A segmented original mask can miss a part the product has (an angel's white base on a grey
    floor): the generated image showing that part is not growth. True where the original's
    pixel is nearer its product's palette than its background's by ``margin``. The result covers
    the box of the generated frame at ``origin`` (x, y) seen at ``scale``, the shape of
    ``where``; only the pixels where ``where`` is true are judged. ``cache`` (kept per original)
    holds the palettes between the generations of one original.
    """
    h, w = where.shape
    key = ("growth_palettes", id(mask))
    if cache is not None and key in cache:
        palettes = cache[key][0]
    else:
        palettes = _original_palettes(original, mask)
        if cache is not None:
            cache[key] = (palettes, mask)  # the mask is kept so that its id stays its own
    if palettes is None:
        return np.zeros((h, w), bool)
    prod_pal, bg_pal = palettes
    to_box = np.array([[scale, 0.0, -scale * origin[0]], [0.0, scale, -scale * origin[1]], [0.0, 0.0, 1.0]])
    a = (to_box @ np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    warped = cv2.warpAffine(original, a, (w, h), flags=cv2.INTER_LINEAR)
    valid = cv2.warpAffine(np.full(mask.shape, 255, np.uint8), a, (w, h), flags=cv2.INTER_NEAREST) > 0
    out = np.zeros((h, w), bool)
    todo = where & valid
    lab = _lab(pixels(warped, todo).astype(np.float32))
    out[todo] = _nearest(lab, prod_pal) + margin < _nearest(lab, bg_pal)
    return out


def growth_share(gen: np.ndarray, located: np.ndarray, others: np.ndarray | None = None,
                 settings: ConsistencySettings | None = None, original: np.ndarray | None = None,
                 original_mask: np.ndarray | None = None,
                 matrix: np.ndarray | None = None, cache: dict | None = None) -> tuple[float, np.ndarray]:
    """Area grown onto a located product, as a share of its area, and the mask of that area.

    ``gen`` is the generated image (RGB), ``located`` the product's expected outline there (the
    original's mask through the found transform) and ``others`` the other located products.
    A pixel is grown when it lies in a band around the outline beyond the alignment tolerance
    (``growth_tolerance``, out to ``growth_reach``), is not in a see-through hole of the outline
    nor in another product, is within ``growth_max_distance`` of the product's palette and
    nearer it by ``growth_margin`` than the palette of the scene beyond the band and of that
    scene darkened (shadows), and belongs to a region that ends before the edge of the search
    (``growth_open_edge``: a floor runs on), touches the product along at least
    ``growth_min_contact`` of its size, and matches, within ``growth_local_distance``, the
    product's colours near where it touches (a part of the same object continues its material;
    a neighbouring object does not). Given the ``original``, its product ``original_mask`` and
    the ``matrix`` that maps it onto ``gen``, places where the original itself shows product
    colours (a part its mask missed) are not growth either; ``cache`` keeps the original's
    palettes for its next generation.
    """
    s = settings or ConsistencySettings()
    empty = np.zeros(located.shape, bool)
    area = int(located.sum())
    if area < 64:
        return 0.0, empty
    size = float(np.sqrt(area))
    r1 = max(4, int(s.growth_reach * size))
    x0, y0, x1, y1 = bbox(located)
    h, w = located.shape
    pad = int(1.5 * r1) + 2
    cx0, cy0 = max(0, x0 - pad), max(0, y0 - pad)
    cx1, cy1 = min(w, x1 + pad), min(h, y1 + pad)
    crop_shape = (cx1 - cx0, cy1 - cy0)
    loc = located[cy0:cy1, cx0:cx1]
    img = gen[cy0:cy1, cx0:cx1]
    oth = others[cy0:cy1, cx0:cx1] if others is not None else np.zeros(loc.shape, bool)
    # a coarse measure: crops are measured at most growth_side pixels across
    f = min(1.0, s.growth_side / max(crop_shape))
    small = crop_shape
    if f < 1.0:
        small = (max(8, round(crop_shape[0] * f)), max(8, round(crop_shape[1] * f)))
        img = cv2.resize(img, small, interpolation=cv2.INTER_AREA)
        loc = cv2.resize(loc.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST) > 0
        oth = cv2.resize(oth.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST) > 0
    if loc.sum() < 16:
        return 0.0, empty
    ssize = float(np.sqrt(loc.sum()))
    r1s = max(3, int(s.growth_reach * ssize))
    tol = max(1, int(round(s.growth_tolerance * ssize)))
    loc8 = loc.astype(np.uint8)
    dist = cv2.distanceTransform(1 - loc8, cv2.DIST_L2, 3)
    if original is not None and original_mask is not None and matrix is not None:
        oth = oth | _original_has_part(original, original_mask, matrix, (cx0, cy0), small[0] / crop_shape[0],
                                       (dist > tol) & (dist <= 1.5 * r1s), s.growth_margin, cache)
    holes = _fill_holes(loc) & ~loc
    band = (dist > tol) & (dist <= r1s) & ~oth & ~holes
    far = (dist > r1s) & (dist <= 1.5 * r1s) & ~oth
    if band.sum() == 0 or far.sum() < 16:
        return 0.0, empty
    rgb = img.astype(np.float32)
    lab = _lab(rgb).reshape(loc.shape + (3,))
    prod_pal = _palette(pixels(lab, loc), 8)
    bg_rgb = _palette(pixels(rgb, far), 8)
    shadows = np.concatenate([bg_rgb] + [bg_rgb * g for g in _SHADOW_GAINS])
    bg_pal = _lab(shadows)
    bl = pixels(lab, band)
    d_prod = _nearest(bl, prod_pal)
    like = np.zeros(loc.shape, bool)
    # product-like and not explained by the scene beyond (nor by its shadows)
    like[band] = (d_prod < s.growth_max_distance) & (d_prod + s.growth_margin < _nearest(bl, bg_pal))
    like = cv2.morphologyEx(like.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    n, labels = cv2.connectedComponents(like.astype(np.uint8), connectivity=8)
    grown = np.zeros(loc.shape, bool)
    edge = loc & ~(cv2.erode(loc8, np.ones((3, 3), np.uint8)) > 0)
    edge_near = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    limit = dist > r1s - 1.5
    touch_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * tol + 5, 4 * tol + 5))
    rc = tol + 3 + int(s.growth_contact_reach * ssize)
    inner_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rc + 1, 2 * rc + 1))
    for i in range(1, n):
        part = labels == i
        if part.sum() < 4:
            continue
        # a part of an object ends near the product; what runs on to the edge of the search is
        # the scene (a floor, a wall, a table of the product's colour)
        if (part & limit).sum() > s.growth_open_edge * part.sum():
            continue
        # where it touches: the product's edge next to the part (through the tolerance sliver)
        contact = edge & (cv2.dilate(part.astype(np.uint8), touch_k) > 0)
        if not contact.any() or contact.sum() < s.growth_min_contact * ssize:
            continue
        pl = pixels(lab, part)
        # the product's own colours near where it touches
        inner = loc & (cv2.dilate(contact.astype(np.uint8), inner_k) > 0) & ~edge_near
        if inner.sum() < 4:
            inner = contact
        # shading darkens a part (lightness counts half); another object differs in hue
        local = _palette(pixels(lab, inner), 4) * _SHADE_WEIGHT
        if float(np.median(_nearest(pl * _SHADE_WEIGHT, local))) >= s.growth_local_distance:
            continue
        grown |= part
    share = float(grown.sum() / max(1, loc.sum()))
    full = empty.copy()
    if grown.any():
        if f < 1.0:
            grown = cv2.resize(grown.astype(np.uint8), crop_shape, interpolation=cv2.INTER_NEAREST) > 0
        full[cy0:cy1, cx0:cx1] = grown
    return share, full


def growth_extent(grown: np.ndarray, located: np.ndarray) -> float:
    """How far the grown area reaches beyond the outline, as a share of the product's size (√area).

    Legs or a stand add little area but reach far; a sliver along the outline reaches nowhere.
    """
    if not grown.any() or not located.any():
        return 0.0
    x0, y0, x1, y1 = bbox(grown | located)
    crop = located[y0:y1, x0:x1]
    dist = cv2.distanceTransform((~crop).astype(np.uint8), cv2.DIST_L2, 3)
    return float(dist[grown[y0:y1, x0:x1]].max() / np.sqrt(located.sum()))


def growth_where(grown: np.ndarray, located: np.ndarray) -> str:
    """Words for where the grown area lies relative to the product (empty when none)."""
    if not grown.any() or not located.any():
        return ""
    return _where(grown, located)


def locate_growth(findings: list[Finding], grown: np.ndarray, located: np.ndarray) -> list[Finding]:
    """Point a ``grown`` finding at the grown area: its box (fractions of the frame) and side.

    A reviewer looks for the pedestal or the legs, not at the whole product.
    """
    if not grown.any():
        return findings
    ys, xs = np.nonzero(grown)
    h, w = grown.shape
    box = (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)
    side = growth_where(grown, located)
    return [replace(f, where=side, box=box, sentence=f"{f.sentence}, {side}") if f.code == "grown" else f
            for f in findings]
