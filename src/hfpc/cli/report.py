"""``hfpc report``: results JSONL → self-contained HTML gallery."""

from __future__ import annotations

from pathlib import Path

import typer

from hfpc.cli._common import console, fail


def report(
    results: Path = typer.Argument(..., help="results JSONL written by `hfpc filter`"),
    out: Path = typer.Option(Path("report.html"), "-o", "--out", help="HTML file to write"),
    limit: int = typer.Option(0, "--limit", min=0, help="show at most this many samples (0: all)"),
) -> None:
    """Write an HTML gallery (original / generated / heatmap, verdict, reasons, filters)."""
    from hfpc.report import write_report

    if not results.is_file():
        fail(f"{results}: results file not found")
    try:
        path = write_report(results, out, limit=limit or None)
    except ValueError as e:
        fail(str(e))
    console.print(f"report: [bold]{path}[/]")
