"""Threshold calibration: choose the checks' thresholds jointly for a target Pb or Rg.

Samples are split by original into a calibration part and a held-out part. On the calibration
part every combination of candidate thresholds (quantiles of each check's values) is tried; the
combination that filters the most failed images (highest Rb) while meeting the target is chosen,
and its operating point is reported on the held-out part with bootstrap confidence intervals.

Decisions are whole decisions, as the Judge makes them: a sample is kept only if every deciding
check passes (baseline checks never decide). A check's verdict is more than its value against its
threshold (the consistency check also gates structure, print and colours, and lets a redrawn but
recognisable product pass below it), so a row only tells for sure how a check decides when its
threshold does not move towards the row's verdict: a row that passed still passes at a lower
threshold, a row that failed still fails at a higher one. Every other row is judged again with
the calibrated profile (the Judge, on the row's images), so the reported operating point and the
``predicted`` decisions are what ``hfpc filter`` with that profile decides. The search itself
estimates those rows from their values.
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
    passed: np.ndarray
    sign: float

    def known(self, t: float) -> np.ndarray:
        """Rows whose verdict at threshold ``t`` follows from the recorded one."""
        return (self.passed & (t <= self.threshold)) | (~self.passed & (t >= self.threshold))

    def estimate(self, t: float) -> np.ndarray:
        """Pass at threshold ``t``: the recorded verdict where it is known, else from the value (a row
        that failed although its value reached the threshold failed another gate)."""
        guess = (self.values >= t) & (self.passed | (self.values < self.threshold))
        return np.where(self.known(t), self.passed, guess)


def _checks(rows: list[dict[str, Any]], names: list[str]) -> dict[str, _Check]:
    out = {}
    for n in names:
        cs = [r["checks"][n] for r in rows]
        sign = 1.0 if cs[0].get("higher_is_better", True) else -1.0
        out[n] = _Check(np.array([float(c["value"]) * sign for c in cs]),
                        np.array([float(c["threshold"]) * sign for c in cs]),
                        np.array([bool(c["passed"]) for c in cs]), sign)
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


def estimate(checks: dict[str, _Check], thresholds: dict[str, float], fixed: np.ndarray,
             idx: np.ndarray | None = None) -> np.ndarray:
    """Estimated keep decisions at (signed) ``thresholds``; exact where ``unknown`` is False."""
    kept = fixed.copy()
    for n, c in checks.items():
        kept &= c.estimate(thresholds[n])
    return kept if idx is None else kept[idx]


def unknown(checks: dict[str, _Check], thresholds: dict[str, float], fixed: np.ndarray) -> np.ndarray:
    """Rows whose decision at ``thresholds`` only the Judge can tell."""
    certain_fail = ~fixed
    some_unknown = np.zeros_like(fixed)
    for n, c in checks.items():
        known = c.known(thresholds[n])
        certain_fail |= known & ~c.passed
        some_unknown |= ~known
    return some_unknown & ~certain_fail


class _Rejudge:
    """Judges rows again with the base profile at given thresholds; remembers what it judged."""

    def __init__(self, rows: list[dict[str, Any]], checks: dict[str, _Check], base: Profile | None,
                 results_dir: Path, masks: dict[str, str | None]) -> None:
        self.rows, self.checks, self.base, self.dir, self.masks = rows, checks, base, results_dir, masks
        self.notes: list[str] = []
        self._done: dict[tuple[tuple[str, float], ...], dict[int, bool]] = {}

    def profile(self, thresholds: dict[str, float]) -> Profile:
        """The base profile with the (signed) ``thresholds`` in the checks' own units."""
        assert self.base is not None
        data = self.base.model_dump()
        for n, t in thresholds.items():
            data["checks"][n] = {**data["checks"][n], "threshold": round(t * self.checks[n].sign, 6)}
        return Profile(**data)

    def __call__(self, thresholds: dict[str, float], todo: np.ndarray) -> dict[int, bool] | None:
        """Verdicts of the rows ``todo`` at ``thresholds``, or None when they cannot be judged."""
        from hfpc.judge import Judge
        from hfpc.report.html import locate_ref

        if self.base is None:
            return None
        key = tuple(sorted(thresholds.items()))
        if key in self._done:
            return self._done[key]
        try:
            judge = Judge(self.profile({n: float(t) for n, t in thresholds.items()}))
        except Exception as e:  # noqa: BLE001 - a missing model or a bad setting: say so, do not guess
            self.notes.append(f"could not judge rows again with the calibrated profile ({e})")
            self.base = None
            return None
        rows = self.rows
        samples = [Sample(rows[i]["id"], locate_ref(rows[i]["original"], self.dir),
                          locate_ref(rows[i]["generated"], self.dir), mask=self.masks.get(rows[i]["id"]))
                   for i in np.flatnonzero(todo)]
        out: dict[int, bool] = {}
        errors = []
        for i, v in zip(np.flatnonzero(todo), judge.judge_many(samples)):
            if v.error:
                errors.append(v.error)
            else:
                out[int(i)] = bool(v.passed)
        if errors:
            self.notes.append(f"{len(errors)} rows could not be judged again (e.g. {errors[0]}); their decisions "
                              "are estimated from their values")
        self._done[key] = out
        return out


def _decide(checks: dict[str, _Check], thresholds: dict[str, float], fixed: np.ndarray,
            rejudge: _Rejudge | None) -> tuple[np.ndarray, int]:
    """Decisions at ``thresholds``: known rows from the results, the rest from the Judge (or
    estimated when it cannot run); also the number of decisions that remain estimates."""
    kept = estimate(checks, thresholds, fixed)
    todo = unknown(checks, thresholds, fixed)
    if not todo.any():
        return kept, 0
    judged = rejudge(thresholds, todo) if rejudge is not None else None
    for i, passed in (judged or {}).items():
        kept[i] = passed
    return kept, int(todo.sum()) - len(judged or {})


def _prepare(results: str | Path, labels: str | Path, base_profile: str | Path | Profile | None,
             rejudge: bool) -> tuple[list[dict[str, Any]], list[str], dict[str, _Check], np.ndarray, _Rejudge | None]:
    from hfpc.checks.base import get_check_class
    from hfpc.data.manifests import read_manifest

    rows, _ = join_labels(results, labels)
    deciding = {n for r in rows for n in r["checks"] if not get_check_class(n).baseline}
    # only checks with one threshold setting are calibrated; the others' verdicts stay as judged
    names = sorted(n for n in set.intersection(*(set(r["checks"]) for r in rows))
                   if n in deciding and "threshold" in get_check_class(n).Settings.model_fields)
    if not names:
        raise HfpcError(f"{results}: the rows share no deciding check with a threshold to calibrate")
    checks = _checks(rows, names)
    judge = None
    if rejudge:
        base = Profile.load(base_profile)
        masks = {s.id: s.mask for s in read_manifest(labels)}
        judge = _Rejudge(rows, checks, base if all(n in base.checks for n in names) else None,
                         Path(results).parent, masks)
        if judge.base is None:
            judge.notes.append(f"the profile has no section for every check of the results ({', '.join(names)}): "
                               "pass the profile the results were made with (--profile)")
    return rows, names, checks, _fixed(rows, names, deciding), judge


def predict(results: str | Path, labels: str | Path, thresholds: dict[str, float],
            base_profile: str | Path | Profile | None = None, rejudge: bool = True) -> dict[str, bool]:
    """Whether each labelled row passes with the checks' ``thresholds`` (in the checks' own units).

    Rows whose decision the results cannot tell are judged again (``rejudge``); without it, or
    when that is not possible, a ValueError says how many decisions are unknown.
    """
    rows, names, checks, fixed, judge = _prepare(results, labels, base_profile, rejudge)
    signed = {n: float(np.median(c.threshold)) for n, c in checks.items()}
    signed.update({n: t * checks[n].sign for n, t in thresholds.items() if n in checks})
    kept, left = _decide(checks, signed, fixed, judge)
    if left:
        why = "; ".join(judge.notes) if judge is not None and judge.notes else "re-judging is off"
        raise ValueError(f"{left} decisions at these thresholds need re-judging those rows ({why})")
    return {r["id"]: bool(k) for r, k in zip(rows, kept)}


def calibrate(results: str | Path, labels: str | Path, target_pb: float | None = None,
              target_rg: float | None = None, base_profile: str | Path | Profile | None = None,
              calib_fraction: float = 0.5, seed: int = 0, n_candidates: int = 40,
              n_boot: int = 500, rejudge: bool = True, max_tries: int = 5) -> Calibration:
    """Pick thresholds on a calibration split and report them on held-out originals.

    The best estimated combinations are checked in turn (at most ``max_tries``) by deciding every
    row as the Judge would; the first that still meets the target on the calibration part wins.
    """
    if (target_pb is None) == (target_rg is None):
        raise HfpcError("give exactly one target: --target-pb or --target-rg")
    rows, names, checks, fixed, judge = _prepare(results, labels, base_profile, rejudge)
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
    cands = {n: np.unique(np.r_[np.quantile(c.values[cal_idx], np.linspace(0, 1, n_candidates)), previous[n]])
             for n, c in checks.items()}
    key, target = ("Pb", target_pb) if target_pb is not None else ("Rg", target_rg)

    def value(m: dict[str, float]) -> float:
        return m[key] if m[key] == m[key] else -np.inf

    meeting: list[tuple[tuple[float, float, float], dict[str, float]]] = []
    fallback, fallback_val = None, -np.inf
    for combo in itertools.product(*(cands[n] for n in names)):
        th = dict(zip(names, (float(x) for x in combo)))
        m = M.filter_metrics(estimate(checks, th, fixed, cal_idx), y[cal_idx])
        if value(m) >= target:
            # ties go to the thresholds closest to the current ones
            moved = -sum(abs(th[n] - previous[n]) for n in names)
            meeting.append(((m["Rb"] if m["Rb"] == m["Rb"] else -1, m["Rg"] if m["Rg"] == m["Rg"] else -1, moved), th))
        elif fallback is None or value(m) > fallback_val:
            fallback, fallback_val = th, value(m)
    meeting.sort(key=lambda x: x[0], reverse=True)
    chosen, kept_all, estimated, met = None, None, 0, False
    for _, th in meeting[:max_tries]:
        kept, left = _decide(checks, th, fixed, judge)
        val = value(M.filter_metrics(kept[cal_idx], y[cal_idx]))
        if chosen is None or val >= target:
            chosen, kept_all, estimated = th, kept, left
        if val >= target:
            met = True
            break
        if val > fallback_val:
            fallback, fallback_val = th, val
    if not met:
        chosen = fallback if fallback is not None else chosen
        assert chosen is not None
        kept_all, estimated = _decide(checks, chosen, fixed, judge)
        fallback_val = value(M.filter_metrics(kept_all[cal_idx], y[cal_idx]))
    assert chosen is not None and kept_all is not None
    kept_prev = np.array([bool(r["passed"]) for r in rows])  # what the Judge decided with the old thresholds
    held = M.filter_metrics(kept_all[held_idx], y[held_idx])
    before = M.filter_metrics(kept_prev[held_idx], y[held_idx])
    ci = {}
    for name in ("Pb", "Rb", "Rg"):
        ci[name] = M.bootstrap_ci(lambda k, yy, name=name: M.filter_metrics(k, yy)[name],
                                  [kept_all[held_idx], y[held_idx]], groups[held_idx], n=n_boot, seed=seed)
    thresholds = {n: float(t * checks[n].sign) for n, t in chosen.items()}
    previous = {n: float(t * checks[n].sign) for n, t in previous.items()}
    notes = list(dict.fromkeys(judge.notes)) if judge is not None else []
    if estimated:
        notes.append(f"{estimated} of {len(rows)} decisions are estimated from the check values: the results "
                     "cannot tell them and they were not judged again" + ("" if rejudge else " (--no-rejudge)"))
    if not met:
        shown = "n/a" if fallback_val == -np.inf else f"{fallback_val:.3f}"
        closest = ", ".join(f"{n} {t:.4g}" for n, t in thresholds.items())
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
