"""``hfpc train reward|taxonomy``: train the reward model or the taxonomy classifier on labelled manifests."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from hfpc.cli._common import console, err_console, fail
from hfpc.errors import HfpcError

app = typer.Typer(no_args_is_help=True, help="Train models on your reviewers' labels.")


@app.command("reward")
def reward(
    train: Path = typer.Option(..., "--train", help="labelled manifest to train on"),
    val: Path | None = typer.Option(None, "--val", help="labelled validation manifest (default: split by original)"),
    encoder: str = typer.Option("blip", "--encoder", help="blip, clip, siglip, dinov2, a hub id, a directory, "
                                "or random-vit-tiny / random-vit-small (no weights, for demos)"),
    out: Path = typer.Option(..., "--out", help="checkpoint directory to write"),
    fusion: str = typer.Option("attention", "--fusion", help="attention | concat | none (paper ablations)"),
    no_class_loss: bool = typer.Option(False, "--no-class-loss", help="ranking loss only (paper ablation)"),
    epochs: int = typer.Option(10, "--epochs", min=1),
    lr: float = typer.Option(3e-4, "--lr"),
    batch_groups: int = typer.Option(8, "--batch-groups", min=1, help="originals per step"),
    finetune_blocks: int = typer.Option(0, "--finetune-blocks", min=-1, help="last encoder blocks to train (-1: all)"),
    encoder_lr: float = typer.Option(2e-5, "--encoder-lr"),
    balance_k: int = typer.Option(25, "--balance-k", min=0, help="KMeans clusters for balancing (0: off)"),
    patience: int = typer.Option(3, "--patience", min=1),
    cache: Path | None = typer.Option(None, "--cache", help="embedding cache directory (default: "
                                      "$HFPC_CACHE_DIR/embeddings or ~/.cache/hfpc/embeddings)"),
    no_cache: bool = typer.Option(False, "--no-cache", help="do not keep embeddings on disk"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train on (original, passed, failed) groups with L = L_rank + L_class; save the best epoch."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from hfpc.data.manifests import read_manifest
    from hfpc.training.loop import TrainConfig, train_reward

    try:
        cfg = TrainConfig(encoder=encoder, fusion=fusion, class_loss=not no_class_loss, epochs=epochs, lr=lr,
                          batch_groups=batch_groups, finetune_blocks=finetune_blocks, encoder_lr=encoder_lr,
                          balance_k=balance_k, patience=patience, cache=not no_cache,
                          cache_dir=str(cache) if cache else None,
                          seed=seed)
    except ValueError as e:
        fail(str(e))
    try:
        tr = read_manifest(train)
        va = read_manifest(val) if val else None
    except HfpcError as e:
        fail(str(e))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console) as p:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = p.add_task(stage, total=total)
            p.update(tasks[stage], completed=done)

        try:
            summary = train_reward(tr, va, cfg, out, progress)
        except (HfpcError, ValueError) as e:
            fail(str(e))
    bal = summary["balance"]
    if bal.get("enabled"):
        console.print(f"category balancing (KMeans k={bal['k']}): cluster sizes before {bal['before']}, "
                      f"after {bal['after']}")
    best = summary["best"]
    console.print(f"best epoch {summary['best_epoch']}/{summary['epochs_run']}: " + ", ".join(
        f"{k} {v:.4f}" for k, v in best.items() if isinstance(v, float)))
    console.print(f"checkpoint: [bold]{escape(str(out))}[/] (metrics.csv, training_summary.json)")
    console.print(f'use it: add to a profile\n  [checks.reward]\n  checkpoint = "{out}"', markup=False)


@app.command("taxonomy")
def taxonomy(
    train: Path = typer.Option(..., "--train", help="manifest whose failed rows name a reason (reason/failure column)"),
    val: Path | None = typer.Option(None, "--val", help="validation manifest (default: split by original)"),
    encoder: str = typer.Option("blip", "--encoder", help="blip, clip, siglip, dinov2, a hub id, a directory, "
                                "or random-vit-tiny / random-vit-small (no weights, for demos)"),
    out: Path = typer.Option(..., "--out", help="checkpoint directory to write"),
    fusion: str = typer.Option("attention", "--fusion", help="attention | concat | none"),
    depth: str | None = typer.Option(None, "--depth", help="also read a depth map from this depth model "
                                     "(hub id, alias 'depth', or directory)"),
    epochs: int = typer.Option(15, "--epochs", min=1),
    lr: float = typer.Option(1e-3, "--lr"),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    patience: int = typer.Option(4, "--patience", min=1),
    cache: Path | None = typer.Option(None, "--cache", help="embedding cache directory"),
    no_cache: bool = typer.Option(False, "--no-cache", help="do not keep embeddings on disk"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the failure-taxonomy classifier (original + generated + scene maps → one reason)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from hfpc.data.manifests import read_manifest
    from hfpc.training.taxonomy import TaxonomyTrainConfig, train_taxonomy

    try:
        cfg = TaxonomyTrainConfig(encoder=encoder, fusion=fusion, epochs=epochs, lr=lr, batch_size=batch_size,
                                  patience=patience, cache=not no_cache, cache_dir=str(cache) if cache else None,
                                  seed=seed, maps=["salience", "depth"] if depth else ["salience"],
                                  depth_model=depth)
    except ValueError as e:
        fail(str(e))
    try:
        tr = read_manifest(train)
        va = read_manifest(val) if val else None
    except HfpcError as e:
        fail(str(e))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console) as p:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = p.add_task(stage, total=total)
            p.update(tasks[stage], completed=done)

        try:
            summary = train_taxonomy(tr, va, cfg, out, progress)
        except (HfpcError, ValueError) as e:
            fail(str(e))
    console.print(f"classes: {', '.join(summary['classes'])} (training counts {summary['train_class_counts']})")
    skipped = summary["skipped_without_reason"]
    if skipped["train"] or skipped["val"]:
        console.print(f"left out, failed without a reason: {skipped['train']} training, {skipped['val']} validation")
    best = summary["best"]
    console.print(f"best epoch {summary['best_epoch']}/{summary['epochs_run']}: " + ", ".join(
        f"{k} {v:.4f}" for k, v in best.items() if isinstance(v, float)))
    table = summary.get("val_per_class")
    if table:
        console.print("validation, per class (precision / recall / F1, support):")
        for c, m in table.items():
            console.print(f"  {c:<22} {m['precision']:.2f} / {m['recall']:.2f} / {m['f1']:.2f}  ({m['support']})")
    console.print(f"checkpoint: [bold]{escape(str(out))}[/] (metrics.csv, training_summary.json)")
    console.print(f'use it: add to a profile\n  [checks.taxonomy]\n  checkpoint = "{out}"', markup=False)
