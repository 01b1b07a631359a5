"""Threshold calibration: choose the checks' thresholds jointly for a target Pb or Rg.

Samples are split by original into a calibration part and a held-out part. On the calibration
part every combination of candidate thresholds (quantiles of each check's values) is tried; the
combination that filters the most failed images (highest Rb) while meeting the target is chosen,
and its operating point is reported on the held-out part with bootstrap confidence intervals.

Predicted decisions are whole decisions, combined as the Judge combines them: a sample is kept
only if every deciding check passes (baseline checks never decide). A check passes at a new
threshold when its value reaches it *and* the check's other gates pass (the consistency check,
for one, also gates structure, print and colours). A result row tells whether those gates passed
except for rows that failed with a value below the threshold; for those, the check is re-run
once with a lenient threshold (the Judge, on the row's images, with the base profile). Rows that
cannot be re-judged keep the thresholds above their values, so no prediction is a guess.
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
    """Chosen thresholds, the operating points before/after, and the calibrated profile.

    When the target is not met (``met_target`` False) ``thresholds`` are the closest ones found
    and ``profile`` is None: no calibrated profile is proposed.
    """

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
    predicted: dict[str, bool] = field(default_factory=dict)
    """The predicted keep decision of every labelled row under ``thresholds``."""


@dataclass
class _Check:
    """One deciding check over the rows, values and thresholds signed so that higher is better."""

    values: np.ndarray
    threshold: np.ndarray
    sign: float
    gates: np.ndarray
    """1: the check's other gates pass, 0: they fail, -1: unknown (failed below the threshold)."""

    def lowest_exact(self) -> float:
        """Thresholds above this value predict every row exactly."""
        unknown = self.values[self.gates < 0]
        return float(unknown.max()) if len(unknown) else -np.inf


def _checks(rows: list[dict[str, Any]], names: list[str]) -> dict[str, _Check]:
    out = {}
    for n in names:
        cs = [r["checks"][n] for r in rows]
        sign = 1.0 if cs[0].get("higher_is_better", True) else -1.0
        values = np.array([float(c["value"]) * sign for c in cs])
        thr = np.array([float(c["threshold"]) * sign for c in cs])
        passed = np.array([bool(c["passed"]) for c in cs])
        gates = np.where(passed, 1, np.where(values >= thr, 0, -1))
        out[n] = _Check(values, thr, sign, gates)
    return out


def _fixed(rows: list[dict[str, Any]], names: list[str], deciding: set[str]) -> np.ndarray:
    """What the thresholds being calibrated cannot change: the other deciding checks of each row,
    and a row failed although all of its deciding checks passed."""
    out = []
    for r in rows:
        others = all(c["passed"] for k, c in r["checks"].items() if k in deciding and k not in names)
        all_passed = all(c["passed"] for k, c in r["checks"].items() if k in deciding)
        out.append(others and (bool(r["passed"]) or not all_passed))
    return np.array(out, dtype=bool)


def kept_at(checks: dict[str, _Check], thresholds: dict[str, float], fixed: np.ndarray | None = None,
            idx: np.ndarray | None = None) -> np.ndarray:
    """Keep decisions if each check's (signed) threshold were ``thresholds[name]``.

    Raises ValueError when a threshold would pass a row whose other gates are unknown.
    """
    kept = None
    for n, c in checks.items():
        v, g = (c.values, c.gates) if idx is None else (c.values[idx], c.gates[idx])
        reach = v >= thresholds[n]
        if (reach & (g < 0)).any():
            raise ValueError(f"{n}: a threshold of {thresholds[n] * c.sign:g} would pass rows that failed below "
                             "the recorded threshold; whether their other gates pass needs re-judging them")
        k = reach & (g > 0)
        kept = k if kept is None else kept & k
    assert kept is not None
    if fixed is not None:
        kept = kept & (fixed if idx is None else fixed[idx])
    return kept


def _rejudge(rows: list[dict[str, Any]], checks: dict[str, _Check], profile: Profile,
             results_dir: Path) -> list[str]:
    """Resolve unknown gates by judging those rows again with a lenient threshold; returns notes."""
    from hfpc.judge import Judge
    from hfpc.report.html import locate_ref

    notes = []
    for n, c in checks.items():
        todo = np.flatnonzero(c.gates < 0)
        if not len(todo):
            continue
        if n not in profile.checks:
            notes.append(f"{n}: the profile has no [checks.{n}], so rows that failed below its threshold were not "
                         "re-judged; its threshold is only moved where no such row changes")
            continue
        lenient = float(c.values[todo].min() * c.sign)
        data = profile.model_dump()
        data["checks"] = {n: {**data["checks"][n], "enabled": True, "threshold": lenient}}
        try:
            judge = Judge(Profile(**data))
        except Exception as e:  # noqa: BLE001 - a missing model or a bad setting leaves the gates unknown
            notes.append(f"{n}: could not re-judge rows that failed below the threshold ({e}); its threshold is "
                         "only moved where no such row changes")
            continue
        samples = [Sample(rows[i]["id"], locate_ref(rows[i]["original"], results_dir),
                          locate_ref(rows[i]["generated"], results_dir), mask=rows[i].get("mask"))
                   for i in todo]
        unresolved = 0
        for i, v in zip(todo, judge.judge_many(samples)):
            r = v.checks.get(n)
            if v.error or r is None or abs(float(r.value) * c.sign - c.values[i]) > 1e-3:
                unresolved += 1  # not readable, or judged differently than recorded (another profile)
                continue
            c.gates[i] = 1 if r.passed else 0
        if unresolved:
            notes.append(f"{n}: {unresolved} rows could not be re-judged as recorded (images missing or results "
                         "made with another profile: pass it with --profile); its threshold is only moved where "
                         "none of them changes")
    return notes


def _prepare(results: str | Path, labels: str | Path, base_profile: str | Path | Profile | None,
             rejudge: bool) -> tuple[list[dict[str, Any]], list[str], dict[str, _Check], np.ndarray, list[str]]:
    from hfpc.checks.base import get_check_class
    from hfpc.data.manifests import read_manifest

    rows, _ = join_labels(results, labels)
    deciding = {n for r in rows for n in r["checks"] if not get_check_class(n).baseline}
    names = sorted(n for n in set.intersection(*(set(r["checks"]) for r in rows)) if n in deciding)
    if not names:
        raise HfpcError(f"{results}: the rows share no deciding check to calibrate")
    checks = _checks(rows, names)
    notes: list[str] = []
    if rejudge and any((c.gates < 0).any() for c in checks.values()):
        masks = {s.id: s.mask for s in read_manifest(labels)}
        for r in rows:
            r["mask"] = masks.get(r["id"])
        notes = _rejudge(rows, checks, Profile.load(base_profile), Path(results).parent)
    return rows, names, checks, _fixed(rows, names, deciding), notes


def predict(results: str | Path, labels: str | Path, thresholds: dict[str, float],
            base_profile: str | Path | Profile | None = None, rejudge: bool = True) -> dict[str, bool]:
    """Whether each labelled row would pass with the checks' ``thresholds`` (in the checks' own units)."""
    rows, names, checks, fixed, _ = _prepare(results, labels, base_profile, rejudge)
    signed = {n: float(np.median(c.threshold)) for n, c in checks.items()}
    signed.update({n: t * checks[n].sign for n, t in thresholds.items() if n in checks})
    return {r["id"]: bool(k) for r, k in zip(rows, kept_at(checks, signed, fixed))}


def calibrate(results: str | Path, labels: str | Path, target_pb: float | None = None,
              target_rg: float | None = None, base_profile: str | Path | Profile | None = None,
              calib_fraction: float = 0.5, seed: int = 0, n_candidates: int = 40,
              n_boot: int = 500, rejudge: bool = True) -> Calibration:
    """Pick thresholds on a calibration split and report them on held-out originals."""
    if (target_pb is None) == (target_rg is None):
        raise HfpcError("give exactly one target: --target-pb or --target-rg")
    rows, names, checks, fixed, notes = _prepare(results, labels, base_profile, rejudge)
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
    previous = {n: float(np.median(c.threshold)) for n, c in checks.items()}
    cands = {}
    for n, c in checks.items():
        q = np.unique(np.r_[np.quantile(c.values[cal_idx], np.linspace(0, 1, n_candidates)), previous[n]])
        floor = c.lowest_exact()
        cands[n] = q[(q > floor) | (q == previous[n])]
    key, target = ("Pb", target_pb) if target_pb is not None else ("Rg", target_rg)
    best, best_score, fallback, fallback_val = None, None, None, -np.inf
    for combo in itertools.product(*(cands[n] for n in names)):
        th = dict(zip(names, combo))
        m = M.filter_metrics(kept_at(checks, th, fixed, cal_idx), y[cal_idx])
        val = m[key] if m[key] == m[key] else -np.inf
        if val >= target:
            # ties go to the thresholds closest to the current ones
            moved = -sum(abs(th[n] - previous[n]) for n in names)
            score = (m["Rb"] if m["Rb"] == m["Rb"] else -1, m["Rg"] if m["Rg"] == m["Rg"] else -1, moved)
            if best_score is None or score > best_score:
                best, best_score = th, score
        elif fallback is None or val > fallback_val:
            fallback, fallback_val = th, val
    met = best is not None
    chosen = best if best is not None else fallback
    assert chosen is not None
    kept_all = kept_at(checks, chosen, fixed)
    kept_prev = kept_at(checks, previous, fixed)
    held = M.filter_metrics(kept_all[held_idx], y[held_idx])
    before = M.filter_metrics(kept_prev[held_idx], y[held_idx])
    ci = {}
    for name in ("Pb", "Rb", "Rg"):
        ci[name] = M.bootstrap_ci(lambda k, yy, name=name: M.filter_metrics(k, yy)[name],
                                  [kept_all[held_idx], y[held_idx]], groups[held_idx], n=n_boot, seed=seed)
    thresholds = {n: float(t * checks[n].sign) for n, t in chosen.items()}
    previous = {n: float(t * checks[n].sign) for n, t in previous.items()}
    closest = ", ".join(f"{n} {t:.4g}" for n, t in thresholds.items())
    if not met:
        shown = "n/a" if fallback_val == -np.inf else f"{fallback_val:.3f}"
        notes.insert(0, f"no thresholds reach {key} ≥ {target} on the calibration part "
                        f"({len(cal_idx)} samples); the closest is {key} = {shown} ({closest})")
    profile = None
    if met and (base_profile is not None or all(n in Profile().checks for n in names)):
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
                       len(cal_idx), len(held_idx), met, profile, notes,
                       {r["id"]: bool(k) for r, k in zip(rows, kept_all)})
