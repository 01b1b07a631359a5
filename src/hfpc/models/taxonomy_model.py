"""A failure-taxonomy classifier in the spirit of RFNet: which reason, if any, rejects an image.

RFNet classifies a generated ad into RF1M's categories from the product, the generated image and
maps of the scene. Here the original and the generated image go through the reward model's
encoder and fusion (generated tokens attend to the original's, attention pooling: the same
:class:`~hfpc.models.irrm.RewardHead` path), the pooled vector is joined by coarse maps of the
generated image (spectral-residual salience, always; monocular depth when a depth model is
named) and, for an encoder with a text tower, the product caption's embedding; an MLP gives one
logit per class. Classes are whatever the training labels name:
``good`` (RF1M's "available") plus failure codes (``floating``, ``size_mismatch``,
``indistinct``, ``shape_hallucination``, HFPC's ``product_altered`` …).

A checkpoint is a directory: ``config.json`` (this config: encoder, classes, threshold, maps),
``model.safetensors`` (the head) and, for an encoder that is not a plain pretrained reference,
``encoder/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from hfpc.models.encoders import ImageEncoder, build_encoder
from hfpc.models.irrm import RewardConfig, RewardHead
from hfpc.taxonomy import GOOD


class TaxonomyConfig(BaseModel):
    """Everything that travels with a taxonomy checkpoint."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field("blip", description="encoder name, or 'encoder' for the copy inside the checkpoint")
    hidden_size: int = 768
    fusion: Literal["attention", "concat", "none"] = "attention"
    num_heads: int = 8
    mlp_hidden: int = 512
    dropout: float = 0.1
    prefix_tokens: int = 1
    grid: int = 24
    classes: list[str] = Field(..., min_length=2, description="class names; 'good' is the pass class")
    threshold: float = Field(0.5, ge=0, le=1, description=(
        "an image fails when its probability of 'good' is below this; its most probable failure class names it"))
    maps: list[Literal["salience", "depth"]] = Field(default_factory=lambda: ["salience"])
    map_grid: int = Field(8, ge=1, le=32, description="each map is pooled to map_grid × map_grid values")
    depth_model: str | None = Field(None, description="depth checkpoint for the 'depth' map")
    caption_dim: int = Field(0, ge=0, description=(
        "width of the caption vector from the encoder's own text tower (CLIP, SigLIP, BLIP); 0: no caption input"))
    hfpc_model: Literal["taxonomy"] = "taxonomy"

    @model_validator(mode="after")
    def _check(self) -> TaxonomyConfig:
        if GOOD not in self.classes:
            raise ValueError(f"classes must include {GOOD!r} (the pass class), got {self.classes}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes repeat: {self.classes}")
        if "depth" in self.maps and not self.depth_model:
            raise ValueError("the depth map needs depth_model")
        return self

    def head_config(self) -> RewardConfig:
        """The shared fusion head's settings."""
        return RewardConfig(encoder=self.encoder, hidden_size=self.hidden_size, fusion=self.fusion,
                            num_heads=self.num_heads, mlp_hidden=self.mlp_hidden, dropout=self.dropout,
                            prefix_tokens=self.prefix_tokens, grid=self.grid)


class TaxonomyHead(RewardHead):
    """The reward head's fusion and pooling; an MLP over the pooled vector and the maps gives one
    logit per class."""

    def __init__(self, cfg: TaxonomyConfig) -> None:
        super().__init__(cfg.head_config())
        d = cfg.hidden_size
        n_in = ((2 * d if cfg.fusion in ("attention", "concat") else d) + len(cfg.maps) * cfg.map_grid ** 2
                + cfg.caption_dim)
        self.mlp = nn.Sequential(nn.Linear(n_in, cfg.mlp_hidden), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.mlp_hidden, cfg.mlp_hidden // 4), nn.GELU(),
                                 nn.Linear(cfg.mlp_hidden // 4, len(cfg.classes)))

    def forward(self, gen: torch.Tensor, orig: torch.Tensor | None,  # type: ignore[override]
                maps: torch.Tensor, caption: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits (B×C) and pooling weights over the generated image's tokens (B×T)."""
        vec, w = self.features(gen, orig)
        parts = [vec, maps.to(vec.dtype)] + ([] if caption is None else [caption.to(vec.dtype)])
        return self.mlp(torch.cat(parts, -1)), w


def scene_maps(rgb: np.ndarray, maps: list[str], grid: int, depth: np.ndarray | None = None) -> np.ndarray:
    """The coarse maps of a generated image the classifier reads: each pooled to grid × grid and
    scaled to 0–1 (salience: where the eye goes; depth: relative inverse depth)."""
    from hfpc.scene import downscale, spectral_salience

    small = downscale(rgb, 128)
    out = []
    for name in maps:
        if name == "salience":
            m = spectral_salience(small)
        elif depth is not None:
            m = depth.astype(np.float32)
        else:
            raise ValueError("the depth map needs a depth prediction")
        m = cv2.resize(m, (grid, grid), interpolation=cv2.INTER_AREA)
        lo, hi = float(m.min()), float(m.max())
        out.append(((m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)).ravel())
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


class TaxonomyModel(nn.Module):
    """Encoder + taxonomy head: original and generated image (and their maps) → class probabilities."""

    def __init__(self, config: TaxonomyConfig, encoder: ImageEncoder | None = None) -> None:
        super().__init__()
        self.config = config
        self.head = TaxonomyHead(config)
        self.encoder = encoder

    @classmethod
    def for_encoder(cls, encoder: ImageEncoder, classes: list[str], **overrides: Any) -> TaxonomyModel:
        """A new, untrained model sized for ``encoder``."""
        probe = encoder.tower.config
        prefix = int(getattr(probe, "num_register_tokens", 0)) + (0 if encoder.model_type.startswith("siglip") else 1)
        cfg = TaxonomyConfig(encoder=encoder.name, hidden_size=encoder.hidden_size, grid=encoder.grid,
                             prefix_tokens=prefix, classes=classes, **overrides)
        return cls(cfg, encoder)

    def logits(self, gen: torch.Tensor, orig: torch.Tensor | None, maps: torch.Tensor,
               captions: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits from encoder tokens, maps and (when the model reads them) caption vectors."""
        dtype = next(self.head.parameters()).dtype
        if self.config.caption_dim and captions is None:
            captions = torch.zeros(len(gen), self.config.caption_dim)
        cap = captions.to(dtype) if self.config.caption_dim and captions is not None else None
        return self.head(gen.to(dtype), None if orig is None else orig.to(dtype), maps.to(dtype), cap)[0]

    def save_pretrained(self, path: str | Path, summary: dict[str, Any] | None = None,
                        save_encoder: bool = False) -> Path:
        """Write ``config.json``, ``model.safetensors`` (and ``encoder/``, a training summary)."""
        from safetensors.torch import save_file

        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        cfg = self.config.model_copy()
        if save_encoder:
            if self.encoder is None:
                raise ValueError("no encoder to save")
            self.encoder.save_pretrained(p / "encoder")
            cfg.encoder = "encoder"
        state = {k: v.detach().float().contiguous() for k, v in self.head.state_dict().items()}
        save_file(state, str(p / "model.safetensors"), metadata={"format": "pt"})
        (p / "config.json").write_text(cfg.model_dump_json(indent=2))
        if summary is not None:
            (p / "training_summary.json").write_text(json.dumps(summary, indent=2, default=str))
        return p

    @classmethod
    def from_pretrained(cls, name: str | Path, load_encoder: bool = True,
                        dtype: torch.dtype | None = None) -> TaxonomyModel:
        """Load a checkpoint directory or hub id; the head is loaded strictly."""
        from safetensors.torch import load_file

        from hfpc.errors import ModelNotAvailableError
        from hfpc.models.loading import resolve

        path = resolve(str(name), "taxonomy model")
        try:
            cfg = TaxonomyConfig(**json.loads((path / "config.json").read_text()))
        except Exception as e:  # noqa: BLE001
            raise ModelNotAvailableError(f"{path}/config.json: not a taxonomy model config ({e})") from None
        model = cls(cfg)
        weights = path / "model.safetensors"
        if not weights.is_file():
            raise ModelNotAvailableError(f"{path}: model.safetensors is missing")
        model.head.load_state_dict(load_file(str(weights)), strict=True)
        if load_encoder:
            enc_name = str(path / cfg.encoder) if (path / cfg.encoder).is_dir() else cfg.encoder
            model.encoder = build_encoder(enc_name, dtype=dtype)
        return model.eval()
