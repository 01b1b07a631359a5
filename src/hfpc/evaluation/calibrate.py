"""Threshold calibration: choose the checks' thresholds jointly for a target Pb or Rg.

Samples are split by original into a calibration part and a held-out part. On the calibration
part every combination of candidate thresholds (quantiles of each check's values) is tried; the
combination that filters the most failed images (highest Rb) while meeting the target is chosen,
and its operating point is reported on the held-out part with bootstrap confidence intervals.
A check that failed for a reason other than its value (e.g. a consistency gate) stays failed.
Baseline checks are left out: they never decide.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hfpc.errors import HfpcError
from hfpc.evaluation import metrics as M
from hfpc.evaluation.scores import join_labels
from hfpc.profile import Profile
from hfpc.training.groups import split_by_original
from hfpc.types import Sample


@dataclass
class Calibration:
    """Chosen thresholds, the operating points before/after, and the calibrated profile."""

    thresholds: dict[str, float]
    previous: dict[str, float]
    target: dict[str, float]
    calibration: dict[str, float]
    held_out: dict[str, float]
    held_out_before: dict[str, float]
    ci95: dict[str, tuple[float, float]]
    n_calibration: int
    n_held_out: int
    met_target: bool
    profile: Profile | None = None
    notes: list[str] = field(default_factory=list)


def _check_arrays(rows: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for n in names:
        cs = [r["checks"][n] for r in rows]
        values = np.array([float(c["value"]) * (1 if c.get("higher_is_better", True) else -1) for c in cs])
        thr = np.array([float(c["threshold"]) * (1 if c.get("higher_is_better", True) else -1) for c in cs])
        passed = np.array([bool(c["passed"]) for c in cs])
        sign = 1.0 if cs[0].get("higher_is_better", True) else -1.0
        out[n] = {"values": values, "other_fail": ~passed & (values >= thr), "threshold": thr, "sign": sign}
    return out


def kept_at(checks: dict[str, dict[str, np.ndarray]], thresholds: dict[str, float],
            idx: np.ndarray | None = None) -> np.ndarray:
    """Keep decisions if each check's threshold were ``thresholds[name]``."""
    kept = None
    for n, c in checks.items():
        v, other = c["values"], c["other_fail"]
        if idx is not None:
            v, other = v[idx], other[idx]
        k = (v >= thresholds[n]) & ~other
        kept = k if kept is None else kept & k
    assert kept is not None
    return kept


def calibrate(results: str | Path, labels: str | Path, target_pb: float | None = None,
              target_rg: float | None = None, base_profile: str | Path | Profile | None = None,
              calib_fraction: float = 0.5, seed: int = 0, n_candidates: int = 40,
              n_boot: int = 500) -> Calibration:
    """Pick thresholds on a calibration split and report them on held-out originals."""
    if (target_pb is None) == (target_rg is None):
        raise HfpcError("give exactly one target: --target-pb or --target-rg")
    from hfpc.checks.base import get_check_class

    rows, _ = join_labels(results, labels)
    names = sorted(n for n in set.intersection(*(set(r["checks"]) for r in rows))
                   if not get_check_class(n).baseline)
    if not names:
        raise HfpcError(f"{results}: the rows share no deciding check to calibrate")
    # keep the joint grid small: at most ~20,000 combinations
    n_candidates = max(3, min(n_candidates, int(20000 ** (1 / len(names)))))
    samples = [Sample(r["id"], r["group"], r["generated"]) for r in rows]
    cal, held = split_by_original(samples, 1 - calib_fraction, seed)
    cal_ids = {s.id for s in cal}
    cal_idx = np.array([i for i, r in enumerate(rows) if r["id"] in cal_ids])
    held_idx = np.array([i for i, r in enumerate(rows) if r["id"] not in cal_ids])
    if len(held_idx) == 0 or len(cal_idx) == 0:
        raise HfpcError("too few originals to split into calibration and held-out parts")
    y = np.array([r["label"] for r in rows])
    groups = np.array([r["group"] for r in rows], dtype=object)
    checks = _check_arrays(rows, names)
    previous = {n: float(np.median(c["threshold"])) for n, c in checks.items()}
    cands = {}
    for n, c in checks.items():
        v = c["values"][cal_idx]
        q = np.unique(np.quantile(v, np.linspace(0, 1, n_candidates)))
        cands[n] = np.unique(np.r_[q, previous[n]])
    key, target = ("Pb", target_pb) if target_pb is not None else ("Rg", target_rg)
    best, best_score, fallback, fallback_val = None, None, None, -np.inf
    for combo in itertools.product(*(cands[n] for n in names)):
        th = dict(zip(names, combo))
        m = M.filter_metrics(kept_at(checks, th, cal_idx), y[cal_idx])
        val = m[key] if m[key] == m[key] else -np.inf
        if val >= target:
            # ties go to the thresholds closest to the current ones
            moved = -sum(abs(th[n] - previous[n]) for n in names)
            score = (m["Rb"] if m["Rb"] == m["Rb"] else -1, m["Rg"] if m["Rg"] == m["Rg"] else -1, moved)
            if best_score is None or score > best_score:
                best, best_score = th, score
        elif val > fallback_val:
            fallback, fallback_val = th, val
    met = best is not None
    chosen = best if best is not None else fallback
    assert chosen is not None
    notes = [] if met else [f"no thresholds reach {key} ≥ {target} on the calibration part; "
                            f"the closest ({key} = {fallback_val:.3f}) was chosen"]
    kept_all = kept_at(checks, chosen)
    kept_prev = kept_at(checks, previous)
    held = M.filter_metrics(kept_all[held_idx], y[held_idx])
    before = M.filter_metrics(kept_prev[held_idx], y[held_idx])
    ci = {}
    for name in ("Pb", "Rb", "Rg"):
        ci[name] = M.bootstrap_ci(lambda k, yy, name=name: M.filter_metrics(k, yy)[name],
                                  [kept_all[held_idx], y[held_idx]], groups[held_idx], n=n_boot, seed=seed)
    thresholds = {n: float(t * checks[n]["sign"]) for n, t in chosen.items()}
    previous = {n: float(t * checks[n]["sign"]) for n, t in previous.items()}
    profile = None
    if base_profile is not None or all(n in Profile().checks for n in names):
        base = Profile.load(base_profile)
        missing = [n for n in names if n not in base.checks]
        if missing:
            notes.append(f"the base profile has no [checks.{missing[0]}]; pass the profile the results were made "
                         "with (--profile) to write a calibrated one")
        else:
            data = base.model_dump()
            for n, t in thresholds.items():
                data["checks"][n] = {**data["checks"][n], "threshold": round(t, 6)}
            data["name"] = f"{base.name}-calibrated"
            data["description"] = (f"{base.description}; thresholds calibrated for {key} ≥ {target} "
                                   f"on {len(cal_idx)} samples")
            profile = Profile(**data)
    return Calibration(thresholds, previous, {key: float(target)},
                       M.filter_metrics(kept_all[cal_idx], y[cal_idx]), held, before, ci,
                       len(cal_idx), len(held_idx), met, profile, notes)
