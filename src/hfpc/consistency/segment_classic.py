"""Product masks of an original image without weights: alpha, else border model + GrabCut."""

from __future__ import annotations

import cv2
import numpy as np

from hfpc.consistency.config import ConsistencySettings


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)


def foreground_from_border(rgb: np.ndarray, settings: ConsistencySettings) -> tuple[np.ndarray, bool]:
    """Foreground mask from a background colour model of the image border, plus an ambiguity flag.

    Pixels close to the border's median colour and connected to the border are background;
    everything else (holes such as white labels included) is product.
    """
    lab = _lab(rgb)
    h, w = rgb.shape[:2]
    b = max(2, min(h, w) // 100)
    border = np.concatenate([lab[:b].reshape(-1, 3), lab[-b:].reshape(-1, 3),
                             lab[:, :b].reshape(-1, 3), lab[:, -b:].reshape(-1, 3)])
    bg = np.median(border, axis=0)
    spread = float(np.percentile(np.linalg.norm(border - bg, axis=1), 90))
    dist = np.linalg.norm(lab - bg, axis=2)
    t = settings.background_delta + spread
    bg_like = (dist <= t).astype(np.uint8)
    n, labels = cv2.connectedComponents(bg_like, connectivity=4)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    edge_labels = edge_labels[edge_labels > 0]
    background = np.isin(labels, edge_labels)
    # enclosed regions of the border's own colour are holes (a bag's handle), not print
    for lab_id in range(1, n):
        if lab_id in edge_labels:
            continue
        region = labels == lab_id
        if region.sum() > 0.0005 * h * w and float(np.median(dist[region])) < 0.4 * t:
            background |= region
    fg = (~background).astype(np.uint8)
    k = max(3, (min(h, w) // 150) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    near = (dist > t * 0.5) & (dist < t * 2.0)
    edge_band = cv2.dilate(fg, kernel, iterations=2) != cv2.erode(fg, kernel, iterations=2)
    ambiguous = spread > settings.background_delta or (
        edge_band.sum() > 0 and (near & edge_band).sum() / edge_band.sum() > 0.6)
    return fg.astype(bool), bool(ambiguous)


def refine_grabcut(rgb: np.ndarray, fg: np.ndarray, side: int = 160) -> np.ndarray:
    """Refine a rough mask with GrabCut on a downscaled copy (GrabCut costs ~2 s at 512²)."""
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
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
    refined = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    up = cv2.resize(refined, (w, h), interpolation=cv2.INTER_LINEAR) > 0
    # keep the full-resolution boundary where both agree, GrabCut's decision elsewhere
    band = cv2.dilate(fg.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return up & band


def split_products(fg: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Connected components of a foreground mask, small holes filled, largest first."""
    h, w = fg.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    order = sorted(range(1, n), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    out = []
    for i in order:
        if stats[i, cv2.CC_STAT_AREA] < min_area * h * w:
            continue
        comp = labels == i
        holes = ~comp
        hn, hl, hs, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=4)
        small = [j for j in range(1, hn) if hs[j, cv2.CC_STAT_AREA] < 0.01 * stats[i, cv2.CC_STAT_AREA]]
        out.append(comp | np.isin(hl, small))
    return out


def segment_original(rgb: np.ndarray, mask: np.ndarray | None,
                     settings: ConsistencySettings) -> tuple[list[np.ndarray], str]:
    """Masks of each product in an original, and how they were obtained (for the Verdict)."""
    if mask is not None:
        return split_products(mask, settings.min_product_area), "mask"
    fg, ambiguous = foreground_from_border(rgb, settings)
    source = "border"
    if settings.grabcut == "always" or (settings.grabcut == "auto" and ambiguous):
        fg = refine_grabcut(rgb, fg)
        source = "border+grabcut"
    return split_products(fg, settings.min_product_area), source
