"""Does the judge name the right reason? Per-reason precision, recall, F1 and a confusion matrix.

Every joined row gets a true class (``good`` for a reviewer's pass, else the reviewer's reason
as a taxonomy code) and a predicted class (``good`` when the judge passed it, else the
Verdict's ``failure``). The metrics are pure functions of those two arrays; rows whose
reviewer gave no reason are left out of them (they are counted, not guessed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hfpc.evaluation.scores import NO_CATEGORY, judge_kept
from hfpc.taxonomy import FAILED_CHECK, GOOD, SEVERITY, label_class, main_failure, normalize


def class_order(*arrays: Sequence[str]) -> list[str]:
    """The classes present in any of ``arrays``: ``good``, then taxonomy codes by severity, then others."""
    present = {str(x) for a in arrays for x in a}
    known = [c for c in (GOOD, *SEVERITY) if c in present]
    return known + sorted(present - set(known))


def _pair(true: Sequence[str], pred: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(true, dtype=object), np.asarray(pred, dtype=object)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"true and predicted classes must be two lists of one length, got {t.shape} and {p.shape}")
    return t, p


def confusion_matrix(true: Sequence[str], pred: Sequence[str],
                     classes: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Counts ``m[i, j]`` of rows of true class ``classes[i]`` predicted as ``classes[j]``.

    ``classes`` defaults to :func:`class_order`; rows of a class not listed are not counted.
    """
    t, p = _pair(true, pred)
    cls = list(classes) if classes is not None else class_order(t, p)
    index = {c: i for i, c in enumerate(cls)}
    m = np.zeros((len(cls), len(cls)), dtype=np.int64)
    for a, b in zip(t, p):
        if a in index and b in index:
            m[index[a], index[b]] += 1
    return cls, m


def per_class(true: Sequence[str], pred: Sequence[str],
              classes: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Precision, recall, F1, support (true rows) and predicted (rows named so) of every class.

    Precision is NaN for a class never predicted and recall NaN for one that never occurs, so
    that absent classes are not counted as zeros; F1 is NaN when either is.
    """
    t, p = _pair(true, pred)
    cls = list(classes) if classes is not None else class_order(t, p)
    out: dict[str, dict[str, float]] = {}
    for c in cls:
        tp = int(np.sum((t == c) & (p == c)))
        support, predicted = int(np.sum(t == c)), int(np.sum(p == c))
        precision = tp / predicted if predicted else float("nan")
        recall = tp / support if support else float("nan")
        if precision != precision or recall != recall:
            f1 = float("nan")
        else:
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[c] = {"precision": precision, "recall": recall, "f1": f1, "support": support, "predicted": predicted}
    return out


def macro_f1(table: dict[str, dict[str, float]]) -> float:
    """Mean F1 over the classes that occur in the truth (a missed class counts as 0)."""
    vals = [0.0 if v["f1"] != v["f1"] else v["f1"] for v in table.values() if v["support"]]
    return float(np.mean(vals)) if vals else float("nan")


def true_class(row: dict[str, Any]) -> str | None:
    """A joined row's reviewer class: ``good``, a taxonomy code, or None when no reason is known."""
    if row.get("label") == 1:
        return GOOD
    category = row.get("category")
    return None if category == NO_CATEGORY else label_class(category, 0)


def predicted_class(row: dict[str, Any], checks: Sequence[str] | None = None) -> str:
    """A result row's class as judged: ``good`` when it passed, else its main failure code.

    With ``checks``, as if only those checks had run: the most significant of their reasons
    (or, for rows written before ``reasons`` existed, the first failing one's ``failure``).
    """
    if checks is None:
        return GOOD if row.get("passed") else normalize(row.get("failure")) or FAILED_CHECK
    if judge_kept(row, list(checks)):
        return GOOD
    picked = [r for r in row.get("reasons") or [] if r.get("check") in checks]
    if picked:
        return main_failure(picked) or FAILED_CHECK
    failing = [c for k, c in row["checks"].items() if k in checks and not c.get("passed")]
    return normalize(failing[0].get("failure")) or FAILED_CHECK


def reason_evaluation(rows: list[dict[str, Any]], checks: Sequence[str] | None = None) -> dict[str, Any]:
    """Per-reason metrics and the confusion matrix of joined rows (see ``scores.join_labels``).

    Returns ``n`` (rows with a known reviewer class), ``no_reason`` (failed rows left out),
    ``accuracy`` (share named exactly), ``macro_f1``, ``per_reason`` and ``confusion``
    (``classes`` and ``matrix``, rows = reviewer, columns = judge). ``checks`` limits the
    judge to those checks, as :func:`predicted_class` says.
    """
    pairs = [(true_class(r), predicted_class(r, checks)) for r in rows]
    kept = [(t, p) for t, p in pairs if t is not None]
    true = [t for t, _ in kept]
    pred = [p for _, p in kept]
    table = per_class(true, pred)
    classes, matrix = confusion_matrix(true, pred, list(table))
    return {"n": len(kept), "no_reason": len(pairs) - len(kept),
            "accuracy": float(np.mean([a == b for a, b in kept])) if kept else float("nan"),
            "macro_f1": macro_f1(table), "per_reason": table,
            "confusion": {"classes": classes, "matrix": matrix.tolist()}}
