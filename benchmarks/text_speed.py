"""CPU time of the ``text`` check per pair: the first pair of an original, and a later one.

For every pair of a manifest (the default profile, one core, the consistency check run before
it as in a whole run), the text check is timed twice on the same pair: first with nothing
prepared for the original (what the first generation of an original costs: finding the
original's text too), then again with the original's lines cached (what every further
generation of that original costs). Engine creation is left out (a warm-up pair pays it).

    python benchmarks/text_speed.py                       # a fresh 512² demo set, 60 pairs
    python benchmarks/text_speed.py --manifest ../shared/data/real-dev/manifest.jsonl
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, help="judge this manifest instead of a fresh demo set")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import cv2

    cv2.setNumThreads(1)
    from hfpc import Judge, read_manifest
    from hfpc.data.synth import generate_demo_set

    with tempfile.TemporaryDirectory() as tmp:
        manifest = args.manifest or generate_demo_set(Path(tmp) / "demo", n=args.n, seed=args.seed, size=512)
        samples = read_manifest(manifest)
        judge = Judge()
        checks = {c.name: c for c in judge.checks}
        text = checks["text"]
        first, later = [], []
        for i, sample in enumerate(samples):
            judge._cache.clear()  # nothing prepared for the original
            item, _ = judge._item(sample)
            if "consistency" in checks:
                checks["consistency"].run(item)
            t0 = time.process_time()
            text.run(item)
            t1 = time.process_time()
            text.run(item)
            t2 = time.process_time()
            if i > 0:  # the first pair creates the OCR engine
                first.append(t1 - t0)
                later.append(t2 - t1)
    name = args.manifest or f"512² demo set (n={args.n}, seed={args.seed})"
    print(f"{name}: {len(first)} pairs after a warm-up pair, text check CPU ms per pair (mean, median)")
    for name, xs in (("first pair of an original (both sides)", first), ("generated side (original cached)", later)):
        print(f"  {name:40s} {1000 * statistics.mean(xs):6.1f} {1000 * statistics.median(xs):6.1f}")


if __name__ == "__main__":
    main()
