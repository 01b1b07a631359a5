"""Shape of a located product in the generated image: its own outline there, found with
GrabCut seeded by the original's outline, compared with that outline.

A generator that stretches, squeezes or re-proportions a product (a squat bottle, a wider
chair, a portrait print squeezed into a landscape frame) keeps its colours and much of its
texture; its outline does not fit any rescale of the original's. Grown parts (a pedestal,
legs, an awning) show as outline beyond the original's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from hfpc.consistency.locate import bbox


@dataclass
class ShapeMatch:
    """How the product's outline in the generated image compares with the expected one."""

    iou: float
    aspect_change: float
    """Relative change of width/height of the outline's box (0 = same proportions)."""
    outline: np.ndarray | None = field(default=None, repr=False)


def generated_outline(gen: np.ndarray, expected: np.ndarray, side: int = 128, seed: int = 0) -> np.ndarray:
    """The product's own outline near where it is expected, in the generated frame."""
    h, w = expected.shape
    x0, y0, x1, y1 = bbox(expected)
    mx, my = int(0.3 * (x1 - x0)) + 4, int(0.3 * (y1 - y0)) + 4
    bx0, by0, bx1, by1 = max(0, x0 - mx), max(0, y0 - my), min(w, x1 + mx), min(h, y1 + my)
    crop = gen[by0:by1, bx0:bx1]
    exp = expected[by0:by1, bx0:bx1].astype(np.uint8)
    f = min(1.0, side / max(crop.shape[:2]))
    size = (max(8, round(crop.shape[1] * f)), max(8, round(crop.shape[0] * f)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    e = cv2.resize(exp, size, interpolation=cv2.INTER_NEAREST)
    r = max(1, round(0.06 * np.sqrt(max(1, e.sum()))))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    gc = np.full(e.shape, cv2.GC_PR_BGD, np.uint8)
    gc[e > 0] = cv2.GC_PR_FGD
    gc[cv2.erode(e, k) > 0] = cv2.GC_FGD
    gc[[0, -1], :] = cv2.GC_BGD
    gc[:, [0, -1]] = cv2.GC_BGD
    if not (gc == cv2.GC_FGD).any():
        gc[e > 0] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(seed)
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
    fg = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    touching = np.unique(labels[(fg > 0) & (cv2.erode(e, k) > 0)])
    fg = np.isin(labels, touching[touching > 0]).astype(np.uint8)
    out = np.zeros((h, w), bool)
    out[by0:by1, bx0:bx1] = cv2.resize(fg, (bx1 - bx0, by1 - by0), interpolation=cv2.INTER_NEAREST) > 0
    return out


def match_shape(gen: np.ndarray, expected: np.ndarray) -> ShapeMatch:
    """Compare the expected outline (original's, transformed) with the one found there."""
    if expected.sum() < 64:
        return ShapeMatch(1.0, 0.0, None)
    found = generated_outline(gen, expected)
    if not found.any():
        return ShapeMatch(0.0, 1.0, found)
    iou = float((found & expected).sum() / (found | expected).sum())
    ex0, ey0, ex1, ey1 = bbox(expected)
    fx0, fy0, fx1, fy1 = bbox(found)
    a_exp = (ex1 - ex0) / max(1, ey1 - ey0)
    a_found = (fx1 - fx0) / max(1, fy1 - fy0)
    return ShapeMatch(iou, float(abs(np.log(a_found / a_exp))), found)
