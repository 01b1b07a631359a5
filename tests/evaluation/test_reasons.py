"""Per-reason metrics and the confusion matrix, against hand-computed values and sklearn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import precision_recall_fscore_support

from hfpc.evaluation.reasons import (
    class_order,
    confusion_matrix,
    macro_f1,
    per_class,
    predicted_class,
    reason_evaluation,
    true_class,
)
from hfpc.evaluation.scores import NO_CATEGORY

TRUE = ["good", "good", "floating", "product_altered", "product_altered", "size_mismatch", "good", "glare"]
PRED = ["good", "floating", "floating", "product_altered", "good", "good", "good", "product_altered"]


def test_hand_computed() -> None:
    t = per_class(TRUE, PRED)
    assert t["good"] == {"precision": 2 / 4, "recall": 2 / 3, "f1": pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)),
                         "support": 3, "predicted": 4}
    assert t["floating"]["precision"] == 0.5 and t["floating"]["recall"] == 1.0
    assert t["size_mismatch"]["recall"] == 0.0 and math.isnan(t["size_mismatch"]["precision"])
    assert math.isnan(t["size_mismatch"]["f1"])
    assert list(t) == ["good", "product_altered", "size_mismatch", "floating", "glare"]  # severity, then others
    # a missed class counts as 0 in the macro mean
    assert macro_f1(t) == pytest.approx(np.mean([t["good"]["f1"], t["product_altered"]["f1"], t["floating"]["f1"],
                                                 0.0, 0.0]))


def test_against_sklearn() -> None:
    rng = np.random.default_rng(4)
    names = ["good", "product_altered", "floating", "indistinct", "text_artifacts"]
    true = list(rng.choice(names, 200))
    pred = [t if rng.uniform() < 0.6 else str(rng.choice(names)) for t in true]
    classes = class_order(true, pred)
    p, r, f, s = precision_recall_fscore_support(true, pred, labels=classes, zero_division=np.nan)
    table = per_class(true, pred, classes)
    for i, c in enumerate(classes):
        assert table[c]["precision"] == pytest.approx(p[i])
        assert table[c]["recall"] == pytest.approx(r[i])
        assert table[c]["f1"] == pytest.approx(f[i])
        assert table[c]["support"] == s[i]
    cls, m = confusion_matrix(true, pred)
    assert cls == classes
    assert np.array_equal(m, sk_confusion(true, pred, labels=classes))
    assert m.sum() == 200 and np.trace(m) == sum(a == b for a, b in zip(true, pred))


def test_confusion_matrix_listed_classes_only_and_bad_input() -> None:
    cls, m = confusion_matrix(TRUE, PRED, ["good", "floating"])
    assert cls == ["good", "floating"] and m.tolist() == [[2, 1], [0, 1]]
    with pytest.raises(ValueError, match="one length"):
        per_class(["good"], ["good", "floating"])


def test_row_classes() -> None:
    assert true_class({"label": 1, "category": None}) == "good"
    assert true_class({"label": 0, "category": "space mismatch"}) == "floating"
    assert true_class({"label": 0, "category": NO_CATEGORY}) is None
    assert predicted_class({"passed": True, "failure": None}) == "good"
    assert predicted_class({"passed": False, "failure": "background_unsuitable"}) == "background_inappropriate"
    assert predicted_class({"passed": False, "failure": None}) == "failed_check"


def test_reason_evaluation_of_rows() -> None:
    rows = [{"label": 1, "category": None, "passed": True, "failure": None},
            {"label": 1, "category": None, "passed": False, "failure": "floating"},
            {"label": 0, "category": "floating", "passed": False, "failure": "floating"},
            {"label": 0, "category": "product_replaced", "passed": False, "failure": "product_altered"},
            {"label": 0, "category": NO_CATEGORY, "passed": False, "failure": "floating"}]
    ev = reason_evaluation(rows)
    assert ev["n"] == 4 and ev["no_reason"] == 1 and ev["accuracy"] == 0.5
    assert ev["confusion"]["classes"] == ["good", "product_replaced", "product_altered", "floating"]
    assert ev["confusion"]["matrix"] == [[1, 0, 0, 1], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
    assert ev["per_reason"]["floating"]["precision"] == 0.5


def _files(tmp_path, cases):
    """Results and labels, one consistency check, from (label, reason, passed, failure, reasons) cases."""
    import json

    rows, labels = [], []
    for j, (label, reason, passed, failure, reasons) in enumerate(cases):
        check = {"passed": passed, "value": 0.9 if passed else 0.3, "threshold": 0.8, "higher_is_better": True,
                 "explanation": "e", "failure": failure}
        rows.append({"id": f"r{j}", "original": f"o{j}.png", "generated": f"g{j}.png", "passed": passed,
                     "failure": failure, "reasons": reasons, "checks": {"consistency": check}, "error": None})
        lab = {"id": f"r{j}", "original": f"o{j}.png", "generated": f"g{j}.png", "label": label}
        if reason:
            lab["reason"] = reason
        labels.append(lab)
    res, lab = tmp_path / "results.jsonl", tmp_path / "labels.jsonl"
    res.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lab.write_text("".join(json.dumps(r) + "\n" for r in labels))
    return res, lab


def _r(failure):
    return [{"check": "consistency", "code": "c", "failure": failure, "sentence": "s", "where": ""}]


CASES = [(1, "good", True, None, []), (1, "good", True, None, []), (1, "good", False, "floating", _r("floating")),
         (0, "floating", False, "floating", _r("floating")), (0, "Space Mismatch", False, "floating", _r("floating")),
         (0, "product_replaced", False, "product_altered", _r("product_altered")),
         (0, "product_altered", True, None, []), (0, "product_altered", False, "product_altered",
                                                  _r("product_altered"))]


def test_evaluate_reports_reasons_in_json_page_and_cli(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from hfpc.cli import app
    from hfpc.evaluation.report import evaluate

    res, lab = _files(tmp_path, CASES)
    out = evaluate(res, lab, tmp_path / "ev", n_boot=5, gallery=4)
    rv = out["reasons"]
    assert rv["n"] == 8 and rv["accuracy"] == 5 / 8
    assert rv["per_reason"]["floating"] == {"precision": 2 / 3, "recall": 1.0, "f1": pytest.approx(0.8),
                                            "support": 2, "predicted": 3}
    assert rv["confusion"]["classes"] == ["good", "product_replaced", "product_altered", "floating"]
    saved = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert saved["reasons"]["confusion"]["matrix"] == [[2, 0, 0, 1], [0, 0, 1, 0], [1, 0, 1, 0], [0, 0, 0, 2]]
    html = (tmp_path / "ev" / "index.html").read_text()
    assert 'id="per-reason"' in html and 'id="reason-confusion"' in html
    assert "Filtered for another reason" in html and "judge: product_altered" in html
    r = CliRunner().invoke(app, ["evaluate", str(res), "--labels", str(lab), "-o", str(tmp_path / "cli"),
                                 "--bootstrap", "5"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "per reason" in r.output and "confusion: reviewer" in r.output
    line = next(x for x in r.output.splitlines() if x.strip().startswith("│ floating") or x.startswith("floating"))
    assert "0.667" in line and "1.000" in line


def test_no_reason_table_when_the_labels_name_no_reason(tmp_path) -> None:
    from hfpc.evaluation.report import evaluate

    res, lab = _files(tmp_path, [(label, None, p, f, r) for label, _, p, f, r in CASES])
    out = evaluate(res, lab, tmp_path / "ev", n_boot=5)
    assert out["category_source"] == "results" and out["reasons"] is None
    assert 'id="per-reason"' not in (tmp_path / "ev" / "index.html").read_text()
