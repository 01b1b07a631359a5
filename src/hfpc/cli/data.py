"""``hfpc demo-data`` and the ``hfpc data`` group."""

from __future__ import annotations

from pathlib import Path

import typer

from hfpc.cli._common import console, progress_bar

app = typer.Typer(no_args_is_help=True, help="Get and prepare data.")


def demo_data(
    out: Path = typer.Argument(..., help="folder to write originals/, generated/ and manifest.jsonl"),
    n: int = typer.Option(60, "--n", min=1, help="number of generated samples"),
    seed: int = typer.Option(0, "--seed", help="random seed (same seed, same data)"),
    size: int = typer.Option(512, "--size", min=64, help="image side in pixels"),
) -> None:
    """Render a labelled synthetic demo/benchmark set (products composited into scenes)."""
    from hfpc.data.synth import generate_demo_set

    with progress_bar("rendering", n) as advance:
        manifest = generate_demo_set(out, n=n, seed=seed, size=size, progress=lambda i: advance(1))
    console.print(f"wrote {n} samples; manifest: [bold]{manifest}[/]")
