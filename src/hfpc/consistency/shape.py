"""Shape of a located product in the generated image: its own outline there, found with
GrabCut seeded by the original's outline, compared with that outline.

A generator that stretches, squeezes or re-proportions a product (a squat bottle, a wider
chair, a portrait print squeezed into a landscape frame) keeps its colours and much of its
texture; its outline does not fit any rescale of the original's. Grown parts (a pedestal,
legs, an awning) show as outline beyond the original's.

A product partly hidden (sunk into water or sand, cut by the frame) is shorter on one side
only, and what is left still fits the original's outline at one uniform scale, cut there; a
stretched or squeezed one fits the original's outline stretched to its box better.
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
    hidden_side: str | None = None
    """The side on which the product is hidden (cut), when that explains its outline; ``iou`` and
    ``aspect_change`` are then measured against the expected outline cut there."""


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
    # the window's edge is background, except where it is the frame's (a product cut by the frame)
    # (and everywhere when nothing else would be background: a product filling the frame)
    nothing_else = not (e == 0).any()
    for edge, inside in ((np.s_[0, :], by0 > 0), (np.s_[-1, :], by1 < h),
                         (np.s_[:, 0], bx0 > 0), (np.s_[:, -1], bx1 < w)):
        if inside or nothing_else:
            gc[edge] = cv2.GC_BGD
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


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _aspect_change(a: np.ndarray, b: np.ndarray) -> float:
    ax0, ay0, ax1, ay1 = bbox(a)
    bx0, by0, bx1, by1 = bbox(b)
    return float(abs(np.log(((ax1 - ax0) / max(1, ay1 - ay0)) / ((bx1 - bx0) / max(1, by1 - by0)))))


def bottom_cut_fit(found: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray | None, float]:
    """``expected`` rescaled uniformly to the width of ``found``, top-aligned and cut at its
    bottom (a hidden base), and the overlap of ``found`` with ``expected`` stretched to its box
    (changed proportions).

    The cut is only a hypothesis where it hides something: where ``found`` is not relatively
    shorter than ``expected``, there is no cut outline (None).
    """
    fx0, fy0, fx1, fy1 = bbox(found)
    ex0, ey0, ex1, ey1 = bbox(expected)
    sx, sy = (fx1 - fx0) / max(1, ex1 - ex0), (fy1 - fy0) / max(1, ey1 - ey0)
    e = expected.astype(np.uint8)
    size = (found.shape[1], found.shape[0])
    stretch = cv2.warpAffine(e, np.float32([[sx, 0, fx0 - sx * ex0], [0, sy, fy0 - sy * ey0]]), size,
                             flags=cv2.INTER_NEAREST) > 0
    if sx <= sy:
        return None, _iou(found, stretch)
    cut = cv2.warpAffine(e, np.float32([[sx, 0, fx0 - sx * ex0], [0, sx, fy0 - sx * ey0]]), size,
                         flags=cv2.INTER_NEAREST) > 0
    cut[fy1:] = False
    return cut, _iou(found, stretch)


def hidden_side(found: np.ndarray, expected: np.ndarray, min_iou: float,
                margin: float) -> tuple[str, float, float] | None:
    """The side on which ``found`` is ``expected`` cut, with the overlap and aspect change
    against the cut outline, if any.

    The bottom is always a candidate (a product sunk into water, sand or snow, or behind a
    foreground edge); another side only where ``found`` reaches the frame there. The cut must fit
    at least ``min_iou`` and beat the stretched fit by ``margin``: a squeezed product fits its
    stretched outline at least as well, a hidden one does not.
    """
    h, w = found.shape
    x0, y0, x1, y1 = bbox(found)
    # rotations that bring each side to the bottom
    sides = {"bottom": 0, "left": 1, "top": 2, "right": 3}
    at_frame = {"bottom": y1 >= h, "left": x0 <= 0, "top": y0 <= 0, "right": x1 >= w}
    best = None
    for side, turns in sides.items():
        if side != "bottom" and not at_frame[side]:
            continue
        f = np.rot90(found, turns)
        cut, stretch = bottom_cut_fit(f, np.rot90(expected, turns))
        if cut is None or not cut.any():
            continue
        iou = _iou(f, cut)
        if iou >= min_iou and iou >= stretch + margin and (best is None or iou > best[1]):
            best = (side, iou, _aspect_change(f, cut))
    return best


def match_shape(gen: np.ndarray, expected: np.ndarray, max_aspect_change: float | None = None,
                min_iou: float = 0.0, cut_margin: float | None = None) -> ShapeMatch:
    """Compare the expected outline (original's, transformed) with the one found there.

    With ``cut_margin``, an outline off in proportions (beyond ``max_aspect_change``) or in
    overlap (below ``min_iou``) is tested for a hidden side (:func:`hidden_side`); where one
    explains it, the measures are taken against the expected outline cut there.
    """
    if expected.sum() < 64:
        return ShapeMatch(1.0, 0.0, None)
    found = generated_outline(gen, expected)
    if not found.any():
        return ShapeMatch(0.0, 1.0, found)
    iou, aspect = _iou(found, expected), _aspect_change(found, expected)
    off = (max_aspect_change is not None and aspect > max_aspect_change) or iou < min_iou
    if cut_margin is not None and off:
        hidden = hidden_side(found, expected, min_iou, cut_margin)
        if hidden is not None:
            return ShapeMatch(hidden[1], hidden[2], found, hidden_side=hidden[0])
    return ShapeMatch(iou, aspect, found)
