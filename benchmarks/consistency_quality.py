"""Detection quality of the consistency check on a fresh synthetic demo set.

Prints, per kind of generated image, the share flagged by the consistency check — once with
the product masks the demo set ships (RGBA cut-outs) and once with classic segmentation of
the white-background original (no mask) — and checks the targets:
≥ 95 % of altered / missing / replaced flagged, ≤ 3 % of good and moved-but-preserved flagged.

    python benchmarks/consistency_quality.py --n 390 --seed 31337
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from hfpc import Profile, read_manifest, read_results, run_filter
from hfpc.data.synth import PRODUCT_DEFECTS, generate_demo_set


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=390)
    ap.add_argument("--seed", type=int, default=31337, help="not a seed used by the tests")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="keep data and results here")
    args = ap.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="hfpc-bench-"))
    t0 = time.perf_counter()
    manifest = generate_demo_set(root / "data", n=args.n, seed=args.seed)
    print(f"demo set: {args.n} samples, seed {args.seed}, rendered in {time.perf_counter() - t0:.0f} s")
    samples = read_manifest(manifest)
    kinds = {s.id: s.meta["kind"] for s in samples}
    ok = True
    for mode in ("mask", "segmentation"):
        use = samples if mode == "mask" else [replace(s, mask=None) for s in samples]
        out = root / f"results_{mode}.jsonl"
        t0 = time.perf_counter()
        run_filter(use, out, Profile(), workers=args.workers or None, overwrite=True)
        dt = time.perf_counter() - t0
        by_kind: dict[str, list[bool]] = defaultdict(list)
        errors = 0
        for row in read_results(out):
            if row["error"]:
                errors += 1
                continue
            by_kind[kinds[row["id"]]].append(not row["checks"]["consistency"]["passed"])
        print(f"\n== product masks from: {mode} ({len(use)} pairs in {dt:.0f} s, {errors} errors)")
        print(f"{'kind':18s} {'n':>4s} {'flagged':>8s}")
        for kind in sorted(by_kind):
            v = by_kind[kind]
            print(f"{kind:18s} {len(v):4d} {sum(v) / len(v):8.1%}")
        defects = [x for k in PRODUCT_DEFECTS for x in by_kind.get(k, [])]
        benign = [x for k in ("good", "moved") for x in by_kind.get(k, [])]
        hit = sum(defects) / max(1, len(defects))
        fa = sum(benign) / max(1, len(benign))
        print(f"altered/missing/replaced flagged: {hit:.1%} (target >= 95 %)")
        print(f"good + moved wrongly flagged:     {fa:.1%} (target <= 3 %)")
        ok &= hit >= 0.95 and fa <= 0.03
    print(f"\ntargets {'met' if ok else 'NOT met'}; data and results in {root}")


if __name__ == "__main__":
    main()
