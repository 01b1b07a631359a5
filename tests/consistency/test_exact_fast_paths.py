"""The faster pixel gathers and sums give exactly what the plain numpy formulations give."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hfpc.consistency.growth import _lab, _nearest
from hfpc.consistency.light import _BASIS, _chroma, _length
from hfpc.consistency.locate import masked_ncc, pixels


def _reference_ncc(a: np.ndarray, b: np.ndarray, m: np.ndarray, flat_std: float = 6.0,
                   flat_scale: float = 40.0) -> float:
    """masked_ncc written with boolean indexing and np.std, as it was."""
    if m.sum() < 4:
        return -1.0
    x = a[m].astype(np.float64)
    y = b[m].astype(np.float64)
    if x.std(axis=0).max() < flat_std:
        return float(np.clip(1 - np.abs(x - y).mean() / flat_scale, -1, 1))
    x -= x.mean(axis=0)
    y -= y.mean(axis=0)
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 1e-9 else -1.0


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_pixels_equals_boolean_indexing(dtype: type) -> None:
    rng = np.random.default_rng(0)
    big = (rng.random((60, 70, 3)) * 255).astype(dtype)
    view = big[5:50, 7:61]  # a crop: not contiguous
    m = rng.random(view.shape[:2]) < 0.4
    for img in (view, view[..., 1], np.ascontiguousarray(view)):
        got = pixels(img, m)
        assert got.dtype == img.dtype
        assert np.array_equal(got, img[m])


@pytest.mark.parametrize("spread", [0.0, 3.0, 5.9, 6.0, 20.0, 80.0])
def test_masked_ncc_is_bit_identical(spread: float) -> None:
    """Textured and flat products (the flatness test sits at a standard deviation of 6), 8-bit and
    float images: the same value to the last bit."""
    rng = np.random.default_rng(int(spread * 10))
    for _ in range(20):
        h, w = rng.integers(4, 90, 2)
        a = np.clip(rng.integers(0, 256, 3) + rng.normal(0, spread, (h, w, 3)), 0, 255).astype(np.uint8)
        b = np.clip(a + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)
        m = rng.random((h, w)) < rng.random()
        assert masked_ncc(a, b, m) == _reference_ncc(a, b, m)
        af, bf = a.astype(np.float32) + 0.25, b.astype(np.float32) - 0.5
        assert masked_ncc(af, bf, m) == _reference_ncc(af, bf, m)


def test_lab_as_one_row_equals_one_pixel_rows() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.random((1001, 3)).astype(np.float32) * 300 - 20  # clipped to 0-255 by _lab
    x = np.clip(rgb, 0, 255).reshape(-1, 1, 3) / 255.0
    assert np.array_equal(_lab(rgb), cv2.cvtColor(x, cv2.COLOR_RGB2LAB).reshape(-1, 3))


def test_chroma_and_length_equal_numpys_reductions() -> None:
    """The channel mean and the 2-D length, added up by hand, equal np.mean and np.linalg.norm."""
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (5000, 3), dtype=np.uint8)
    lg = np.log(rgb.astype(np.float32) + 8.0)
    want = (lg - lg.mean(axis=1, keepdims=True)) @ _BASIS
    got = _chroma(rgb)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert np.array_equal(_length(got), np.linalg.norm(got, axis=1))


def test_nearest_in_place_sums_equal_the_plain_expression() -> None:
    rng = np.random.default_rng(6)
    lab = (rng.random((3000, 3)) * [100, 200, 200] - [0, 100, 100]).astype(np.float32)
    pal = lab[rng.choice(len(lab), 8, replace=False)] + 1.5
    d = (-2 * pal) @ lab.T + np.einsum("ij,ij->i", pal, pal)[:, None]
    m = d.min(axis=0) + np.einsum("ij,ij->i", lab, lab)
    assert np.array_equal(_nearest(lab, pal), np.sqrt(np.maximum(m, 0)))
