"""Peak resident memory of a whole ``hfpc filter --workers 1`` run at several image sides.

For each side a synthetic demo set is rendered (``generate_demo_set``) at 1024² or less and, for
larger sides, every image of it (originals, RGBA cut-outs used as masks, generated images) is
upscaled with OpenCV to the side wanted, keeping each file's format. The command then runs as a
subprocess of a small wrapper process, which reports the peak RSS of its children
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``), so rendering the data is never counted.

    python benchmarks/memory.py                      # 1024² and 4096², 8 samples each
    python benchmarks/memory.py --sides 1024 4096 8000 --n 6 --per-original 3

Targets: ≤ 300 MB at 1024², ≤ 600 MB per worker at 4096².

Measured (8 samples, one generation per original, no heatmaps; JPEG originals, RGBA PNG masks,
generated PNG/JPEG/WebP):

    side   before   cache bound only   cache bound + reduced JPEG decode (default)
    1024   236 MB   235 MB             236 MB
    4096  1072 MB  1072 MB (810 MB with HFPC_CACHE_BYTES=100000000)   594 MB

(before: 1072 MB whatever HFPC_CACHE_BYTES says.) What remains at 4096² is mostly the full
decode of the PNG/WebP images and of the 4096² mask, one sample at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MB = {1024: 300, 4096: 600}

_WRAPPER = """
import resource, subprocess, sys, json
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
print(json.dumps({"rc": r.returncode, "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "stderr": r.stderr[-2000:]}))
"""


def make_set(folder: Path, side: int, n: int, per_original: int, seed: int = 0) -> Path:
    """A demo set whose images are ``side`` × ``side``; returns its manifest."""
    import cv2

    from hfpc.data.synth import generate_demo_set

    base = min(side, 1024)
    manifest = generate_demo_set(folder, n=n, seed=seed, size=base, per_original=per_original)
    if side != base:
        for p in sorted([*folder.glob("originals/*"), *folder.glob("generated/*")]):
            im = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            big = cv2.resize(im, (side, side), interpolation=cv2.INTER_CUBIC)
            params = [cv2.IMWRITE_JPEG_QUALITY, 92] if p.suffix == ".jpg" else []
            if not cv2.imwrite(str(p), big, params):
                raise RuntimeError(f"cannot write {p}")
    return manifest


def measure(manifest: Path, out: Path, extra: list[str]) -> dict:
    hfpc = [sys.executable, "-c", "import sys; from hfpc.cli import app; sys.argv[0] = 'hfpc'; app()"]
    cmd = [*hfpc, "filter", str(manifest), "-o", str(out), "--workers", "1", "--overwrite", *extra]
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, check=True,
                       env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["seconds"] = time.perf_counter() - t0
    res["peak_mb"] = res["maxrss_kb"] / 1024
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sides", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--n", type=int, default=8, help="generated images per side")
    ap.add_argument("--per-original", type=int, default=1)
    ap.add_argument("--heatmaps", action="store_true", help="also write heatmaps (off by default)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the data sets under this folder")
    args = ap.parse_args()
    extra = [] if args.heatmaps else ["--no-heatmaps"]
    root = args.keep or Path(tempfile.mkdtemp(prefix="hfpc-mem-"))
    print(f"{'side':>6} {'samples':>7} {'peak RSS MB':>11} {'target MB':>9} {'seconds':>8}  rc")
    for side in args.sides:
        folder = root / f"set{side}"
        manifest = folder / "manifest.jsonl"
        if not manifest.is_file():
            manifest = make_set(folder, side, args.n, args.per_original)
        res = measure(manifest, folder / "results.jsonl", extra)
        target = TARGET_MB.get(side)
        print(f"{side:>6} {args.n:>7} {res['peak_mb']:>11.0f} {target or '-':>9} {res['seconds']:>8.1f}  {res['rc']}",
              flush=True)
        if res["rc"] not in (0, 1):
            print(res["stderr"], file=sys.stderr)


if __name__ == "__main__":
    main()
