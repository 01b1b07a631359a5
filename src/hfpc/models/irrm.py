"""The image-referenced reward model (HFPC Module 1).

Tokens of the generated image attend to tokens of the original (cross-attention); each generated
token, what it attended to and their difference are fused, pooled by a learned attention pooling
(whose weights are the heatmap of what the model looked at), and an MLP gives one reward r;
σ(r) is the probability that a reviewer passes the image. ``fusion`` reproduces the paper's
ablations: ``"concat"`` joins pooled vectors instead of attending, ``"none"`` ignores the
original (an ImageReward-style baseline).

A checkpoint is a directory: ``config.json`` (this model's config, including its encoder, score
threshold and direction), ``model.safetensors`` (the head) and, when the encoder is not a plain
pretrained reference, ``encoder/`` (the tower and processor it was trained with).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from hfpc.models.encoders import EncoderOutput, ImageEncoder, build_encoder


class RewardConfig(BaseModel):
    """Everything that travels with a reward checkpoint."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field("blip", description="encoder name, or 'encoder' for the copy inside the checkpoint")
    hidden_size: int = Field(768, description="width of the encoder's tokens")
    fusion: Literal["attention", "concat", "none"] = "attention"
    num_heads: int = 8
    mlp_hidden: int = 512
    dropout: float = 0.1
    threshold: float = Field(0.5, description="default pass threshold on σ(r)")
    prefix_tokens: int = Field(1, description="tokens before the patch grid (CLS)")
    grid: int = Field(24, description="patches per side")
    hfpc_model: str = "irrm"


class RewardHead(nn.Module):
    """Fusion + attention pooling + MLP over encoder tokens."""

    def __init__(self, cfg: RewardConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        heads = cfg.num_heads if d % cfg.num_heads == 0 else 1
        self.fusion = cfg.fusion
        self.cross = nn.MultiheadAttention(d, heads, dropout=cfg.dropout, batch_first=True) \
            if cfg.fusion == "attention" else None
        # each generated token, what it attended to in the original, and their difference
        self.fuse = nn.Sequential(nn.Linear(3 * d, d), nn.GELU()) if cfg.fusion == "attention" else None
        self.norm = nn.LayerNorm(d)
        self.pool = nn.Linear(d, 1)
        n_in = 2 * d if cfg.fusion in ("attention", "concat") else d
        self.mlp = nn.Sequential(nn.Linear(n_in, cfg.mlp_hidden), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.mlp_hidden, cfg.mlp_hidden // 4), nn.GELU(),
                                 nn.Linear(cfg.mlp_hidden // 4, 1))

    def _attn_pool(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = torch.softmax(self.pool(tokens).squeeze(-1).float(), dim=-1).to(tokens.dtype)
        return (w.unsqueeze(-1) * tokens).sum(1), w

    def features(self, gen: torch.Tensor, orig: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The pooled vector the MLP reads (B×n_in) and the pooling weights over the generated
        image's tokens (B×T): the encode→fuse→pool path every head on these tokens shares."""
        gen = self.norm(gen)
        if self.fusion == "none" or orig is None:
            return self._attn_pool(gen)
        orig = self.norm(orig)
        if self.fusion == "attention":
            attended, _ = self.cross(gen, orig, orig, need_weights=False)
            fused = self.fuse(torch.cat([gen, attended, gen - attended], -1))
            pooled, w = self._attn_pool(fused)
            return torch.cat([pooled, gen.mean(1)], -1), w
        pooled, w = self._attn_pool(gen)
        opooled, _ = self._attn_pool(orig)
        return torch.cat([pooled, opooled], -1), w

    def forward(self, gen: torch.Tensor, orig: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Rewards (B) and pooling weights over the generated image's tokens (B×T)."""
        vec, w = self.features(gen, orig)
        return self.mlp(vec).squeeze(-1), w


class RewardModel(nn.Module):
    """Encoder + reward head; one encode→head path for scoring, ranking and training."""

    def __init__(self, config: RewardConfig, encoder: ImageEncoder | None = None) -> None:
        super().__init__()
        self.config = config
        self.head = RewardHead(config)
        self.encoder = encoder

    @classmethod
    def for_encoder(cls, encoder: ImageEncoder, **overrides: Any) -> RewardModel:
        """A new, untrained model sized for ``encoder``."""
        probe = encoder.tower.config
        cfg = RewardConfig(encoder=encoder.name, hidden_size=encoder.hidden_size,
                           grid=encoder.grid, prefix_tokens=int(getattr(probe, "num_register_tokens", 0)) + (
                               0 if encoder.model_type.startswith("siglip") else 1), **overrides)
        return cls(cfg, encoder)

    def rewards(self, gen: EncoderOutput | torch.Tensor, orig: EncoderOutput | torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rewards and pooling weights from encoder outputs (or token tensors)."""
        g = gen.tokens if isinstance(gen, EncoderOutput) else gen
        o = orig.tokens if isinstance(orig, EncoderOutput) else orig
        head_dtype = next(self.head.parameters()).dtype
        return self.head(g.to(head_dtype), None if o is None else o.to(head_dtype))

    def patch_weights(self, weights: torch.Tensor) -> torch.Tensor:
        """Pooling weights reshaped to the patch grid (B×grid×grid), prefix tokens dropped."""
        g = self.config.grid
        w = weights[:, -g * g:]
        return (w / w.amax(dim=1, keepdim=True).clamp_min(1e-12)).reshape(-1, g, g)

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
                        dtype: torch.dtype | None = None) -> RewardModel:
        """Load a checkpoint directory or hub id; the head is loaded strictly."""
        from safetensors.torch import load_file

        from hfpc.errors import ModelNotAvailableError
        from hfpc.models.loading import resolve

        path = resolve(str(name), "reward model")
        try:
            cfg = RewardConfig(**json.loads((path / "config.json").read_text()))
        except Exception as e:  # noqa: BLE001
            raise ModelNotAvailableError(f"{path}/config.json: not a reward model config ({e})") from None
        model = cls(cfg)
        weights = path / "model.safetensors"
        if not weights.is_file():
            raise ModelNotAvailableError(f"{path}: model.safetensors is missing")
        model.head.load_state_dict(load_file(str(weights)), strict=True)
        if load_encoder:
            enc_name = str(path / cfg.encoder) if (path / cfg.encoder).is_dir() else cfg.encoder
            model.encoder = build_encoder(enc_name, dtype=dtype)
        return model.eval()

    @torch.no_grad()
    def score_images(self, originals: list, generated: list, batch_size: int = 32) -> torch.Tensor:
        """σ(r) for each (original, generated) pair of RGB arrays (originals may repeat)."""
        if self.encoder is None:
            raise ValueError("the model was loaded without its encoder")
        gen = self.encoder.encode(generated, batch_size)
        orig = self.encoder.encode(originals, batch_size) if self.config.fusion != "none" else None
        r, _ = self.rewards(gen, orig)
        return torch.sigmoid(r.float())
