"""Pair products of the original with regions of the generated image, one to one.

Candidate locations of all products are merged into regions (boxes overlapping by IoU > 0.5 are
one region); the Hungarian assignment then pairs products and regions by correlation, IoU with
the product's own box and positional distance, so no region serves two products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hfpc.consistency.locate import Location, bbox

UNMATCHABLE = 1e6


@dataclass
class Pairing:
    """The location chosen for a product, or ``None`` if it has no counterpart."""

    product: int
    location: Location | None
    cost: float


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def mapped_box(mask: np.ndarray, matrix: np.ndarray) -> tuple[float, float, float, float]:
    """Bounding box of ``mask``'s box corners after the transform ``matrix`` (mirror, rotation)."""
    x0, y0, x1, y1 = bbox(mask)
    p = matrix @ np.array([[x0, x1, x0, x1], [y0, y0, y1, y1], [1, 1, 1, 1]], np.float64)
    return float(p[0].min()), float(p[1].min()), float(p[0].max()), float(p[1].max())


def assign(masks: list[np.ndarray], candidates: list[list[Location]], same_place: np.ndarray,
           min_score: float, distance_weight: float = 0.3, iou_weight: float = 0.3,
           min_inliers: int | None = None, min_silhouette: float | None = None) -> list[Pairing]:
    """One-to-one pairing of products with candidate regions (see module docstring).

    A candidate takes part when its correlation reaches ``min_score`` or, for a keypoint
    location, its inliers reach ``min_inliers``, or its silhouette score reaches
    ``min_silhouette`` (a re-rendered or flat product correlates less).
    """

    def other_evidence(loc: Location) -> bool:
        return bool((min_inliers is not None and loc.inliers >= min_inliers)
                    or (min_silhouette is not None and loc.silhouette >= min_silhouette))

    regions: list[tuple[float, float, float, float]] = []
    entries: list[tuple[int, int, Location]] = []
    for i, (mask, cands) in enumerate(zip(masks, candidates)):
        for loc in cands:
            if loc.score < min_score and not other_evidence(loc):
                continue
            box = mapped_box(mask, loc.matrix)
            r = next((k for k, rb in enumerate(regions) if box_iou(rb, box) > 0.5), None)
            if r is None:
                regions.append(box)
                r = len(regions) - 1
            entries.append((i, r, loc))
    pairings = [Pairing(i, None, UNMATCHABLE) for i in range(len(masks))]
    if not regions:
        return pairings
    cost = np.full((len(masks), len(regions)), UNMATCHABLE)
    chosen: dict[tuple[int, int], Location] = {}
    for i, r, loc in entries:
        own = mapped_box(masks[i], same_place)
        diag = np.hypot(own[2] - own[0], own[3] - own[1]) + 1e-9
        rb = regions[r]
        dist = np.hypot((rb[0] + rb[2] - own[0] - own[2]) / 2, (rb[1] + rb[3] - own[1] - own[3]) / 2)
        # correlation and silhouette together: a part of the product (or of the scene) can
        # correlate well at a small scale while its colours do not fill the product's outline
        evidence = (loc.score + max(loc.score, loc.silhouette)) / 2 if loc.silhouette > -1 else loc.score
        if min_silhouette is not None and loc.silhouette >= min_silhouette:
            evidence = max(evidence, (loc.silhouette + max(loc.score, 0.0)) / 2, min_score)
        if min_inliers is not None and loc.inliers >= min_inliers:
            evidence = max(evidence, 0.5 + 0.5 * min(1.0, loc.inliers / (3 * min_inliers)))
        c = (1 - evidence) + iou_weight * (1 - box_iou(own, rb)) + distance_weight * min(1.0, dist / diag)
        if c < cost[i, r]:
            cost[i, r] = c
            chosen[(i, r)] = loc
    if len(masks) == 1:
        # one product: the assignment is its cheapest region (and scipy.optimize, slow to import,
        # is not needed)
        rows, cols = np.array([0]), np.array([int(np.argmin(cost[0]))])
    else:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(cost)
    for i, r in zip(rows, cols):
        if cost[i, r] < UNMATCHABLE:
            pairings[i] = Pairing(int(i), chosen[(i, r)], float(cost[i, r]))
    return pairings
