"""A vision-language model as a judge: it reads a review guide, looks at both images and answers in JSON.

The guide (:data:`RUBRIC`) is written for this project from RF1M's annotation categories and
HFPC's product-consistency reasons. The answer must follow :data:`ANSWER_SCHEMA`
(``{"passed", "reason", "rationale", "confidence"}``); an answer that does not parse or does
not validate is asked for once more, then the sample becomes an error row (never a guess).

Backends: an OpenAI-compatible chat endpoint (vLLM, SGLang, or a hosted API) given by URL and
served model name, the key from an environment variable, images as data URLs; or a transformers
image-text-to-text model (hub id or local directory) run in this process with its chat template.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from hfpc.errors import HfpcError, ModelNotAvailableError
from hfpc.taxonomy import CODES, GOOD, normalize

REASONS: tuple[str, ...] = (GOOD, *CODES)
"""What the judge may answer as ``reason``: ``good`` or a failure code."""

RUBRIC = """You review AI-generated product advertising images. A merchant's product photo (the ORIGINAL)
was placed into a generated scene (the GENERATED image). Decide whether the GENERATED image can be
used as an advertisement for that product, and if not, name the one most significant reason.

Reasons, most significant first:
- product_missing: the product is not in the generated image.
- product_replaced: another object stands where the product should be.
- product_altered: the product is there but changed: colour, print, shape, parts erased or added.
- product_text_changed: the words printed on the product changed or became garbled.
- shape_hallucination: the scene extends the product: a pedestal, legs, a stand or a handle grown onto it.
- size_mismatch: the product's size contradicts the scene (a sofa smaller than a vase, a ring as large as a chair).
- floating: the product does not rest on anything; it hovers above a surface or against physics.
- indistinct: the product does not stand out; its colours or the clutter hide which or where it is.
- text_artifacts: garbled text, fake lettering or a watermark painted into the background.
- background_inappropriate: the scene does not suit the product or is not usable for an ad.
- good: none of the above; the image is usable.

Moving, rescaling, mirroring or relighting the product is allowed when it stays recognisably the
same object. If several reasons apply, answer with the most significant one.

Answer with one JSON object only, no other text:
{"passed": true or false, "reason": "<one of the reasons>", "rationale": "<one or two sentences>",
 "confidence": <0 to 1>}
"passed" is true exactly when "reason" is "good"."""

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "passed": {"type": "boolean"},
        "reason": {"type": "string", "enum": list(REASONS)},
        "rationale": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["passed", "reason", "rationale", "confidence"],
    "additionalProperties": False,
}
"""The JSON schema every answer must follow (sent to endpoints that support structured output)."""


class VlmError(HfpcError):
    """The judge could not give a valid answer for a sample (unreachable, HTTP error, invalid twice)."""


class VlmAnswer(BaseModel):
    """One validated answer."""

    passed: bool
    reason: str
    rationale: str = Field(min_length=1)
    confidence: float = Field(ge=0, le=1)

    @field_validator("reason")
    @classmethod
    def _known(cls, v: str) -> str:
        code = normalize(v) or GOOD
        if code not in REASONS:
            raise ValueError(f"unknown reason {v!r}; expected one of {', '.join(REASONS)}")
        return code

    @model_validator(mode="after")
    def _consistent(self) -> VlmAnswer:
        if self.passed != (self.reason == GOOD):
            raise ValueError(f"passed={self.passed} contradicts reason {self.reason!r}")
        return self


def parse_answer(text: str) -> VlmAnswer:
    """The answer in a model's reply: the JSON object in it (a ```json fence allowed), validated.

    Raises ValueError saying what is wrong.
    """
    m = re.search(r"\{.*\}", text or "", re.S)
    if m is None:
        raise ValueError(f"no JSON object in the answer: {text[:200]!r}")
    try:
        data = json.loads(m.group(0))
    except json.JSONDecodeError as e:
        raise ValueError(f"the answer is not valid JSON ({e.msg}): {m.group(0)[:200]!r}") from None
    try:
        return VlmAnswer.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "answer"
        raise ValueError(f"the answer does not follow the schema: {where}: {first['msg']}") from None


def data_url(rgb: np.ndarray, max_side: int = 768) -> str:
    """An RGB image as a JPEG data URL, its long side at most ``max_side`` pixels."""
    h, w = rgb.shape[:2]
    f = min(1.0, max_side / max(h, w))
    if f < 1:
        rgb = cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise VlmError("could not encode an image for the judge")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def endpoint_image(rgb: np.ndarray, max_side: int) -> dict[str, Any]:
    """An image part of an OpenAI-style chat message (a JPEG data URL)."""
    return {"type": "image_url", "image_url": {"url": data_url(rgb, max_side)}}


def local_image(rgb: np.ndarray, max_side: int) -> dict[str, Any]:
    """An image part of a transformers chat message (a PIL image, long side at most ``max_side``)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    f = min(1.0, max_side / max(h, w))
    if f < 1:
        rgb = cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    return {"type": "image", "image": Image.fromarray(np.ascontiguousarray(rgb))}


def messages(original: np.ndarray, generated: np.ndarray, caption: str | None, max_side: int,
             image: Callable[[np.ndarray, int], dict[str, Any]] = endpoint_image) -> list[dict]:
    """The chat messages: the guide, then both images (and the caption when known)."""
    what = f"Product caption: {caption}\n" if caption else ""
    return [
        {"role": "system", "content": [{"type": "text", "text": RUBRIC}]},
        {"role": "user", "content": [
            {"type": "text", "text": f"{what}ORIGINAL product photo:"},
            image(original, max_side),
            {"type": "text", "text": "GENERATED advertising image:"},
            image(generated, max_side),
            {"type": "text", "text": "Your JSON answer:"},
        ]},
    ]


class VlmJudge:
    """Asks a model about a pair; an invalid answer is asked for once more, then a :class:`VlmError`."""

    model: str
    max_side: int = 768
    image: Callable[[np.ndarray, int], dict[str, Any]] = staticmethod(endpoint_image)
    where: str = ""

    def _ask(self, msgs: list[dict]) -> str:
        raise NotImplementedError

    def judge(self, original: np.ndarray, generated: np.ndarray, caption: str | None = None) -> VlmAnswer:
        """The validated answer for one pair."""
        msgs = messages(original, generated, caption, self.max_side, self.image)
        text = self._ask(msgs)
        try:
            return parse_answer(text)
        except ValueError as first:
            retry = [*msgs, {"role": "assistant", "content": [{"type": "text", "text": text}]},
                     {"role": "user", "content": [{"type": "text", "text": (
                         f"That answer was invalid: {first}. Answer again with one JSON object that follows "
                         "the format exactly.")}]}]
            text = self._ask(retry)
            try:
                return parse_answer(text)
            except ValueError as second:
                raise VlmError(f"{self.model}{self.where}: invalid answer twice ({second})") from None


class EndpointJudge(VlmJudge):
    """A judge behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(self, endpoint: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout: float = 120.0,
                 max_tokens: int = 300, max_side: int = 768, structured: bool = True) -> None:
        import httpx

        self.endpoint, self.model, self.api_key_env, self.timeout = endpoint, model, api_key_env, timeout
        self.max_tokens, self.max_side, self.structured = max_tokens, max_side, structured
        self.where = f" at {endpoint}"
        self.client = httpx.Client()

    def _ask(self, msgs: list[dict]) -> str:
        import httpx

        body: dict[str, Any] = {"model": self.model, "messages": msgs, "temperature": 0,
                                "max_tokens": self.max_tokens}
        if self.structured:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "hfpc_verdict", "schema": ANSWER_SCHEMA}}
        key = os.environ.get(self.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        url = self.endpoint.rstrip("/") + "/chat/completions"
        try:
            r = self.client.post(url, json=body, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise VlmError(f"{url}: no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as e:
            raise VlmError(f"{url}: {type(e).__name__}: {e}") from None
        if r.status_code != 200:
            raise VlmError(f"{url}: HTTP {r.status_code}: {r.text[:200]}")
        try:
            return r.json()["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise VlmError(f"{url}: not a chat-completions response: {r.text[:200]!r}") from None


class LocalJudge(VlmJudge):
    """A transformers image-text-to-text model (Qwen2.5-VL, Qwen3-VL, SmolVLM, LLaVA …) in this process."""

    image = staticmethod(local_image)

    def __init__(self, model: str, device: str = "auto", dtype: str = "auto", max_new_tokens: int = 300,
                 max_side: int = 768) -> None:
        self.model, self.max_new_tokens, self.max_side = model, max_new_tokens, max_side
        self.net, self.processor, self.device, self.dtype = load_local_vlm(model, device, dtype)

    def _ask(self, msgs: list[dict]) -> str:
        import torch

        inputs = self.processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                                    return_dict=True, return_tensors="pt")
        inputs = {k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
                  for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.net.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        return self.processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0]


@functools.lru_cache(maxsize=1)
def load_local_vlm(name: str, device: str = "auto", dtype: str = "auto") -> tuple[Any, Any, Any, Any]:
    """Load (once per process) an image-text-to-text checkpoint and its processor by hub id or directory."""
    try:
        from transformers import AutoModelForImageTextToText, AutoProcessor
    except ImportError as e:
        raise ModelNotAvailableError("a local VLM needs the models extra: pip install 'hfpc[models]'") from e
    from hfpc.checks.reward import pick_device_dtype
    from hfpc.models.loading import quiet_transformers, resolve, transformers_errors_only

    quiet_transformers()
    dev, dt = pick_device_dtype(device, dtype)
    path = resolve(name, "vision-language model")
    with transformers_errors_only():
        try:
            net = AutoModelForImageTextToText.from_pretrained(path, dtype=dt).to(dev).eval()
        except ValueError as e:
            why = str(e).splitlines()[0]
            raise ModelNotAvailableError(f"{name}: not an image-text-to-text model ({why})") from None
        processor = AutoProcessor.from_pretrained(path)
    if getattr(processor, "chat_template", None) is None:
        raise ModelNotAvailableError(f"{name}: its processor has no chat template, so it cannot be prompted")
    return net, processor, dev, dt
