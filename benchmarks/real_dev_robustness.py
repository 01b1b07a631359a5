"""Stability of the judge on real generated images under changes a reviewer would not notice.

A verdict that flips when the generated image is re-saved as JPEG, downscaled, mirrored or made
a little brighter was decided by noise, not by the picture; on images the judge has never seen
such verdicts are right only by chance. This benchmark judges the real-dev pairs once as they
are and once per perturbation of the generated image (the original and its mask untouched; the
perturbed copies live in a temporary folder, never in the repository), then prints, per
perturbation, the verdict agreement with the reviewers and every row whose verdict, consistency
result or failure code changed, marked WORSE (a right verdict turned wrong) or better.

    python benchmarks/real_dev_robustness.py [--data ../shared/data/real-dev] [--only jpeg,mirror]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from hfpc import Profile, read_manifest, read_results, run_filter


def _jpeg(img: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


PERTURBATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "jpeg": _jpeg,  # re-saved as JPEG, quality 85
    "down": lambda im: cv2.resize(im, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA),
    "mirror": lambda im: np.ascontiguousarray(im[:, ::-1]),
    "bright": lambda im: np.clip(im.astype(np.float32) * 1.08 + 6, 0, 255).astype(np.uint8),
}
"""Changes of the generated image that leave a reviewer's verdict as it was."""


def default_data() -> Path:
    """The real-dev folder beside the checkout (``../shared/data/real-dev``)."""
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dev"


def perturbed_copy(data: Path, out: Path, change: Callable[[np.ndarray], np.ndarray],
                   ids: set[str] | None = None) -> Path:
    """``out``/manifest.jsonl: the manifest of ``data`` (only the rows ``ids`` when given) with
    every generated image changed, its originals and masks linked; returns the manifest's path."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for line in (data / "manifest.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if ids is not None and row["id"] not in ids:
            continue
        img = cv2.imread(str(data / row["generated"]), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise FileNotFoundError(f"{data / row['generated']}: cannot be read")
        cv2.imwrite(str(out / row["generated"]), change(img))
        for key in ("original", "mask"):
            if row.get(key) and not (out / row[key]).exists():
                os.symlink(data / row[key], out / row[key])
        lines.append(json.dumps(row))
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return out / "manifest.jsonl"


def _judge(manifest: Path, out: Path, profile: Profile, workers: int | None) -> dict[str, dict]:
    results = out / "results.jsonl"
    run_filter(read_manifest(manifest), results, profile, workers=workers, overwrite=True)
    return {r["id"]: r for r in read_results(results)}


def _summary(row: dict) -> tuple:
    cons = row.get("checks", {}).get("consistency", {})
    return row.get("passed"), cons.get("passed"), row.get("failure")


def compare(base: dict[str, dict], changed: dict[str, dict], labels: dict[str, dict]) -> dict:
    """Verdict agreement of ``changed`` and its rows that differ from ``base`` (with direction)."""
    rows = []
    for rid, b in base.items():
        c = changed.get(rid)
        if c is None or _summary(b) == _summary(c):
            continue
        label = bool(labels[rid]["label"])
        was, now = b.get("passed") == label, c.get("passed") == label
        rows.append({"id": rid, "reason": labels[rid]["reason"], "before": _summary(b), "after": _summary(c),
                     "direction": "WORSE" if was and not now else "better" if now and not was else "",
                     "explanation": c.get("checks", {}).get("consistency", {}).get("explanation", "")})
    agree = sum(r.get("passed") == bool(labels[i]["label"]) for i, r in changed.items())
    return {"agreement": agree / max(1, len(changed)), "changed": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--profile", default=None)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--only", default=",".join(PERTURBATIONS), help="perturbations, comma-separated")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        raise SystemExit(f"unknown perturbation(s) {unknown}; choose from {sorted(PERTURBATIONS)}")
    profile = Profile.load(args.profile)
    workers = args.workers or None
    labels = {s.id: s.meta | {"label": s.label} for s in read_manifest(args.data / "manifest.jsonl")}
    with tempfile.TemporaryDirectory(prefix="hfpc-robust-") as tmp:
        root = Path(tmp)
        base = _judge(args.data / "manifest.jsonl", root / "base", profile, workers)
        agree = sum(r.get("passed") == bool(labels[i]["label"]) for i, r in base.items()) / len(base)
        print(f"{len(base)} real pairs; verdict agreement as they are: {100 * agree:.1f}%")
        total_worse = 0
        for name in names:
            manifest = perturbed_copy(args.data, root / name, PERTURBATIONS[name])
            r = compare(base, _judge(manifest, root / f"{name}-out", profile, workers), labels)
            worse = sum(c["direction"] == "WORSE" for c in r["changed"])
            total_worse += worse
            print(f"\n== {name}: verdict agreement {100 * r['agreement']:.1f}%; {len(r['changed'])} rows changed, "
                  f"{worse} of them for the worse")
            for c in r["changed"]:
                print(f"  {c['id']:30s} {c['reason']:20s} (passed, consistency, failure) {c['before']} -> "
                      f"{c['after']} {c['direction']}")
        print(f"\nright verdicts turned wrong by a perturbation: {total_worse} "
              f"(of {len(names)} × {len(base)} judgements)")


if __name__ == "__main__":
    main()
