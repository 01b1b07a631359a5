"""Product masks of an original image without weights: a given mask, else a border colour model.

The border of a product photo shows its backdrop. Its colours (a small palette, so a wall and a
floor both count) define "background"; everything connected to the border in those colours is
background, and so is every enclosed region of those colours, whatever its size (the gap in a
chair back or a mug handle shows the old backdrop, which a generator repaints). GrabCut refines
the mask when the model is ambiguous. Components too small beside the main product (headline
text, price tags, badges, specks) are not products.
"""

from __future__ import annotations

import cv2
import numpy as np

from hfpc.consistency.config import ConsistencySettings


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)


def border_pixels(lab: np.ndarray) -> np.ndarray:
    """Lab colours of a thin frame around the image."""
    h, w = lab.shape[:2]
    b = max(2, min(h, w) // 100)
    return np.concatenate([lab[:b].reshape(-1, 3), lab[-b:].reshape(-1, 3),
                           lab[:, :b].reshape(-1, 3), lab[:, -b:].reshape(-1, 3)])


def border_palette(border: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``k`` backdrop colours, each one's spread (90th percentile distance) and share."""
    data = border[:: max(1, len(border) // 4000)].astype(np.float32)
    k = max(1, min(k, len(data) // 20))
    if k == 1:
        centres = np.median(data, axis=0, keepdims=True)
    else:
        cv2.setRNGSeed(0)
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
        _, lab_ids, centres = cv2.kmeans(data, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
        lab_ids = lab_ids.ravel()
        # drop colours that only a few border pixels have (the product touching the frame)
        keep = [i for i in range(k) if (lab_ids == i).mean() >= 0.04]
        centres = centres[keep]
    d = np.linalg.norm(data[:, None, :] - centres[None], axis=2)
    nearest = d.argmin(axis=1)
    spread = np.array([np.percentile(d[nearest == i, i], 90) if (nearest == i).any() else 0.0
                       for i in range(len(centres))], np.float32)
    share = np.bincount(nearest, minlength=len(centres)) / len(nearest)
    return centres.astype(np.float32), spread, share


def background_distance(lab: np.ndarray, centres: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Per pixel: distance to the nearest backdrop colour, less that colour's own spread."""
    planes = cv2.split(np.ascontiguousarray(lab, np.float32))
    best = np.full(lab.shape[:2], np.inf, np.float32)
    for c, s in zip(centres, spread):
        d2 = cv2.pow(planes[0] - np.float32(c[0]), 2)
        d2 += cv2.pow(planes[1] - np.float32(c[1]), 2)
        d2 += cv2.pow(planes[2] - np.float32(c[2]), 2)
        np.minimum(best, cv2.sqrt(d2) - np.float32(s), out=best)
    return np.maximum(best, 0, out=best)


def foreground_from_border(rgb: np.ndarray,
                           settings: ConsistencySettings) -> tuple[np.ndarray, bool, np.ndarray, bool]:
    """Foreground mask from the border's colour model, an ambiguity flag, the holes found, and
    whether the border is a scene rather than a backdrop (its colours vary too much).

    Pixels of a backdrop colour connected to the border are background, and so are enclosed
    regions whose colour matches the backdrop closely (see-through holes). Product pixels of a
    colour near the backdrop but not matching it (a white label on a white product) stay.
    """
    lab = _lab(rgb)
    h, w = rgb.shape[:2]
    centres, raw_spread, share = border_palette(border_pixels(lab), settings.border_colours)
    scene = float((np.minimum(raw_spread, 3 * settings.background_delta) * share).sum()) > settings.scene_spread
    spread = np.minimum(raw_spread, settings.background_delta)
    dist = background_distance(lab, centres, spread)
    t = settings.background_delta
    bg_like = (dist <= t).astype(np.uint8)
    n, labels = cv2.connectedComponents(bg_like, connectivity=4)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    edge_labels = edge_labels[edge_labels > 0]
    background = np.isin(labels, edge_labels)
    # enclosed regions of the backdrop's colour are holes, however small
    med = _region_medians(dist, np.where(background, 0, labels), n)
    hole_ids = [i for i in range(1, n) if i not in set(edge_labels.tolist())
                and med[i] < settings.hole_match * t]
    holes = np.isin(labels, hole_ids)
    background |= holes
    fg = (~background).astype(np.uint8)
    k = max(3, (min(h, w) // 150) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    fg[holes] = 0  # closing must not bridge a see-through gap
    near = (dist > t * 0.5) & (dist < t * 2.0)
    edge_band = cv2.dilate(fg, kernel, iterations=2) != cv2.erode(fg, kernel, iterations=2)
    ambiguous = float(spread.max()) >= settings.background_delta or (
        edge_band.sum() > 0 and (near & edge_band).sum() / edge_band.sum() > 0.6)
    return fg.astype(bool), bool(ambiguous), holes, scene


def _region_medians(dist: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Median of ``dist`` over each labelled region (index = label; label 0 is not measured)."""
    inside = labels.ravel() > 0
    lab = labels.ravel()[inside]
    d = dist.ravel()[inside]
    order = np.argsort(lab, kind="stable")
    lab_sorted = lab[order]
    d_sorted = d[order]
    starts = np.searchsorted(lab_sorted, np.arange(n + 1))
    med = np.full(n, np.inf, np.float32)
    for i in range(1, n):
        a, b = starts[i], starts[i + 1]
        if b > a:
            med[i] = float(np.median(d_sorted[a:b]))
    return med


def refine_grabcut(rgb: np.ndarray, fg: np.ndarray, keep_out: np.ndarray | None = None,
                   side: int = 160, seed: int = 0) -> np.ndarray:
    """Refine a rough mask with GrabCut on a downscaled copy (GrabCut costs ~2 s at 512²).

    GrabCut draws from OpenCV's global random generator; it is seeded so that the same image
    gives the same mask alone or in a batch. ``keep_out`` (see-through holes) stays background.
    """
    h, w = fg.shape
    f = min(1.0, side / max(h, w))
    small = cv2.resize(rgb, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
    m = cv2.resize(fg.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    if m.sum() == 0 or m.all():
        return fg
    k = np.ones((3, 3), np.uint8)
    gc = np.where(m > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    gc[cv2.erode(m, k, iterations=2) > 0] = cv2.GC_FGD
    gc[cv2.dilate(m, k, iterations=3) == 0] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(seed)
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
    refined = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    up = cv2.resize(refined, (w, h), interpolation=cv2.INTER_LINEAR) > 0
    # keep the full-resolution boundary where both agree, GrabCut's decision elsewhere
    band = cv2.dilate(fg.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    out = up & band
    if keep_out is not None:
        out &= ~keep_out
    return out


def split_products(fg: np.ndarray, settings: ConsistencySettings,
                   holes: np.ndarray | None = None) -> list[np.ndarray]:
    """Connected components that are products, largest first; small non-hole gaps filled.

    Parts inside a larger part's convex hull join it first (see :func:`_merge_enclosed`). A
    product then covers ``min_product_area`` of the image and at least ``min_part_share`` of
    the largest: text, badges and specks beside a product are not products. Holes that show
    the backdrop (``holes``) are never filled.
    """
    h, w = fg.shape
    # BBDT: the labels and stats of OpenCV's default 8-connected labelling, in raster order, faster on
    # one core for a few large parts
    n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(fg.astype(np.uint8), 8, cv2.CV_32S,
                                                                         cv2.CCL_BBDT)
    order = sorted(range(1, n), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    if not order:
        return []
    # specks too small to matter anywhere are not looked at (a hull test per speck is costly)
    floor = 0.01 * stats[order[0], cv2.CC_STAT_AREA]
    parts = _merge_enclosed([labels == i for i in order if stats[i, cv2.CC_STAT_AREA] >= floor],
                            settings.enclosed_share)
    areas = [int(p.sum()) for p in parts]
    largest = max(areas)
    out = []
    for comp, area in sorted(zip(parts, areas), key=lambda x: -x[1]):
        if area < settings.min_product_area * h * w or area < settings.min_part_share * largest:
            continue
        gaps = ~comp
        hn, hl, hs, _ = cv2.connectedComponentsWithStats(gaps.astype(np.uint8), connectivity=4)
        small = [j for j in range(1, hn) if hs[j, cv2.CC_STAT_AREA] < 0.01 * area]
        filled = comp | np.isin(hl, small)
        if holes is not None:
            filled &= ~holes
        out.append(filled)
    return out


def _merge_enclosed(parts: list[np.ndarray], share: float) -> list[np.ndarray]:
    """Parts lying within a larger part's convex hull belong to it (a toaster's slots, a window
    of a box cut off by a band of the backdrop's colour), largest first."""
    out: list[np.ndarray] = []
    first: list[np.ndarray] = []
    hulls: list[np.ndarray | None] = []
    for part in parts:
        for k, hull in enumerate(hulls):
            if hull is None:
                pts = cv2.findNonZero(first[k].astype(np.uint8))
                hull = np.zeros(part.shape, np.uint8)
                cv2.fillConvexPoly(hull, cv2.convexHull(pts), 1)
                hulls[k] = hull = hull > 0
            if (part & hull).sum() >= share * part.sum():
                out[k] = out[k] | part
                break
        else:
            out.append(part)
            first.append(part)
            hulls.append(None)  # drawn when a later part needs it
    return out


def scene_foreground(rgb: np.ndarray, fg: np.ndarray, holes: np.ndarray, side: int = 160,
                     seed: int = 0) -> np.ndarray:
    """The main object of a photo whose border is a scene, not a backdrop (GrabCut, seeded).

    The frame is background, the border model's foreground near the centre is probable
    product, everything else probable background; GrabCut then learns both colour models.
    """
    h, w = fg.shape
    f = min(1.0, side / max(h, w))
    sw, sh = max(8, int(w * f)), max(8, int(h * f))
    small = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
    m = cv2.resize(fg.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    yy, xx = np.mgrid[0:sh, 0:sw]
    central = (np.abs(xx - sw / 2) < 0.35 * sw) & (np.abs(yy - sh / 2) < 0.35 * sh)
    gc[m & central] = cv2.GC_PR_FGD
    gc[(np.abs(xx - sw / 2) < 0.1 * sw) & (np.abs(yy - sh / 2) < 0.1 * sh)] = cv2.GC_PR_FGD
    b = max(1, round(0.02 * min(sw, sh)))
    gc[:b], gc[-b:], gc[:, :b], gc[:, -b:] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(seed)
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    refined = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    out = cv2.resize(refined, (w, h), interpolation=cv2.INTER_LINEAR) > 0
    return out & ~holes


class ClassicSegmenter:
    """The weight-free backend: a given mask, else the border colour model (+ GrabCut)."""

    def __init__(self, settings: ConsistencySettings) -> None:
        self.settings = settings

    def segment(self, rgb: np.ndarray, mask: np.ndarray | None) -> tuple[list[np.ndarray], str]:
        """One mask per product, largest first, and how they were obtained."""
        s = self.settings
        if mask is not None:
            return split_products(mask, s), "mask"
        fg, ambiguous, holes, scene = foreground_from_border(rgb, s)
        source = "border"
        share = float(fg.mean())
        if scene or share < s.scene_min_share or share > s.scene_max_share:
            fg = scene_foreground(rgb, fg, holes, side=s.scene_grabcut_side)
            return split_products(fg, s, holes), "scene+grabcut"
        if s.grabcut == "always" or (s.grabcut == "auto" and ambiguous):
            fg = refine_grabcut(rgb, fg, keep_out=holes)
            source = "border+grabcut"
        return split_products(fg, s, holes), source


def segment_original(rgb: np.ndarray, mask: np.ndarray | None,
                     settings: ConsistencySettings) -> tuple[list[np.ndarray], str]:
    """Masks of each product in an original with the classic backend, and how they were found."""
    return ClassicSegmenter(settings).segment(rgb, mask)
