"""Find where a product of the original sits in the generated image.

Same place first (the usual case: the generator kept the layout); if the product does not
correlate there, a multi-scale masked template search finds a rescaled/moved copy. Locations
are similarity transforms (scale + translation) from original to generated pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hfpc.consistency.config import ConsistencySettings


@dataclass
class Location:
    """A candidate position of a product: 2×3 matrix original → generated, and its correlation."""

    matrix: np.ndarray
    score: float
    method: str

    @property
    def scale(self) -> float:
        """Isotropic scale of the transform."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a non-empty mask, exclusive upper bounds."""
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8, copy=False))
    if w == 0 or h == 0:
        raise ValueError("bbox of an empty mask")
    return x, y, x + w, y + h


def similarity(scale: float, tx: float, ty: float) -> np.ndarray:
    """2×3 matrix of x' = scale·x + tx, y' = scale·y + ty."""
    return np.array([[scale, 0.0, tx], [0.0, scale, ty]], np.float64)


def warp_to_original(gen: np.ndarray, matrix: np.ndarray, box: tuple[int, int, int, int],
                     interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample the generated image over ``box`` of the original frame through ``matrix``."""
    x0, y0, x1, y1 = box
    shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    full = np.vstack([matrix, [0, 0, 1]]) @ shift
    return cv2.warpAffine(gen, full[:2], (x1 - x0, y1 - y0), flags=interp | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def masked_ncc(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> float:
    """Zero-mean normalised correlation of two images inside a mask, over all channels."""
    if m.sum() < 4:
        return -1.0
    x = a[m].astype(np.float64)
    y = b[m].astype(np.float64)
    x -= x.mean(axis=0)
    y -= y.mean(axis=0)
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 1e-9 else -1.0


def score_at(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray, matrix: np.ndarray) -> float:
    """Masked correlation of the product with the generated image seen through ``matrix``."""
    box = bbox(mask)
    x0, y0, x1, y1 = box
    g = warp_to_original(gen, matrix, box)
    m = mask[y0:y1, x0:x1]
    inside = warp_to_original(np.full(gen.shape[:2], 255, np.uint8), matrix, box, cv2.INTER_NEAREST) > 0
    if (m & inside).sum() < 0.6 * m.sum():
        return -1.0
    return masked_ncc(orig[y0:y1, x0:x1], g, m & inside)


def _match(image: np.ndarray, templ: np.ndarray, tmask: np.ndarray) -> np.ndarray:
    if templ.ndim == 3:
        tmask = cv2.merge([tmask] * templ.shape[2])
    res = cv2.matchTemplate(image, templ, cv2.TM_CCOEFF_NORMED, mask=tmask)
    res[~np.isfinite(res)] = -1.0
    return res


def template_search(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray,
                    settings: ConsistencySettings, top_k: int = 2,
                    identity: np.ndarray | None = None) -> list[Location]:
    """Coarse multi-scale masked template matching, then a fine search around the best peaks.

    With ``identity`` given, a single-scale match runs first; if its peak is the product's own
    place, the product has not moved and no candidates are returned.
    """
    x0, y0, x1, y1 = bbox(mask)
    bw, bh = x1 - x0, y1 - y0
    gh, gw = gen.shape[:2]
    f = min(1.0, settings.search_side / max(gh, gw))
    # the coarse pass runs on luminance (a third of the work); refinement uses colour
    gs = cv2.cvtColor(cv2.resize(gen, (max(1, int(gw * f)), max(1, int(gh * f))),
                                 interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    crop = orig[y0:y1, x0:x1]
    crop_gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    cmask = mask[y0:y1, x0:x1].astype(np.uint8) * 255
    peaks: list[tuple[float, float, int, int]] = []
    scales = np.geomspace(settings.min_scale, settings.max_scale, settings.search_scales)
    half_step = float(np.sqrt(scales[1] / scales[0])) if len(scales) > 1 else 1.03
    if identity is not None:
        # an in-place product (altered or not) need not be searched for at every scale
        s = float(identity[0, 0])
        t = cv2.resize(crop_gray, (max(6, round(bw * s * f)), max(6, round(bh * s * f))),
                       interpolation=cv2.INTER_AREA)
        tm = cv2.resize(cmask, t.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        if t.shape[0] <= gs.shape[0] and t.shape[1] <= gs.shape[1] and tm.any():
            _, best, _, loc = cv2.minMaxLoc(_match(gs, t, tm))
            ix, iy = identity[0, 2] + s * x0, identity[1, 2] + s * y0
            if abs(loc[0] / f - ix) <= 3 / f and abs(loc[1] / f - iy) <= 3 / f:
                return []
    for s in scales:
        tw, th = int(round(bw * s * f)), int(round(bh * s * f))
        if tw < 6 or th < 6 or tw > gs.shape[1] or th > gs.shape[0]:
            continue
        t = cv2.resize(crop_gray, (tw, th), interpolation=cv2.INTER_AREA)
        tm = cv2.resize(cmask, (tw, th), interpolation=cv2.INTER_NEAREST)
        if tm.sum() == 0:
            continue
        res = _match(gs, t, tm)
        _, best, _, loc = cv2.minMaxLoc(res)
        peaks.append((float(best), float(s), loc[0], loc[1]))
    peaks.sort(reverse=True)
    out: list[Location] = []
    for _, s, lx, ly in peaks[: top_k * 2]:
        loc = _refine(crop, cmask, gen, s, lx / f, ly / f, 2.0 / f + 3, half_step)
        if loc is None:
            continue
        sc, tx, ty, r = loc
        m = similarity(sc, tx - sc * x0, ty - sc * y0)
        if any(np.abs(m - o.matrix).max() < 3 for o in out):
            continue
        out.append(Location(m, r, "search"))
        if len(out) >= top_k:
            break
    return out


def _refine(crop: np.ndarray, cmask: np.ndarray, gen: np.ndarray, s: float, x: float, y: float,
            radius: float, half_step: float) -> tuple[float, float, float, float] | None:
    best = None
    gh, gw = gen.shape[:2]
    for ds in np.geomspace(1 / half_step, half_step, 5):
        sc = s * ds
        tw, th = int(round(crop.shape[1] * sc)), int(round(crop.shape[0] * sc))
        if tw < 4 or th < 4 or tw > gw or th > gh:
            continue
        t = cv2.resize(crop, (tw, th), interpolation=cv2.INTER_AREA if sc < 1 else cv2.INTER_LINEAR)
        tm = cv2.resize(cmask, (tw, th), interpolation=cv2.INTER_NEAREST)
        r = int(np.ceil(radius))
        wx0, wy0 = max(0, int(x) - r), max(0, int(y) - r)
        wx1, wy1 = min(gw, int(x) + r + tw + 1), min(gh, int(y) + r + th + 1)
        win = gen[wy0:wy1, wx0:wx1]
        if win.shape[0] < th or win.shape[1] < tw:
            continue
        res = _match(win, t, tm)
        _, v, _, loc = cv2.minMaxLoc(res)
        if best is None or v > best[3]:
            best = (sc, wx0 + loc[0], wy0 + loc[1], float(v))
    return best


def locate_product(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray,
                   settings: ConsistencySettings) -> list[Location]:
    """Candidate locations of one product in the generated image, best correlation first."""
    oh, ow = orig.shape[:2]
    gh, gw = gen.shape[:2]
    cands: list[Location] = []
    ident = None
    if abs(gw / ow - gh / oh) < 0.02 * gw / ow:
        ident = similarity(gw / ow, 0.0, 0.0)
        cands.append(Location(ident, score_at(orig, mask, gen, ident), "same_place"))
        if cands[0].score >= settings.identity_accept:
            return cands
    # the in-place shortcut only when the product convincingly is at its own place
    in_place = ident if cands and cands[0].score >= settings.locate_min_score else None
    for loc in template_search(orig, mask, gen, settings, identity=in_place):
        loc.score = score_at(orig, mask, gen, loc.matrix)
        cands.append(loc)
    cands.sort(key=lambda c: -c.score)
    return cands
