"""One interface over transformers image encoders: BLIP, CLIP, SigLIP and DINOv2 vision towers.

``ImageEncoder.from_pretrained(name)`` loads the tower and the model's own image processor
through :mod:`hfpc.models.loading`; ``encode`` returns patch tokens and a pooled vector.
``random_encoder`` builds a small randomly initialised tower from a config (no weights), for
demos, tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hfpc.models.loading import load_vision_tower


@dataclass
class EncoderOutput:
    """Patch tokens (B×T×D, prefix tokens such as CLS first) and pooled vectors (B×D)."""

    tokens: torch.Tensor
    pooled: torch.Tensor


class ImageEncoder(nn.Module):
    """A vision tower with its preprocessing; frozen unless blocks are unfrozen for fine-tuning."""

    def __init__(self, tower: nn.Module, processor: Any, name: str, model_type: str) -> None:
        super().__init__()
        self.tower = tower
        self.processor = processor
        self.name = name
        self.model_type = model_type
        self.requires_grad_(False)

    @classmethod
    def from_pretrained(cls, name: str, dtype: torch.dtype | None = None) -> ImageEncoder:
        """Load a hub id, alias (``blip``, ``clip``, ``siglip``, ``dinov2``) or local directory."""
        tower, processor, info = load_vision_tower(name, dtype=dtype)
        return cls(tower, processor, name, info["model_type"])

    @property
    def hidden_size(self) -> int:
        """Width of the tokens."""
        return int(self.tower.config.hidden_size)

    @property
    def grid(self) -> int:
        """Patches per side of the token grid."""
        c = self.tower.config
        return int(c.image_size) // int(c.patch_size)

    def prefix_tokens(self, n_tokens: int) -> int:
        """Tokens before the patch grid (CLS, registers)."""
        return n_tokens - self.grid * self.grid

    def preprocess(self, images: list[np.ndarray]) -> torch.Tensor:
        """RGB uint8 arrays → pixel values, with the checkpoint's own resize and normalisation."""
        return self.processor(images=images, return_tensors="pt")["pixel_values"]

    def forward(self, pixel_values: torch.Tensor) -> EncoderOutput:
        """Run the tower on preprocessed pixels."""
        dtype = next(self.tower.parameters()).dtype
        out = self.tower(pixel_values=pixel_values.to(dtype))
        tokens = out.last_hidden_state
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = tokens[:, 0]
        return EncoderOutput(tokens, pooled)

    @torch.no_grad()
    def encode(self, images: list[np.ndarray], batch_size: int = 32) -> EncoderOutput:
        """Encode images in batches (no gradients)."""
        toks, pools = [], []
        for i in range(0, len(images), batch_size):
            out = self(self.preprocess(images[i:i + batch_size]))
            toks.append(out.tokens)
            pools.append(out.pooled)
        return EncoderOutput(torch.cat(toks), torch.cat(pools))

    def unfreeze_last(self, n_blocks: int) -> None:
        """Make the last ``n_blocks`` transformer blocks (and the final norm) trainable; -1: all."""
        if n_blocks == 0:
            return
        if n_blocks < 0:
            self.requires_grad_(True)
            return
        layers = _blocks(self.tower)
        for block in layers[-n_blocks:]:
            block.requires_grad_(True)
        for name, mod in self.tower.named_children():
            if "norm" in name:
                mod.requires_grad_(True)

    def save_pretrained(self, path: str | Path) -> None:
        """Save the tower and its processor so ``from_pretrained(path)`` restores them exactly."""
        from hfpc.models.loading import quiet_transformers

        quiet_transformers()
        self.tower.save_pretrained(path)
        self.processor.save_pretrained(path)


def _blocks(tower: nn.Module) -> list[nn.Module]:
    enc = getattr(tower, "encoder", None)
    for attr in ("layers", "layer"):
        if enc is not None and hasattr(enc, attr):
            return list(getattr(enc, attr))
    raise ValueError(f"cannot find the transformer blocks of {type(tower).__name__}")


RANDOM_ENCODERS: dict[str, dict[str, int]] = {
    "random-vit-tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                        "num_attention_heads": 4, "image_size": 64, "patch_size": 8},
    "random-vit-small": {"hidden_size": 192, "intermediate_size": 768, "num_hidden_layers": 4,
                         "num_attention_heads": 3, "image_size": 96, "patch_size": 8},
    "random-blip-base-384": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                             "num_attention_heads": 12, "image_size": 384, "patch_size": 16},
}
"""Randomly initialised BLIP-style vision towers built from configs (no weights are read).
``random-blip-base-384`` has the architecture and cost of the paper's BLIP ViT-B/16 encoder."""


def random_encoder(name: str, seed: int = 0) -> ImageEncoder:
    """A BLIP vision tower with random weights and BLIP's preprocessing at its image size."""
    from transformers import BlipVisionConfig, BlipVisionModel

    try:  # the PIL processor: the default one wants torchvision, which is not a dependency
        from transformers import BlipImageProcessorPil as BlipImageProcessor
    except ImportError:  # pragma: no cover - older transformers
        from transformers import BlipImageProcessor

    if name not in RANDOM_ENCODERS:
        raise KeyError(f"unknown random encoder {name!r}; choose from {sorted(RANDOM_ENCODERS)}")
    cfg = RANDOM_ENCODERS[name]
    torch.manual_seed(seed)
    # BLIP's default initializer_range is 1e-10 (its weights are always loaded); a random tower
    # needs a real scale or every token is ~0
    tower = BlipVisionModel(BlipVisionConfig(**cfg, initializer_range=0.02)).eval()
    size = cfg["image_size"]
    processor = BlipImageProcessor(size={"height": size, "width": size})
    return ImageEncoder(tower, processor, name, "blip_vision_model")


def build_encoder(name: str, dtype: torch.dtype | None = None, seed: int = 0) -> ImageEncoder:
    """A named random encoder (``random-…``) or a pretrained one (hub id, alias, directory)."""
    if name in RANDOM_ENCODERS:
        enc = random_encoder(name, seed)
        return enc.to(dtype) if dtype is not None else enc
    return ImageEncoder.from_pretrained(name, dtype=dtype)


def save_random_clip(path: str | Path, seed: int = 0, width: int = 64, image_size: int = 64) -> Path:
    """Save a small randomly initialised CLIP (vision + text, character-level tokenizer) to ``path``.

    For demos, tests and benchmarks of the CLIP baselines without downloads; its scores mean
    nothing about image quality.
    """
    import json
    import string

    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer

    try:
        from transformers import CLIPImageProcessorPil as CLIPImageProcessor
    except ImportError:  # pragma: no cover - older transformers
        from transformers import CLIPImageProcessor

    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in string.ascii_lowercase + string.digits + ".,!?'- ":
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    (p / "vocab.json").write_text(json.dumps(vocab))
    (p / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(p / "vocab.json"), str(p / "merges.txt"))
    torch.manual_seed(seed)
    layers = {"hidden_size": width, "intermediate_size": 2 * width, "num_hidden_layers": 2, "num_attention_heads": 2}
    cfg = CLIPConfig(vision_config={**layers, "image_size": image_size, "patch_size": 8},
                     text_config={**layers, "vocab_size": len(vocab), "max_position_embeddings": 32,
                                  "eos_token_id": 1, "bos_token_id": 0, "pad_token_id": 1},
                     projection_dim=width // 2)
    CLIPModel(cfg).save_pretrained(p)
    image_proc = CLIPImageProcessor(size={"shortest_edge": image_size},
                                    crop_size={"height": image_size, "width": image_size})
    CLIPProcessor(image_processor=image_proc, tokenizer=tok).save_pretrained(p)
    return p
