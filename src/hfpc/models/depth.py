"""Monocular depth (Depth Anything and other transformers depth-estimation checkpoints).

An optional input of the ``placement`` check: whether the surface right below a product's base is
at the base's depth (the product stands on it) or far behind it (it floats in front). The model
gives relative inverse depth (larger = nearer), which is all a comparison within one image needs.
Weights load once per process through :mod:`hfpc.models.loading`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from hfpc.errors import ModelNotAvailableError

log = logging.getLogger(__name__)

DEFAULT_DEPTH = "depth-anything/Depth-Anything-V2-Small-hf"


@dataclass
class DepthModel:
    """A loaded depth-estimation model and its processor, on one device and dtype."""

    model: Any
    processor: Any
    device: Any
    dtype: Any

    def predict(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Relative inverse depth of each RGB image (float32, the image's height and width), in one batch
        per image size."""
        import torch

        out: list[np.ndarray | None] = [None] * len(images)
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, img in enumerate(images):
            by_size.setdefault(img.shape[:2], []).append(i)
        for size, idx in by_size.items():
            inputs = self.processor(images=[images[i] for i in idx], return_tensors="pt")
            pixel = inputs["pixel_values"].to(self.device, self.dtype)
            with torch.inference_mode():
                pred = self.model(pixel_values=pixel).predicted_depth.float()
            maps = torch.nn.functional.interpolate(pred[:, None], size=size, mode="bilinear", align_corners=False)
            for k, i in enumerate(idx):
                out[i] = maps[k, 0].cpu().numpy().astype(np.float32)
        return [m for m in out if m is not None]


@functools.lru_cache(maxsize=2)
def load_depth(name: str = DEFAULT_DEPTH, device: str = "auto", dtype: str = "auto") -> DepthModel:
    """Load (once per process) a depth-estimation checkpoint by hub id, alias or local directory.

    Raises :class:`ModelNotAvailableError` naming the checkpoint when the models extra is missing,
    the weights are not on this machine, or the checkpoint is not a depth-estimation model.
    """
    try:
        import transformers
        from transformers import AutoConfig, AutoImageProcessor
    except ImportError as e:
        raise ModelNotAvailableError("depth needs the models extra: pip install 'hfpc[models]'") from e
    from hfpc.checks.reward import pick_device_dtype
    from hfpc.models.loading import quiet_transformers, resolve, transformers_errors_only

    quiet_transformers()
    dev, dt = pick_device_dtype(device, dtype)
    path = resolve(name, "depth model")
    with transformers_errors_only():
        config = AutoConfig.from_pretrained(path)
        mapping = transformers.models.auto.modeling_auto.MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES
        if config.model_type not in mapping:
            raise ModelNotAvailableError(f"{name}: model type {config.model_type!r} is not a depth-estimation model "
                                         f"(e.g. depth_anything, dpt)")
        model = transformers.AutoModelForDepthEstimation.from_pretrained(path, dtype=dt).to(dev).eval()
        processor = AutoImageProcessor.from_pretrained(path)
    return DepthModel(model, processor, dev, dt)


def base_depth_step(disparity: np.ndarray, mask: np.ndarray, band: float, depth: float) -> float | None:
    """How much nearer the camera a product's base is than the surface right below it, as a share
    of the image's depth range (its inverse depth's 5th to 95th percentile); None when the frame
    shows nothing below the base.

    Per base column (the lowest product pixel within ``band`` of its height from its bottom), the
    product's inverse depth at its lowest pixels against the surface's over the next ``depth`` of
    its height, two pixels down (past the blurred edge); the median over columns. A product that
    stands on a surface touches it: about 0, or negative (the floor in front of the base is
    nearer). One floating in front of the scene: clearly positive.
    """
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    h = int(ys.max() - ys.min() + 1)
    bottom = np.full(mask.shape[1], -1)
    np.maximum.at(bottom, xs, ys)
    cols = np.nonzero(bottom >= ys.max() - band * h)[0]
    k = max(2, round(depth * h))
    lo, hi = np.percentile(disparity, [5, 95])
    scale = float(hi - lo)
    if scale <= 1e-6:
        return 0.0
    steps = []
    for c in cols:
        y = bottom[c]
        below = disparity[y + 3:y + 3 + k, c]
        if len(below) < 2:
            continue
        base = disparity[max(0, y - 2):y + 1, c]
        steps.append((float(np.median(base)) - float(np.median(below))) / scale)
    return float(np.median(steps)) if steps else None
