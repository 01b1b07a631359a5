"""The ``taxonomy`` check: a trained classifier names the reason that rejects an image.

Backend ``rfnet``: a checkpoint of ``hfpc train taxonomy`` (:mod:`hfpc.models.taxonomy_model`).
The image fails when its probability of ``good`` is below the checkpoint's threshold (or the
Profile's), and its most probable failure class is the finding's code, so the row, the report
and ``hfpc evaluate``'s per-reason tables name it like any other check's reason.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from hfpc.checks.base import Check, JudgeItem
from hfpc.checks.reward import pick_device_dtype
from hfpc.settings import CheckSettings
from hfpc.taxonomy import GOOD, describe
from hfpc.types import CheckResult, Finding


class TaxonomySettings(CheckSettings):
    """Settings of the ``taxonomy`` check (off by default: it needs a trained checkpoint)."""

    backend: Literal["rfnet"] = Field("rfnet", description=(
        "rfnet: a classifier trained with `hfpc train taxonomy` on labels that name a reason"))
    checkpoint: str = Field(..., description="taxonomy model directory or hub id (hfpc train taxonomy --out)")
    threshold: float | None = Field(None, ge=0, le=1, description=(
        "minimum probability of 'good' to pass; default: the threshold stored in the checkpoint"))
    batch_size: int | None = Field(None, ge=1, description="images per encoder pass; default 4 on CPU, 64 on GPU")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "fp32", "bf16"] = Field("auto", description=(
        "auto: bf16 on GPUs and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32"))


class TaxonomyCheck(Check):
    """Learned failure reason (RFNet-style classifier over original, generated image and scene maps)."""

    name = "taxonomy"
    Settings = TaxonomySettings
    failure = "failed_check"
    description = "learned failure reason (a classifier trained on reviewers' reasons)"
    default_enabled = False
    process_parallel = False

    settings: TaxonomySettings

    def __init__(self, settings: TaxonomySettings) -> None:
        super().__init__(settings)
        from hfpc.models.taxonomy_model import TaxonomyModel

        self.device, self.dtype = pick_device_dtype(settings.device, settings.dtype)
        self.model = TaxonomyModel.from_pretrained(settings.checkpoint, dtype=self.dtype).to(self.device)
        cfg = self.model.config
        self.threshold = settings.threshold if settings.threshold is not None else cfg.threshold
        self.batch_size = settings.batch_size or (64 if self.device.type == "cuda" else 4)
        self.depth = None
        if "depth" in cfg.maps:
            from hfpc.models.depth import load_depth

            self.depth = load_depth(cfg.depth_model or "depth", settings.device, settings.dtype)

    def run(self, item: JudgeItem) -> CheckResult:
        """Classify one sample (see :meth:`run_batch`)."""
        return self.run_batch([item])[0]

    def run_batch(self, items: list[JudgeItem]) -> list[CheckResult]:
        """Encode new originals once, the generated images in batches, and classify them."""
        import torch

        from hfpc.models.taxonomy_model import scene_maps

        enc = self.model.encoder
        assert enc is not None
        cfg = self.model.config
        key = f"taxonomy:{self.settings.checkpoint}"
        results = []
        with torch.inference_mode():
            if cfg.fusion != "none":
                todo = list({id(it.original_cache): it for it in items if key not in it.original_cache}.values())
                for i in range(0, len(todo), self.batch_size):
                    chunk = todo[i:i + self.batch_size]
                    px = enc.preprocess([it.original.rgb for it in chunk]).to(self.device)
                    for it, t in zip(chunk, enc(px).tokens):
                        it.original_cache[key] = t
            for i in range(0, len(items), self.batch_size):
                chunk = items[i:i + self.batch_size]
                gen = enc(enc.preprocess([it.generated.rgb for it in chunk]).to(self.device)).tokens
                orig = torch.stack([it.original_cache[key] for it in chunk]) if cfg.fusion != "none" else None
                depths = self._depths(chunk)
                maps = torch.from_numpy(np.stack([scene_maps(it.generated.rgb, cfg.maps, cfg.map_grid, d)
                                                  for it, d in zip(chunk, depths)])).to(self.device)
                probs = torch.softmax(self.model.logits(gen, orig, maps).float(), -1).cpu().numpy()
                results += [self._result(p) for p in probs]
        return results

    def _depths(self, items: list[JudgeItem]) -> list[np.ndarray | None]:
        """Depth of each generated image when the model reads depth (shared with placement's)."""
        if self.depth is None:
            return [None] * len(items)
        todo = [it for it in items if it.shared.get("depth") is None]
        for it, d in zip(todo, self.depth.predict([it.generated.rgb for it in todo])):
            it.shared["depth"] = d
        return [it.shared["depth"] for it in items]

    def _result(self, probs: np.ndarray) -> CheckResult:
        classes = self.model.config.classes
        good = classes.index(GOOD)
        p_good = float(probs[good])
        ranked = sorted(((float(p), c) for c, p in zip(classes, probs) if c != GOOD), reverse=True)
        passed = p_good >= self.threshold
        details = {"probabilities": {c: round(float(p), 4) for c, p in zip(classes, probs)},
                   "checkpoint": self.settings.checkpoint, "backend": self.settings.backend}
        if passed:
            return CheckResult(self.name, True, p_good, self.threshold,
                               f"the taxonomy model sees no reason to reject it (p(good) = {p_good:.2f})",
                               details=details)
        p, code = ranked[0]
        sentence = (f"the taxonomy model names {code.replace('_', ' ')} ({p:.0%}; p(good) = {p_good:.2f} "
                    f"< {self.threshold:.2f}): {describe(code)}")
        return CheckResult(self.name, False, p_good, self.threshold, sentence, failure=code, details=details,
                           findings=[Finding("learned_reason", code, sentence, value=round(p, 4))])
