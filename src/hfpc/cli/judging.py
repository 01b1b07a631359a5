"""``hfpc judge`` (one pair) and ``hfpc filter`` (a manifest, in parallel, resumable)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from hfpc.cli._common import console, fail, progress_bar
from hfpc.data.images import load_image
from hfpc.errors import HfpcError
from hfpc.profile import Profile


def _load_profile(profile: str | None) -> Profile:

    try:
        return Profile.load(profile)
    except HfpcError as e:
        fail(str(e))


def judge(
    original: Path = typer.Argument(..., help="the merchant's product image"),
    generated: Path = typer.Argument(..., help="the generated advertising image"),
    mask: Path | None = typer.Option(None, "--mask", help="product mask of the original (else alpha or segmentation)"),
    profile: str | None = typer.Option(None, "--profile", "-p", help="profile TOML (default: built-in)"),
    as_json: bool = typer.Option(False, "--json", help="print the result row as JSON"),
    heatmap: Path | None = typer.Option(None, "--heatmap",
                                        help="write the consistency heatmap here (.jpg, .png or .webp)"),
) -> None:
    """Judge one original/generated pair and print the verdict; exit 1 if it fails."""
    import tempfile

    from hfpc.judge import Judge
    from hfpc.types import Sample

    with tempfile.TemporaryDirectory() as tmp:
        try:
            j = Judge(_load_profile(profile), artifacts_dir=tmp if heatmap else None)
        except HfpcError as e:
            fail(str(e))
        v = j.judge(Sample(id=generated.stem, original=str(original), generated=str(generated),
                           mask=str(mask) if mask else None))
        if heatmap and not v.error:
            art = next((c.artifacts.get("heatmap") for c in v.checks.values() if c.artifacts.get("heatmap")), None)
            if art:
                src = Path(tmp) / art
                if src.suffix.lower() == heatmap.suffix.lower():
                    heatmap.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(src, heatmap)
                else:  # the user's suffix picks the picture type (.png, .jpg, .webp)
                    from hfpc.consistency.heatmap import write_heatmap

                    try:
                        write_heatmap(heatmap, load_image(src).rgb)
                    except ValueError as e:
                        fail(f"{heatmap}: {e}")
                for c in v.checks.values():
                    if "heatmap" in c.artifacts:
                        c.artifacts["heatmap"] = str(heatmap)
    if as_json:
        console.print_json(json.dumps(v.to_row()))
    else:
        if v.error:
            fail(v.error)
        t = Table(title=f"{generated.name}: {'PASS' if v.passed else 'FAIL'}", title_justify="left")
        for col in ("check", "result", "value", "threshold", "why"):
            t.add_column(col)
        for name, c in v.checks.items():
            t.add_row(name, "[green]pass[/]" if c.passed else "[red]fail[/]", f"{c.value:.3f}",
                      f"{c.threshold:g}", c.explanation)
        console.print(t)
    if v.error:
        raise typer.Exit(2)
    raise typer.Exit(0 if v.passed else 1)


def filter_(
    manifest: Path = typer.Argument(..., help="manifest: JSONL/JSON/CSV file or folder"),
    out: Path = typer.Option(..., "-o", "--out", help="results JSONL (appended; resumable)"),
    profile: str | None = typer.Option(None, "--profile", "-p", help="profile TOML (default: built-in)"),
    workers: int = typer.Option(0, "--workers", "-j", min=0, help="processes (0: all CPU cores)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="start over instead of resuming"),
    heatmaps: bool = typer.Option(True, "--heatmaps/--no-heatmaps", help="write heatmaps (JPEG) next to the results"),
) -> None:
    """Judge every sample of a manifest into a JSONL results file.

    Rows are flushed one by one; rerunning after a kill skips samples already judged. Samples
    that cannot be judged get an error row. Exit code 1 if any sample failed, 2 on errors.
    """
    from hfpc.data.manifests import read_manifest
    from hfpc.results import run_filter

    p = _load_profile(profile)
    try:
        samples = read_manifest(manifest)
    except HfpcError as e:
        fail(str(e))
    art = out.with_name(out.stem + "_artifacts") if heatmaps else None
    try:
        with progress_bar("judging", len(samples)) as advance:
            summary = run_filter(samples, out, p, workers=workers or None, overwrite=overwrite,
                                 artifacts_dir=art, progress=advance)
    except HfpcError as e:
        fail(str(e))
    if summary.skipped:
        advance(summary.skipped)
    console.print(f"{summary.total} samples: {summary.skipped} already judged, {summary.judged} judged now "
                  f"— [green]{summary.passed} passed[/], [red]{summary.failed} failed[/], "
                  f"{summary.errors} errors → [bold]{out}[/]")
    if summary.errors:
        raise typer.Exit(2)
    raise typer.Exit(1 if summary.failed else 0)
