"""Offline OCR for the ``text`` check: PP-OCR's detector and recogniser on ONNX Runtime.

The models ship inside the ``rapidocr`` wheel (the ``hfpc[ocr]`` extra), so nothing is downloaded;
:mod:`hfpc.ppocr` runs them the way RapidOCR does. One engine is created lazily per process and
runs on one ONNX Runtime thread: the batch runner already uses one process per core. The detector
is the expensive part, so it runs only on the regions that a cheap gradient test marks as
text-like (see :func:`text_candidates`), and the recogniser only on what the detector found.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from hfpc.ppocr import DET_MODEL, PPOCR, REC_MODEL, crop_quad, models_dir

log = logging.getLogger(__name__)

OCR_MISSING = "OCR is not installed: pip install 'hfpc[ocr]'"
"""What the ``text`` check says when ``rapidocr`` (or ``onnxruntime``) cannot be imported."""

_ENGINE: PPOCR | None = None
_LOCK = threading.Lock()


def ocr_missing() -> str | None:
    """None when OCR can run here, else a sentence that says what to install (and why it failed)."""
    try:
        for name in ("onnxruntime", "rapidocr", "pyclipper", "shapely"):
            importlib.import_module(name)
    except ImportError as e:
        return f"{OCR_MISSING} ({e})"
    root = models_dir()
    for name in (DET_MODEL, REC_MODEL):
        if root is None or not (root / name).is_file():
            return f"{OCR_MISSING} (the installed rapidocr has no {name}: pip install -U rapidocr)"
    return None


def get_engine() -> PPOCR:
    """The process's OCR engine, created on first use (one ONNX Runtime thread; models load on first use).

    Raises ImportError with :data:`OCR_MISSING` when the ``ocr`` extra is not installed.
    """
    global _ENGINE
    if _ENGINE is not None:
        return _ENGINE
    with _LOCK:
        if _ENGINE is None:
            missing = ocr_missing()
            if missing is not None:
                raise ImportError(missing)
            _ENGINE = PPOCR(threads=1)
    return _ENGINE


@dataclass
class TextBox:
    """One line of text: its outline (4 corners, pixels of the image it was read in) and reading."""

    quad: np.ndarray
    det_score: float
    text: str = ""
    confidence: float = 0.0
    read: bool = False
    """True once the recogniser has read the line (``text`` and ``confidence`` are then set)."""

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounds (x0, y0, x1, y1) in pixels."""
        (x0, y0), (x1, y1) = self.quad.min(0), self.quad.max(0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def height(self) -> float:
        """Height of the line (the short side of its outline): about the height of its glyphs."""
        q = self.quad
        return float(min(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2]),
                         np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[2] - q[3])))

    @property
    def area(self) -> float:
        """Area of the outline in pixels²."""
        return float(cv2.contourArea(self.quad.astype(np.float32)))

    def details(self, scale: float = 1.0) -> dict[str, Any]:
        """JSON-ready form (coordinates multiplied by ``scale``)."""
        d: dict[str, Any] = {"det_score": round(self.det_score, 3), "box": [round(v * scale, 1) for v in self.box]}
        if self.read:
            d.update(text=self.text, confidence=round(self.confidence, 3))
        return d


Region = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixels."""


def _components(binary: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """8-connected components with their stats, by BBDT: the same labels, in the same order, as
    OpenCV's default (both label 2×2 blocks in raster order), in half the time on one core."""
    return cv2.connectedComponentsWithStatsWithAlgorithm(binary, 8, cv2.CV_32S, cv2.CCL_BBDT)


def text_candidates(rgb: np.ndarray, contrast: float, min_height: int, max_height_share: float, min_chars: int,
                    pad: float, exclude: np.ndarray | None = None,
                    context: int = 0) -> list[tuple[int, int, int, int, float]]:
    """Regions (x0, y0, x1, y1, score) worth running the detector on: rows of glyph-sized edge blobs.

    A glyph of any script, legible or not, is a small blob of strong edges: the morphological
    gradient above ``contrast`` (0-255, strongest colour channel) in connected pieces at least
    ``min_height`` px and at most ``max_height_share`` of the image high (a piece n heights wide
    counts as n glyphs: bold letters join). Glyphs joined along a row (gaps up to about one glyph
    height) make a line; a line of at least ``min_chars`` glyphs, padded by ``pad`` × its height,
    is a candidate, with ``context`` px more on every side: light lettering on a busy backdrop
    shows only parts of its strokes, so the row found can be a fraction of the letters' height,
    and the detector needs the whole line in view. Its score is its glyph count, lowered when the glyph
    heights vary (lettering is regular, foliage is not). Pixels where ``exclude`` is true are not
    considered. A few milliseconds at 512².
    """
    h, w = rgb.shape[:2]
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    g3 = cv2.split(cv2.morphologyEx(rgb, cv2.MORPH_GRADIENT, kernel))
    grad = cv2.max(cv2.max(g3[0], g3[1]), g3[2])  # colour edges: red on purple counts
    edges = (grad > contrast).astype(np.uint8)
    if exclude is not None:
        edges[exclude] = 0
    _, labels, stats, _ = _components(edges)
    x, y, bw, bh, area = stats.T
    ok = (bh >= min_height) & (bh <= max_height_share * h) & (area >= 0.1 * bw * bh)
    ok[0] = False
    glyph_count = np.where(ok, np.maximum(1, bw // np.maximum(bh, 1)), 0)  # bold words join into one blob
    if glyph_count.sum() < min_chars:
        return []
    glyphs = ok[labels].astype(np.uint8)
    gap = max(5, int(np.median(bh[ok])))
    lines = cv2.dilate(glyphs, cv2.getStructuringElement(cv2.MORPH_RECT, (gap, 3)))
    n, line_of, lstats, _ = _components(lines)
    li = line_of[(y + bh // 2)[ok], (x + bw // 2)[ok]]
    count = np.bincount(li, weights=glyph_count[ok], minlength=n)
    k = np.bincount(li, minlength=n).astype(np.float64)
    s1 = np.bincount(li, weights=bh[ok].astype(np.float64), minlength=n)
    s2 = np.bincount(li, weights=bh[ok].astype(np.float64) ** 2, minlength=n)
    mean = s1 / np.maximum(k, 1)
    cv = np.sqrt(np.maximum(0.0, s2 / np.maximum(k, 1) - mean**2)) / np.maximum(mean, 1e-6)
    out = []
    for j in np.nonzero(count >= min_chars)[0]:
        if j == 0:
            continue
        lx, ly, lw, lh, _ = lstats[j]
        if lw < 1.5 * min(lh, 4 * gap):
            continue
        p = context + int(np.ceil(pad * min(lh, 4 * gap)))
        out.append((max(0, lx - p), max(0, ly - p), min(w, lx + lw + p), min(h, ly + lh + p),
                    float(count[j] * max(0.0, 1.0 - cv[j]))))
    return sorted(out, key=lambda r: -r[4])


def select_regions(regions: list[tuple[int, int, int, int, float]], shape: tuple[int, int],
                   budget: float) -> tuple[list[tuple[int, int, int, int]], float]:
    """The best-scoring regions that together cover at most ``budget`` of the image, merged where
    they overlap; and the share of candidate area left out (0 when all fitted)."""
    h, w = shape
    keep = np.zeros((h, w), np.uint8)
    total = left = 0.0
    for x0, y0, x1, y1, _ in regions:
        a = (x1 - x0) * (y1 - y0) / (h * w)
        if total + a > budget and total > 0:
            left += a
            continue
        total += a
        keep[y0:y1, x0:x1] = 1
    if not keep.any():
        return [], left
    _, _, st, _ = _components(keep)
    return [(int(x), int(y), int(x + bw), int(y + bh)) for x, y, bw, bh, _ in st[1:]], left


def detect_text(rgb: np.ndarray, regions: list[Region] | None, box_threshold: float,
                full_share: float = 0.5, scale: float = 1.0) -> list[TextBox]:
    """Text lines found by the PP-OCR detector in ``regions`` of ``rgb`` (None: the whole image).

    The detector sees each region resized by ``scale`` (its cost grows with the pixels it sees).
    When the regions together cover more than ``full_share`` of the image, the whole image is
    scanned at once (cheaper than many overlapping crops). Outlines are in ``rgb``'s pixels.
    """
    h, w = rgb.shape[:2]
    if regions is not None and sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions) > full_share * h * w:
        regions = None
    engine = get_engine()
    out: list[TextBox] = []
    for x0, y0, x1, y1 in regions if regions is not None else [(0, 0, w, h)]:
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1])
        if scale != 1.0:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        boxes, scores = engine.detect(crop, box_threshold)
        for quad, score in zip(boxes, scores):
            sx, sy = (x1 - x0) / crop.shape[1], (y1 - y0) / crop.shape[0]
            pts = np.asarray(quad, np.float32) * np.float32([sx, sy]) + np.float32([x0, y0])
            out.append(TextBox(pts, float(score)))
    return out


def recognize(rgb: np.ndarray, quads: list[np.ndarray]) -> list[tuple[str, float]]:
    """What each outline (4 corners in ``rgb``'s pixels) reads, with the recogniser's confidence."""
    if not quads:
        return []
    engine = get_engine()
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    out = []
    for q in quads:
        crop = crop_quad(bgr, q)
        if crop.size == 0 or min(crop.shape[:2]) < 2:
            out.append(("", 0.0))
            continue
        out.append(engine.recognize(np.ascontiguousarray(crop)))
    return out


def read_text(rgb: np.ndarray, regions: list[Region] | None, box_threshold: float, min_height: float,
              min_area: float, full_share: float = 0.5, scale: float = 1.0, recognise: bool = True) -> list[TextBox]:
    """Detect, drop lines lower than ``min_height`` px or smaller than ``min_area`` px², recognise
    (or leave that to :func:`read_lines` when ``recognise`` is False: reading costs more than finding)."""
    boxes = [b for b in detect_text(rgb, regions, box_threshold, full_share, scale)
             if b.height >= min_height and b.area >= min_area]
    if recognise:
        read_lines(rgb, boxes)
    return boxes


def read_lines(rgb: np.ndarray, boxes: list[TextBox]) -> None:
    """Recognise the lines of ``rgb`` not read yet, in place."""
    todo = [b for b in boxes if not b.read]
    for b, (text, conf) in zip(todo, recognize(rgb, [b.quad for b in todo])):
        b.text, b.confidence, b.read = text, conf, True


def edit_distance(a: str, b: str) -> float:
    """Normalised edit distance of two readings in [0, 1], case, spaces and punctuation ignored,
    and the digits OCR takes for letters of the same shape (0/O, 1/I, 5/S, 8/B) read as those
    letters: a recogniser reading OAK as 0AK has not seen a change.

    Uses ``rapidfuzz`` when installed, else :mod:`difflib` (a similar ratio, computed slower).
    """
    a, b = _norm(a), _norm(b)
    if not a and not b:
        return 0.0
    if not a or not b:
        return 1.0
    try:
        from rapidfuzz.distance import Levenshtein

        return float(Levenshtein.normalized_distance(a, b))
    except ImportError:
        import difflib

        return 1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


_SAME_SHAPE = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})


def _norm(s: str) -> str:
    return "".join(c for c in s.upper() if c.isalnum()).translate(_SAME_SHAPE)
