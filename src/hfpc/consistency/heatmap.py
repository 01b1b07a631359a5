"""A picture of where products changed: ΔE heat inside each located product, outlines, growth.

The ``consistency`` check writes it as a small JPEG next to the results (``HEATMAP_SUFFIX``,
long side ``HEATMAP_MAX_SIDE`` px): a reviewer's thumbnail needs no more, and a full-size PNG of a
textured image costs more to encode than the analysis itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from hfpc.consistency.analyze import ConsistencyReport, ProductReport
from hfpc.consistency.locate import pixels

HEATMAP_MAX_SIDE = 320
"""Long side, in pixels, of the heatmap the check writes (smaller images are not enlarged)."""
HEATMAP_SUFFIX = ".jpg"
"""File type of the heatmap the check writes."""
HEATMAP_QUALITY = 80
"""JPEG/WebP quality of written heatmaps."""


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if mask.shape[::-1] == size:
        return mask
    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0


def _crop_to_generated(p: ProductReport, shape: tuple[int, int]) -> np.ndarray:
    """2×3 transform from the pixels of ``p.comparison.delta_e_map`` to the analysed generated image.

    The map covers the product's bounding box in the original, possibly at a reduced scale; the
    comparison's own matrix may lead to a rescaled copy of the generated image. The product's
    location (original → generated) is exact, so the box is found in the original by mapping the
    located outline back, and only its scale and offset are taken from the map. When the outline
    is cut by the image border, the comparison's matrix is used as it is.
    """
    c = p.comparison
    assert c is not None and c.delta_e_map is not None and p.location is not None
    x0, y0, _, _ = c.box
    m = (c.matrix if c.matrix is not None else p.location.matrix).astype(np.float64)
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
    located = p.located_mask
    if located is None or not located.any():
        return m
    h, w = shape
    lx, ly, lw, lh = cv2.boundingRect(located.astype(np.uint8))
    if lx <= 0 or ly <= 0 or lx + lw >= w or ly + lh >= h:
        return m
    loc = np.vstack([p.location.matrix.astype(np.float64), [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(loc)[:2]
    contours, _ = cv2.findContours(located.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    pts = np.vstack([c_.reshape(-1, 2) for c_ in contours]).astype(np.float64)  # pixel centres
    back = pts @ inv[:, :2].T + inv[:, 2]
    (bx0, by0), (bx1, by1) = back.min(0), back.max(0)  # the outermost pixels' centres in the original
    mh, mw = c.delta_e_map.shape
    ox, oy = (bx1 - bx0 + 1) / mw, (by1 - by0 + 1) / mh  # original pixels per map pixel
    crop = np.array([[ox, 0.0, bx0 - 0.5 + 0.5 * ox], [0.0, oy, by0 - 0.5 + 0.5 * oy], [0.0, 0.0, 1.0]])
    return (loc @ crop)[:2]


def render_heatmap(report: ConsistencyReport, max_delta_e: float = 40.0,
                   max_side: int | None = None) -> np.ndarray:
    """RGB image: the generated image dimmed, ΔE2000 heat over products, green/red outlines.

    Growth outside a product's outline is tinted magenta; a product that was not found is drawn
    with a dashed red outline where it should be (its ``expected_mask``, when known). The picture has the size of the
    analysed generated image, or is shrunk to a long side of ``max_side`` px (drawn at that
    size directly, which is cheaper than drawing large and shrinking).
    """
    gen = report.generated
    h0, w0 = gen.shape[:2]
    f = 1.0 if max_side is None else min(1.0, max_side / max(h0, w0))
    if f < 1.0:
        w, h = max(1, round(w0 * f)), max(1, round(h0 * f))
        gen = cv2.resize(gen, (w, h), interpolation=cv2.INTER_AREA)
        sx, sy = w / w0, h / h0
    else:
        h, w, sx, sy = h0, w0, 1.0, 1.0
    out = cv2.convertScaleAbs(gen, alpha=0.55)
    outlines: list[tuple[np.ndarray, int, bool, bool]] = []
    for p in report.products:
        located = None if p.located_mask is None else _resize_mask(p.located_mask, (w, h))
        if located is not None:
            outlines.append((located, p.index, p.passed, False))
        expected = getattr(p, "expected_mask", None)
        if located is None and expected is not None and expected.any():
            outlines.append((_resize_mask(expected, (w, h)), p.index, False, True))
        if p.location is None or p.comparison is None or p.comparison.delta_e_map is None:
            continue
        m = _crop_to_generated(p, report.generated.shape[:2]).copy()
        m[0] *= sx  # generated → picture
        m[1] *= sy
        heat = cv2.warpAffine(p.comparison.delta_e_map.astype(np.float32) * (1.0 / max_delta_e), m, (w, h),
                              flags=cv2.INTER_LINEAR)
        np.clip(heat, 0, 1, out=heat)
        inside = located if located is not None else heat > 0
        a = (0.85 * pixels(heat, inside))[:, None]
        colour = pixels(cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET), inside)[:, ::-1]
        out[inside] = (pixels(gen, inside) * (1 - a) + colour * a).astype(np.uint8)
        if p.grown_mask is not None and p.grown_mask.any():
            grown = _resize_mask(p.grown_mask, (w, h))
            out[grown] = out[grown] * 0.4 + np.array([255, 0, 255], np.float32) * 0.6
    thick = 2 if max(h, w) >= 256 else 1
    for located, index, passed, dashed in outlines:
        colour = (40, 220, 60) if passed else (230, 30, 30)
        simple = cv2.CHAIN_APPROX_NONE if dashed else cv2.CHAIN_APPROX_SIMPLE
        contours, _ = cv2.findContours(located.astype(np.uint8), cv2.RETR_EXTERNAL, simple)
        if dashed:
            dash = max(4, max(h, w) // 64)
            for c in contours:
                for i in range(0, len(c), 2 * dash):
                    cv2.polylines(out, [c[i:i + dash + 1]], False, colour, thick, cv2.LINE_AA)
        else:
            cv2.drawContours(out, contours, -1, colour, thick, cv2.LINE_AA)
        if contours:
            x, y, _, _ = cv2.boundingRect(np.vstack(contours))
            cv2.putText(out, str(index + 1), (x + 3, max(14, y - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5, colour, 1, cv2.LINE_AA)
    return out


def encode_heatmap(rgb: np.ndarray, suffix: str = HEATMAP_SUFFIX, quality: int = HEATMAP_QUALITY) -> bytes:
    """The bytes of an RGB picture as a ``.jpg``, ``.webp`` or ``.png`` file (PNG: fast compression)."""
    ext = suffix.lower()
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif ext == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    elif ext == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    else:
        raise ValueError(f"unsupported heatmap type {suffix!r} (use .jpg, .webp or .png)")
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:
        raise ValueError(f"could not encode a {rgb.shape} picture as {ext}")
    return buf.tobytes()


def write_heatmap(path: str | os.PathLike[str], rgb: np.ndarray, quality: int = HEATMAP_QUALITY) -> Path:
    """Write a picture atomically (temporary file, then rename); the suffix of ``path`` picks the type."""
    p = Path(path)
    data = encode_heatmap(rgb, p.suffix, quality)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, p)
    return p
