"""Throughput of the consistency check on one CPU core: the analysis alone and the whole CLI run.

Part 1, side by side on one fresh 512×512 demo set (one generation per original, every kind of
generated image), everything pinned to one CPU core:

  (a) ``analyze_pair`` alone (images decoded beforehand, OpenCV limited to one thread), with the
      cost of rendering and of encoding + writing each heatmap timed separately in the same
      process;
  (b) the whole command ``hfpc filter manifest -o out.jsonl --workers 1`` as a subprocess with
      the defaults (heatmaps included): start-up, imports, decoding, analysis, heatmaps,
      writing — once more with ``--no-heatmaps`` to show what the heatmaps cost, and once on a
      one-row manifest to show the fixed start-up cost (the three in turn, ``--repeat`` times;
      the best of each counts).

Part (c): the default profile's checks in-process, CPU time per pair for decoding and for each
check (where the time goes).

pairs/s is pairs per wall-clock second; pairs/CPU-s is pairs per second of CPU time (user +
system) and is steadier on a busy machine. The heatmap share is the part of the whole run's
time that the heatmaps add (with minus without, over with).

Part 2 (``--judge-table``): Judge in-process (decode + analysis, no heatmaps) at 512² and 1024²,
with one generation per original and with 26 (HFPC-44k's test split has ~26: the original's
segmentation is reused), with the process's peak resident memory.

``--per-original K`` makes the whole-run set K generations per original (a product photo given
many backgrounds, as in HFPC-44k): the original's side of the work is then done once per K pairs.

    python benchmarks/consistency_speed.py --n 60
    python benchmarks/consistency_speed.py --n 78 --per-original 26
    python benchmarks/consistency_speed.py --n 60 --judge-table
    python benchmarks/consistency_speed.py --manifest ../shared/data/real-dev/manifest.jsonl --repeat 1
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _one_core() -> int | None:
    """Pin this process (and its children) to one CPU core; the core, or None where unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _analyze_only(manifest: str, q: mp.Queue) -> None:
    """(a): analyze_pair over pre-decoded pairs; render and encode timed apart."""
    _one_core()
    import cv2

    cv2.setNumThreads(1)
    from hfpc import read_manifest
    from hfpc.consistency.analyze import analyze_pair
    from hfpc.consistency.config import ConsistencySettings
    from hfpc.consistency.heatmap import HEATMAP_MAX_SIDE, HEATMAP_SUFFIX, render_heatmap, write_heatmap
    from hfpc.data.images import load_image, load_mask

    settings = ConsistencySettings()
    t0, c0 = time.perf_counter(), _cpu()
    pairs = []
    for s in read_manifest(manifest):
        o = load_image(s.original)
        mask = load_mask(s.mask) if s.mask else o.alpha
        pairs.append((o.rgb, mask, load_image(s.generated).rgb))
    decode = (time.perf_counter() - t0, _cpu() - c0)
    analyze_pair(*pairs[0], settings)  # warm-up: lazy imports, first allocations
    t0, c0 = time.perf_counter(), _cpu()
    reports = [analyze_pair(o, m, g, settings) for o, m, g in pairs]
    analyze = (time.perf_counter() - t0, _cpu() - c0)
    t0, c0 = time.perf_counter(), _cpu()
    pictures = [render_heatmap(r, max_side=HEATMAP_MAX_SIDE) for r in reports]
    render = (time.perf_counter() - t0, _cpu() - c0)
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), _cpu()
        for i, pic in enumerate(pictures):
            write_heatmap(Path(tmp) / f"h{i}{HEATMAP_SUFFIX}", pic)
        encode = (time.perf_counter() - t0, _cpu() - c0)
        size = sum(f.stat().st_size for f in Path(tmp).iterdir()) / len(pictures)
    q.put({"n": len(pairs), "decode": decode, "analyze": analyze, "render": render, "encode": encode,
           "heatmap_shape": pictures[0].shape[:2], "heatmap_bytes": size})


def _in_child(ctx: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``target(*args, q, **kwargs)`` in a fresh process and return what it puts on ``q``; a
    child that dies first (its traceback is on stderr) ends the benchmark instead of hanging it."""
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q), kwargs=kwargs)
    p.start()
    while True:
        try:
            out = q.get(timeout=2)
            break
        except queue.Empty:
            if not p.is_alive():
                raise SystemExit(f"{target.__name__} failed (exit code {p.exitcode}); see its error above") from None
    p.join()
    return out


def _hfpc_command() -> list[str]:
    script = Path(sys.executable).parent / "hfpc"
    if script.is_file():
        return [str(script)]
    found = shutil.which("hfpc")
    return [found] if found else [sys.executable, "-c", "import sys; from hfpc.cli import main; sys.exit(main())"]


def _cli_run(manifest: Path, out: Path, *extra: str) -> tuple[float, float]:
    """(b): the whole ``hfpc filter`` command pinned to one core; (wall s, CPU s)."""
    cmd = [*_hfpc_command(), "filter", str(manifest), "-o", str(out), "--workers", "1", "--overwrite", *extra]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_one_core)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    p.returncode = rc
    if rc not in (0, 1):  # 1: some samples failed, as the demo set intends
        raise SystemExit(f"{' '.join(cmd)} exited {rc}:\n{err}")
    return wall, usage.ru_utime + usage.ru_stime


def whole_run(n: int, seed: int, root: Path, repeat: int, per_original: int = 1,
              manifest: Path | None = None) -> None:
    """Parts (a)–(c) on a fresh 512² demo set, or on ``manifest`` (its own images, as they are)."""
    from hfpc.data.manifests import read_manifest, write_manifest
    from hfpc.data.synth import generate_demo_set

    if manifest is None:
        manifest = generate_demo_set(root / "demo512", n=n, seed=seed, size=512, per_original=per_original)
        what = "512×512 demo set"
    else:
        manifest = manifest.resolve()  # its rows' paths become absolute
        what = f"manifest {manifest}"
    samples = read_manifest(manifest)  # paths made absolute: the copies below may live elsewhere
    n = len(samples)
    manifest, one = root / "all.jsonl", root / "one.jsonl"
    write_manifest(manifest, samples)
    write_manifest(one, samples[:1])
    ctx = mp.get_context("spawn")
    a = _in_child(ctx, _analyze_only, str(manifest))

    variants: list[tuple[Path, tuple[str, ...]]] = [(manifest, ()), (manifest, ("--no-heatmaps",)), (one, ())]
    runs: list[list[tuple[float, float]]] = [[] for _ in variants]
    for _ in range(repeat):  # in turn, so that a busy spell on the machine does not hit one variant only
        for i, (m, extra) in enumerate(variants):
            runs[i].append(_cli_run(m, root / "out" / "results.jsonl", *extra))
    whole, bare, fixed = ((min(r[0] for r in rs), min(r[1] for r in rs)) for rs in runs)
    heat = root / "out" / "results_artifacts" / "consistency"
    files = sorted(heat.iterdir()) if heat.is_dir() else []
    rows = json.loads((root / "out" / "results.jsonl").read_text().splitlines()[0])
    art = rows["checks"]["consistency"]["artifacts"].get("heatmap", "-")

    group = "one generation per original" if per_original == 1 else f"{per_original} generations per original"
    print(f"{what}, {n} pairs ({group}), one CPU core; "
          f"best of {repeat} for the CLI runs")
    print(f"{'':52s} {'pairs/s':>8s} {'pairs/CPU-s':>12s} {'ms/pair':>8s}")

    def line(name: str, wall: float, cpu: float, pairs: int = n) -> None:
        print(f"{name:52s} {pairs / wall:8.1f} {pairs / cpu:12.1f} {1000 * wall / pairs:8.1f}")

    line("(a) analyze_pair alone", *a["analyze"])
    line("    decoding alone", *a["decode"])
    line("    heatmap rendering alone", *a["render"])
    line("    heatmap encoding + writing alone", *a["encode"])
    line("(b) hfpc filter --workers 1 (defaults, heatmaps)", *whole)
    line("    hfpc filter --workers 1 --no-heatmaps", *bare)
    print(f"{'    hfpc filter on a one-row manifest: wall s, CPU s':52s} {fixed[0]:8.2f} {fixed[1]:12.2f}")
    share_wall = (whole[0] - bare[0]) / whole[0]
    share_cpu = (whole[1] - bare[1]) / whole[1]
    share_all = (a["render"][1] + a["encode"][1]) / whole[1]
    share_enc = a["encode"][1] / whole[1]
    h, w = a["heatmap_shape"]
    print(f"heatmap: {w}×{h}, {a['heatmap_bytes'] / 1024:.0f} KiB each ({files[0].suffix if files else '-'}, "
          f"row artifact {art!r})")
    print(f"heatmaps' share of the whole run: {100 * share_cpu:.0f} % of CPU time, {100 * share_wall:.0f} % of "
          f"wall time (with − without heatmaps); {100 * share_all:.0f} % of CPU time rendering + encoding, "
          f"{100 * share_enc:.0f} % encoding + writing (timed apart)")
    c = _in_child(ctx, _per_check, str(manifest))
    print(f"\n(c) where the time goes, Judge in-process with the default profile "
          f"({', '.join(k for k in c['spent'] if k != 'decoding')}), no pictures: CPU ms per pair")
    for name, sec in c["spent"].items():
        print(f"    {name:20s} {1000 * sec / c['n']:7.1f}")
    print(f"    {'total':20s} {1000 * c['total'] / c['n']:7.1f}   ({c['n'] / c['total']:.1f} pairs/CPU-s)")
    print("target: >= 20 pairs/s per core at 512×512 for the whole run with the defaults")


def _per_check(manifest: str, q: mp.Queue) -> None:
    """(c): where the time of the default profile goes: decoding and each check, CPU time per pair."""
    _one_core()
    import cv2

    cv2.setNumThreads(1)
    from hfpc import Judge, read_manifest

    samples = read_manifest(manifest)
    judge = Judge()
    judge.judge_many(samples[:1])  # warm-up: imports, OCR models, first allocations
    judge._cache.clear()
    spent = {"decoding": 0.0, **{c.name: 0.0 for c in judge.checks}}
    for check in judge.checks:
        def timed(items, _run=check.run_batch, _name=check.name):
            c0 = _cpu()
            out = _run(items)
            spent[_name] += _cpu() - c0
            return out
        check.run_batch = timed
    load = judge._item

    def timed_item(sample):
        c0 = _cpu()
        out = load(sample)
        spent["decoding"] += _cpu() - c0
        return out
    judge._item = timed_item
    c0 = _cpu()
    for i in range(0, len(samples), 8):
        judge.judge_many(samples[i:i + 8])
    q.put({"total": _cpu() - c0, "n": len(samples), "spent": spent})


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


def judge_table(n: int, seed: int, root: str) -> None:
    ctx = mp.get_context("spawn")
    print(f"\nJudge in-process, no heatmaps\n{'size':>9s} {'gens/original':>13s} {'pairs':>6s} {'pairs/s':>8s} "
          f"{'ms/pair':>8s} {'peak RSS MiB':>13s}")
    for size, per_original in ((512, 1), (1024, 1), (512, 26)):
        size_, per, k, dt, rss = _in_child(ctx, _bench, size, n, seed, root, per_original=per_original)
        print(f"{size_:4d}×{size_:<4d} {per:13d} {k:6d} {k / dt:8.1f} {1000 * dt / k:8.1f} {rss:13.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--repeat", type=int, default=2, help="CLI runs per variant (the best counts)")
    ap.add_argument("--per-original", type=int, default=1,
                    help="generations per original in the whole-run set (HFPC-44k's test split has ~26; "
                         "the original's segmentation, keypoints and text are then found once per original)")
    ap.add_argument("--judge-table", action="store_true", help="also the in-process table at 512² and 1024²")
    ap.add_argument("--manifest", type=Path, help="time the whole run on this manifest instead of a demo set "
                    "(e.g. ../shared/data/real-dev/manifest.jsonl: real images, most of them moved products)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        whole_run(args.n, args.seed, Path(root), args.repeat, args.per_original, args.manifest)
        if args.judge_table:
            judge_table(args.n, args.seed, root)


if __name__ == "__main__":
    main()
