"""``hfpc train taxonomy``: learn which reason rejects an image from labels that name one.

The same encoder, embedding cache, seeding, split by original and metric logs as the reward
model's training (:mod:`hfpc.training.loop`); the head is :class:`~hfpc.models.taxonomy_model.TaxonomyHead`,
trained with class-weighted cross-entropy and stopped early on validation macro-F1; the pass
threshold on the probability of ``good`` that names reasons best on validation is stored with it.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from hfpc.data.images import load_image
from hfpc.evaluation.reasons import confusion_matrix, macro_f1, per_class
from hfpc.models.encoders import RANDOM_ENCODERS, build_encoder
from hfpc.models.taxonomy_model import TaxonomyModel, scene_maps
from hfpc.taxonomy import GOOD, SEVERITY, label_class
from hfpc.training.cache import default_cache_dir
from hfpc.training.groups import split_by_original
from hfpc.training.loop import Features, seed_everything, write_log
from hfpc.types import Sample


class TaxonomyTrainConfig(BaseModel):
    """Settings of ``hfpc train taxonomy`` (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field("blip", description="hub id, alias, local directory, or random-vit-tiny/-small")
    fusion: Literal["attention", "concat", "none"] = "attention"
    maps: list[Literal["salience", "depth"]] = Field(default_factory=lambda: ["salience"])
    depth_model: str | None = Field(None, description="depth checkpoint for the 'depth' map")
    map_grid: int = Field(8, ge=1, le=32)
    captions: bool = Field(True, description=(
        "read the samples' captions through the encoder's text tower when it has one (CLIP, SigLIP, BLIP)"))
    epochs: int = Field(15, ge=1)
    batch_size: int = Field(32, ge=1, description="samples per step (and images per encoder pass)")
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    patience: int = Field(4, ge=1, description="epochs without a better validation macro-F1 before stopping")
    class_weights: bool = Field(True, description="weight the loss by inverse class frequency (rare reasons count)")
    seed: int = 0
    val_fraction: float = Field(0.15, gt=0, lt=1, description="share of originals held out when no --val")
    cache: bool = True
    cache_dir: str | None = None
    num_heads: int = 8
    mlp_hidden: int = 256
    dropout: float = 0.1


def sample_class(s: Sample) -> str | None:
    """A training sample's class: ``good`` when it passed, its failure code (from the manifest's
    ``failure``, ``reason`` or ``category`` column), None when unknown."""
    return label_class(s.failure or s.meta.get("reason") or s.meta.get("category"), s.label)


def _labelled(samples: list[Sample]) -> tuple[list[tuple[Sample, str]], int]:
    out = [(s, c) for s in samples if (c := sample_class(s)) is not None]
    return out, len(samples) - len(out)


class _Maps:
    """Scene maps of generated images, computed once per path."""

    def __init__(self, maps: list[str], grid: int, depth_model: str | None) -> None:
        self.maps, self.grid = maps, grid
        self.depth = None
        if "depth" in maps:
            from hfpc.models.depth import load_depth

            self.depth = load_depth(depth_model or "depth")
        self.memory: dict[str, np.ndarray] = {}

    def fill(self, paths: list[str], progress: Callable[[int], None] | None = None) -> None:
        for p in dict.fromkeys(paths):
            if p not in self.memory:
                rgb = load_image(p).rgb
                d = self.depth.predict([rgb])[0] if self.depth is not None else None
                self.memory[p] = scene_maps(rgb, self.maps, self.grid, d)
            if progress:
                progress(1)

    def get(self, paths: list[str]) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.memory[p] for p in paths]))


class _Captions:
    """Caption vectors from the encoder's text tower, once per caption (None: the model reads none)."""

    def __init__(self, encoder: str | None) -> None:
        self.tower = None
        if encoder is not None:
            from hfpc.models.text import load_text_tower

            self.tower = load_text_tower(encoder)
        self.memory: dict[str, torch.Tensor] = {}

    @property
    def dim(self) -> int:
        return self.tower.dim if self.tower is not None else 0

    def get(self, samples: list[Sample]) -> torch.Tensor | None:
        if self.tower is None:
            return None
        todo = list(dict.fromkeys(s.caption or "" for s in samples if (s.caption or "") not in self.memory))
        if todo:
            for c, v in zip(todo, self.tower.encode(todo)):
                self.memory[c] = v
        return torch.stack([self.memory[s.caption or ""] for s in samples])


def _predict(model: TaxonomyModel, feats: Features, maps: _Maps, captions: _Captions, samples: list[Sample],
             batch: int) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(samples), batch):
            chunk = samples[i:i + batch]
            g = feats.tokens([s.generated for s in chunk])
            o = feats.tokens([s.original for s in chunk]) if model.config.fusion != "none" else None
            logits = model.logits(g, o, maps.get([s.generated for s in chunk]), captions.get(chunk))
            out.append(torch.softmax(logits.float(), -1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(model.config.classes)))


def decide(probs: np.ndarray, classes: list[str], threshold: float | None) -> list[str]:
    """Per row: ``good`` when its probability of good reaches ``threshold``, else its most probable
    failure class; with no threshold, simply the most probable class."""
    if threshold is None:
        return [classes[int(p.argmax())] for p in probs]
    good = classes.index(GOOD)
    failing = probs.copy()
    failing[:, good] = -1
    return [GOOD if p[good] >= threshold else classes[int(f.argmax())] for p, f in zip(probs, failing)]


def calibrate_threshold(probs: np.ndarray, truth: list[str], classes: list[str]) -> tuple[float, float]:
    """The probability-of-good threshold (0.05 … 0.95) with the best macro-F1 on validation
    predictions, and that macro-F1 (the lower threshold wins a tie)."""
    best = (0.5, -1.0)
    for t in np.round(np.arange(0.05, 0.951, 0.05), 2):
        f1 = macro_f1(per_class(truth, decide(probs, classes, float(t)), classes))
        if f1 > best[1] + 1e-12:
            best = (float(t), f1)
    return best


def train_taxonomy(train: list[Sample], val: list[Sample] | None, config: TaxonomyTrainConfig, out: str | Path,
                   progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Train a taxonomy classifier on samples whose labels name a reason; save the best epoch to ``out``.

    Failed samples without a reason are left out (counted in the summary); validation samples of
    a class the training set lacks cannot be learnt and are left out of the metrics too.
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
    tr, tr_skipped = _labelled(train)
    counts = Counter(c for _, c in tr)
    classes = [c for c in (GOOD, *SEVERITY) if c in counts] + sorted(set(counts) - {GOOD, *SEVERITY})
    if GOOD not in counts or len(classes) < 2:
        raise ValueError(f"training needs passed samples and failed samples that name a reason (reason/failure "
                         f"column); found classes {dict(counts)} and {tr_skipped} samples without one")
    va_all, va_skipped = _labelled(val)
    va = [(s, c) for s, c in va_all if c in counts]
    unseen = Counter(c for _, c in va_all if c not in counts)

    encoder = build_encoder(config.encoder, seed=config.seed)
    feats = Features(encoder, True, (config.cache_dir or str(default_cache_dir())) if config.cache else None)
    maps = _Maps(config.maps, config.map_grid, config.depth_model)
    samples = [s for s, _ in tr + va]
    images = list(dict.fromkeys([s.generated for s in samples] + [s.original for s in samples]))
    done = 0

    def tick(stage: str, total: int) -> Callable[[int], None]:
        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(stage, done, total)
        return step

    feats.prefetch(images, tick("encoding", len(images)))
    done = 0
    gens = list(dict.fromkeys(s.generated for s in samples))
    maps.fill(gens, tick("scene maps", len(gens)))

    from hfpc.models.text import has_text_tower

    use_captions = config.captions and has_text_tower(config.encoder) and any(s.caption for s in samples)
    captions = _Captions(config.encoder if use_captions else None)
    model = TaxonomyModel.for_encoder(encoder, classes, fusion=config.fusion, maps=config.maps,
                                      map_grid=config.map_grid, depth_model=config.depth_model,
                                      caption_dim=captions.dim,
                                      num_heads=config.num_heads, mlp_hidden=config.mlp_hidden,
                                      dropout=config.dropout)
    index = {c: i for i, c in enumerate(classes)}
    weight = None
    if config.class_weights:
        freq = np.array([counts[c] for c in classes], np.float64)
        weight = torch.tensor(len(tr) / (len(classes) * freq), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.AdamW(model.head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = random.Random(config.seed)
    order = list(range(len(tr)))
    steps = math.ceil(len(order) / config.batch_size)
    history: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    best_state = None
    bad = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        rng.shuffle(order)
        losses = []
        for b in range(steps):
            chunk = [tr[i] for i in order[b * config.batch_size:(b + 1) * config.batch_size]]
            g = feats.tokens([s.generated for s, _ in chunk])
            o = feats.tokens([s.original for s, _ in chunk]) if config.fusion != "none" else None
            logits = model.logits(g, o, maps.get([s.generated for s, _ in chunk]), captions.get([s for s, _ in chunk]))
            loss = loss_fn(logits.float(), torch.tensor([index[c] for _, c in chunk]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.head.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            if progress:
                progress(f"epoch {epoch}/{config.epochs}", b + 1, steps)
        model.eval()
        metrics: dict[str, Any] = {"epoch": epoch, "train_loss": float(np.mean(losses))}
        if va:
            pred = decide(_predict(model, feats, maps, captions, [s for s, _ in va], config.batch_size), classes, None)
            truth = [c for _, c in va]
            metrics.update(val_macro_f1=macro_f1(per_class(truth, pred, classes)),
                           val_acc=float(np.mean([a == b for a, b in zip(truth, pred)])), val_n=len(va))
        history.append(metrics)
        write_log(out, history)
        score = metrics.get("val_macro_f1", -metrics["train_loss"])
        if best is None or score > best["score"]:
            best, best_state, bad = {"score": score, "epoch": epoch, "metrics": metrics}, \
                copy.deepcopy(model.head.state_dict()), 0
        else:
            bad += 1
            if bad >= config.patience:
                break
    assert best is not None and best_state is not None
    model.head.load_state_dict(best_state)
    summary: dict[str, Any] = {
        "config": config.model_dump(), "classes": classes, "best_epoch": best["epoch"], "best": best["metrics"],
        "epochs_run": len(history), "train_samples": len(tr), "val_samples": len(va), "captions": bool(captions.dim),
        "train_class_counts": {c: counts[c] for c in classes},
        "skipped_without_reason": {"train": tr_skipped, "val": va_skipped},
        "val_classes_not_in_training": dict(unseen), "seconds": round(time.time() - t0, 1)}
    if va:
        truth = [c for _, c in va]
        probs = _predict(model, feats, maps, captions, [s for s, _ in va], config.batch_size)
        # the stored threshold is the one that names reasons best on held-out originals
        model.config.threshold, summary["val_macro_f1_calibrated"] = calibrate_threshold(probs, truth, classes)
        summary["threshold"] = model.config.threshold
        pred = decide(probs, classes, model.config.threshold)
        summary["val_per_class"] = per_class(truth, pred, classes)
        summary["val_confusion"] = confusion_matrix(truth, pred, classes)[1].tolist()
    model.save_pretrained(out, summary, save_encoder=config.encoder in RANDOM_ENCODERS)
    return summary
