"""Agreement with reviewers on real generated images (``shared/data/real-dev``).

Judges every pair of the real-dev manifest with a Profile (the built-in default unless
``--profile``), then prints verdict and consistency agreement overall and per ``reason``,
Pb / Rb / Rg, and one line per disagreement with the judge's sentence, so the rows can be
looked at with their heatmaps (written next to the results).

    python benchmarks/real_dev.py [--data ../shared/data/real-dev] [--out /tmp/real-dev]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from hfpc import Profile, read_manifest, read_results, run_filter
from hfpc.evaluation.metrics import filter_metrics

CONSISTENCY_GATED = ("good", "product_altered", "product_replaced", "product_missing", "shape_hallucination")


def default_data() -> Path:
    """The real-dev folder beside the checkout (``../shared/data/real-dev``)."""
    here = Path(__file__).resolve().parents[1]
    return here.parent / "shared" / "data" / "real-dev"


def evaluate(rows: list[dict], labels: dict[str, dict]) -> dict:
    """Agreement figures of result rows against the real-dev labels."""
    per_reason: dict[str, list[tuple[bool, bool | None]]] = defaultdict(list)
    verdict_ok = cons_ok = 0
    gated_ok = gated_n = 0
    disagreements = []
    for row in rows:
        lab = labels[row["id"]]
        if row["error"]:
            disagreements.append((row["id"], lab["reason"], "error", row["error"]))
            continue
        passed = bool(row["passed"])
        cons = row["checks"].get("consistency", {})
        cpass = cons.get("passed")
        v_ok = passed == bool(lab["label"])
        c_ok = cpass == bool(lab["consistency_label"])
        verdict_ok += v_ok
        cons_ok += c_ok
        if lab["reason"] in CONSISTENCY_GATED:
            gated_n += 1
            gated_ok += v_ok
        per_reason[lab["reason"]].append((v_ok, c_ok))
        if not (v_ok and c_ok):
            disagreements.append((row["id"], lab["reason"], f"passed={passed} consistency={cpass}",
                                  cons.get("explanation", "")))
    n = len(rows)
    fm = filter_metrics([bool(r["passed"]) for r in rows if not r["error"]],
                        [int(labels[r["id"]]["label"]) for r in rows if not r["error"]])
    pb, rb, rg = fm["Pb"], fm["Rb"], fm["Rg"]
    return {"n": n, "verdict": verdict_ok / n, "consistency": cons_ok / n,
            "gated": gated_ok / max(1, gated_n), "gated_n": gated_n, "pb": pb, "rb": rb, "rg": rg,
            "per_reason": per_reason, "disagreements": disagreements}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--out", type=Path, default=Path("/tmp/hfpc-real-dev"))
    ap.add_argument("--profile", default=None)
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()

    manifest = args.data / "manifest.jsonl"
    samples = read_manifest(manifest)
    labels = {s.id: s.meta | {"label": s.label} for s in samples}
    out = args.out / "results.jsonl"
    t0 = time.perf_counter()
    run_filter(samples, out, Profile.load(args.profile), workers=args.workers or None, overwrite=True,
               artifacts_dir=args.out / "heatmaps")
    dt = time.perf_counter() - t0
    r = evaluate(read_results(out), labels)
    print(f"{r['n']} real pairs judged in {dt:.1f} s; results and heatmaps in {args.out}")
    print(f"verdict agreement:      {r['verdict']:.1%}")
    print(f"consistency agreement:  {r['consistency']:.1%}   (target >= 90 %)")
    print(f"verdict agreement on {', '.join(CONSISTENCY_GATED)}: {r['gated']:.1%} of {r['gated_n']} "
          "(target >= 90 %)")
    print(f"Pb {r['pb']:.3f}  Rb {r['rb']:.3f}  Rg {r['rg']:.3f}")
    print(f"\n{'reason':22s} {'n':>3s} {'verdict':>8s} {'consist.':>8s}")
    for reason, v in sorted(r["per_reason"].items()):
        print(f"{reason:22s} {len(v):3d} {sum(a for a, _ in v) / len(v):8.0%} {sum(b for _, b in v) / len(v):8.0%}")
    print("\ndisagreements (id, label reason, judge, sentence):")
    for d in r["disagreements"]:
        print(("  " + " | ".join(d))[:260])


if __name__ == "__main__":
    main()
