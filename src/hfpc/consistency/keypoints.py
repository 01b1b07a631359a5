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


def _factor(shape: tuple[int, ...], side: int) -> float:
    """Resize factor that brings an image's long side to ``side`` (1 when it is close already)."""
    f = side / max(shape[:2])
    return 1.0 if 1 <= f < 1.5 else f


def _features(gray: np.ndarray, mask: np.ndarray | None, n: int, f: float,
              offset: tuple[int, int] = (0, 0)) -> tuple[list, np.ndarray | None]:
    """SIFT keypoints and descriptors of ``gray`` seen at ``f`` × its size; the keypoints are in
    ``gray``'s pixel coordinates plus ``offset`` (where a crop lies in its image)."""
    if f != 1:
        size = (max(1, round(gray.shape[1] * f)), max(1, round(gray.shape[0] * f)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        if mask is not None:
            mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    # OpenCV's SIFT is several times slower on large bright flat areas (white studio backdrops)
    # than on dark ones; every image is seen as its negative, which has the same keypoints, and
    # since both sides of a match are negated, the same matches
    gray = cv2.bitwise_not(gray)
    sift = cv2.SIFT_create(nfeatures=n, contrastThreshold=0.02)
    m = None if mask is None else (mask.astype(np.uint8) * 255)
    kp, desc = sift.detectAndCompute(gray, m)
    if desc is not None:
        # RootSIFT: Hellinger distance between descriptors matches better than L2
        desc = np.sqrt(desc / np.maximum(desc.sum(axis=1, keepdims=True), 1e-7)).astype(np.float32)
    ox, oy = offset
    if f != 1 or ox or oy:
        kp = [cv2.KeyPoint(k.pt[0] / f + ox, k.pt[1] / f + oy, k.size / f, k.angle, k.response, k.octave)
              for k in kp]
    return kp, desc


def keypoint_locations(orig: np.ndarray, mask: np.ndarray, gen: np.ndarray,
                       settings: ConsistencySettings, cache: dict | None = None,
                       zoom_regions: list[tuple[int, int, int, int]] | None = None,
                       ) -> list[tuple[np.ndarray, int, float, bool, float]]:
    """Transforms (2×3, original → generated) found by keypoints, with inliers, ratio, mirrored
    and the share of the product's box the inliers span (see :func:`_spread`).

    Only transforms within the Profile's scale range and rotation limit, with at least
    ``keypoint_min_inliers`` inliers, are returned, most inliers first. ``cache`` keeps the
    generated image's keypoints between the products of one pair, and ``cache["original"]``
    the original's between the generations of one original. When the whole image yields
    nothing, each of ``zoom_regions`` (boxes of the generated image where the searches put a
    small product) is looked at again enlarged: a shrunk product's detail is below SIFT's
    finest scale in the whole frame, and enlarging only the region costs a fraction of
    enlarging the frame.
    """
    cache = {} if cache is None else cache
    if "gen" not in cache:
        cache["gen"] = _features(cv2.cvtColor(gen, cv2.COLOR_RGB2GRAY), None, settings.keypoint_features,
                                 _factor(gen.shape, settings.keypoint_side))
    found = _keypoint_pass(orig, mask, cache["gen"], settings, cache)
    for region in (zoom_regions or []) if not found else []:
        key = ("region", *region)
        if key not in cache:
            cache[key] = _region_features(gen, region, settings)
        found += _keypoint_pass(orig, mask, cache[key], settings, cache)
    found.sort(key=lambda x: -x[1])
    return found


def _spread(points: np.ndarray, mask: np.ndarray) -> float:
    """Share of the product's box (its mask's, in the original) that the box of ``points`` covers:
    near 1 when matches span the whole product, small when they sit on one part of it (a label)."""
    _, _, bw, bh = cv2.boundingRect(mask.astype(np.uint8))
    if len(points) < 2 or bw * bh == 0:
        return 0.0
    span = np.ptp(points, axis=0)
    return float(min(1.0, span[0] / bw) * min(1.0, span[1] / bh))


def _region_features(gen: np.ndarray, region: tuple[int, int, int, int],
                     settings: ConsistencySettings) -> tuple[list, np.ndarray | None]:
    """Keypoints of one box of the generated image seen at up to ``keypoint_zoom`` × its size,
    in the whole generated image's coordinates."""
    x0, y0, x1, y1 = region
    crop = cv2.cvtColor(np.ascontiguousarray(gen[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    f = min(settings.keypoint_zoom, settings.keypoint_side / max(crop.shape[:2]))
    return _features(crop, None, settings.keypoint_features, f, (x0, y0))


def _keypoint_pass(orig: np.ndarray, mask: np.ndarray, gen_features: tuple[list, np.ndarray | None],
                   settings: ConsistencySettings, cache: dict) -> list[tuple[np.ndarray, int, float, bool, float]]:
    kg, dg = gen_features
    if dg is None or len(kg) < 4:
        return []
    o_gray = cv2.cvtColor(orig, cv2.COLOR_RGB2GRAY)
    dil = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    out = []
    w = o_gray.shape[1]
    for mirrored in (False, True):
        if mirrored and any(f[1] >= settings.keypoint_accept for f in out):
            break  # found as it is: the mirrored product need not be tried
        okey = ("orig", mirrored, id(mask))
        ocache = cache.setdefault("original", {})
        if okey not in ocache:
            img = o_gray[:, ::-1] if mirrored else o_gray
            m = dil[:, ::-1] if mirrored else dil
            # only the product's box: large flat backdrops make SIFT several times slower
            bx, by, bw, bh = cv2.boundingRect(m.astype(np.uint8))
            pad = max(32, (bw + bh) // 4)
            x0, y0 = max(0, bx - pad), max(0, by - pad)
            x1, y1 = min(w, bx + bw + pad), min(img.shape[0], by + bh + pad)
            ocache[okey] = (_features(np.ascontiguousarray(img[y0:y1, x0:x1]), np.ascontiguousarray(m[y0:y1, x0:x1]),
                                      settings.keypoint_features, _factor(img.shape, settings.keypoint_side),
                                      (x0, y0)), mask)
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
        out.append((full[:2].copy(), n_in, n_in / len(good), mirrored, _spread(src[inl.ravel() > 0], mask)))
    out.sort(key=lambda x: -x[1])
    return out
