"""``hfpc demo``: make a demo set, judge it, write results and a report, print a summary."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import typer
from rich.table import Table

from hfpc.cli._common import console, progress_bar


def demo(
    out: Path = typer.Option(Path("hfpc-demo"), "--out", help="folder for the demo data and results"),
    n: int = typer.Option(52, "--n", min=1, help="number of generated samples"),
    seed: int = typer.Option(0, "--seed", help="random seed of the demo data"),
    workers: int = typer.Option(0, "--workers", "-j", min=0, help="processes (0: all CPU cores)"),
) -> None:
    """Run the whole pipeline on built-in synthetic data, with no downloads and no GPU."""
    from hfpc.data.manifests import read_manifest
    from hfpc.data.synth import generate_demo_set
    from hfpc.report import write_report
    from hfpc.results import read_results, run_filter

    data = out / "data"
    with progress_bar("rendering demo data", n) as advance:
        manifest = generate_demo_set(data, n=n, seed=seed, progress=lambda i: advance(1))
    samples = read_manifest(manifest)
    results = out / "results.jsonl"
    with progress_bar("judging", len(samples)) as advance:
        run_filter(samples, results, overwrite=True, workers=workers or None,
                   artifacts_dir=out / "results_artifacts", progress=advance)
    report = write_report(results, out / "report.html", title="hfpc demo")
    kinds = {s.id: s.meta.get("kind", "?") for s in samples}
    labels = {s.id: s.label for s in samples}
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for row in read_results(results):
        by_kind[kinds[row["id"]]].append(row)
    t = Table(title="hfpc demo — default profile per kind of generated image", title_justify="left")
    for col in ("kind", "reviewer label", "n", "flagged", "share flagged"):
        t.add_column(col, justify="right" if col in ("n", "flagged", "share flagged") else "left")
    for kind in sorted(by_kind, key=lambda k: (labels[by_kind[k][0]["id"]] != 1, k)):
        rows = by_kind[kind]
        flagged = sum(1 for r in rows if r["passed"] is False)
        label = "pass" if labels[rows[0]["id"]] == 1 else "fail"
        t.add_row(kind, label, str(len(rows)), str(flagged), f"{flagged / len(rows):.0%}")
    console.print(t)
    console.print("Every defect kind should be flagged and good and moved-but-preserved images should "
                  "pass. The default profile checks the product itself (consistency: altered, missing, "
                  "replaced, grown shapes), its printed text and text in the background (text), whether "
                  "it rests on something and has a plausible size (placement: floating, size_mismatch) "
                  "and whether it stands out from its background (distinct: indistinct).")
    console.print(f"results: [bold]{results}[/]\nreport:  [bold]{report}[/] (open it in a browser)")
