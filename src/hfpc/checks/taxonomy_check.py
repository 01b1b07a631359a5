"""The ``taxonomy`` check: a trained classifier or a vision-language model names the reason that
rejects an image.

Backend ``rfnet``: a checkpoint of ``hfpc train taxonomy`` (:mod:`hfpc.models.taxonomy_model`).
Backend ``vlm``: a vision-language model behind an OpenAI-compatible endpoint reads the review
guide and both images and answers in JSON (:mod:`hfpc.models.vlm`); its rationale goes into the row.
The image fails when its probability of ``good`` is below the checkpoint's threshold (or the
Profile's), and its most probable failure class is the finding's code, so the row, the report
and ``hfpc evaluate``'s per-reason tables name it like any other check's reason.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from hfpc.checks.base import Check, JudgeItem
from hfpc.checks.reward import pick_device_dtype
from hfpc.settings import CheckSettings
from hfpc.taxonomy import GOOD, describe
from hfpc.types import CheckResult, Finding


class TaxonomySettings(CheckSettings):
    """Settings of the ``taxonomy`` check (off by default: it needs a trained checkpoint)."""

    backend: Literal["rfnet", "vlm"] = Field("rfnet", description=(
        "rfnet: a classifier trained with `hfpc train taxonomy` on labels that name a reason; vlm: a "
        "vision-language model behind an OpenAI-compatible endpoint follows the review guide"))
    checkpoint: str | None = Field(None, description=(
        "rfnet: taxonomy model directory or hub id (hfpc train taxonomy --out)"))
    endpoint: str | None = Field(None, description=(
        "vlm: base URL of an OpenAI-compatible API, e.g. http://localhost:8000/v1 (vLLM, SGLang); unset: "
        "the model runs in this process with transformers"))
    model: str | None = Field(None, description=(
        "vlm: the served model's name, or (no endpoint) a transformers image-text-to-text checkpoint by hub "
        "id or directory, e.g. Qwen/Qwen2.5-VL-3B-Instruct"))
    max_new_tokens: int = Field(300, ge=16, le=4096, description="vlm: longest answer generated, in tokens")
    api_key_env: str = Field("OPENAI_API_KEY", description="vlm: environment variable holding the API key")
    timeout: float = Field(120.0, gt=0, description="vlm: seconds to wait for one answer")
    concurrency: int = Field(4, ge=1, le=64, description="vlm: requests in flight at once")
    max_side: int = Field(768, ge=64, le=4096, description="vlm: long side of the images sent, in pixels")
    structured: bool = Field(True, description=(
        "vlm: ask the server for JSON-schema-constrained output (response_format); turn off for servers "
        "without it"))
    threshold: float | None = Field(None, ge=0, le=1, description=(
        "minimum probability of 'good' to pass; default: the threshold stored in the checkpoint"))
    batch_size: int | None = Field(None, ge=1, description="images per encoder pass; default 4 on CPU, 64 on GPU")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "fp32", "bf16"] = Field("auto", description=(
        "auto: bf16 on GPUs and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32"))


    @model_validator(mode="after")
    def _backend_inputs(self) -> TaxonomySettings:
        if self.backend == "rfnet" and not self.checkpoint:
            raise ValueError("backend 'rfnet' needs checkpoint (a directory from hfpc train taxonomy)")
        if self.backend == "vlm" and not self.model:
            raise ValueError("backend 'vlm' needs model: a served model's name with endpoint (an OpenAI-compatible "
                             "URL, e.g. a vLLM server), or a transformers checkpoint to run here")
        return self


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
        self.vlm = None
        if settings.backend == "vlm":
            from hfpc.models.vlm import EndpointJudge, LocalJudge

            assert settings.model
            if settings.endpoint:
                self.vlm = EndpointJudge(settings.endpoint, settings.model, settings.api_key_env, settings.timeout,
                                         max_tokens=settings.max_new_tokens, max_side=settings.max_side,
                                         structured=settings.structured)
            else:
                self.vlm = LocalJudge(settings.model, settings.device, settings.dtype,
                                      max_new_tokens=settings.max_new_tokens, max_side=settings.max_side)
            return
        from hfpc.models.taxonomy_model import TaxonomyModel

        self.device, self.dtype = pick_device_dtype(settings.device, settings.dtype)
        self.model = TaxonomyModel.from_pretrained(settings.checkpoint, dtype=self.dtype).to(self.device)
        cfg = self.model.config
        self.threshold = settings.threshold if settings.threshold is not None else cfg.threshold
        self.batch_size = settings.batch_size or (64 if self.device.type == "cuda" else 4)
        self.text = None
        if cfg.caption_dim:
            from hfpc.models.text import load_text_tower

            self.text = load_text_tower(cfg.encoder)
        self.depth = None
        if "depth" in cfg.maps:
            from hfpc.models.depth import load_depth

            self.depth = load_depth(cfg.depth_model or "depth", settings.device, settings.dtype)

    def run(self, item: JudgeItem) -> CheckResult:
        """Classify one sample (see :meth:`run_batch`)."""
        return self.run_batch([item])[0]

    def _ask_vlm(self, items: list[JudgeItem]) -> None:
        """Each sample's answer (or the error that stopped it) into ``item.shared``, so a batch that is
        judged again one by one after an error does not ask twice."""
        from concurrent.futures import ThreadPoolExecutor

        from hfpc.models.vlm import VlmError

        todo = [it for it in items if "vlm" not in it.shared]

        def ask(it: JudgeItem) -> None:
            assert self.vlm is not None
            try:
                it.shared["vlm"] = self.vlm.judge(it.original.rgb, it.generated.rgb, it.sample.caption)
            except VlmError as e:
                it.shared["vlm"] = VlmError(f"{it.sample.generated}: {e}")

        # a model in this process answers one pair at a time; an endpoint batches what arrives together
        threads = self.settings.concurrency if self.settings.endpoint else 1
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(ask, todo))

    def _vlm_result(self, item: JudgeItem) -> CheckResult:
        answer = item.shared["vlm"]
        if isinstance(answer, Exception):
            raise answer
        s = self.settings
        details = {"backend": "vlm", "model": s.model, "endpoint": s.endpoint, "reason": answer.reason,
                   "rationale": answer.rationale, "confidence": answer.confidence}
        if answer.passed:
            return CheckResult(self.name, True, answer.confidence, 0.5,
                               f"the VLM judge passes it ({answer.confidence:.0%} sure): {answer.rationale}",
                               details=details)
        sentence = (f"the VLM judge names {answer.reason.replace('_', ' ')} ({answer.confidence:.0%} sure): "
                    f"{answer.rationale}")
        return CheckResult(self.name, False, 1 - answer.confidence, 0.5, sentence, failure=answer.reason,
                           details=details, findings=[Finding("vlm_reason", answer.reason, sentence,
                                                              value=round(answer.confidence, 4))])

    def run_batch(self, items: list[JudgeItem]) -> list[CheckResult]:
        """rfnet: encode new originals once, the generated images in batches, and classify them.
        vlm: ask about ``concurrency`` samples at a time."""
        if self.vlm is not None:
            self._ask_vlm(items)
            return [self._vlm_result(it) for it in items]
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
                captions = None
                if self.text is not None:
                    captions = self.text.encode([it.sample.caption for it in chunk]).to(self.device)
                probs = torch.softmax(self.model.logits(gen, orig, maps, captions).float(), -1).cpu().numpy()
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
