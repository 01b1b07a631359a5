"""The reward-model training loop: frozen encoder with an embedding cache by default, optional
fine-tuning of the last encoder blocks, AdamW with warm-up + cosine schedule, early stopping on
validation ROC-AUC, seeded, with per-epoch metrics written to JSONL and CSV."""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from hfpc.data.images import load_image
from hfpc.models.encoders import RANDOM_ENCODERS, ImageEncoder, build_encoder
from hfpc.models.irrm import RewardModel
from hfpc.training.balance import balance_groups
from hfpc.training.cache import EmbeddingCache, default_cache_dir
from hfpc.training.groups import Group, build_groups, split_by_original
from hfpc.training.losses import hfpc_loss
from hfpc.types import Sample

log = logging.getLogger(__name__)


class TrainConfig(BaseModel):
    """Settings of ``hfpc train reward`` (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field("blip", description="hub id, alias, local directory, or random-vit-tiny/-small")
    fusion: Literal["attention", "concat", "none"] = "attention"
    class_loss: bool = Field(True, description="add the BCE classification loss to the ranking loss")
    epochs: int = Field(10, ge=1)
    batch_groups: int = Field(8, ge=1, description="originals (with all their generations) per step")
    max_pairs_per_group: int = Field(16, ge=1, description="(pass, fail) pairs drawn per original per step")
    lr: float = Field(3e-4, gt=0, description="learning rate of the reward head")
    encoder_lr: float = Field(2e-5, gt=0, description="learning rate of unfrozen encoder blocks")
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    patience: int = Field(3, ge=1, description="epochs without validation improvement before stopping")
    seed: int = 0
    balance_k: int = Field(25, ge=0, description="KMeans clusters for category balancing (0: off)")
    balance_target: Literal["median", "max"] = "median"
    finetune_blocks: int = Field(0, ge=-1, description="last encoder blocks to train (0: frozen, -1: all)")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="share of originals held out when no --val")
    cache: bool = Field(True, description="keep encoder embeddings on disk (frozen encoder only)")
    cache_dir: str | None = Field(None, description=(
        "embedding cache directory; default $HFPC_CACHE_DIR/embeddings or ~/.cache/hfpc/embeddings"))
    num_heads: int = 8
    mlp_hidden: int = 512
    dropout: float = 0.1
    batch_size: int = Field(32, ge=1, description="images per encoder forward pass")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch: a training run is repeatable."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Features:
    """Tokens for samples: from the cache when the encoder is frozen, else computed with grad."""

    def __init__(self, encoder: ImageEncoder, frozen: bool, cache_dir: str | None) -> None:
        self.encoder = encoder
        self.frozen = frozen
        self.cache = EmbeddingCache(encoder, cache_dir) if frozen else None
        self.pixels: dict[str, torch.Tensor] = {}

    def prefetch(self, paths: list[str], progress: Callable[[int], None] | None = None) -> None:
        """Encode (frozen: into the cache) or preprocess every image once, ahead of training."""
        if self.cache is not None:
            self.cache.fill(paths, progress=progress)
        else:
            for p in dict.fromkeys(paths):
                if p not in self.pixels:
                    self.pixels[p] = self.encoder.preprocess([load_image(p).rgb])[0]
                if progress:
                    progress(1)

    def tokens(self, paths: list[str]) -> torch.Tensor:
        """Tokens of the images at ``paths`` (B×T×D, float32)."""
        if self.cache is not None:
            return torch.stack([self.cache.get(p) for p in paths]).float()
        self.prefetch(paths)
        uniq = list(dict.fromkeys(paths))
        out = self.encoder(torch.stack([self.pixels[p] for p in uniq])).tokens.float()
        index = {p: i for i, p in enumerate(uniq)}
        return out[[index[p] for p in paths]]


def _batch(groups: list[Group], rng: random.Random, max_pairs: int
           ) -> tuple[list[Sample], torch.Tensor, torch.Tensor]:
    samples: list[Sample] = []
    pairs: list[tuple[int, int]] = []
    for g in groups:
        base = len(samples)
        samples.extend(g.samples)
        np_, nf = len(g.passed), len(g.failed)
        all_pairs = [(base + i, base + np_ + j) for i in range(np_) for j in range(nf)]
        pairs.extend(rng.sample(all_pairs, min(max_pairs, len(all_pairs))))
    labels = torch.tensor([s.label for s in samples], dtype=torch.float32)
    return samples, labels, torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)


def _scores(model: RewardModel, feats: Features, samples: list[Sample], batch: int) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(samples), batch):
            chunk = samples[i:i + batch]
            g = feats.tokens([s.generated for s in chunk])
            o = feats.tokens([s.original for s in chunk]) if model.config.fusion != "none" else None
            out.append(model.rewards(g, o)[0].float().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def evaluate_groups(model: RewardModel, feats: Features, groups: list[Group], batch: int,
                    use_class: bool) -> dict[str, float]:
    """Validation loss, ROC-AUC and accuracy at σ(r) = 0.5 over ``groups``."""
    from sklearn.metrics import roc_auc_score

    samples = [s for g in groups for s in g.samples]
    r = _scores(model, feats, samples, batch)
    labels = np.array([s.label for s in samples])
    rt = torch.from_numpy(r)
    pairs, base = [], 0
    for g in groups:
        np_ = len(g.passed)
        pairs += [(base + i, base + np_ + j) for i in range(np_) for j in range(len(g.failed))]
        base += len(g.samples)
    _, parts = hfpc_loss(rt, torch.from_numpy(labels), torch.tensor(pairs, dtype=torch.long).reshape(-1, 2), use_class)
    auc = float(roc_auc_score(labels, r)) if 0 < labels.sum() < len(labels) else float("nan")
    acc = float(((1 / (1 + np.exp(-r)) >= 0.5) == labels).mean()) if len(labels) else float("nan")
    return {"val_loss": parts["loss"], "val_auc": auc, "val_acc": acc, "val_n": len(labels)}


def train_reward(train: list[Sample], val: list[Sample] | None, config: TrainConfig, out: str | Path,
                 progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Train a reward model on labelled samples and save the best checkpoint to ``out``.

    ``progress(stage, done, total)`` is called as work advances. Returns the training summary
    (also written to ``out/training_summary.json``).
    """
    t0 = time.time()
    seed_everything(config.seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if val is None:
        train, val = split_by_original(train, config.val_fraction, config.seed)
    overlap = {s.original for s in train} & {s.original for s in val}
    if overlap:
        raise ValueError(f"{len(overlap)} originals are in both the training and validation sets, "
                         f"e.g. {next(iter(overlap))}")
    tr_groups = [g for g in build_groups(train) if g.samples]
    va_groups = [g for g in build_groups(val) if g.samples]
    if not tr_groups or not any(g.pairs() for g in tr_groups):
        raise ValueError("training needs labelled samples with at least one original that has both "
                         "a passed and a failed generation")
    encoder = build_encoder(config.encoder, seed=config.seed)
    encoder.unfreeze_last(config.finetune_blocks)
    frozen = config.finetune_blocks == 0
    model = RewardModel.for_encoder(encoder, fusion=config.fusion, num_heads=config.num_heads,
                                    mlp_hidden=config.mlp_hidden, dropout=config.dropout)
    cache_dir = (config.cache_dir or str(default_cache_dir())) if config.cache else None
    feats = Features(encoder, frozen, cache_dir)

    all_paths = [s.generated for g in tr_groups + va_groups for s in g.samples]
    all_paths += [g.original for g in tr_groups + va_groups]
    uniq = list(dict.fromkeys(all_paths))
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("encoding", done, len(uniq))

    feats.prefetch(uniq, tick)

    balance_info: dict[str, Any] = {"enabled": False}
    order = list(range(len(tr_groups)))
    if config.balance_k > 0 and len(tr_groups) > 1:
        with torch.no_grad():
            emb = encoder.encode([load_image(g.original).rgb for g in tr_groups], config.batch_size).tokens
        # mean patch token: informative even for encoders whose pooled CLS vector is not trained
        bal = balance_groups(emb.float().mean(1).numpy(), config.balance_k, config.seed, config.balance_target)
        order = bal.indices
        balance_info = {"enabled": True, "k": len(bal.before), "before": bal.before, "after": bal.after}
        log.info("cluster sizes before balancing: %s; after: %s", bal.before, bal.after)

    params = [{"params": model.head.parameters(), "lr": config.lr}]
    enc_params = [p for p in encoder.parameters() if p.requires_grad]
    if enc_params:
        params.append({"params": enc_params, "lr": config.encoder_lr})
    opt = torch.optim.AdamW(params, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(order) / config.batch_groups)
    total = steps_per_epoch * config.epochs
    warm = int(config.warmup_ratio * total)

    def schedule(step: int) -> float:
        if step < warm:
            return (step + 1) / max(1, warm)
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    rng = random.Random(config.seed)
    history: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    best_state = None
    bad_epochs = 0
    step = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        encoder.train(not frozen)
        rng.shuffle(order)
        losses = []
        for b in range(steps_per_epoch):
            groups = [tr_groups[i] for i in order[b * config.batch_groups:(b + 1) * config.batch_groups]]
            samples, labels, pairs = _batch(groups, rng, config.max_pairs_per_group)
            g = feats.tokens([s.generated for s in samples])
            o = feats.tokens([s.original for s in samples]) if config.fusion != "none" else None
            r, _ = model.rewards(g, o)
            loss, parts = hfpc_loss(r.float(), labels, pairs, config.class_loss)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.head.parameters()) + enc_params, 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(parts)
            if progress:
                progress(f"epoch {epoch}/{config.epochs}", b + 1, steps_per_epoch)
        model.eval()
        encoder.eval()
        metrics = {"epoch": epoch, "step": step,
                   "train_loss": float(np.mean([x["loss"] for x in losses])),
                   "train_rank": float(np.mean([x["rank"] for x in losses])),
                   "train_class": float(np.mean([x["class"] for x in losses])),
                   "lr": sched.get_last_lr()[0]}
        if va_groups:
            metrics.update(evaluate_groups(model, feats, va_groups, config.batch_size, config.class_loss))
        history.append(metrics)
        write_log(out, history)
        key = metrics.get("val_auc", float("nan"))
        score = key if key == key else -metrics.get("val_loss", metrics["train_loss"])
        if best is None or score > best["score"]:
            best = {"score": score, "epoch": epoch, "metrics": metrics}
            best_state = (copy.deepcopy(model.head.state_dict()),
                          copy.deepcopy(encoder.state_dict()) if not frozen else None)
            bad_epochs = 0
        else:
            bad_epochs += 1
            if bad_epochs >= config.patience:
                log.info("early stop at epoch %d (best %d)", epoch, best["epoch"])
                break
    assert best is not None and best_state is not None
    model.head.load_state_dict(best_state[0])
    if best_state[1] is not None:
        encoder.load_state_dict(best_state[1])
    summary = {
        "config": config.model_dump(), "best_epoch": best["epoch"], "best": best["metrics"],
        "epochs_run": len(history), "train_groups": len(tr_groups), "val_groups": len(va_groups),
        "train_samples": sum(len(g.samples) for g in tr_groups),
        "val_samples": sum(len(g.samples) for g in va_groups),
        "balance": balance_info, "seconds": round(time.time() - t0, 1),
    }
    save_encoder = not frozen or config.encoder in RANDOM_ENCODERS
    model.save_pretrained(out, summary, save_encoder=save_encoder)
    return summary


def write_log(out: Path, history: list[dict[str, Any]]) -> None:
    """Per-epoch metrics to ``metrics.jsonl`` and ``metrics.csv`` in ``out``."""
    (out / "metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    keys = list(dict.fromkeys(k for h in history for k in h))
    with (out / "metrics.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)
