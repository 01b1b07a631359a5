"""Category balancing as in the HFPC paper: KMeans on original-image embeddings, oversampling.

Originals are clustered (default k = 25); groups of clusters smaller than the target size are
repeated (sampled with replacement within their cluster) until each cluster reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Balance:
    """Cluster of each group, sizes before/after, and the epoch's group index list."""

    labels: np.ndarray
    before: list[int]
    after: list[int]
    indices: list[int]


def balance_groups(embeddings: np.ndarray, k: int = 25, seed: int = 0, target: str = "median") -> Balance:
    """Cluster ``embeddings`` (one row per group's original) and oversample small clusters.

    ``target`` is the size small clusters grow to: ``"median"`` or ``"max"`` cluster size.
    """
    from sklearn.cluster import KMeans

    n = len(embeddings)
    k = max(1, min(k, n))
    labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(embeddings) if k > 1 \
        else np.zeros(n, int)
    before = [int((labels == c).sum()) for c in range(k)]
    goal = int(np.max(before) if target == "max" else np.median(before))
    rng = np.random.default_rng(seed)
    indices: list[int] = []
    after = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        extra = rng.choice(members, goal - len(members), replace=True).tolist() if len(members) < goal else []
        indices.extend(members.tolist() + extra)
        after.append(len(members) + len(extra))
    return Balance(labels, before, after, indices)
