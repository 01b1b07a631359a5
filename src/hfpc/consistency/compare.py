"""Compare a product with its located counterpart, pixel by pixel, in the original's frame.

Measures: the paper's mean absolute pixel difference, CIEDE2000 colour difference (giving the
share of changed pixels), SSIM and agreement of edge structure; area grown outside the outline
is measured in :mod:`hfpc.consistency.growth` (re-exported here).
Benign generator changes are absorbed first: a bounded brightness gain and per-channel offset
(relighting, colour harmonisation), a light blur (JPEG, resampling) and an eroded mask (re-blended
anti-aliased edges).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.growth import growth_share
from hfpc.consistency.light import scene_around, scene_light
from hfpc.consistency.locate import bbox, pixels, warp_to_original

__all__ = ["Comparison", "colour_correct", "compare_product", "growth_share", "relight"]


@dataclass
class Comparison:
    """Per-product measures and the maps behind them (in the original's working frame)."""

    changed_share: float
    local_change: float
    delta_e_mean: float
    mad: float
    mad_raw: float
    ssim: float
    edge: float
    edge_exact: float = 1.0
    """Edge agreement with each copy's edges matched only at the same Canny thresholds (no support)."""
    growth: float = 0.0
    growth_extent: float = 0.0
    texture_gain: float = 1.0
    """Local contrast of the generated copy over the original's, inside the product (2 = twice as textured)."""
    """How far grown parts reach beyond the outline, as a share of the product's size."""
    exact_share: float = 0.0
    """Share of pixels practically identical after light (ΔE2000 < ``exact_delta_e``): high when pasted."""
    where: str = ""
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    matrix: np.ndarray | None = field(default=None, repr=False)
    delta_e_map: np.ndarray | None = field(default=None, repr=False)
    changed_map: np.ndarray | None = field(default=None, repr=False)


def _design(h: int, w: int, ys: np.ndarray, xs: np.ndarray, degree: int) -> np.ndarray:
    """Polynomial terms of normalised pixel coordinates, up to ``degree``."""
    u = xs.astype(np.float32) / max(1, w - 1) - 0.5
    v = ys.astype(np.float32) / max(1, h - 1) - 0.5
    cols = [np.ones_like(u)]
    for d in range(1, degree + 1):
        for i in range(d + 1):
            cols.append(u ** (d - i) * v ** i)
    return np.stack(cols, axis=1)


def relight(src: np.ndarray, ref: np.ndarray, m: np.ndarray, max_gain: float, max_cast: float,
            degree: int = 2, rounds: int = 3) -> np.ndarray:
    """Undo scene light on ``src`` so it can be compared with ``ref`` (both RGB, same frame).

    Light multiplies each channel by a gain that varies smoothly across the product (warm or
    cool light, a coloured cast, shading, a neon glow on one side). The log-ratio of the two
    images is fitted per channel by a low-order polynomial of position, robustly: pixels that
    disagree with the fit most (a repainted part, new print) are left out of the next round,
    so a real change is not absorbed and stays visible. The gain common to all channels
    (brightness, shading) is bounded by ``max_gain``; the colour of the light (how far one
    channel's gain may exceed another's) by ``max_cast``: light tints a product, it does not
    turn gold into silver or red into brown.
    """
    h, w = m.shape
    ys, xs = np.nonzero(m)
    if len(ys) < 16:
        return src.astype(np.float32)
    step = max(1, len(ys) // 6000)  # the fit needs a few thousand pixels, not all
    ys, xs = ys[::step], xs[::step]
    a = _design(h, w, ys, xs, degree)
    ls = np.log(pixels(src, m)[::step].astype(np.float32) + 8.0)
    lr = np.log(pixels(ref, m)[::step].astype(np.float32) + 8.0)
    d = lr - ls
    keep = np.ones(len(ys), bool)
    coef = np.zeros((a.shape[1], 3), np.float32)
    for _ in range(rounds):
        ak = a[keep]
        coef = np.linalg.solve(ak.T @ ak + 1e-6 * np.eye(a.shape[1], dtype=np.float32), ak.T @ d[keep])
        r = np.abs(d - a @ coef)
        res = r[:, 0] + r[:, 1] + r[:, 2]  # sum over the channels (slow along a short last axis)
        keep = res <= np.percentile(res, 70)
    # the field is smooth: evaluate it on a coarse grid and interpolate
    gh_, gw_ = min(h, 32), min(w, 32)
    yy, xx = np.mgrid[0:gh_, 0:gw_]
    yy = (yy + 0.5) * h / gh_ - 0.5  # the centres cv2.resize maps each grid cell to
    xx = (xx + 0.5) * w / gw_ - 0.5
    coarse = (_design(h, w, yy.ravel(), xx.ravel(), degree) @ coef).reshape(gh_, gw_, 3).astype(np.float32)
    lum = np.clip(coarse.mean(axis=2, keepdims=True), -np.log(max_gain), np.log(max_gain))
    cast = np.clip(coarse - coarse.mean(axis=2, keepdims=True), -np.log(max_cast) / 2, np.log(max_cast) / 2)
    gain = np.exp(lum + cast)
    if (gh_, gw_) != (h, w):
        gain = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
    out = (src.astype(np.float32) + 8.0) * gain - 8.0
    return np.clip(out, 0, 255)


def colour_correct(src: np.ndarray, ref: np.ndarray, m: np.ndarray, max_gain: float,
                   max_offset: float) -> np.ndarray:
    """Map ``src`` towards ``ref`` with one brightness gain and per-channel offsets, bounded.

    Medians, not means, so that a repainted part of the product does not pull the correction
    and hide itself. Used for pixel-exact pastes; :func:`relight` models scene light.
    """
    x = src[m].astype(np.float32)
    y = ref[m].astype(np.float32)
    lx, ly = float(np.median(x.mean(axis=1))), float(np.median(y.mean(axis=1)))
    gain = float(np.clip(ly / max(lx, 1.0), 1 / max_gain, max_gain))
    offset = np.clip(np.median(y - gain * x, axis=0), -max_offset, max_offset)
    return np.clip(src.astype(np.float32) * gain + offset.astype(np.float32), 0, 255)


EDGE_THRESHOLDS = (40, 110)
"""Canny hysteresis thresholds (grey levels) of the edge agreement."""


def _edge_f1(a: np.ndarray, b: np.ndarray, m: np.ndarray, support: float = 1.0) -> tuple[float, float]:
    """F1 of the two images' Canny edges inside ``m``, each matched within 2 px by the other's.

    An edge is matched by the other image's edges found at ``support`` × the Canny thresholds:
    contrast just above the detector's threshold in one copy and just below it in the other
    (relit glass, a slightly softer copy) is the same edge, not new or lost print. Returns that
    F1 and the exact one (matched at the same thresholds).
    """
    lo, hi = EDGE_THRESHOLDS
    ea = cv2.Canny(a, lo, hi) > 0
    eb = cv2.Canny(b, lo, hi) > 0
    ea &= m
    eb &= m
    na, nb = int(ea.sum()), int(eb.sum())
    if na < 10 and nb < 10:
        return 1.0, 1.0
    if na == 0 or nb == 0:
        return 0.0, 0.0
    k = np.ones((5, 5), np.uint8)

    def f1(da: np.ndarray, db: np.ndarray) -> float:
        precision = (eb & da).sum() / nb
        recall = (ea & db).sum() / na
        return float(2 * precision * recall / (precision + recall + 1e-9))

    exact = f1(cv2.dilate(ea.astype(np.uint8), k) > 0, cv2.dilate(eb.astype(np.uint8), k) > 0)
    if support >= 1.0:
        return exact, exact
    return f1(cv2.dilate(cv2.Canny(a, lo * support, hi * support), k) > 0,
              cv2.dilate(cv2.Canny(b, lo * support, hi * support), k) > 0), exact


def _local_change(changed: np.ndarray, m: np.ndarray, size: float, window: float,
                  min_area: float = 0.0) -> float:
    """Largest share of changed pixels in any window of ``window`` × the product's size.

    A relabelled print changes few pixels overall but most pixels of one small area. Windows
    holding fewer changed pixels than ``min_area`` of the product do not count: a speck (a
    reflection, a misregistered edge) filling a tiny window is not an altered label.
    """
    win = max(9, int(window * size) | 1)
    mf = m.astype(np.float32)
    num = cv2.boxFilter(changed.astype(np.float32), -1, (win, win), normalize=False)
    den = cv2.boxFilter(mf, -1, (win, win), normalize=False)
    ok = m & (den > 0.5 * win * win)
    if not ok.any():
        return float(changed[m].mean())
    ok &= num >= min_area * m.sum()
    return float((num[ok] / den[ok]).max()) if ok.any() else 0.0


TEXTURE_FLOOR = 4.0
"""Local contrast (grey levels) below which a surface counts as flat: its gain is measured from here."""


def _texture(gray: np.ndarray, m: np.ndarray) -> float:
    """Mean local standard deviation (3×3) of a grey image inside ``m``: how textured it is."""
    g = gray.astype(np.float32)
    mu = cv2.blur(g, (3, 3))
    sd = np.sqrt(np.maximum(cv2.blur(g * g, (3, 3)) - mu * mu, 0))
    inner = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return float(sd[inner].mean()) if inner.any() else 0.0


def _typical_exact(exact: np.ndarray, m: np.ndarray, size: float, window: float = 0.25) -> float:
    """Median over the product of the local share of practically identical pixels.

    A pasted product is identical almost everywhere, even when one part of it was altered
    (most windows lie outside that part); a redrawn one differs a little everywhere.
    """
    win = max(5, int(window * size) | 1)
    num = cv2.boxFilter((exact & m).astype(np.float32), -1, (win, win), normalize=False)
    den = cv2.boxFilter(m.astype(np.float32), -1, (win, win), normalize=False)
    ok = m & (den > 0.3 * win * win)
    return float(np.median(num[ok] / den[ok])) if ok.any() else float(exact[m].mean())


def _where(changed: np.ndarray) -> str:
    ys, xs = np.nonzero(changed)
    if len(ys) == 0:
        return ""
    h, w = changed.shape
    v = ("top", "middle", "bottom")[min(2, int(3 * ys.mean() / h))]
    hz = ("left", "centre", "right")[min(2, int(3 * xs.mean() / w))]
    spread = (ys.std() / h + xs.std() / w) > 0.45
    return "throughout" if spread else f"{v} {hz}"


def compare_product(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray, matrix: np.ndarray,
                    settings: ConsistencySettings, tolerance: int = 0, side: int | None = None,
                    erode: float | None = None) -> Comparison:
    """Measures of one product against the generated image seen through ``matrix``.

    Both are compared at the coarser of the two scales (and at most ``compare_side`` pixels
    across), so resampling blur of fine print is not mistaken for a change; scene light is
    undone first (:func:`relight`, then :func:`~hfpc.consistency.light.scene_light`). ``tolerance`` > 0 takes each
    pixel's colour difference as the smallest over shifts of up to that many pixels, for
    products whose position was found by search (sub-pixel misregistration on sharp print).
    """
    s = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    px0, py0, px1, py1 = bbox(mask)
    # compare where both have detail: never finer than the generated copy, nor than compare_side
    k = min(1.0, s, (side or settings.compare_side) / max(px1 - px0, py1 - py0))
    if k < 0.95:
        h, w = mask.shape
        size = (max(1, round(w * k)), max(1, round(h * k)))
        orig = cv2.resize(orig, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) >= 128
        matrix = matrix @ np.diag([w / size[0], h / size[1], 1.0])
        if not mask.any():
            return Comparison(1.0, 1.0, 100.0, 255.0, 255.0, 0.0, 0.0, matrix=matrix)
    frame_matrix = matrix  # original's working frame → generated image, for the heatmap
    if s / k > 1.05:
        # the generated copy is larger: shrink it first rather than alias it in the warp
        f = k / s
        gh, gw = gen.shape[:2]
        gsize = (max(1, round(gw * f)), max(1, round(gh * f)))
        gen = cv2.resize(gen, gsize, interpolation=cv2.INTER_AREA)
        matrix = np.diag([gsize[0] / gw, gsize[1] / gh]) @ matrix
    box = bbox(mask)
    x0, y0, x1, y1 = box
    o = orig[y0:y1, x0:x1]
    m_full = mask[y0:y1, x0:x1]
    g = warp_to_original(gen, matrix, box)
    inside = warp_to_original(np.full(gen.shape[:2], 255, np.uint8), matrix, box, cv2.INTER_NEAREST) > 0
    size = np.sqrt(m_full.sum())
    r = max(1, int(round((settings.erode if erode is None else erode) * size)))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    # outside the crop is not product: the outline along the crop's border is eroded as well
    m = (cv2.erode(m_full.astype(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0) & inside
    if m.sum() < 16:
        m = m_full & inside
    if m.sum() < 4:
        return Comparison(1.0, 1.0, 100.0, 255.0, 255.0, 0.0, 0.0, box=box, matrix=frame_matrix)
    mad_raw = float(np.abs(pixels(o, m).astype(np.float32) - pixels(g, m).astype(np.float32)).mean())
    gc = relight(g, o, m, settings.max_light_gain, settings.max_light_cast)
    if settings.scene_light_support is not None:
        gc = scene_light(gc, g, o, m, scene_around(gen, matrix, box, m_full), settings.scene_light_max_cast,
                         settings.scene_light_support, settings.scene_light_max_chroma,
                         settings.scene_light_min_lightness)
    ob = cv2.GaussianBlur(o.astype(np.float32), (0, 0), settings.blur_sigma)
    gb = cv2.GaussianBlur(gc, (0, 0), settings.blur_sigma)
    obm, gbm = pixels(ob, m), pixels(gb, m)
    mad = float(np.abs(obm - gbm).mean())
    de = np.zeros(m.shape, np.float32)
    lab_o = rgb2lab(obm[None] / 255.0)[0]
    best = deltaE_ciede2000(lab_o, rgb2lab(gbm[None] / 255.0)[0])
    # other shifts matter only where the pixel differs: practically identical ones stay as they are
    redo = best >= settings.exact_delta_e
    if tolerance and redo.any():
        ys, xs = np.nonzero(m)
        ys, xs = ys[redo], xs[redo]
        h, w = m.shape
        lab_redo, best_redo = lab_o[redo], best[redo]
        for dy in range(-tolerance, tolerance + 1):
            for dx in range(-tolerance, tolerance + 1):
                if dx == dy == 0:
                    continue
                shifted = gb[(ys - dy) % h, (xs - dx) % w]
                d = deltaE_ciede2000(lab_redo, rgb2lab(shifted[None] / 255.0)[0])
                best_redo = np.minimum(best_redo, d)
        best[redo] = best_redo
    de[m] = best
    changed = (de > settings.delta_e).astype(np.uint8)
    changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    changed = (cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0) & m
    go = cv2.cvtColor(o, cv2.COLOR_RGB2GRAY)
    gg = cv2.cvtColor(np.clip(gc + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    ssim_map = structural_similarity(go, gg, data_range=255, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, full=True)[1]
    edge, edge_exact = _edge_f1(cv2.GaussianBlur(go, (3, 3), 0), cv2.GaussianBlur(gg, (3, 3), 0), m,
                                settings.edge_support)
    return Comparison(
        changed_share=float(changed.sum() / m.sum()),
        local_change=_local_change(changed, m, size, settings.local_window, settings.local_min_area),
        delta_e_mean=float(de[m].mean()),
        mad=mad, mad_raw=mad_raw,
        ssim=float(ssim_map[m].mean()),
        edge=edge, edge_exact=edge_exact,
        texture_gain=(_texture(gg, m) + TEXTURE_FLOOR) / (_texture(go, m) + TEXTURE_FLOOR),
        exact_share=_typical_exact(de < settings.exact_delta_e, m, size),
        where=_where(changed), box=box, matrix=frame_matrix, delta_e_map=de, changed_map=changed,
    )

