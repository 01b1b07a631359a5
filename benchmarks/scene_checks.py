"""How often ``placement`` and ``distinct`` flag each kind of sample, with their measures and speed.

Judges a labelled manifest (synthetic ``hfpc demo-data`` output, or the real-dev set) with
consistency + placement + distinct, then prints, per reason (real) or kind (synthetic), how
many samples each check failed, and the CPU time each check took per pair (time.process_time,
one process). ``--rows`` prints every row's measures.

    python benchmarks/scene_checks.py MANIFEST [--rows] [--only floating,indistinct,good,moved] [--judge-rejected]
        [--neighbours 0.9]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from hfpc import Profile, read_manifest
from hfpc.checks.base import JudgeItem, get_check_class
from hfpc.data.images import load_image, read_mask

CHECKS = ("consistency", "placement", "distinct")


def _measures(result: object) -> str:
    """One short line of a placement or distinct result's per-product measures."""
    parts = []
    for p in result.details.get("products", []):  # type: ignore[attr-defined]
        if "contact_darkness" in p:
            near = f" neighbours={p['neighbours']}" if "neighbours" in p else ""
            parts.append(f"share={p['frame_share']:.3f} dark={p['contact_darkness']:+.2f} gap={p['gap']} "
                         f"view={p['searched']:.2f} tex={p['below_texture']:.1f}{near}")
        else:
            parts.append(f"col={p['colour_delta_e']:.1f} ab={p['colour_delta_e76']:.1f} C={p['chroma']:.0f} "
                         f"edge={p['boundary_delta_e']:.1f} "
                         f"weak={p['weak_share']:.2f} texsim={p['texture_similarity']:.2f} "
                         f"sal={p['salience_ratio']:.2f}")
    return "; ".join(parts) or "not judged"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--rows", action="store_true", help="print every row's measures")
    ap.add_argument("--only", default="", help="comma-separated reasons/kinds to judge (default: all)")
    ap.add_argument("--judge-rejected", action="store_true",
                    help="also judge products that the consistency check rejected")
    ap.add_argument("--neighbours", type=float, default=None, metavar="RATIO",
                    help="placement's neighbour_max_ratio (size_mismatch from shorter solid neighbours)")
    args = ap.parse_args()
    mine = {"judge_rejected": True} if args.judge_rejected else {}
    placement = {**mine, **({"neighbour_max_ratio": args.neighbours} if args.neighbours else {})}
    profile = Profile(checks={"consistency": {}, "placement": placement, "distinct": mine})
    checks = [get_check_class(n)(profile.settings(n)) for n in CHECKS]
    only = set(filter(None, args.only.split(",")))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    cpu: dict[str, float] = defaultdict(float)
    n = 0
    for s in read_manifest(args.manifest):
        kind = s.meta.get("reason") or s.meta.get("kind") or ("good" if s.label else "bad")
        if only and kind not in only:
            continue
        orig, gen = load_image(s.original), load_image(s.generated)
        mask = read_mask(s.mask)[0] if s.mask else orig.alpha
        item = JudgeItem(s, orig, gen, mask)
        results = {}
        for c in checks:
            t = time.process_time()
            results[c.name] = c.run(item)
            cpu[c.name] += time.process_time() - t
        n += 1
        p, d = not results["placement"].passed, not results["distinct"].passed
        e = counts[kind]
        e[0] += p
        e[1] += d
        e[2] += p or d
        e[3] += 1
        if args.rows:
            flags = ("P" if p else ".") + ("D" if d else ".") + (" " if results["consistency"].passed else "c")
            print(f"{kind:20s} {s.id[:28]:28s} {flags} | {_measures(results['placement'])} | "
                  f"{_measures(results['distinct'])}")
    print(f"\n{'reason/kind':20s} placement  distinct  either  (flagged / samples)")
    for kind, (p, d, e, t) in sorted(counts.items()):
        print(f"{kind:20s} {p:4d}/{t:<4d} {d:4d}/{t:<4d} {e:4d}/{t:<4d}")
    if n:
        print("CPU ms per pair: " + ", ".join(f"{k} {1000 * v / n:.1f}" for k, v in cpu.items()))


if __name__ == "__main__":
    main()
