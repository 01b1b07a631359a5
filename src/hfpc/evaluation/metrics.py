"""Metrics of agreement with reviewers, as pure functions of arrays.

Conventions: ``labels`` are 1 (reviewer passed) / 0 (failed); ``scores`` are higher-is-better;
``kept`` is the judge's decision (True = passed the filter). The HFPC paper's filter metrics:
Pb = precision of filtering out low-quality images, Rb = recall of low-quality images,
Rg = share of high-quality images kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats


def _arrays(*xs: Sequence[Any]) -> list[np.ndarray]:
    arrs = [np.asarray(x) for x in xs]
    n = {len(a) for a in arrs}
    if len(n) != 1:
        raise ValueError(f"arrays have different lengths: {[len(a) for a in arrs]}")
    return arrs


def plcc(scores: Sequence[float], labels: Sequence[float]) -> float:
    """Pearson linear correlation between scores and labels."""
    s, y = _arrays(scores, labels)
    if s.std() == 0 or y.std() == 0:
        return float("nan")
    return float(stats.pearsonr(s.astype(float), y.astype(float))[0])


def srcc(scores: Sequence[float], labels: Sequence[float]) -> float:
    """Spearman rank correlation between scores and labels."""
    s, y = _arrays(scores, labels)
    if s.std() == 0 or y.std() == 0:
        return float("nan")
    return float(stats.spearmanr(s, y)[0])


def confusion(kept: Sequence[bool], labels: Sequence[int]) -> dict[str, int]:
    """Counts: tp (pass kept), fn (pass filtered), fp (fail kept), tn (fail filtered)."""
    k, y = _arrays(kept, labels)
    k, y = k.astype(bool), y.astype(int) == 1
    return {"tp": int((k & y).sum()), "fn": int((~k & y).sum()),
            "fp": int((k & ~y).sum()), "tn": int((~k & ~y).sum())}


def filter_metrics(kept: Sequence[bool], labels: Sequence[int]) -> dict[str, float]:
    """Pb, Rb, Rg and accuracy of a keep/filter decision."""
    c = confusion(kept, labels)
    filtered = c["tn"] + c["fn"]
    low = c["tn"] + c["fp"]
    high = c["tp"] + c["fn"]
    total = sum(c.values())
    return {
        "Pb": c["tn"] / filtered if filtered else float("nan"),
        "Rb": c["tn"] / low if low else float("nan"),
        "Rg": c["tp"] / high if high else float("nan"),
        "accuracy": (c["tp"] + c["tn"]) / total if total else float("nan"),
    }


def _rank_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(scores: Sequence[float], labels: Sequence[int], positive: int = 1) -> float:
    """Area under the ROC curve for the ``positive`` class (fail: scores are negated)."""
    s, y = _arrays(scores, labels)
    s = s.astype(float) if positive == 1 else -s.astype(float)
    return _rank_auc(s, y.astype(int) == positive)


def average_precision(scores: Sequence[float], labels: Sequence[int], positive: int = 1) -> float:
    """PR-AUC as average precision (step-wise, as sklearn) for the ``positive`` class."""
    s, y = _arrays(scores, labels)
    s = s.astype(float) if positive == 1 else -s.astype(float)
    pos = y.astype(int) == positive
    if pos.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, pos_sorted = s[order], pos[order]
    # group ties: precision/recall evaluated at each distinct threshold
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tp = np.cumsum(pos_sorted)[last]
    precision = tp / (last + 1)
    recall = tp / pos.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def curves(scores: Sequence[float], labels: Sequence[int], positive: int = 1) -> dict[str, np.ndarray]:
    """ROC (fpr, tpr) and PR (precision, recall) points for the ``positive`` class."""
    s, y = _arrays(scores, labels)
    s = s.astype(float) if positive == 1 else -s.astype(float)
    pos = y.astype(int) == positive
    order = np.argsort(-s, kind="mergesort")
    s_sorted, pos_sorted = s[order], pos[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tp = np.cumsum(pos_sorted)[last].astype(float)
    fp = (last + 1 - tp).astype(float)
    n_pos, n_neg = max(1, pos.sum()), max(1, (~pos).sum())
    return {"fpr": np.r_[0.0, fp / n_neg], "tpr": np.r_[0.0, tp / n_pos],
            "precision": np.r_[1.0, tp / (last + 1)], "recall": np.r_[0.0, tp / n_pos]}


def summary(scores: Sequence[float], kept: Sequence[bool], labels: Sequence[int]) -> dict[str, float]:
    """The Table-1 metrics plus accuracy and ROC/PR-AUC of both classes."""
    out = {"PLCC": plcc(scores, labels), "SRCC": srcc(scores, labels)}
    out.update(filter_metrics(kept, labels))
    out.update({"ROC-AUC pass": roc_auc(scores, labels, 1), "ROC-AUC fail": roc_auc(scores, labels, 0),
                "PR-AUC pass": average_precision(scores, labels, 1),
                "PR-AUC fail": average_precision(scores, labels, 0)})
    return out


def per_category(kept: Sequence[bool], categories: Sequence[str | None]) -> dict[str, dict[str, float]]:
    """For each reviewer failure category (None = passed): count and share the judge filtered."""
    k, c = _arrays(kept, np.asarray(categories, dtype=object))
    out = {}
    for cat in sorted({str(x) for x in c}):
        m = np.array([str(x) == cat for x in c])
        out[cat] = {"n": int(m.sum()), "filtered": float((~k[m].astype(bool)).mean())}
    return out


def bootstrap_ci(fn: Callable[..., float], arrays: Sequence[Sequence[Any]], groups: Sequence[Any],
                 n: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile confidence interval of ``fn(*arrays)``, resampling whole groups (originals)."""
    arrs = [np.asarray(a) for a in arrays]
    g = np.asarray(groups, dtype=object)
    uniq = list(dict.fromkeys(g.tolist()))
    index = {u: np.flatnonzero(g == u) for u in uniq}
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([index[uniq[i]] for i in pick])
        v = fn(*[a[idx] for a in arrs])
        if v == v:
            vals.append(v)
    if not vals:
        return float("nan"), float("nan")
    return float(np.quantile(vals, alpha / 2)), float(np.quantile(vals, 1 - alpha / 2))
