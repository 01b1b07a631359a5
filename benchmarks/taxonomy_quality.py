"""Does each check flag the failures it is for, and does the Verdict name them right?

On a fresh synthetic demo set (every kind, a seed no test uses), per kind: the share each check
of the profile flags, the share flagged by any check, and the share of flagged images whose
``Verdict.failure`` is the kind's failure code (good / moved images: the share wrongly
flagged). Then the same per ``reason`` on the real pairs of ``shared/data/real-dev`` — counts,
not only shares — with overall verdict agreement, the share of failures named exactly and the
reviewer × judge confusion matrix. Works with whatever checks the profile enables.

    python benchmarks/taxonomy_quality.py [--n 300] [--seed 4242] [--profile P] [--data ../shared/data/real-dev]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from hfpc import Profile, read_manifest, read_results, run_filter
from hfpc.checks.base import get_check_class
from hfpc.data.synth import KINDS, generate_demo_set
from hfpc.evaluation.reasons import class_order, predicted_class, reason_evaluation
from hfpc.taxonomy import GOOD, label_class, normalize


def default_data() -> Path:
    """The real-dev folder beside the checkout (``../shared/data/real-dev``)."""
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dev"


def deciding(rows: list[dict[str, Any]]) -> list[str]:
    """The checks in the rows that decide pass/fail (baselines left out), in first-seen order."""
    names = dict.fromkeys(n for r in rows for n in r["checks"])
    return [n for n in names if not get_check_class(n).baseline]


def tally(rows: list[dict[str, Any]], group: dict[str, str], expected: dict[str, str | None],
          checks: list[str]) -> dict[str, dict[str, Any]]:
    """Per group (kind or reason): n, rows flagged by each check and by any, and flagged rows
    whose failure is the expected code (``named``; None expected: a benign row, never named)."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"n": 0, "any": 0, "named": 0, **{c: 0 for c in checks}})
    for r in rows:
        if r.get("error") or r["id"] not in group:
            continue
        t = out[group[r["id"]]]
        t["n"] += 1
        for c in checks:
            t[c] += int(c in r["checks"] and not r["checks"][c]["passed"])
        flagged = r["passed"] is False
        t["any"] += flagged
        code = expected[r["id"]]
        t["named"] += flagged and code is not None and normalize(r["failure"]) == code
    return dict(out)


def show(title: str, table: dict[str, dict[str, Any]], checks: list[str], order: list[str], counts: bool,
         benign: set[str]) -> None:
    """Print one row per class: check columns, any, named correctly (counts as ``k/n`` or shares).

    For benign classes every flag is a false alarm, so ``named`` says so instead of a share."""
    def cell(k: int, n: int) -> str:
        return f"{k}/{n}" if counts else (f"{k / n:.0%}" if n else "-")

    head = f"{'class':22s} {'n':>4s} " + " ".join(f"{c[:11]:>11s}" for c in checks) + f" {'any':>7s} {'named':>9s}"
    print(f"\n== {title}\n{head}")
    for cls in order:
        if cls not in table:
            continue
        t = table[cls]
        named = "(benign)" if cls in benign else cell(t["named"], t["any"])
        print(f"{cls:22s} {t['n']:4d} " + " ".join(f"{cell(t[c], t['n']):>11s}" for c in checks)
              + f" {cell(t['any'], t['n']):>7s} {named:>9s}")


def synthetic(args: argparse.Namespace, root: Path, profile: Profile) -> None:
    """Per kind of a fresh demo set: what each check flags and what the Verdict names."""
    t0 = time.perf_counter()
    manifest = generate_demo_set(root / "synthetic", n=args.n, seed=args.seed, size=args.size)
    samples = read_manifest(manifest)
    print(f"synthetic set: {len(samples)} samples, seed {args.seed}, {args.size} px, "
          f"rendered in {time.perf_counter() - t0:.0f} s")
    out = root / "synthetic_results.jsonl"
    t0 = time.perf_counter()
    run_filter(samples, out, profile, workers=args.workers or None, overwrite=True)
    rows = read_results(out)
    print(f"judged in {time.perf_counter() - t0:.0f} s with checks {', '.join(deciding(rows))}; "
          f"{sum(1 for r in rows if r['error'])} errors")
    kind_of = {s.id: s.meta["kind"] for s in samples}
    checks = deciding(rows)
    table = tally(rows, kind_of, {i: KINDS[k][1] for i, k in kind_of.items()}, checks)
    show("synthetic, per kind (share flagged by each check; named = flagged images whose failure is the kind's)",
         table, checks, list(KINDS), counts=False, benign={k for k, (_, f) in KINDS.items() if f is None})
    benign = [table[k] for k in ("good", "moved") if k in table]
    n_b = sum(t["n"] for t in benign)
    print(f"good + moved flagged by any check: {sum(t['any'] for t in benign)}/{n_b} "
          f"({sum(t['any'] for t in benign) / max(1, n_b):.1%})")
    defects = [t for k, t in table.items() if KINDS[k][1]]
    flagged = sum(t["any"] for t in defects)
    print(f"defects flagged: {flagged}/{sum(t['n'] for t in defects)}; of those named as their kind: "
          f"{sum(t['named'] for t in defects)}/{flagged}")


def real(args: argparse.Namespace, root: Path, profile: Profile) -> None:
    """Per reviewer reason on real-dev: counts flagged by each check and named, agreement overall."""
    manifest = args.data / "manifest.jsonl"
    if not manifest.is_file():
        print(f"\nreal-dev: {manifest} not found; skipped")
        return
    samples = read_manifest(manifest)
    out = root / "real_dev_results.jsonl"
    t0 = time.perf_counter()
    run_filter(samples, out, profile, workers=args.workers or None, overwrite=True)
    rows = read_results(out)
    print(f"\nreal-dev: {len(samples)} pairs judged in {time.perf_counter() - t0:.0f} s; "
          f"{sum(1 for r in rows if r['error'])} errors")
    reason = {s.id: label_class(s.meta.get("reason"), s.label) or "(no reason)" for s in samples}
    label = {s.id: s.label for s in samples}
    checks = deciding(rows)
    table = tally(rows, reason, {i: None if c == GOOD else c for i, c in reason.items()}, checks)
    order = class_order(list(table))
    show("real-dev, per reason (counts: flagged by each check, by any; named = flagged rows whose failure is "
         "the reason)", table, checks, order, counts=True, benign={GOOD})
    ok = [r for r in rows if not r["error"]]
    agree = sum((r["passed"] is True) == (label[r["id"]] == 1) for r in ok)
    print(f"verdict agreement: {agree}/{len(ok)} ({agree / max(1, len(ok)):.1%})")
    joined = [{**r, "label": label[r["id"]], "category": None if label[r["id"]] == 1 else reason[r["id"]]}
              for r in ok]
    ev = reason_evaluation(joined)
    exact = sum(predicted_class(r) == (GOOD if r["label"] == 1 else r["category"]) for r in joined)
    print(f"class named exactly (good or the reviewer's reason): {exact}/{len(joined)}; "
          f"macro F1 {ev['macro_f1']:.3f}")
    classes, matrix = ev["confusion"]["classes"], ev["confusion"]["matrix"]
    width = max(len(c) for c in classes) + 4
    print("\nconfusion (rows: reviewer, columns: judge, numbered as the rows)")
    print(" " * width + "".join(f"{j + 1:>4d}" for j in range(len(classes))))
    for i, (c, row) in enumerate(zip(classes, matrix)):
        print(f"{i + 1:>2d} {c:{width - 3}s}" + "".join(f"{n if n else '.':>4}" for n in row))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="synthetic samples (0: skip the synthetic part)")
    ap.add_argument("--seed", type=int, default=4242, help="not a seed used by the tests")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--profile", default=None, help="profile TOML (default: the built-in profile)")
    ap.add_argument("--data", type=Path, default=default_data(), help="real-dev folder")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="keep data and results here")
    args = ap.parse_args()
    profile = Profile.load(args.profile)
    root = args.keep or Path(tempfile.mkdtemp(prefix="hfpc-taxonomy-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"profile {profile.name!r}: checks {', '.join(profile.enabled())}")
    if args.n:
        synthetic(args, root, profile)
    real(args, root, profile)
    print(f"\ndata and results in {root}")


if __name__ == "__main__":
    main()
