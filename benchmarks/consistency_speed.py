"""Throughput of the consistency check on one CPU core, at 512×512 and 1024×1024.

Each size runs in its own process (OpenCV limited to one thread) over a fresh demo set with
every kind of generated image; the original cache is on, as in a batch run. Prints pairs/s,
ms/pair (decode included) and the process's peak resident memory — with one generation per
original (every pair segments its original) and with 26 per original (HFPC-44k's test split
has ~26: the original's segmentation is reused).

    python benchmarks/consistency_speed.py --n 60
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path


def _bench(size: int, n: int, seed: int, root: str, q: mp.Queue, per_original: int = 1) -> None:
    import cv2

    cv2.setNumThreads(1)
    from hfpc import Judge, read_manifest
    from hfpc.data.synth import generate_demo_set

    manifest = generate_demo_set(Path(root) / f"s{size}_{per_original}", n=n, seed=seed, size=size,
                                 per_original=per_original)
    samples = read_manifest(manifest)
    judge = Judge()
    judge.judge(samples[0])  # warm-up: imports, first allocations
    t0 = time.perf_counter()
    for s in samples:
        v = judge.judge(s)
        assert v.error is None, v.error
    dt = time.perf_counter() - t0
    q.put((size, per_original, len(samples), dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=777)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    print(f"{'size':>9s} {'gens/original':>13s} {'pairs':>6s} {'pairs/s':>8s} {'ms/pair':>8s} {'peak RSS MiB':>13s}")
    with tempfile.TemporaryDirectory() as root:
        for size, per_original in ((512, 1), (1024, 1), (512, 26)):
            q = ctx.Queue()
            p = ctx.Process(target=_bench, args=(size, args.n, args.seed, root, q, per_original))
            p.start()
            size_, per, n, dt, rss = q.get()
            p.join()
            print(f"{size_:4d}×{size_:<4d} {per:13d} {n:6d} {n / dt:8.1f} {1000 * dt / n:8.1f} {rss:13.0f}")
    print("target: >= 20 pairs/s per core at 512×512 (HFPC paper's module: 1.68 s/image on a P100)")


if __name__ == "__main__":
    main()
