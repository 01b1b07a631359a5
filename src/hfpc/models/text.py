"""The text tower of an image encoder's checkpoint: a product caption as one vector.

RFNet reads the product's caption next to the images. An encoder trained with text (CLIP, SigLIP,
BLIP) has a text tower in the same checkpoint; its caption embedding is what the taxonomy model
reads. Encoders without one (DINOv2, the random demo encoders) have no caption input.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from hfpc.errors import ModelNotAvailableError
from hfpc.models.encoders import RANDOM_ENCODERS

# model_type → (class that owns the checkpoint's text tower, how its caption vector is computed)
_TEXT_OWNERS = {"clip": "CLIPModel", "siglip": "SiglipModel", "blip": "BlipForImageTextRetrieval"}


class TextTower:
    """Caption → L2-normalised embedding (B×D); an empty caption gives zeros."""

    def __init__(self, model: Any, tokenizer: Any, model_type: str) -> None:
        self.model, self.tokenizer, self.model_type = model, tokenizer, model_type

    @property
    def dim(self) -> int:
        """Width of the caption vector."""
        cfg = self.model.config
        if self.model_type == "blip":
            return int(cfg.image_text_hidden_size)
        return int(getattr(cfg, "projection_dim", None) or cfg.text_config.hidden_size)

    @property
    def max_length(self) -> int:
        """Longest caption in tokens: the text tower's positions (a tokenizer may claim any length)."""
        positions = int(self.model.config.text_config.max_position_embeddings)
        claimed = getattr(self.tokenizer, "model_max_length", None) or positions
        return min(positions, int(claimed)) if claimed < 1e6 else positions

    @torch.inference_mode()
    def encode(self, captions: list[str | None]) -> torch.Tensor:
        """One row per caption."""
        out = torch.zeros(len(captions), self.dim)
        idx = [i for i, c in enumerate(captions) if c]
        if not idx:
            return out
        tok = self.tokenizer([captions[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        if self.model_type == "blip":
            hidden = self.model.text_encoder(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])[0]
            vec = self.model.text_proj(hidden[:, 0, :])
        else:
            vec = self.model.get_text_features(**{k: v for k, v in tok.items() if k in ("input_ids", "attention_mask")})
            vec = getattr(vec, "pooler_output", vec)
        out[idx] = torch.nn.functional.normalize(vec.float(), dim=-1)
        return out


def has_text_tower(encoder: str) -> bool:
    """Whether ``encoder``'s checkpoint has a text tower and a tokenizer hfpc can read (no weights are loaded)."""
    if encoder in RANDOM_ENCODERS:
        return False
    try:
        from transformers import AutoConfig

        from hfpc.models.loading import resolve

        path = resolve(encoder, "image encoder")
        tokenizer = any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                                       "vocab.json", "spiece.model"))
        return tokenizer and AutoConfig.from_pretrained(path).model_type in _TEXT_OWNERS
    except Exception:  # noqa: BLE001 - unreadable or absent: no caption input
        return False


@functools.lru_cache(maxsize=2)
def load_text_tower(encoder: str) -> TextTower:
    """The text tower and tokenizer of ``encoder``'s checkpoint (hub id, alias or directory)."""
    import transformers
    from transformers import AutoConfig, AutoTokenizer

    from hfpc.models.loading import quiet_transformers, resolve, transformers_errors_only

    quiet_transformers()
    path = resolve(encoder, "image encoder")
    with transformers_errors_only():
        model_type = AutoConfig.from_pretrained(path).model_type
        if model_type not in _TEXT_OWNERS:
            raise ModelNotAvailableError(f"{encoder}: a {model_type!r} checkpoint has no text tower for captions "
                                         f"(those with one: {', '.join(sorted(_TEXT_OWNERS))})")
        model = getattr(transformers, _TEXT_OWNERS[model_type]).from_pretrained(path).eval()
        tokenizer = AutoTokenizer.from_pretrained(path)
    return TextTower(model, tokenizer, model_type)
