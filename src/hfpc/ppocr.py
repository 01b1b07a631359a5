"""PP-OCR text detection and recognition on ONNX Runtime, with the models of the ``rapidocr`` wheel.

The ``text`` check uses RapidOCR's detector (DB) and recogniser (CTC) exactly as
``RapidOCR(...)(img, use_det=..., use_rec=...)`` runs them with hfpc's settings (no angle
classifier, the caller sizes the input), step for step: the same resizing, padding,
normalisation, box post-processing and decoding, so the outlines, readings and confidences are
the same (denormal floats are flushed to zero, see :func:`_session`). What it leaves out is
RapidOCR's configuration layer, whose import and set-up cost about a second of CPU time in every
process that judges (the models themselves load in a tenth of that). The pre- and
post-processing follow PaddleOCR (Apache License 2.0) as RapidOCR ships it.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import cv2
import numpy as np

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"

_MIN_SIDE, _MAX_SIDE = 30, 2000  # RapidOCR's Global.min_side_len / max_side_len
_PAD_RATIO, _PAD_MIN_HEIGHT = 8, 30  # Global.width_height_ratio / min_height (vertical padding)
_LIMIT_SIDE = 4096  # Det.limit_side_len with limit_type "max": the caller sizes the input
_DB_THRESH, _DB_MAX_CANDIDATES, _DB_UNCLIP, _DB_MIN_SIZE = 0.3, 1000, 1.6, 3
_REC_H, _REC_W = 48, 320  # Rec.rec_img_shape


def models_dir() -> Path | None:
    """The folder of the models inside the installed ``rapidocr`` package (nothing is imported)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _session(path: Path, threads: int):  # noqa: ANN202 - onnxruntime is imported lazily
    import onnxruntime as ort

    opt = ort.SessionOptions()
    opt.log_severity_level = 4
    opt.enable_cpu_mem_arena = False
    opt.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opt.intra_op_num_threads = threads
    opt.inter_op_num_threads = threads
    # Flat image areas drive the detector's activations into denormal floats, which cost x86 CPUs
    # up to three times the detection time; flushed to zero, outlines and scores stay the same
    # (compared on the demo and real-dev sets). ONNX Runtime sets this for the thread that creates
    # its first session, so the rest of the work on that thread runs with it too.
    opt.add_session_config_entry("session.set_denormal_as_zero", "1")
    return ort.InferenceSession(str(path), sess_options=opt, providers=["CPUExecutionProvider"])


def _resize32(img: np.ndarray, ratio: float) -> tuple[np.ndarray, float, float]:
    h, w = img.shape[:2]
    rh = int(round(int(h * ratio) / 32) * 32)
    rw = int(round(int(w * ratio) / 32) * 32)
    if rh <= 0 or rw <= 0:
        raise ValueError(f"cannot resize a {w}×{h} image for OCR")
    return cv2.resize(img, (rw, rh)), h / rh, w / rw


def _within_bounds(img: np.ndarray) -> tuple[np.ndarray, float, float]:
    """RapidOCR's ``resize_image_within_bounds``: long side at most 2000, short side at least 30."""
    ratio_h = ratio_w = 1.0
    h, w = img.shape[:2]
    if max(h, w) > _MAX_SIDE:
        img, ratio_h, ratio_w = _resize32(img, _MAX_SIDE / max(h, w))
    h, w = img.shape[:2]
    if min(h, w) < _MIN_SIDE:
        img, ratio_h, ratio_w = _resize32(img, _MIN_SIDE / min(h, w))
    return img, ratio_h, ratio_w


def _normaliser(scale: float, shift: float, div: float) -> np.ndarray:
    """Per grey level, what the float pipeline of the pre-processing computes (a lookup table)."""
    v = np.arange(256, dtype=np.uint8).astype(np.float32) * scale
    return ((v - np.array([shift])) / np.array([div])).astype(np.float32)


_DET_LUT = _normaliser(1 / 255.0, 0.5, 0.5)  # DetPreProcess.normalize: float32 * scale, then float64
_REC_LUT = ((np.arange(256, dtype=np.uint8).astype(np.float32) / 255 - np.float32(0.5)) / np.float32(0.5))


class PPOCR:
    """The detector and the recogniser, loaded once (``threads`` ONNX Runtime threads each)."""

    def __init__(self, root: Path | None = None, threads: int = 1) -> None:
        root = root or models_dir()
        if root is None:
            raise ImportError("rapidocr is not installed")
        self._threads = threads
        self._det_path, self._rec_path = root / DET_MODEL, root / REC_MODEL
        for p in (self._det_path, self._rec_path):
            if not p.is_file():
                raise ImportError(f"{p}: OCR model missing from the rapidocr package")
        self._det = self._rec = None
        self._chars: list[str] = []

    def detect(self, bgr: np.ndarray, box_thresh: float) -> tuple[np.ndarray, list[float]]:
        """Text line outlines (n×4×2 float32, pixels of ``bgr``) and their detector scores."""
        if self._det is None:
            self._det = _session(self._det_path, self._threads)
        ori_h, ori_w = bgr.shape[:2]
        img, ratio_h, ratio_w = _within_bounds(bgr)
        h, w = img.shape[:2]
        top = 0
        if h <= _PAD_MIN_HEIGHT or w / h > _PAD_RATIO:
            top = int(abs(max(int(w / _PAD_RATIO), _PAD_MIN_HEIGHT) * 2 - h) / 2)
            img = cv2.copyMakeBorder(img, top, top, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        h, w = img.shape[:2]
        ratio = _LIMIT_SIDE / max(h, w) if max(h, w) > _LIMIT_SIDE else 1.0
        rh, rw = int(round(int(h * ratio) / 32) * 32), int(round(int(w * ratio) / 32) * 32)
        if rh <= 0 or rw <= 0:
            return np.zeros((0, 4, 2), np.float32), []
        x = _DET_LUT[cv2.resize(img, (rw, rh))].transpose(2, 0, 1)[None]
        pred = self._det.run(None, {self._det.get_inputs()[0].name: np.ascontiguousarray(x)})[0]
        boxes, scores = _db_boxes(pred[0, 0], w, h, box_thresh)
        if len(boxes) == 0:
            return np.zeros((0, 4, 2), np.float32), []
        boxes, scores = _sorted_boxes(boxes, scores)
        boxes[:, :, 1] -= top
        boxes[:, :, 0] *= ratio_w
        boxes[:, :, 1] *= ratio_h
        boxes = np.where(boxes < 0, 0, boxes)
        boxes[..., 0] = np.where(boxes[..., 0] > ori_w, ori_w, boxes[..., 0])
        boxes[..., 1] = np.where(boxes[..., 1] > ori_h, ori_h, boxes[..., 1])
        return boxes, scores

    def recognize(self, bgr: np.ndarray) -> tuple[str, float]:
        """What one line image reads and the recogniser's confidence (mean of its characters')."""
        if self._rec is None:
            self._rec = _session(self._rec_path, self._threads)
            meta = self._rec.get_modelmeta().custom_metadata_map
            self._chars = ["blank", *meta["character"].splitlines(), " "]
        img, _, _ = _within_bounds(bgr)
        h, w = img.shape[:2]
        width = int(_REC_H * max(_REC_W / _REC_H, w / h))
        rw = min(width, int(math.ceil(_REC_H * (w / float(h)))))
        x = np.zeros((1, 3, _REC_H, width), np.float32)
        x[0, :, :, :rw] = _REC_LUT[cv2.resize(img, (rw, _REC_H))].transpose(2, 0, 1)
        pred = self._rec.run(None, {self._rec.get_inputs()[0].name: x})[0][0]
        idx, prob = pred.argmax(axis=1), pred.max(axis=1)
        keep = np.ones(len(idx), dtype=bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        conf = [round(c, 5) for c in np.array(prob[keep]).tolist()] or [0]
        return "".join(self._chars[i] for i in idx[keep]), float(np.mean(conf).round(5))


def _db_boxes(pred: np.ndarray, dest_w: int, dest_h: int, box_thresh: float) -> tuple[np.ndarray, list[float]]:
    """DB post-processing: the probability map → quadrilaterals in the input's pixels, with scores."""
    import pyclipper
    from shapely.geometry import Polygon

    height, width = pred.shape
    bitmap = cv2.dilate((pred > _DB_THRESH).astype(np.uint8), np.array([[1, 1], [1, 1]]))
    contours, _ = cv2.findContours((bitmap * 255).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes, scores = [], []
    for contour in contours[:_DB_MAX_CANDIDATES]:
        points, sside = _mini_box(contour)
        if sside < _DB_MIN_SIZE:
            continue
        score = _box_score(pred, points.reshape(-1, 2))
        if box_thresh > score:
            continue
        poly = Polygon(points)
        offset = pyclipper.PyclipperOffset()
        offset.AddPath(points, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        grown = np.array(offset.Execute(poly.area * _DB_UNCLIP / poly.length)).reshape((-1, 1, 2))
        box, sside = _mini_box(grown)
        if sside < _DB_MIN_SIZE + 2:
            continue
        box[:, 0] = np.clip(np.round(box[:, 0] / width * dest_w), 0, dest_w)
        box[:, 1] = np.clip(np.round(box[:, 1] / height * dest_h), 0, dest_h)
        boxes.append(box.astype(np.int32))
        scores.append(score)
    kept, kept_scores = [], []
    for box, score in zip(np.array(boxes, dtype=np.int32), scores):
        box = _clockwise(box)
        box[:, 0] = np.minimum(np.maximum(box[:, 0], 0), dest_w - 1).astype(np.int64)
        box[:, 1] = np.minimum(np.maximum(box[:, 1], 0), dest_h - 1).astype(np.int64)
        if int(np.linalg.norm(box[0] - box[1])) <= 3 or int(np.linalg.norm(box[0] - box[3])) <= 3:
            continue
        kept.append(box)
        kept_scores.append(score)
    return np.array(kept), kept_scores


def _mini_box(contour: np.ndarray) -> tuple[np.ndarray, float]:
    rect = cv2.minAreaRect(contour)
    p = sorted(list(cv2.boxPoints(rect)), key=lambda x: x[0])
    i1, i4 = (0, 1) if p[1][1] > p[0][1] else (1, 0)
    i2, i3 = (2, 3) if p[3][1] > p[2][1] else (3, 2)
    return np.array([p[i1], p[i2], p[i3], p[i4]]), min(rect[1])


def _box_score(bitmap: np.ndarray, box: np.ndarray) -> float:
    h, w = bitmap.shape[:2]
    box = box.copy()
    xmin = np.clip(np.floor(box[:, 0].min()).astype(np.int32), 0, w - 1)
    xmax = np.clip(np.ceil(box[:, 0].max()).astype(np.int32), 0, w - 1)
    ymin = np.clip(np.floor(box[:, 1].min()).astype(np.int32), 0, h - 1)
    ymax = np.clip(np.ceil(box[:, 1].max()).astype(np.int32), 0, h - 1)
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    box[:, 0] = box[:, 0] - xmin
    box[:, 1] = box[:, 1] - ymin
    cv2.fillPoly(mask, box.reshape(1, -1, 2).astype(np.int32), 1)
    return cv2.mean(bitmap[ymin:ymax + 1, xmin:xmax + 1], mask)[0]


def crop_quad(bgr: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The line inside ``quad`` rectified to an upright image (RapidOCR's ``get_rotate_crop_image``)."""
    points = np.asarray(quad, np.float32).copy()
    w = int(max(np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3])))
    h = int(max(np.linalg.norm(points[0] - points[3]), np.linalg.norm(points[1] - points[2])))
    std = np.array([[0, 0], [w, 0], [w, h], [0, h]]).astype(np.float32)
    out = cv2.warpPerspective(bgr, cv2.getPerspectiveTransform(points, std), (w, h),
                              borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if out.shape[0] * 1.0 / out.shape[1] >= 1.5:
        out = np.rot90(out)
    return out


def _clockwise(pts: np.ndarray) -> np.ndarray:
    xs = pts[np.argsort(pts[:, 0]), :]
    left, right = xs[:2, :], xs[2:, :]
    tl, bl = left[np.argsort(left[:, 1]), :]
    tr, br = right[np.argsort(right[:, 1]), :]
    return np.array([tl, tr, br, bl], dtype="float32")


def _sorted_boxes(boxes: np.ndarray, scores: list[float]) -> tuple[np.ndarray, list[float]]:
    """Top to bottom, then left to right within a line, as RapidOCR orders them; like RapidOCR, the
    scores stay in the order the boxes were found (the two lists differ only when boxes moved)."""
    y = boxes[:, 0, 1]
    by_y = np.argsort(y, kind="stable")
    line = np.concatenate([[0], np.cumsum((np.diff(y[by_y]) >= 10).astype(np.int32))])
    order = by_y[np.lexsort((boxes[by_y][:, 0, 0], line))]
    return boxes[order], scores
