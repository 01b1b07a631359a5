"""How a product sits in its scene: measures for the ``placement`` and ``distinct`` checks.

Pure functions of an RGB image and a boolean product mask (both at the same, small working
resolution), with no model weights:

- :func:`measure_placement` — does the product rest on something? It follows the luminance
  straight below the product's base (its lowest pixels) for a contact shadow or a surface edge,
  and measures the product's share of the frame;
  :func:`support_neighbours` finds objects standing on the same support line beside it (their
  height against the product's is a cue to the scene's scale).
- :func:`measure_distinct` — does the product stand out? CIELAB contrast across its outline,
  texture similarity of product and surroundings (uniform LBP histograms) and its share of the
  image's spectral-residual salience.

The checks in :mod:`hfpc.checks.placement` and :mod:`hfpc.checks.distinct` turn these numbers
into verdicts with the Profile's thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000

Box = tuple[float, float, float, float]
NO_SURROUNDINGS = 100.0
"""The contrast (ΔE2000) reported when a product fills the frame and has no surroundings to compare."""


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """``rgb`` shrunk (area interpolation) so that its long side is at most ``max_side``."""
    h, w = rgb.shape[:2]
    f = max_side / max(h, w)
    if f >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A boolean mask resized to ``shape`` (rows, columns); shrinking keeps pixels at least half covered."""
    if mask.shape == shape:
        return mask.astype(bool)
    interp = cv2.INTER_AREA if shape[0] < mask.shape[0] else cv2.INTER_NEAREST
    return cv2.resize(mask.astype(np.uint8) * 255, (shape[1], shape[0]), interpolation=interp) >= 128


def lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L* 0–100) of an 8-bit RGB image, as float32."""
    return cv2.cvtColor(rgb.astype(np.float32) * (1 / 255), cv2.COLOR_RGB2LAB)


def box_of(mask: np.ndarray) -> Box | None:
    """Bounding box of a mask as fractions of the image's width and height."""
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


# ----------------------------------------------------------------------------- placement

@dataclass
class Placement:
    """Where a product's base is and what lies below it, in units of the product's height.

    ``contact_darkness`` is how much darker (relative L*) the strip right under the base is than
    the background beside the base; ``gap`` is the distance from the base down to the first
    shadow or surface edge (None: none within ``searched`` heights); ``below_texture`` the
    standard deviation of L* in the space between the base and that shadow or edge (all of the
    searched space when there is none), its smooth trend down the rows removed: low when the
    product hangs in front of empty space;
    ``cut_by_frame`` is True when the base touches the image's bottom edge, so that it cannot be
    seen to float.
    """

    frame_share: float
    contact_darkness: float
    gap: float | None
    searched: float
    cut_by_frame: bool
    below_texture: float
    base_y: float
    product_height: float
    box: Box
    gap_box: Box


def measure_placement(rgb: np.ndarray, mask: np.ndarray, others: np.ndarray | None = None,
                      base_band: float = 0.08, contact_depth: float = 0.06, search_depth: float = 0.4,
                      shadow_darkness: float = 0.1, edge_delta: float = 8.0,
                      frame_margin: float = 0.015) -> Placement:
    """Measure what lies under the product's base (see :class:`Placement`).

    The base is the product's lowest pixels: those columns whose lowest product pixel lies
    within ``base_band`` of the product's height from its very bottom (a chair's feet, not the
    seat between them). Straight below them, row by row, the median L* of background pixels is
    compared with the background beside the base; a row darker by ``shadow_darkness`` (relative)
    is a shadow, a jump of ``edge_delta`` L* between neighbouring rows a surface edge.
    """
    if not mask.any():
        raise ValueError("the product mask is empty")
    H, W = mask.shape
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())
    h, w = y1 - y0 + 1, x1 - x0 + 1
    L = lab(rgb)[..., 0]
    occupied = mask if others is None else (mask | others)
    bg = ~cv2.dilate(occupied.astype(np.uint8), _disk(1)).astype(bool)
    cols = np.flatnonzero(mask.any(0))
    lowest = H - 1 - np.argmax(mask[::-1, cols], axis=0)
    keep = lowest >= y1 - base_band * h
    cols, lowest = cols[keep], lowest[keep]
    depth = max(3, int(round(search_depth * h)))
    contact = max(2, int(round(contact_depth * h)))
    # the background beside the base: left and right of the product, around the base's height
    ra, rb = max(0, int(y1 - 0.25 * h)), min(H, int(y1 + 0.15 * h) + 1)
    side = np.zeros_like(bg)
    side[ra:rb, max(0, int(x0 - 0.5 * w)):x0] = True
    side[ra:rb, x1 + 1:min(W, int(x1 + 1 + 0.5 * w))] = True
    side &= bg
    ref_px = L[side] if side.sum() >= 8 else L[bg]
    ref = float(np.median(ref_px)) if ref_px.size else float(np.median(L))
    # the luminance profile straight below the base, one value per row offset
    rows = lowest[None, :] + np.arange(1, depth + 1)[:, None]
    inside = rows < H
    cc = np.broadcast_to(cols[None, :], rows.shape)
    r_ = np.minimum(rows, H - 1)
    valid = inside & bg[r_, cc]
    vals = np.where(valid, L[r_, cc], np.nan)
    n_valid = valid.sum(1)
    profile = np.full(depth, np.nan, np.float32)
    ok = n_valid >= max(1, 0.3 * len(cols))
    if ok.any():
        profile[ok] = np.nanmedian(vals[ok], axis=1)
    dark = (ref - profile) / max(ref, 20.0)
    contact_dark = float(np.nanmax(dark[:contact])) if np.isfinite(dark[:contact]).any() else 0.0
    jump = np.abs(np.diff(profile, prepend=profile[0]))
    hit = np.flatnonzero((dark >= shadow_darkness) | (jump >= edge_delta))
    searched = float(np.isfinite(profile).sum() / h)
    gap = None if not len(hit) else float(hit[0] / h)
    # the space between the base and that shadow or surface (or the whole search when none)
    span = int(hit[0]) if len(hit) else depth
    texture = _detrended_std(vals[:span], profile[:span])
    cut = y1 >= H - 1 - frame_margin * H
    gx0, gx1 = int(cols.min()), int(cols.max()) + 1
    gy1 = y1 + 1 + (hit[0] if len(hit) else min(depth, H - 1 - y1))
    gap_box = (gx0 / W, (y1 + 1) / H, gx1 / W, min(H, max(gy1, y1 + 2)) / H)
    return Placement(frame_share=float(mask.mean()), contact_darkness=contact_dark, gap=gap,
                     searched=searched, cut_by_frame=bool(cut), below_texture=texture,
                     base_y=(y1 + 1) / H, product_height=h / H,
                     box=(x0 / W, y0 / H, (x1 + 1) / W, (y1 + 1) / H), gap_box=gap_box)


def _detrended_std(vals: np.ndarray, profile: np.ndarray) -> float:
    """Standard deviation of L* below the base once the straight-line trend down the rows is
    removed: a smooth gradient of light on a wall is not a surface, a floor's grain or planks are."""
    ok = np.isfinite(profile)
    if ok.sum() < 3 or not np.isfinite(vals).any():
        return 0.0
    x = np.flatnonzero(ok)
    trend = np.polyval(np.polyfit(x, profile[ok], 1), np.arange(len(profile)))
    return float(np.nanstd(vals - trend[:, None]))


@dataclass
class Neighbour:
    """An object standing on the product's support line beside it (working-resolution measures).

    ``height_ratio`` is its height over the product's; ``width`` its width in product heights;
    ``fill`` the share of its bounding box it covers (solid furniture ≈ 1, a chair's legs less);
    ``cut_by_frame`` True when it touches the image's left or right edge (its size is unknown).
    """

    height_ratio: float
    width: float
    fill: float
    cut_by_frame: bool
    box: Box


def support_neighbours(rgb: np.ndarray, mask: np.ndarray, others: np.ndarray | None = None,
                       delta_e: float = 14.0, reach: float = 1.3, base_tolerance: float = 0.06,
                       min_height: float = 0.2) -> list[Neighbour]:
    """Objects beside the product whose base is on the product's support line.

    Each row from ``reach`` product heights above the product's base down to the base is
    compared with that row's median colour outside the products (the wall, floor or backdrop
    behind): pixels more than ``delta_e`` (ΔE*ab) away from it are object pixels. Connected
    objects whose lowest row is within ``base_tolerance`` of the product's height from its base,
    at least ``min_height`` of its height tall and not reaching the top of that band (taller
    than the band, or cut by the frame's top) are returned. The product's size relative to them
    is the scene's scale cue.
    """
    if not mask.any():
        raise ValueError("the product mask is empty")
    H, W = mask.shape
    ys = np.nonzero(mask)[0]
    y1 = int(ys.max())
    h = y1 - int(ys.min()) + 1
    top, bot = max(0, int(y1 - reach * h)), min(H, int(y1 + base_tolerance * h) + 1)
    occupied = mask if others is None else (mask | others)
    keep_out = cv2.dilate(occupied.astype(np.uint8), _disk(max(2, int(0.06 * h)))).astype(bool)[top:bot]
    sub = lab(cv2.GaussianBlur(rgb[top:bot], (3, 3), 0))
    ref = np.empty((bot - top, 3), np.float32)
    for i in range(bot - top):
        px = sub[i][~keep_out[i]]
        ref[i] = np.median(px, 0) if len(px) else sub[i].mean(0)
    obj = (np.linalg.norm(sub - ref[:, None, :], axis=2) > delta_e) & ~keep_out
    obj = cv2.morphologyEx(obj.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(obj, connectivity=8)
    out = []
    for x, y, w, hh, area in stats[1:n]:
        base = top + y + hh - 1
        if abs(base - y1) > base_tolerance * h or y == 0 or hh < min_height * h:
            continue
        out.append(Neighbour(height_ratio=float(hh / h), width=float(w / h), fill=float(area / (w * hh)),
                             cut_by_frame=bool(x == 0 or x + w == W),
                             box=(x / W, (top + y) / H, (x + w) / W, (base + 1) / H)))
    return out


# ----------------------------------------------------------------------------- distinctiveness

@dataclass
class Distinct:
    """How much a product stands out from what surrounds it.

    ``contrast`` is the median CIEDE2000 difference between the inside and the outside of the
    product's outline, measured locally all along it; ``colour_contrast`` the CIEDE2000
    difference between the product's median colour and that of a ring around it three times
    as wide (its overall colour against its surroundings); ``weak_share`` the share of the outline
    where that difference is below the Profile's ΔE; ``texture_similarity`` the overlap (0–1)
    of uniform-LBP histograms of the product and of a ring around it; ``salience_ratio`` the
    product's mean spectral-residual salience over the image's mean (1 = average).
    """

    contrast: float
    colour_contrast: float
    weak_share: float
    texture_similarity: float
    salience_ratio: float
    salience_share: float
    weak_box: Box | None
    box: Box
    colour_delta_e76: float = NO_SURROUNDINGS
    chroma: float = 0.0


def _uniform_table() -> np.ndarray:
    """Rotation-invariant uniform LBP label of each 8-bit pattern: its number of set bits when it
    has at most two 0/1 transitions around the circle, else 9 (Ojala et al., P = 8)."""
    codes = np.arange(256)
    bits = (codes[:, None] >> np.arange(8)) & 1
    transitions = (bits != np.roll(bits, 1, axis=1)).sum(1)
    return np.where(transitions <= 2, bits.sum(1), 9).astype(np.int64)


_UNIFORM = _uniform_table()
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def uniform_lbp(gray: np.ndarray) -> np.ndarray:
    """Uniform, rotation-invariant local binary patterns (8 neighbours at radius 1, labels 0–9).

    The same labels as ``skimage.feature.local_binary_pattern(gray, 8, 1, "uniform")`` up to its
    interpolation of the diagonal neighbours, several times faster; border pixels use the edge.
    """
    g = np.pad(gray.astype(np.int16), 1, mode="edge")
    c = g[1:-1, 1:-1]
    h, w = c.shape
    code = np.zeros(c.shape, np.int64)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        code |= (g[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] >= c).astype(np.int64) << bit
    return _UNIFORM[code]


_SALIENCY = None


def spectral_salience(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's spectral-residual salience map (float32, 0–1) of an RGB image, at its size.

    The saliency module comes with ``opencv-contrib-python-headless``. ``rapidocr`` depends on
    the plain ``opencv-python-headless``, and pip installs both wheels into one ``cv2`` package,
    so whichever is installed last wins (installing the ``ocr`` extra after the core package
    leaves OpenCV without its contrib modules). Then the same computation is done with OpenCV's
    core functions (:func:`_spectral_residual`).
    """
    global _SALIENCY
    if _SALIENCY is None:
        module = getattr(cv2, "saliency", None)
        factory = getattr(module, "StaticSaliencySpectralResidual_create", None)
        _SALIENCY = factory() if factory is not None else False
    if _SALIENCY is False:
        return _spectral_residual(rgb)
    ok, sal = _SALIENCY.computeSaliency(np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RuntimeError("OpenCV's spectral-residual saliency failed")
    return sal.astype(np.float32)


def _spectral_residual(rgb: np.ndarray, side: int = 64) -> np.ndarray:
    """Spectral-residual salience (Hou & Zhang, CVPR 2007) as OpenCV's saliency module computes it:
    grey at ``side``², the log amplitude spectrum minus its 3×3 mean, back to the image plane,
    smoothed, squared and scaled to a maximum of 1, at the image's size."""
    grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (side, side), interpolation=cv2.INTER_LINEAR_EXACT)
    spectrum = cv2.dft(cv2.merge([grey.astype(np.float64), np.zeros((side, side))]))
    mag, angle = cv2.cartToPolar(spectrum[..., 0], spectrum[..., 1])
    log_amp = np.log(mag + 1.0)
    residual = np.exp(log_amp - cv2.blur(log_amp, (3, 3)))
    re, im = cv2.polarToCart(residual, angle)
    back = cv2.dft(cv2.merge([re, im]), flags=cv2.DFT_INVERSE)
    mag, _ = cv2.cartToPolar(back[..., 0], back[..., 1])
    mag = cv2.GaussianBlur(mag, (5, 5), 8)
    mag = mag * mag
    sal = (mag / max(float(mag.max()), 1e-12)).astype(np.float32)
    return cv2.resize(sal, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR_EXACT)


def measure_distinct(rgb: np.ndarray, mask: np.ndarray, ring: float = 0.06,
                     weak_delta_e: float = 10.0, salience: np.ndarray | None = None,
                     texture_side: int = 128) -> Distinct:
    """Measure how distinct the product is (see :class:`Distinct`).

    The ring is ``ring`` × the product's √area wide (at least 2 px) on each side of the outline;
    at each outline pixel the mean colour of the inner ring near it is compared with the mean
    colour of the outer ring near it (ΔE2000).
    """
    if not mask.any():
        raise ValueError("the product mask is empty")
    H, W = mask.shape
    sal = spectral_salience(rgb) if salience is None else salience
    total = float(sal.sum())
    share = float(sal[mask].sum() / total) if total > 0 else 0.0
    ratio = share / float(mask.mean())
    full_box = box_of(mask) or (0.0, 0.0, 1.0, 1.0)
    r = max(2, int(round(ring * np.sqrt(mask.sum()))))
    # everything else looks only at the product and its surroundings: crop to them
    ys, xs = np.nonzero(mask)
    pad = 3 * r + 2
    cy0, cx0 = max(0, ys.min() - pad), max(0, xs.min() - pad)
    cy1, cx1 = min(H, ys.max() + pad + 1), min(W, xs.max() + pad + 1)
    at_frame = (cy0 == 0, cx0 == 0, cy1 == H, cx1 == W)
    rgb, mask = rgb[cy0:cy1, cx0:cx1], mask[cy0:cy1, cx0:cx1]
    m8 = mask.astype(np.uint8)
    inner = mask & ~cv2.erode(m8, _disk(r)).astype(bool)
    outer = cv2.dilate(m8, _disk(r)).astype(bool) & ~mask
    edge = mask & ~cv2.erode(m8, _disk(1)).astype(bool)
    # the frame is not an outline
    if at_frame[0]:
        edge[0, :] = False
    if at_frame[1]:
        edge[:, 0] = False
    if at_frame[2]:
        edge[-1, :] = False
    if at_frame[3]:
        edge[:, -1] = False
    if not edge.any() or not outer.any():
        edge = mask & ~cv2.erode(m8, _disk(1)).astype(bool)
    im = lab(rgb)
    k = (2 * r + 1, 2 * r + 1)

    def local_mean(region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wgt = cv2.blur(region.astype(np.float32), k)
        s = cv2.blur(im * region[..., None].astype(np.float32), k)
        return s / np.maximum(wgt, 1e-6)[..., None], wgt

    a, wa = local_mean(inner)
    b, wb = local_mean(outer)
    ey, ex = np.nonzero(edge & (wa > 0) & (wb > 0))
    if len(ey):
        de = deltaE_ciede2000(a[ey, ex], b[ey, ex])
        contrast = float(np.median(de))
        weak = de < weak_delta_e
        weak_share = float(weak.mean())
        weak_box = None
        if weak.any():
            wy, wx = ey[weak], ex[weak]
            weak_box = ((cx0 + wx.min()) / W, (cy0 + wy.min()) / H,
                        (cx0 + wx.max() + 1) / W, (cy0 + wy.max() + 1) / H)
    else:  # the product fills the frame: nothing around it to compare with
        contrast, weak_share, weak_box = NO_SURROUNDINGS, 0.0, None
    # texture: uniform LBP (rotation invariant, 10 bins) inside vs a wider ring outside
    around = cv2.dilate(m8, _disk(3 * r)).astype(bool) & ~mask
    colour, colour76, chroma = NO_SURROUNDINGS, NO_SURROUNDINGS, 0.0
    if around.any():
        p_med, b_med = np.median(im[mask], 0), np.median(im[around], 0)
        colour = float(deltaE_ciede2000(p_med[None], b_med[None])[0])
        colour76 = float(np.linalg.norm(p_med - b_med))
        chroma = float(min(np.hypot(*p_med[1:]), np.hypot(*b_med[1:])))
    # (at most texture_side px across: fine texture needs no more, and LBP is the costly part)
    gray = downscale(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), texture_side)
    lbp = uniform_lbp(gray)
    t_in, t_out = resize_mask(mask, gray.shape), resize_mask(around, gray.shape)
    hi = np.bincount(lbp[t_in], minlength=10)[:10].astype(np.float64)
    ho = np.bincount(lbp[t_out], minlength=10)[:10].astype(np.float64)
    texture = float(np.minimum(hi / max(hi.sum(), 1), ho / max(ho.sum(), 1)).sum()) if ho.sum() else 0.0
    return Distinct(contrast=contrast, colour_contrast=colour, weak_share=weak_share, texture_similarity=texture,
                    salience_ratio=ratio, salience_share=share, weak_box=weak_box,
                    box=full_box, colour_delta_e76=colour76, chroma=chroma)


# ----------------------------------------------------------------------------- where the products are

@dataclass
class ScenePart:
    """One product of the original as it appears in the generated image (working resolution).

    ``index`` is 0-based; ``mask`` is None when the product was not found; ``rejected`` is True
    when the consistency check found it but judged it altered or replaced.
    """

    index: int
    mask: np.ndarray | None
    rejected: bool = False


def products_in_scene(report: object | None, generated: np.ndarray, original: np.ndarray,
                      original_mask: np.ndarray | None, work_side: int) -> tuple[np.ndarray, list[ScenePart], str]:
    """The generated image at ``work_side`` px and where each product is in it, and how that is known.

    With a consistency report (``JudgeItem.shared["consistency"]``) the located masks are used.
    Without one, the original is segmented as the consistency check would (classic backend) and
    each product is assumed at the same relative position in the generated image.
    """
    if report is not None:
        g = downscale(report.generated, work_side)  # type: ignore[attr-defined]
        parts = [ScenePart(p.index, None if (not p.found or p.located_mask is None or not p.located_mask.any())
                           else resize_mask(p.located_mask, g.shape[:2]), rejected=p.found and not p.passed)
                 for p in report.products]  # type: ignore[attr-defined]
        return g, parts, "consistency report"
    from hfpc.consistency.analyze import prepare_original
    from hfpc.consistency.config import ConsistencySettings

    g = downscale(generated, work_side)
    _, masks, _ = prepare_original(original, original_mask, ConsistencySettings())
    parts = [ScenePart(i, resize_mask(m, g.shape[:2])) for i, m in enumerate(masks)]
    return g, [p for p in parts if p.mask is not None and p.mask.any()], \
        "original's segmentation at the same relative position (no consistency report)"


def judged_products(report: object | None, generated: np.ndarray, original: np.ndarray,
                    original_mask: np.ndarray | None, work_side: int,
                    judge_rejected: bool) -> tuple[np.ndarray, list[ScenePart], int, dict, str | None]:
    """What a scene check judges: the generated image at ``work_side``, the products found in it
    (those the consistency check rejected only with ``judge_rejected``), how many products there
    are, the start of the check's details, and why nothing is judged (None when something is)."""
    g, parts, source = products_in_scene(report, generated, original, original_mask, work_side)
    judged = [p for p in parts if p.mask is not None and (judge_rejected or not p.rejected)]
    why = None
    if not judged:
        why = ("no product was found in the generated image" if not any(p.mask is not None for p in parts)
               else "the consistency check rejected every product it found")
    return g, judged, len(parts), {"position": source, "products": []}, why


def draw_findings(rgb: np.ndarray, masks: list[np.ndarray], boxes: list[Box], max_side: int = 320) -> np.ndarray:
    """A small picture: the image dimmed, product outlines (green) and finding boxes (red)."""
    img = downscale(rgb, max_side)
    h, w = img.shape[:2]
    out = cv2.convertScaleAbs(img, alpha=0.7)
    for m in masks:
        cs, _ = cv2.findContours(resize_mask(m, (h, w)).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, cs, -1, (40, 220, 60), 1, cv2.LINE_AA)
    for x0, y0, x1, y1 in boxes:
        p0 = (int(x0 * w), int(y0 * h))
        p1 = (max(int(x0 * w) + 1, int(round(x1 * w)) - 1), max(int(y0 * h) + 1, int(round(y1 * h)) - 1))
        cv2.rectangle(out, p0, p1, (230, 30, 30), 2 if max(h, w) >= 256 else 1)
    return out
