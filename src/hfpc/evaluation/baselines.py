"""Baseline scorers of the HFPC paper's Table 1, as checks that run through ``filter``/``evaluate``.

- ``clip_score``: cosine similarity of CLIP embeddings of the original and the generated image.
- ``clip_iqa``: CLIP-IQA's antonym prompts on the generated image — softmax over the similarity
  to "Good photo." and "Bad photo."; the value is the probability of "Good photo.".

Both are *baseline* checks: they are recorded in the result row and scored by
``hfpc evaluate --compare`` but do not decide whether a sample passes. NIMA is not included:
pyiqa downloads its weights when a metric is constructed and needs torchvision, neither of
which fits hfpc's offline, strict-loading rule; use its scores through a results column instead.
ImageReward is the reward model trained with ``--fusion none --no-class-loss``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hfpc.checks.base import Check, JudgeItem
from hfpc.settings import CheckSettings
from hfpc.types import CheckResult


class ClipSettings(CheckSettings):
    """Profile section of the CLIP baselines."""

    model: str = Field("clip", description="CLIP hub id, alias or directory (vision and text towers)")
    threshold: float = Field(0.5, description="pass threshold on the value (for Pb/Rb/Rg)")
    batch_size: int = Field(32, ge=1, description="images per forward pass")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    prompts: tuple[str, str] = Field(("Good photo.", "Bad photo."), description="CLIP-IQA antonym pair")


class _ClipBase(Check):
    Settings = ClipSettings
    default_enabled = False
    process_parallel = False
    baseline = True
    settings: ClipSettings

    def __init__(self, settings: ClipSettings) -> None:
        super().__init__(settings)
        import torch
        import transformers

        from hfpc.errors import ModelNotAvailableError
        from hfpc.models.loading import resolve

        path = resolve(settings.model, "CLIP model")
        self.device = torch.device("cuda" if settings.device == "auto" and torch.cuda.is_available()
                                   else ("cpu" if settings.device == "auto" else settings.device))
        model, info = transformers.CLIPModel.from_pretrained(path, output_loading_info=True)
        if info.get("missing_keys"):
            raise ModelNotAvailableError(f"{settings.model}: {len(info['missing_keys'])} CLIP weights missing")
        self.model = model.eval().to(self.device)
        self.processor = transformers.CLIPProcessor.from_pretrained(path)

    def _image_embeds(self, images: list[Any]) -> Any:
        import torch

        out = []
        for i in range(0, len(images), self.settings.batch_size):
            px = self.processor(images=images[i:i + self.settings.batch_size], return_tensors="pt")["pixel_values"]
            with torch.inference_mode():
                e = self.model.get_image_features(pixel_values=px.to(self.device))
            e = e if isinstance(e, torch.Tensor) else e.pooler_output
            out.append(torch.nn.functional.normalize(e.float(), dim=-1))
        return torch.cat(out)

    def run(self, item: JudgeItem) -> CheckResult:
        """Score one sample."""
        return self.run_batch([item])[0]

    def _result(self, value: float, what: str) -> CheckResult:
        passed = value >= self.settings.threshold
        return CheckResult(self.name, passed, value, self.settings.threshold,
                           f"{what} {value:.3f} {'≥' if passed else '<'} {self.settings.threshold:g}",
                           failure=None if passed else self.failure, details={"model": self.settings.model})


class ClipScoreCheck(_ClipBase):
    """CLIP-Score: cosine similarity of the original's and the generated image's embeddings."""

    name = "clip_score"
    failure = "baseline_clip_score"
    description = "baseline: CLIP cosine similarity of original and generated (not a decision)"

    def run_batch(self, items: list[JudgeItem]) -> list[CheckResult]:
        """Embed originals and generated images in batches; value = cosine similarity."""
        g = self._image_embeds([it.generated.rgb for it in items])
        o = self._image_embeds([it.original.rgb for it in items])
        return [self._result(float(v), "CLIP similarity to the original") for v in (g * o).sum(-1).cpu()]


class ClipIqaCheck(_ClipBase):
    """CLIP-IQA: probability of "Good photo." against "Bad photo." for the generated image."""

    name = "clip_iqa"
    failure = "baseline_clip_iqa"
    description = "baseline: CLIP-IQA antonym prompts on the generated image (not a decision)"

    def run_batch(self, items: list[JudgeItem]) -> list[CheckResult]:
        """Softmax of the image's similarity to the two prompts, scaled by CLIP's logit scale."""
        import torch

        tok = self.processor(text=list(self.settings.prompts), return_tensors="pt", padding=True)
        with torch.inference_mode():
            t = self.model.get_text_features(**{k: v.to(self.device) for k, v in tok.items()})
        t = t if isinstance(t, torch.Tensor) else t.pooler_output
        t = torch.nn.functional.normalize(t.float(), dim=-1)
        g = self._image_embeds([it.generated.rgb for it in items])
        with torch.inference_mode():
            logits = self.model.logit_scale.exp().float() * g @ t.T
        p = logits.softmax(-1)[:, 0].cpu()
        return [self._result(float(v), f"CLIP-IQA P({self.settings.prompts[0]!r})") for v in p]
