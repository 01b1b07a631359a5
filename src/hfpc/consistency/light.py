"""Scene light whose colour changes from pixel to pixel: coloured sources from several sides.

:func:`hfpc.consistency.compare.relight` models light as a smooth gain field of position. Light
from coloured sources on two sides (a neon street: pink on one side, blue on the other) tints
each surface by the source it faces, so the cast follows the folds of the product, not its
position. Such light belongs to the scene: each source's colour is seen around the product, and
it shows on the product's white and light grey surfaces, which take the colour of the light.
"""

from __future__ import annotations

import cv2
import numpy as np

from hfpc.consistency.locate import pixels, warp_to_original

__all__ = ["scene_around", "scene_light"]

_BASIS = np.array([[1 / np.sqrt(2), 1 / np.sqrt(6)], [-1 / np.sqrt(2), 1 / np.sqrt(6)],
                   [0.0, -2 / np.sqrt(6)]], np.float32)
"""Orthonormal basis of the plane r + g + b = 0 of log colours: hue and saturation, not brightness."""

HUE_BINS = 24
"""Hue bins (15° each) in which the scene's colours are counted."""

MIN_SATURATION = 0.08
"""Log-chromaticity length below which a scene pixel is grey: it shows no light colour."""


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """Log-chromaticity of RGB pixels (N×3 → N×2), as :func:`relight` measures light (+8 keeps black finite)."""
    lg = np.log(rgb.astype(np.float32) + 8.0)
    # the channels' mean, added up as numpy's mean does it (a reduction along a short last axis is slow)
    mean = (lg[:, 0] + lg[:, 1] + lg[:, 2]) / 3
    return (lg - mean[:, None]) @ _BASIS


def _length(c: np.ndarray) -> np.ndarray:
    """Length of each 2-D chromaticity (N×2 → N), as ``np.linalg.norm(c, axis=1)`` computes it."""
    return np.sqrt(c[:, 0] * c[:, 0] + c[:, 1] * c[:, 1])


def _hue_bin(c: np.ndarray) -> np.ndarray:
    return ((np.arctan2(c[:, 1], c[:, 0]) + np.pi) / (2 * np.pi) * HUE_BINS).astype(int) % HUE_BINS


def scene_around(gen: np.ndarray, matrix: np.ndarray, box: tuple[int, int, int, int], m: np.ndarray,
                 reach: float = 0.25) -> np.ndarray:
    """Pixels (N×3) of the generated image around the located product: the scene that lights it.

    ``m`` is the product's mask over ``box`` of the original's frame; the ring reaches a quarter
    of the box's size beyond it (through ``matrix``, inside the generated frame).
    """
    x0, y0, x1, y1 = box
    pad = max(2, int(reach * max(x1 - x0, y1 - y0)))
    big = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    g = warp_to_original(gen, matrix, big)
    inside = warp_to_original(np.full(gen.shape[:2], 255, np.uint8), matrix, big, cv2.INTER_NEAREST) > 0
    product = np.zeros(inside.shape, np.uint8)
    product[pad:pad + (y1 - y0), pad:pad + (x1 - x0)] = m
    product = cv2.dilate(product, np.ones((5, 5), np.uint8)) > 0
    return pixels(g, inside & ~product)


def scene_light(lit: np.ndarray, raw: np.ndarray, ref: np.ndarray, m: np.ndarray, scene: np.ndarray,
                max_cast: float, min_support: float, max_chroma: float, min_lightness: float) -> np.ndarray:
    """Undo, pixel by pixel, a colour cast of light the scene shows, on the product's pale neutral surfaces.

    ``lit`` is the generated copy after :func:`relight` (``raw`` before it), ``ref`` the original,
    both over ``m``. A pixel's remaining cast is undone when (1) the original is white or light
    grey there (Lab chroma at most ``max_chroma``, lightness at least ``min_lightness``): such a
    surface takes the light's colour, while the tint of a dark or coloured part is no evidence of
    light (a black part turned amber, a red one turned brown), and (2) the light's hue is one the
    generated scene around the product shows: at least ``min_support`` of its pixels ``scene``
    have a saturated colour within one hue bin of it. The whole cast of a pixel (with what
    :func:`relight` undid) stays within ``max_cast``.
    """
    out = lit.astype(np.float32)
    if len(scene) < 16 or not m.any():
        return out
    sc = _chroma(scene)
    sc = sc[_length(sc) > MIN_SATURATION]
    support = np.bincount(_hue_bin(sc), minlength=HUE_BINS) / len(scene)
    shown = (support + np.roll(support, 1) + np.roll(support, -1)) >= min_support
    ref_m, out_m, raw_c = pixels(ref, m), pixels(out, m), _chroma(pixels(raw, m))
    total = _chroma(ref_m) - raw_c  # the gain's colour: what undoes the light's
    norm = _length(total)[:, None]
    total *= np.minimum(1.0, np.log(max_cast) / np.sqrt(2) / np.maximum(norm, 1e-6))
    q = total - (_chroma(out_m) - raw_c)  # beyond what relight already undid
    lab = cv2.cvtColor(ref_m[None].astype(np.uint8), cv2.COLOR_RGB2LAB)[0].astype(np.float32)
    pale = (np.hypot(lab[:, 1] - 128, lab[:, 2] - 128) <= max_chroma) & (lab[:, 0] / 2.55 >= min_lightness)
    q[~(pale & shown[_hue_bin(-total)])] = 0
    out[m] = np.clip((out_m + 8.0) * np.exp(q @ _BASIS.T) - 8.0, 0, 255)
    return out
