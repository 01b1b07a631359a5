"""From result rows to the numbers the metrics need: one score and one keep/filter decision.

A row's *judge score* orders rows consistently with the decision: a row that passed every check
scores the lowest of its check values (in [0, 1]); a row that failed scores that minus 1 (in
[-1, 0)). A single check's score is its value (negated when lower is better).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hfpc.data.manifests import read_manifest
from hfpc.errors import HfpcError
from hfpc.results import read_results
from hfpc.types import Sample


def check_score(check: dict[str, Any]) -> float:
    """Higher-is-better value of one check result."""
    v = float(check["value"])
    return v if check.get("higher_is_better", True) else -v


def judge_score(row: dict[str, Any], checks: list[str] | None = None) -> float:
    """Score of a row over ``checks`` (default: all its checks); see the module docstring."""
    cs = {k: v for k, v in row["checks"].items() if checks is None or k in checks}
    if not cs:
        raise HfpcError(f"row {row['id']}: none of the checks {checks} is in the results")
    base = min(check_score(c) for c in cs.values())
    return base if all(c["passed"] for c in cs.values()) else base - 1.0


def judge_kept(row: dict[str, Any], checks: list[str] | None = None) -> bool:
    """Whether the row passed all of ``checks``."""
    return all(c["passed"] for k, c in row["checks"].items() if checks is None or k in checks)


LABEL_CATEGORY_KEYS = ("reason", "category")
"""Manifest columns (in ``Sample.meta``) that name a reviewer's failure category, besides ``failure``."""
NO_CATEGORY = "(no category)"


def label_category(sample: Sample) -> str | None:
    """The failure category a reviewer gave a sample: ``reason``, ``category`` or ``failure``."""
    for key in LABEL_CATEGORY_KEYS:
        value = sample.meta.get(key)
        if value not in (None, ""):
            return str(value)
    return sample.failure or None


def join_labels(results: str | Path, labels: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Result rows that have a label (errors dropped), with label, category and original attached.

    A failed row's ``category`` is the reviewer's (the labels' ``reason``, ``category`` or
    ``failure`` column). Only when the labels name no category at all does it fall back to the
    judge's ``failure`` of the row; ``stats["category_source"]`` says which ("labels" or
    "results"). Passed rows have no category (None).
    """
    rows = read_results(results)
    samples = {s.id: s for s in read_manifest(labels)}
    joined = []
    stats: dict[str, Any] = {"results": len(rows), "labelled": 0, "errors": 0, "unlabelled": 0}
    for r in rows:
        s = samples.get(r["id"])
        if s is None or s.label is None:
            stats["unlabelled"] += 1
            continue
        if r.get("error"):
            stats["errors"] += 1
            continue
        joined.append({**r, "label": s.label, "category": label_category(s) if s.label == 0 else None,
                       "group": s.original, "kind": s.meta.get("kind")})
        stats["labelled"] += 1
    if not joined:
        raise HfpcError(f"{results}: no result row has a label in {labels} (ids must match)")
    failed = [r for r in joined if r["label"] == 0]
    from_labels = any(r["category"] is not None for r in failed)
    for r in failed:
        if r["category"] is None:
            r["category"] = NO_CATEGORY if from_labels else (r.get("failure") or NO_CATEGORY)
    stats["category_source"] = "labels" if from_labels or not failed else "results"
    return joined, stats


def arrays(rows: list[dict[str, Any]], checks: list[str] | None = None) -> dict[str, np.ndarray]:
    """Scores, decisions, labels, categories and groups of joined rows."""
    return {
        "scores": np.array([judge_score(r, checks) for r in rows]),
        "kept": np.array([judge_kept(r, checks) for r in rows]),
        "labels": np.array([r["label"] for r in rows]),
        "categories": np.array([r["category"] for r in rows], dtype=object),
        "groups": np.array([r["group"] for r in rows], dtype=object),
    }
