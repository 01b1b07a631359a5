"""The ``reward`` check: would a reviewer accept this background for this product? (HFPC Module 1)

Enabled in a Profile by naming a checkpoint trained with ``hfpc train reward``::

    [checks.reward]
    checkpoint = "runs/reward"      # directory or hub id
    threshold = 0.5                 # optional; default: the checkpoint's own threshold

Originals are encoded once and reused across their generations; generated images are encoded in
batches. The heatmap shows the model's attention pooling over the generated image (Fig. 9).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from hfpc.checks.base import Check, JudgeItem
from hfpc.data.images import save_image
from hfpc.settings import CheckSettings
from hfpc.types import CheckResult


class RewardSettings(CheckSettings):
    """Profile section of the ``reward`` check."""

    checkpoint: str = Field(..., description="reward model directory or hub id (hfpc train reward --out)")
    threshold: float | None = Field(None, ge=0, le=1, description=(
        "minimum σ(r) to pass; default: the threshold stored in the checkpoint"))
    batch_size: int | None = Field(None, ge=1, description=(
        "images per encoder forward pass; default 4 on CPU (larger batches run slower per image "
        "there, measured), 64 on GPU"))
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "fp32", "bf16"] = Field("auto", description=(
        "auto: bf16 on GPUs and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32"))
    heatmap: bool = Field(True, description="write the attention heatmap when artifacts are requested")


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_device_dtype(device: str, dtype: str) -> tuple[Any, Any]:
    """Resolve ``auto`` device and dtype settings to torch objects."""
    import torch

    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    if dtype == "fp32":
        return dev, torch.float32
    if dtype == "bf16" or dev.type == "cuda" or cpu_has_bf16():
        return dev, torch.bfloat16
    return dev, torch.float32


class RewardCheck(Check):
    """Learned background suitability: σ(r) of the image-referenced reward model."""

    name = "reward"
    Settings = RewardSettings
    failure = "background_unsuitable"
    description = "learned reviewer acceptance of the background (image-referenced reward model)"
    default_enabled = False
    process_parallel = False

    settings: RewardSettings

    def __init__(self, settings: RewardSettings) -> None:
        super().__init__(settings)
        from hfpc.models.irrm import RewardModel

        self.device, self.dtype = pick_device_dtype(settings.device, settings.dtype)
        self.model = RewardModel.from_pretrained(settings.checkpoint, dtype=self.dtype).to(self.device)
        self.threshold = settings.threshold if settings.threshold is not None else self.model.config.threshold
        self.batch_size = settings.batch_size or (64 if self.device.type == "cuda" else 4)

    def run(self, item: JudgeItem) -> CheckResult:
        """Score one sample (see :meth:`run_batch`)."""
        return self.run_batch([item])[0]

    def run_batch(self, items: list[JudgeItem]) -> list[CheckResult]:
        """Encode new originals once, the generated images in batches, and score them."""
        import torch

        enc = self.model.encoder
        assert enc is not None
        key = f"reward:{self.settings.checkpoint}"
        with torch.inference_mode():
            orig_tokens: list[torch.Tensor | None] = [None] * len(items)
            if self.model.config.fusion != "none":
                todo = [it for it in items if key not in it.original_cache]
                uniq = list({id(it.original_cache): it for it in todo}.values())
                for i in range(0, len(uniq), self.batch_size):
                    chunk = uniq[i:i + self.batch_size]
                    px = enc.preprocess([it.original.rgb for it in chunk]).to(self.device)
                    for it, t in zip(chunk, enc(px).tokens):
                        it.original_cache[key] = t
                orig_tokens = [it.original_cache[key] for it in items]
            results = []
            for i in range(0, len(items), self.batch_size):
                chunk = items[i:i + self.batch_size]
                gen = enc(enc.preprocess([it.generated.rgb for it in chunk]).to(self.device)).tokens
                orig = None if orig_tokens[0] is None else torch.stack(orig_tokens[i:i + len(chunk)])
                r, w = self.model.rewards(gen, orig)
                probs = torch.sigmoid(r.float()).cpu().numpy()
                grids = self.model.patch_weights(w.float()).cpu().numpy()
                for it, p, grid, rr in zip(chunk, probs, grids, r.float().cpu().numpy()):
                    results.append(self._result(it, float(p), float(rr), grid))
        return results

    def _result(self, item: JudgeItem, p: float, r: float, grid: np.ndarray) -> CheckResult:
        passed = p >= self.threshold
        verb = "pass" if passed else "fail"
        res = CheckResult(
            check=self.name, passed=passed, value=p, threshold=self.threshold,
            explanation=(f"reviewers would likely {verb} this background for this product "
                         f"(p = {p:.2f} {'≥' if passed else '<'} {self.threshold:.2f})"),
            failure=None if passed else self.failure,
            details={"reward": round(r, 4), "probability": round(p, 4),
                     "checkpoint": self.settings.checkpoint, "fusion": self.model.config.fusion},
        )
        where = item.artifact_path(self.name)
        if where is not None and self.settings.heatmap:
            path, rel = where
            save_image(path, attention_overlay(item.generated.rgb, grid))
            res.artifacts["heatmap"] = rel
        return res


def attention_overlay(rgb: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The generated image with the model's attention (a patch grid in [0,1]) as a heat overlay."""
    import cv2

    h, w = rgb.shape[:2]
    heat = cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    a = (0.25 + 0.5 * heat)[..., None]
    return (rgb * (1 - a) + colour * a).clip(0, 255).astype(np.uint8)
