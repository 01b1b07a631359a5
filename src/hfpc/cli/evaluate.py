"""``hfpc evaluate`` and ``hfpc calibrate``: agreement with reviewers, and thresholds for a target."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hfpc.cli._common import console, fail
from hfpc.errors import HfpcError


def evaluate(
    results: Path = typer.Argument(..., help="results JSONL from `hfpc filter`"),
    labels: Path = typer.Option(..., "--labels", help="labelled manifest (ids must match the results)"),
    out: Path = typer.Option(Path("evaluation"), "-o", "--out", help="folder for metrics.json, figures, index.html"),
    checks: str | None = typer.Option(None, "--checks", help="comma-separated checks to score (default: all)"),
    bootstrap: int = typer.Option(500, "--bootstrap", min=0, help="bootstrap resamples for the 95 % CIs"),
    compare: bool = typer.Option(False, "--compare", help="one Table-1 row per scorer (each check, baselines, "
                                 "the full judge) and one figure with all curves"),
) -> None:
    """Print and write PLCC, SRCC, Pb, Rb, Rg, accuracy, ROC/PR-AUC (with CIs), curves and galleries."""
    from hfpc.evaluation.report import compare as run_compare
    from hfpc.evaluation.report import evaluate as run

    if not results.is_file():
        fail(f"{results}: results file not found")
    if compare:
        try:
            res = run_compare(results, labels, out, n_boot=bootstrap)
        except (HfpcError, ValueError) as e:
            fail(str(e))
        t = Table(title="agreement with reviewers per scorer (HFPC Table 1)", title_justify="left")
        for col in ("scorer", "PLCC", "SRCC", "Pb", "Rb", "Rg", "ROC-AUC pass"):
            t.add_column(col, justify="left" if col == "scorer" else "right")
        for name, v in res["scorers"].items():
            m = v["metrics"]
            t.add_row(name, *("n/a" if m[k] != m[k] else f"{m[k]:.3f}"
                              for k in ("PLCC", "SRCC", "Pb", "Rb", "Rg", "ROC-AUC pass")))
        console.print(t)
        console.print(f"written: [bold]{out / 'compare.json'}[/], ROC/PR curves of every scorer in {out}")
        return
    try:
        res = run(results, labels, out, checks.split(",") if checks else None, n_boot=bootstrap)
    except (HfpcError, ValueError) as e:
        fail(str(e))
    t = Table(title=f"{res['n']} labelled samples ({res['n_pass']} pass / {res['n_fail']} fail), "
                    f"checks: {', '.join(res['checks'])}", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("95 % CI", justify="right")
    for name, v in res["metrics"].items():
        ci = res["ci95"].get(name)
        t.add_row(name, "n/a" if v != v else f"{v:.3f}", f"{ci[0]:.3f} – {ci[1]:.3f}" if ci else "")
    console.print(t)
    if res.get("reasons"):
        _print_reasons(res["reasons"])
    console.print(f"written: [bold]{out / 'index.html'}[/], {out / 'metrics.json'}, ROC/PR curves")


def _num(v: float) -> str:
    return "n/a" if v != v else f"{v:.3f}"


def _print_reasons(rv: dict) -> None:
    """Per-reason precision/recall/F1 and the reviewer × judge confusion matrix."""
    t = Table(title=f"per reason ({rv['n']} rows with a reviewer class, {rv['no_reason']} without; named exactly "
                    f"{_num(rv['accuracy'])}, macro F1 {_num(rv['macro_f1'])})", title_justify="left")
    for col in ("reason", "reviewer rows", "judge named", "precision", "recall", "F1"):
        t.add_column(col, justify="left" if col == "reason" else "right")
    for name, v in rv["per_reason"].items():
        t.add_row(name, str(v["support"]), str(v["predicted"]), _num(v["precision"]), _num(v["recall"]),
                  _num(v["f1"]))
    console.print(t)
    classes, matrix = rv["confusion"]["classes"], rv["confusion"]["matrix"]
    m = Table(title="confusion: reviewer (rows) × judge (columns)", title_justify="left")
    m.add_column("reviewer ↓")
    for c in classes:
        m.add_column(c, justify="right")
    for i, (c, row) in enumerate(zip(classes, matrix)):
        m.add_row(c, *(f"[bold]{n}[/]" if j == i else (str(n) if n else "·") for j, n in enumerate(row)))
    console.print(m)


def calibrate(
    results: Path = typer.Argument(..., help="results JSONL from `hfpc filter`"),
    labels: Path = typer.Option(..., "--labels", help="labelled manifest"),
    target_pb: float | None = typer.Option(None, "--target-pb", help="wanted precision of filtering (Pb)"),
    target_rg: float | None = typer.Option(None, "--target-rg", help="wanted share of good images kept (Rg)"),
    profile: str | None = typer.Option(None, "--profile", "-p", help="profile the results were made with"),
    out: Path = typer.Option(Path("calibrated.toml"), "-o", "--out", help="calibrated profile to write"),
    calib_fraction: float = typer.Option(0.5, "--calib-fraction", min=0.05, max=0.95),
    seed: int = typer.Option(0, "--seed"),
    rejudge: bool = typer.Option(True, "--rejudge/--no-rejudge",
                                 help="judge again the rows whose decision the results cannot tell at the new "
                                      "thresholds (needs the images and --profile); without it those decisions "
                                      "are estimated"),
) -> None:
    """Choose thresholds jointly on a calibration split; report them on held-out originals.

    Exit code 1, and no profile written, when no thresholds reach the target.
    """
    from hfpc.evaluation.calibrate import calibrate as run

    if not results.is_file():
        fail(f"{results}: results file not found")
    try:
        c = run(results, labels, target_pb, target_rg, profile, calib_fraction, seed, rejudge=rejudge)
    except (HfpcError, ValueError) as e:
        fail(str(e))
    if not c.met_target:
        for note in c.notes[1:]:
            console.print(f"[yellow]note:[/] {note}")
        fail(f"{c.notes[0]}; no profile written", code=1)
    for n, t in c.thresholds.items():
        console.print(f"{n}: threshold {c.previous[n]:.4f} → [bold]{t:.4f}[/]")
    tab = Table(title=f"operating point (target {c.target}); calibration n={c.n_calibration}, "
                      f"held-out n={c.n_held_out}", title_justify="left")
    for col in ("metric", "calibration", "held-out", "held-out 95 % CI", "held-out before"):
        tab.add_column(col, justify="right")
    for m in ("Pb", "Rb", "Rg", "accuracy"):
        ci = c.ci95.get(m)
        tab.add_row(m, f"{c.calibration[m]:.3f}", f"{c.held_out[m]:.3f}",
                    f"{ci[0]:.3f} – {ci[1]:.3f}" if ci else "", f"{c.held_out_before[m]:.3f}")
    console.print(tab)
    for note in c.notes:
        console.print(f"[yellow]note:[/] {note}")
    if c.profile is not None:
        c.profile.save(out)
        console.print(f"calibrated profile: [bold]{out}[/] (use: hfpc filter MANIFEST -o R --profile {out})")
