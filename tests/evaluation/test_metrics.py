from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from hfpc.evaluation import metrics as M


def test_filter_metrics_hand_computed() -> None:
    labels = [1, 1, 1, 0, 0, 0, 0, 1]
    kept = [1, 1, 0, 0, 0, 1, 0, 1]
    # filtered: idx 2 (pass), 3, 4, 6 (fail) → Pb = 3/4; fails 4, filtered 3 → Rb = 3/4; passes 4, kept 3
    m = M.filter_metrics(np.array(kept, bool), labels)
    assert m == {"Pb": 0.75, "Rb": 0.75, "Rg": 0.75, "accuracy": 0.75}
    assert M.confusion(np.array(kept, bool), labels) == {"tp": 3, "fn": 1, "fp": 1, "tn": 3}


def test_correlations_match_scipy() -> None:
    rng = np.random.default_rng(0)
    s, y = rng.normal(size=50), rng.integers(0, 2, 50)
    assert M.plcc(s, y) == pytest.approx(stats.pearsonr(s, y)[0])
    assert M.srcc(s, y) == pytest.approx(stats.spearmanr(s, y)[0])
    assert np.isnan(M.plcc(s, np.ones(50)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_and_ap_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80)
    s = np.round(y + rng.normal(0, 1, 80), 1)  # rounded: ties included
    assert M.roc_auc(s, y) == pytest.approx(skm.roc_auc_score(y, s))
    assert M.roc_auc(s, y, positive=0) == pytest.approx(skm.roc_auc_score(1 - y, -s))
    assert M.average_precision(s, y) == pytest.approx(skm.average_precision_score(y, s))
    assert M.average_precision(s, y, 0) == pytest.approx(skm.average_precision_score(1 - y, -s))
    c = M.curves(s, y)
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(c["fpr"], fpr) and np.allclose(c["tpr"], tpr)


def test_auc_hand_computed() -> None:
    assert M.roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75


def test_per_category_and_bootstrap() -> None:
    kept = np.array([1, 0, 0, 1, 0], bool)
    cats = [None, "floating", "floating", "indistinct", None]
    pc = M.per_category(kept, cats)
    assert pc["floating"] == {"n": 2, "filtered": 1.0} and pc["None"]["filtered"] == 0.5
    s = np.arange(20, dtype=float)
    y = (s > 9).astype(int)
    lo, hi = M.bootstrap_ci(M.roc_auc, [s, y], groups=np.arange(20) // 2, n=200)
    assert lo == hi == 1.0
    rng = np.random.default_rng(3)
    y2 = rng.integers(0, 2, 60)
    s2 = y2 + rng.normal(0, 1.5, 60)
    lo, hi = M.bootstrap_ci(M.roc_auc, [s2, y2], groups=np.arange(60) // 3, n=300)
    assert lo < M.roc_auc(s2, y2) < hi and hi - lo > 0.05


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        M.plcc([1, 2], [1])
