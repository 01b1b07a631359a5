"""Locate a product by local features: SIFT keypoints inside its mask, matched into the
generated image, a rotation + scale + shift fitted with RANSAC, also for the mirrored product.

Keypoints find a product that a template search cannot: moved, rescaled to a fifth, mirrored
or rotated. They need texture; flat products are left to the template and silhouette searches.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from hfpc.consistency.config import ConsistencySettings


def mirror_matrix(width: int) -> np.ndarray:
    """3×3 matrix of a horizontal flip of an image ``width`` pixels wide."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _features(gray: np.ndarray, mask: np.ndarray | None, n: int, side: int) -> tuple[list, np.ndarray | None]:
    """SIFT keypoints (in the given image's pixel coordinates) and descriptors, found at ≤ ``side``."""
    f = side / max(gray.shape[:2])
    f = 1.0 if 1 <= f < 1.5 else f
    if f != 1:
        size = (max(1, round(gray.shape[1] * f)), max(1, round(gray.shape[0] * f)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        if mask is not None:
            mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    sift = cv2.SIFT_create(nfeatures=n, contrastThreshold=0.02)
    m = None if mask is None else (mask.astype(np.uint8) * 255)
    kp, desc = sift.detectAndCompute(gray, m)
    if desc is not None:
        # RootSIFT: Hellinger distance between descriptors matches better than L2
        desc = np.sqrt(desc / np.maximum(desc.sum(axis=1, keepdims=True), 1e-7)).astype(np.float32)
    if f != 1:
        kp = [cv2.KeyPoint(k.pt[0] / f, k.pt[1] / f, k.size / f, k.angle, k.response, k.octave) for k in kp]
    return kp, desc


def keypoint_locations(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray,
                       settings: ConsistencySettings,
                       cache: dict | None = None, zoom: bool = True) -> list[tuple[np.ndarray, int, float, bool]]:
    """Transforms (2×3, original → generated) found by keypoints, with inliers, ratio, mirrored.

    Only transforms within the Profile's scale range and rotation limit, with at least
    ``keypoint_min_inliers`` inliers, are returned, most inliers first. ``cache`` keeps the
    generated image's keypoints between the products of one pair, and ``cache["original"]``
    the original's between the generations of one original. ``zoom`` allows a second pass on
    the generated image at twice the size when the first finds nothing.
    """
    cache = {} if cache is None else cache
    found = _keypoint_pass(orig, mask, gen, settings, cache, 1)
    if not found and zoom:
        # a product shrunk to a fraction of the frame keeps its keypoints at twice the size
        found = _keypoint_pass(orig, mask, gen, settings, cache, 2)
    return found


def _keypoint_pass(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray, settings: ConsistencySettings,
                   cache: dict, zoom: int) -> list[tuple[np.ndarray, int, float, bool]]:
    key = f"gen{zoom}"
    if key not in cache:
        cache[key] = _features(cv2.cvtColor(gen, cv2.COLOR_RGB2GRAY), None, settings.keypoint_features,
                               settings.keypoint_side * zoom)
    kg, dg = cache[key]
    if dg is None or len(kg) < 4:
        return []
    o_gray = cv2.cvtColor(orig, cv2.COLOR_RGB2GRAY)
    dil = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    out = []
    w = o_gray.shape[1]
    for mirrored in (False, True):
        if mirrored and any(n >= settings.keypoint_accept for _, n, _, _ in out):
            break  # found as it is: the mirrored product need not be tried
        okey = ("orig", mirrored, id(mask))
        ocache = cache.setdefault("original", {})
        if okey not in ocache:
            img = o_gray[:, ::-1] if mirrored else o_gray
            m = dil[:, ::-1] if mirrored else dil
            ocache[okey] = (_features(np.ascontiguousarray(img), np.ascontiguousarray(m),
                                     settings.keypoint_features, settings.keypoint_side), mask)
        (ko, do), _ = ocache[okey]  # the mask is kept so that its id stays its own
        if do is None or len(ko) < 4:
            continue
        matcher = cv2.BFMatcher(cv2.NORM_L2)
        pairs = matcher.knnMatch(do, dg, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < settings.keypoint_ratio * p[1].distance]
        if len(good) < settings.keypoint_min_inliers:
            continue
        src = np.float32([ko[g.queryIdx].pt for g in good])
        dst = np.float32([kg[g.trainIdx].pt for g in good])
        cv2.setRNGSeed(0)
        a, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0,
                                             maxIters=2000, confidence=0.995)
        if a is None or inl is None:
            continue
        n_in = int(inl.sum())
        scale = math.hypot(a[0, 0], a[1, 0])
        angle = math.degrees(math.atan2(a[1, 0], a[0, 0]))
        if (n_in < settings.keypoint_min_inliers or not settings.min_scale <= scale <= settings.max_scale
                or abs(angle) > settings.max_rotation):
            continue
        full = np.vstack([a, [0, 0, 1]])
        if mirrored:
            full = full @ mirror_matrix(w)
        out.append((full[:2].copy(), n_in, n_in / len(good), mirrored))
    out.sort(key=lambda x: -x[1])
    return out
