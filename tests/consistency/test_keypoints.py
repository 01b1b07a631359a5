"""Keypoints: a product shrunk to a fifth and rotated is found, and an enlarged look at a region
maps what it finds back to the whole generated image."""

from __future__ import annotations

import cv2
import numpy as np

from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.keypoints import _keypoint_pass, _region_features, keypoint_locations
from hfpc.data.synth import ProductSpec, render_product


def _pair(scale: float = 0.2, angle: float = 10.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    tile = render_product(ProductSpec("box", (0.75, 0.2, 0.15), (0.95, 0.9, 0.6), "NOVA", 200, 0.85, "dots"))
    rgb = (np.clip(tile.rgb, 0, 1) * 255).astype(np.uint8)
    alpha = tile.alpha > 0.5
    orig = np.full((512, 512, 3), 250, np.uint8)
    h, w = alpha.shape
    orig[100:100 + h, 120:120 + w][alpha] = rgb[alpha]
    mask = np.zeros((512, 512), bool)
    mask[100:100 + h, 120:120 + w] = alpha
    rng = np.random.default_rng(3)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (512, 512)).astype(np.float32), (0, 0), 5)
    gen = np.clip(np.array([90, 130, 100], np.float32) + 50 * noise[..., None] / noise.std(), 0, 255).astype(np.uint8)
    # the whole original frame rotated and shrunk about its centre, pasted where the product lands
    m = cv2.getRotationMatrix2D((256, 256), angle, scale)
    m[:, 2] += (300 - 256, 330 - 256)
    warped = cv2.warpAffine(orig, m, (512, 512))
    inside = cv2.warpAffine(mask.astype(np.uint8), m, (512, 512), flags=cv2.INTER_NEAREST) > 0
    gen[inside] = warped[inside]
    ys, xs = np.nonzero(inside)
    return orig, mask, gen, (int(xs.mean()), int(ys.mean()))


def test_enlarged_region_finds_a_shrunk_rotated_product_and_an_empty_region_finds_nothing() -> None:
    orig, mask, gen, (cx, cy) = _pair()
    s = ConsistencySettings()
    found = keypoint_locations(orig, mask, gen, s, {}, [(cx - 60, cy - 60, cx + 60, cy + 60)])
    assert found, "the product was not found in the enlarged region"
    matrix, inliers, _, mirrored, spread = found[0]
    assert inliers >= s.keypoint_min_inliers and not mirrored
    assert spread > 0.3, spread  # the matches span the product, not one corner of it
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    assert abs(scale - 0.2) < 0.03
    # the product's centre lands where it was pasted
    ys, xs = np.nonzero(mask)
    centre = matrix @ np.array([xs.mean(), ys.mean(), 1.0])
    assert np.hypot(centre[0] - cx, centre[1] - cy) < 6
    # a region of plain scene holds nothing to match (the whole frame is searched first)
    gen_without = gen.copy()
    gen_without[cy - 60:cy + 60, cx - 60:cx + 60] = gen[0:120, 0:120]
    assert not keypoint_locations(orig, mask, gen_without, s, {}, [(10, 10, 130, 130)])


def test_an_enlarged_region_maps_its_keypoints_back_to_the_whole_image() -> None:
    orig, mask, gen, (cx, cy) = _pair(0.2, -8.0)
    s = ConsistencySettings()
    region = (cx - 70, cy - 50, cx + 50, cy + 70)
    kp, desc = _region_features(gen, region, s)
    assert desc is not None and len(kp) >= s.keypoint_min_inliers
    assert all(region[0] - 1 <= k.pt[0] <= region[2] + 1 and region[1] - 1 <= k.pt[1] <= region[3] + 1 for k in kp)
    found = _keypoint_pass(orig, mask, (kp, desc), s, {})
    assert found
    matrix = found[0][0]
    ys, xs = np.nonzero(mask)
    centre = matrix @ np.array([xs.mean(), ys.mean(), 1.0])
    assert np.hypot(centre[0] - cx, centre[1] - cy) < 6
    assert abs(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])) - 8) < 3  # cv2's angle is counter-clockwise
    # the same region of a scene without the product yields no transform
    empty = gen.copy()
    empty[region[1]:region[3], region[0]:region[2]] = gen[0:120, 0:120]
    assert not _keypoint_pass(orig, mask, _region_features(empty, region, s), s, {})
