"""hfpc's PP-OCR runner gives RapidOCR's outlines, scores, readings and confidences exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("rapidocr")
pytest.importorskip("onnxruntime")

from hfpc.ppocr import PPOCR, crop_quad  # noqa: E402


@pytest.fixture(scope="module")
def engines():
    from rapidocr import RapidOCR
    from rapidocr.utils.process_img import get_rotate_crop_image

    ref = RapidOCR(params={"Global.log_level": "error", "Global.use_cls": False,
                           "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                           "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                           "Det.limit_type": "max", "Det.limit_side_len": 4096})
    return ref, PPOCR(), get_rotate_crop_image


def _scenes() -> list[np.ndarray]:
    """Text of several sizes and angles on flat and noisy backgrounds, tiny and very wide crops too."""
    rng = np.random.default_rng(3)
    out = []
    for h, w, scale, angle in [(120, 360, 1.2, 0), (200, 200, 0.8, 12), (24, 300, 0.6, 0), (18, 60, 0.4, 0),
                               (64, 700, 1.0, 0), (300, 240, 1.6, -20), (40, 40, 0.5, 0)]:
        img = (rng.normal(170, 25, (h, w, 3))).clip(0, 255).astype(np.uint8)
        words = ["SALE 50%", "Bloom", "OAK & CO", "x7"]
        for i, word in enumerate(words[: max(1, h // 60)]):
            cv2.putText(img, word, (4, int((i + 0.8) * min(h, 60))), cv2.FONT_HERSHEY_DUPLEX, scale,
                        tuple(int(c) for c in rng.integers(0, 90, 3)), max(1, int(scale * 2)), cv2.LINE_AA)
        if angle:
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        out.append(img)
    return out


def test_detection_and_recognition_match_rapidocr(engines) -> None:
    ref, ours, rotate_crop = engines
    detected = read = 0
    for img in _scenes():
        for thr in (0.3, 0.6):
            expected = ref(img, use_det=True, use_cls=False, use_rec=False, box_thresh=thr)
            boxes, scores = ours.detect(img, thr)
            if expected.boxes is None:
                assert len(boxes) == 0 and scores == []
                continue
            assert boxes.dtype == expected.boxes.dtype
            np.testing.assert_array_equal(boxes, expected.boxes)
            assert scores == list(expected.scores)
            detected += len(boxes)
            for quad in boxes:
                crop = crop_quad(img, quad)
                np.testing.assert_array_equal(crop, rotate_crop(img, np.asarray(quad, np.float32).copy()))
                want = ref(np.ascontiguousarray(crop), use_det=False, use_cls=False, use_rec=True)
                assert ours.recognize(np.ascontiguousarray(crop)) == (str(want.txts[0]), float(want.scores[0]))
                read += 1
    assert detected >= 5 and read >= 5  # the scenes do exercise both models


def test_recognition_of_small_and_wide_lines_matches_rapidocr(engines) -> None:
    """Lines under 30 px are enlarged and long ones stretch the recogniser's input, as in RapidOCR."""
    ref, ours, _ = engines
    for h, w in [(12, 50), (20, 400), (48, 100), (9, 9), (30, 900)]:
        img = np.full((h, w, 3), 235, np.uint8)
        cv2.putText(img, "Hello 2024", (1, h - 2), cv2.FONT_HERSHEY_SIMPLEX, h / 30, (20, 20, 20), 1, cv2.LINE_AA)
        want = ref(img, use_det=False, use_cls=False, use_rec=True)
        assert ours.recognize(img) == (str(want.txts[0]), float(want.scores[0]))
