"""A picture of where products changed: ΔE heat inside each located product, outlines, growth."""

from __future__ import annotations

import cv2
import numpy as np

from hfpc.consistency.analyze import ConsistencyReport


def render_heatmap(report: ConsistencyReport, max_delta_e: float = 40.0) -> np.ndarray:
    """RGB image: the generated image dimmed, ΔE2000 heat over products, green/red outlines.

    Growth outside a product's outline is tinted magenta; a product that was not found is
    drawn at its original place with a dashed red box.
    """
    g = report.generated.astype(np.float32) * 0.55
    h, w = g.shape[:2]
    for p in report.products:
        if p.location is None or p.comparison is None or p.comparison.delta_e_map is None:
            continue
        c = p.comparison
        x0, y0, x1, y1 = c.box
        heat = np.zeros((h, w), np.float32)
        m = (c.matrix if c.matrix is not None else p.location.matrix).copy()
        m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
        heat = cv2.warpAffine(np.clip(c.delta_e_map / max_delta_e, 0, 1), m, (w, h), flags=cv2.INTER_LINEAR)
        colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1].astype(np.float32)
        inside = p.located_mask if p.located_mask is not None else heat > 0
        a = np.where(inside, 0.85 * heat, 0.0)[..., None]
        base = report.generated.astype(np.float32)
        g = np.where(inside[..., None], base * (1 - a) + colour * a, g)
        if p.grown_mask is not None and p.grown_mask.any():
            g[p.grown_mask] = g[p.grown_mask] * 0.4 + np.array([255, 0, 255], np.float32) * 0.6
    out = np.clip(g, 0, 255).astype(np.uint8)
    for p in report.products:
        colour = (40, 220, 60) if p.passed else (230, 30, 30)
        if p.located_mask is not None:
            contours, _ = cv2.findContours(p.located_mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(out, contours, -1, colour, 2, cv2.LINE_AA)
            if contours:
                x, y, _, _ = cv2.boundingRect(np.vstack(contours))
                cv2.putText(out, str(p.index + 1), (x + 3, max(14, y - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.5, colour, 1, cv2.LINE_AA)
    return out
