"""Find where a product of the original sits in the generated image.

Same place first (inpainting keeps the layout); if the product does not correlate there,
keypoints (rotation, mirror, any scale), a multi-scale masked template search and a silhouette
search in the product's colours (flat products) propose moved, rescaled or mirrored copies.
Locations are 2×3 transforms (scale, rotation, optional mirror, shift) from original to
generated pixels; each is scored by how well the product matches there.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.keypoints import keypoint_locations


@dataclass
class Location:
    """A candidate position of a product: 2×3 matrix original → generated, and its correlation."""

    matrix: np.ndarray
    score: float
    method: str

    inliers: int = 0
    silhouette: float = -1.0
    """Correlation of the product's outline with where its colours are, at this place."""
    spread: float = 0.0
    """For a keypoint location: the share of the product's box that its inliers span."""

    @property
    def scale(self) -> float:
        """Isotropic scale of the transform."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    @property
    def mirrored(self) -> bool:
        """True when the product appears flipped left-right."""
        return bool(np.linalg.det(self.matrix[:, :2]) < 0)

    @property
    def rotation(self) -> float:
        """Rotation in degrees (of the unmirrored product)."""
        m = self.matrix[:, :2] @ np.diag([-1.0, 1.0]) if self.mirrored else self.matrix[:, :2]
        return float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))


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


def pixels(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``img[m]`` for a boolean mask ``m`` of ``img``'s height and width: the pixels where it is
    true, one row each (np.compress gathers them several times faster than boolean indexing)."""
    flat = np.ascontiguousarray(img).reshape(m.size, -1) if img.ndim == 3 else np.ascontiguousarray(img).ravel()
    return np.compress(np.ravel(m), flat, axis=0)


def _column_mean(x: np.ndarray, integral: bool) -> np.ndarray:
    """``x.mean(axis=0)``; for integer-valued pixels (8 or 16 bits) as a product with a vector of
    ones, whose sums are exact in any order, so the same, and much faster than numpy's reduction
    over a short last axis."""
    return (np.ones(len(x)) @ x) / len(x) if integral else x.mean(axis=0)


def masked_ncc(a: np.ndarray, b: np.ndarray, m: np.ndarray, flat_std: float = 6.0,
               flat_scale: float = 40.0) -> float:
    """Zero-mean normalised correlation of two images inside a mask, over all channels.

    A flat product (standard deviation under ``flat_std``) has no pattern to correlate; its
    score is then colour closeness, 1 − mean |difference| / ``flat_scale``, in [−1, 1].
    """
    if m.sum() < 4:
        return -1.0
    x, y = pixels(a, m).astype(np.float64), pixels(b, m).astype(np.float64)
    # the deviations from the mean serve the flatness test (np.std's own arithmetic) and the correlation
    dx = x - _column_mean(x, a.dtype in (np.uint8, np.uint16))
    if np.sqrt((dx * dx).sum(axis=0) / len(dx)).max() < flat_std:
        return float(np.clip(1 - np.abs(x - y).mean() / flat_scale, -1, 1))
    x = dx
    y -= _column_mean(y, b.dtype in (np.uint8, np.uint16))
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 1e-9 else -1.0


def score_at(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray, matrix: np.ndarray,
             settings: ConsistencySettings | None = None) -> float:
    """Masked correlation of the product with the generated image seen through ``matrix``."""
    s = settings or ConsistencySettings()
    box = bbox(mask)
    x0, y0, x1, y1 = box
    g = warp_to_original(gen, matrix, box)
    m = mask[y0:y1, x0:x1]
    inside = warp_to_original(np.full(gen.shape[:2], 255, np.uint8), matrix, box, cv2.INTER_NEAREST) > 0
    if (m & inside).sum() < s.min_visible * m.sum():
        return -1.0
    return masked_ncc(orig[y0:y1, x0:x1], g, m & inside, s.flat_std, s.flat_scale)


def silhouette_score(mask: np.ndarray, likelihood: np.ndarray, matrix: np.ndarray,
                     margin: float = 0.25) -> float:
    """Correlation between the product's outline and the product-colour map at a place.

    High when the product's colours fill its outline there and the surroundings lack them:
    evidence that a re-rendered, flat or relit product is the same object, which pixel
    correlation cannot give.
    """
    x0, y0, x1, y1 = bbox(mask)
    mx, my = int(margin * (x1 - x0)) + 1, int(margin * (y1 - y0)) + 1
    h, w = mask.shape
    box = (max(0, x0 - mx), max(0, y0 - my), min(w, x1 + mx), min(h, y1 + my))
    lk = warp_to_original(likelihood.astype(np.float32, copy=False), matrix, box)
    inside = warp_to_original(np.full(likelihood.shape[:2], 255, np.uint8), matrix, box, cv2.INTER_NEAREST) > 0
    m = mask[box[1]:box[3], box[0]:box[2]].astype(np.float32)
    if inside.mean() < 0.6 or m.std() < 1e-6:
        return -1.0
    a, b = m[inside] - m[inside].mean(), lk[inside] - lk[inside].mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-9 else -1.0


def colour_likelihood(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """Per generated pixel, how typical its colour is of the product (histogram back-projection).

    Coarse lightness bins keep it tolerant of relighting; the ratio to the generated image's own
    histogram makes colours common everywhere in the scene count less.
    """
    bins, ranges = [3, 24, 24], [0, 256, 0, 256, 0, 256]
    m8 = mask.astype(np.uint8)
    x, y, w, h = cv2.boundingRect(m8)
    if w == 0 or h == 0:
        x, y, (h, w) = 0, 0, mask.shape
    # the product's histogram needs only its box (the mask leaves the rest out)
    lo = cv2.cvtColor(np.ascontiguousarray(orig[y:y + h, x:x + w]), cv2.COLOR_RGB2LAB)
    lg = cv2.cvtColor(gen, cv2.COLOR_RGB2LAB)
    hp = cv2.calcHist([lo], [0, 1, 2], np.ascontiguousarray(m8[y:y + h, x:x + w]), bins, ranges)
    hg = cv2.calcHist([lg], [0, 1, 2], None, bins, ranges)
    hp = cv2.GaussianBlur(hp.reshape(bins[0], -1), (0, 0), 0.7).reshape(hp.shape) / max(1.0, float(hp.sum()))
    hg = hg / max(1.0, float(hg.sum()))
    ratio = np.minimum(hp / np.maximum(hg, 1e-6), 1.0)
    ratio /= max(float(ratio.max()), 1e-6)
    # back-projection by bin index (cv2.calcBackProject of a 3-D histogram is not reliable)
    q = [cv2.LUT(c, _BIN_LUT[n]) for c, n in zip(cv2.split(lg), bins)]
    idx = (q[0].astype(np.int32) * bins[1] + q[1]) * bins[2] + q[2]
    return ratio.ravel()[idx].astype(np.float32, copy=False)


_BIN_LUT = {n: (np.arange(256) * n // 256).astype(np.uint8) for n in (3, 24)}


def _match(image: np.ndarray, templ: np.ndarray, tmask: np.ndarray | None) -> np.ndarray:
    if tmask is not None and templ.ndim == 3:
        tmask = cv2.merge([tmask] * templ.shape[2])
    res = cv2.matchTemplate(image, templ, cv2.TM_CCOEFF_NORMED, mask=tmask)
    res[~np.isfinite(res)] = -1.0
    return res


def _place(s: float, x: float, y: float, box: tuple[int, int, int, int], mirrored: bool) -> np.ndarray:
    """Transform that puts the (optionally mirrored) crop ``box`` at (x, y) with scale ``s``."""
    x0, y0, x1, _ = box
    if mirrored:
        return np.array([[-s, 0.0, x + s * (x1 - 1)], [0.0, s, y - s * y0]], np.float64)
    return similarity(s, x - s * x0, y - s * y0)


def template_search(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray,
                    settings: ConsistencySettings, top_k: int = 3,
                    identity: np.ndarray | None = None, likelihood: np.ndarray | None = None,
                    stop_at: float | None = None) -> list[Location]:
    """Multi-scale search, plain and mirrored, on luminance and on the product-colour map.

    The luminance pass finds textured products; the colour-map pass matches the product's
    silhouette against where its colours are, which finds flat products. The best peaks are
    refined in colour at full resolution. With ``identity`` given, a single-scale match runs
    first; if its peak is the product's own place, no candidates are returned. With ``stop_at``,
    refining stops at the first peak that correlates that well (a lone product needs no rivals).
    """
    box = bbox(mask)
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    gh, gw = gen.shape[:2]
    f = min(1.0, settings.search_side / max(gh, gw))
    size = (max(1, int(gw * f)), max(1, int(gh * f)))
    gs = cv2.cvtColor(cv2.resize(gen, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    crop = orig[y0:y1, x0:x1]
    crop_gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    cmask = mask[y0:y1, x0:x1].astype(np.uint8) * 255
    if identity is not None:
        s = float(identity[0, 0])
        t = cv2.resize(crop_gray, (max(6, round(bw * s * f)), max(6, round(bh * s * f))),
                       interpolation=cv2.INTER_AREA)
        tm = cv2.resize(cmask, t.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        if t.shape[0] <= gs.shape[0] and t.shape[1] <= gs.shape[1] and tm.any():
            _, _, _, loc = cv2.minMaxLoc(_match(gs, t, tm))
            ix, iy = identity[0, 2] + s * x0, identity[1, 2] + s * y0
            if abs(loc[0] / f - ix) <= 3 / f and abs(loc[1] / f - iy) <= 3 / f:
                return []
    like = cv2.resize(likelihood if likelihood is not None else colour_likelihood(orig, mask, gen),
                      size, interpolation=cv2.INTER_AREA)
    # the silhouette template has an empty ring around the product: "its colours here, not there"
    pad_x, pad_y = max(1, round(0.15 * bw)), max(1, round(0.15 * bh))
    silhouette = cv2.copyMakeBorder(cmask.astype(np.float32) / 255, pad_y, pad_y, pad_x, pad_x,
                                    cv2.BORDER_CONSTANT, value=0)
    scales = np.geomspace(settings.min_scale, settings.max_scale, settings.search_scales)
    half_step = float(np.sqrt(scales[1] / scales[0])) if len(scales) > 1 else 1.03

    def coarse(mirrored: bool, kind: str) -> list[tuple[float, float, int, int, bool, str]]:
        peaks = []
        cg = crop_gray[:, ::-1] if mirrored else crop_gray
        cm = cmask[:, ::-1] if mirrored else cmask
        sil = silhouette[:, ::-1] if mirrored else silhouette
        for s in scales:
            tw, th = int(round(bw * s * f)), int(round(bh * s * f))
            if tw < 6 or th < 6 or tw > gs.shape[1] or th > gs.shape[0]:
                continue
            if kind == "search":
                tm = cv2.resize(cm, (tw, th), interpolation=cv2.INTER_NEAREST)
                if tm.sum() == 0 or tm.all():
                    continue
                t = cv2.resize(np.ascontiguousarray(cg), (tw, th), interpolation=cv2.INTER_AREA)
                _, best, _, loc = cv2.minMaxLoc(_match(gs, t, tm))
                peaks.append((float(best), float(s), loc[0], loc[1], mirrored, kind))
                continue
            sw, sh = int(round((bw + 2 * pad_x) * s * f)), int(round((bh + 2 * pad_y) * s * f))
            if sw > like.shape[1] or sh > like.shape[0]:
                continue
            ts = cv2.resize(np.ascontiguousarray(sil), (sw, sh), interpolation=cv2.INTER_AREA)
            _, best, _, loc = cv2.minMaxLoc(_match(like, ts, None))
            peaks.append((float(best), float(s), round(loc[0] + pad_x * s * f), round(loc[1] + pad_y * s * f),
                          mirrored, kind))
        return peaks

    out: list[Location] = []

    def refine(peaks: list[tuple[float, float, int, int, bool, str]]) -> float:
        """Refine the best peaks into locations; the best refined correlation."""
        best_r = -1.0
        added = 0
        for _, s, lx, ly, mirrored, kind in _diverse(peaks, top_k * 2):
            cr = crop[:, ::-1] if mirrored else crop
            cm = cmask[:, ::-1] if mirrored else cmask
            loc = _refine(np.ascontiguousarray(cr), np.ascontiguousarray(cm), gen, s, lx / f, ly / f,
                          2.0 / f + 3, half_step)
            if loc is None:
                continue
            sc, tx, ty, r = loc
            best_r = max(best_r, r)
            m = _place(sc, tx, ty, box, mirrored)
            if any(np.abs(m - o.matrix).max() < 3 for o in out):
                continue
            out.append(Location(m, -1.0, kind))
            added += 1
            if added >= top_k or (stop_at is not None and r >= stop_at):
                break
        return best_r

    # cheapest first: the product as it is; mirrored and silhouette passes only when that fails
    if refine(coarse(False, "search")) >= settings.identity_accept:
        return out
    refine(coarse(True, "search"))
    refine(coarse(False, "silhouette") + coarse(True, "silhouette"))
    return out


def _diverse(peaks: list[tuple], n: int) -> list[tuple]:
    """The ``n`` best peaks, taking the best of each scale band first.

    Small templates correlate easily with any textured patch (a part of the product, or of the
    scene), so the best peaks tend to be small; the true, larger scale must still be refined.
    """
    ranked = sorted(peaks, reverse=True)
    bands: dict[int, tuple] = {}
    for p in ranked:
        bands.setdefault(int(np.floor(np.log(p[1]) / np.log(2.0))), p)
    first = sorted(bands.values(), reverse=True)
    rest = [p for p in ranked if p not in first]
    return (first + rest)[:n]


def _refine(crop: np.ndarray, cmask: np.ndarray, gen: np.ndarray, s: float, x: float, y: float,
            radius: float, half_step: float, side: int = 128) -> tuple[float, float, float, float] | None:
    """Best (scale, x, y, correlation) near a coarse peak, matched in colour.

    The match runs where the template's long side is at most ``side`` pixels: a large product
    is placed to within a pixel or two of the working frame, at a fraction of the cost.
    """
    best = None
    gh, gw = gen.shape[:2]
    r_f = min(1.0, side / max(1.0, s * max(crop.shape[:2])))
    g_small = gen if r_f == 1.0 else cv2.resize(gen, (max(1, round(gw * r_f)), max(1, round(gh * r_f))),
                                                 interpolation=cv2.INTER_AREA)
    sgh, sgw = g_small.shape[:2]
    for ds in np.geomspace(1 / half_step, half_step, 5):
        sc = s * ds
        tw, th = int(round(crop.shape[1] * sc * r_f)), int(round(crop.shape[0] * sc * r_f))
        if tw < 4 or th < 4 or tw > sgw or th > sgh:
            continue
        t = cv2.resize(crop, (tw, th), interpolation=cv2.INTER_AREA if sc * r_f < 1 else cv2.INTER_LINEAR)
        tm = cv2.resize(cmask, (tw, th), interpolation=cv2.INTER_NEAREST)
        if not tm.any():
            continue
        r = int(np.ceil(radius * r_f)) + 1
        cx, cy = x * r_f, y * r_f
        wx0, wy0 = max(0, int(cx) - r), max(0, int(cy) - r)
        wx1, wy1 = min(sgw, int(cx) + r + tw + 1), min(sgh, int(cy) + r + th + 1)
        win = g_small[wy0:wy1, wx0:wx1]
        if win.shape[0] < th or win.shape[1] < tw:
            continue
        _, v, _, loc = cv2.minMaxLoc(_match(win, t, tm))
        if best is None or v > best[3]:
            best = (sc, (wx0 + loc[0]) / r_f, (wy0 + loc[1]) / r_f, float(v))
    return best


def same_framing(o: tuple[int, ...], g: tuple[int, ...]) -> bool:
    """Whether two image shapes (height, width) have the same aspect ratio within 2 %: a product
    can then be at its own place, scaled with the frame."""
    return abs(g[1] / o[1] - g[0] / o[0]) < 0.02 * g[1] / o[1]


def _region(mask: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Box of the generated image around where ``matrix`` puts the product, with a margin of
    its own size on every side (a search's scale can be off by that much)."""
    x0, y0, x1, y1 = bbox(mask)
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ matrix.T
    (ax, ay), (bx, by) = corners.min(axis=0), corners.max(axis=0)
    w, h = bx - ax, by - ay
    gh, gw = shape
    return (max(0, int(ax - w)), max(0, int(ay - h)), min(gw, int(np.ceil(bx + w))), min(gh, int(np.ceil(by + h))))


def mask_proposals(original_mask: np.ndarray, generated_masks: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per generated mask, the transforms that put ``original_mask`` onto it, plain and mirrored:
    scaled by the square root of their area ratio, centroids aligned."""
    out: list[tuple[np.ndarray, np.ndarray]] = []
    m = cv2.moments(original_mask.astype(np.uint8), binaryImage=True)
    if m["m00"] == 0:
        return out
    cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    for g in generated_masks:
        gm = cv2.moments(g.astype(np.uint8), binaryImage=True)
        if gm["m00"] == 0:
            continue
        s = float(np.sqrt(gm["m00"] / m["m00"]))
        gx, gy = gm["m10"] / gm["m00"], gm["m01"] / gm["m00"]
        out.append((np.array([[s, 0.0, gx - s * cx], [0.0, s, gy - s * cy]]),
                    np.array([[-s, 0.0, gx + s * cx], [0.0, s, gy - s * cy]])))
    return out


def locate_product(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray, settings: ConsistencySettings,
                   cache: dict | None = None, alone: bool = False,
                   proposals: list[tuple[np.ndarray, np.ndarray]] | None = None) -> list[Location]:
    """Candidate locations of one product in the generated image, best score first.

    ``cache`` carries work shared by the products of one pair (the generated image's keypoints).
    ``alone``: the original has no other product, so a convincing place needs no alternatives
    for the one-to-one pairing (the search stops at the first). ``proposals``: (plain, mirrored)
    transforms onto objects a segmentation model found in the generated image
    (:func:`mask_proposals`); when one correlates convincingly, no search runs.
    """
    oh, ow = orig.shape[:2]
    gh, gw = gen.shape[:2]
    cands: list[Location] = []
    ident = None
    if same_framing((oh, ow), (gh, gw)):
        ident = similarity(gw / ow, 0.0, 0.0)
        cands.append(Location(ident, score_at(orig, mask, gen, ident, settings), "same_place"))
        if cands[0].score >= settings.identity_accept:
            return cands
    for plain, mirrored in proposals or ():
        a, b = score_at(orig, mask, gen, plain, settings), score_at(orig, mask, gen, mirrored, settings)
        # a symmetric product matches both ways: mirrored only when the pattern says so
        cands.append(Location(mirrored, b, "segmented") if b > a + 0.05 else Location(plain, a, "segmented"))
    if proposals and max(c.score for c in cands) >= settings.identity_accept:
        likelihood = colour_likelihood(orig, mask, gen)
        for c in cands:
            c.silhouette = silhouette_score(mask, likelihood, c.matrix)
        return sorted(cands, key=lambda c: -c.score)
    # the in-place shortcut only when the product convincingly is at its own place
    in_place = ident if cands and cands[0].score >= settings.locate_min_score else None
    likelihood = colour_likelihood(orig, mask, gen)
    found = template_search(orig, mask, gen, settings, identity=in_place, likelihood=likelihood,
                            stop_at=settings.identity_accept if alone else None)
    for loc in found:
        loc.score = score_at(orig, mask, gen, loc.matrix, settings)
        cands.append(loc)
    # keypoints cost most: only for products neither found in place nor convincingly elsewhere
    stays = in_place is not None and not found
    if not stays and max((c.score for c in cands), default=-1.0) < settings.identity_accept:
        # an enlarged look only helps where the searches place the product small
        small = sorted((c for c in cands if c.method != "same_place" and c.scale < settings.keypoint_zoom_below),
                       key=lambda c: -c.score)
        regions = list(dict.fromkeys(_region(mask, c.matrix, gen.shape[:2]) for c in small))
        for matrix, inliers, _, _, spread in keypoint_locations(orig, mask, gen, settings, cache,
                                                                regions[:settings.keypoint_zoom_regions]):
            cands.append(Location(matrix, score_at(orig, mask, gen, matrix, settings), "keypoints", inliers,
                                  spread=spread))
    for c in cands:
        c.silhouette = silhouette_score(mask, likelihood, c.matrix)
    cands.sort(key=lambda c: -c.score)
    return cands
