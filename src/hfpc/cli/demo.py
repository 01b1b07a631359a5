"""``hfpc demo``: make a demo set, judge it, write results and a report, print a summary."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from hfpc.cli._common import console, progress_bar

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hfpc.types import Sample


@dataclass
class KindStats:
    """How the judge did on one kind of demo image."""

    kind: str
    label: int | None
    failure: str | None
    """The reason the demo set gives this kind (None for kinds that should pass)."""
    n: int
    flagged: int
    named: int
    """Flagged rows whose main failure is the kind's own reason."""


def kind_stats(samples: list[Sample], rows: Iterable[dict[str, Any]]) -> list[KindStats]:
    """Per kind of demo image: rows flagged, and of those how many name the kind's reason;
    kinds that should pass first."""
    by_id = {s.id: s for s in samples}
    by_kind: dict[str, list[tuple[Sample, dict[str, Any]]]] = defaultdict(list)
    for row in rows:
        s = by_id[row["id"]]
        by_kind[s.meta.get("kind", "?")].append((s, row))
    out = []
    for kind, pairs in by_kind.items():
        s0 = pairs[0][0]
        flagged = [(s, r) for s, r in pairs if r["passed"] is False]
        out.append(KindStats(kind, s0.label, s0.failure, len(pairs), len(flagged),
                             sum(1 for s, r in flagged if s.failure is not None and r.get("failure") == s.failure)))
    return sorted(out, key=lambda k: (k.label != 1, k.kind))


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
    stats = kind_stats(samples, read_results(results))
    t = Table(title="hfpc demo — default profile per kind of generated image", title_justify="left")
    for col in ("kind", "reviewers' call", "n", "flagged", "reason named"):
        t.add_column(col, justify="left" if col in ("kind", "reviewers' call") else "right")
    for s in stats:
        t.add_row(s.kind, "pass" if s.label == 1 else s.failure or "fail", str(s.n),
                  f"{s.flagged} ({s.flagged / s.n:.0%})", "" if s.label == 1 else f"{s.named} of {s.flagged}")
    console.print(t)
    console.print("Every defect kind should be flagged, with its own reason, and good and moved-but-preserved "
                  "images should pass. The default profile checks the product itself (consistency: altered, "
                  "missing, replaced, grown shapes), its printed text and text in the background (text), "
                  "whether it rests on something and has a plausible size (placement: floating, "
                  "size_mismatch) and whether it stands out from its background (distinct: indistinct).")
    from hfpc.text_ocr import ocr_missing

    if ocr_missing() is not None:
        console.print("[yellow]The text check did not run[/] (OCR is not installed: pip install 'hfpc\\[ocr]'): "
                      "text artefacts in the background are not caught, and changed labels are flagged "
                      "only where the product's pixels changed, named product_altered.")
    if any(s.kind == "size_mismatch" for s in stats):
        console.print("[yellow]size_mismatch[/] (a product too large beside furniture) is caught by the "
                      "built-in default only when the product's share of the frame is out of bounds: without "
                      "a model it cannot tell furniture from a prop beside the product. Set "
                      "[bold]checks.placement.neighbour_max_ratio[/] (scenes whose neighbours are furniture) or "
                      "[bold]category_shares[/] (size priors per product category) in a profile; see "
                      "docs/checks-placement.md.")
    console.print(f"results: [bold]{results}[/]\nreport:  [bold]{report}[/] (open it in a browser)")
