"""The failure taxonomy: codes and aliases, reasons from checks, the main failure of a Verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict

from hfpc.checks import base as checks_base
from hfpc.checks.base import Check, JudgeItem
from hfpc.judge import Judge
from hfpc.profile import Profile
from hfpc.taxonomy import (
    CODES,
    FAILED_CHECK,
    GOOD,
    SEVERITY,
    Reason,
    describe,
    label_class,
    main_failure,
    normalize,
    rank,
    reason_text,
    reasons_of,
)
from hfpc.types import CheckResult, Finding, Sample

ARCHITECTURE_CODES = {"product_altered", "product_replaced", "product_missing", "shape_hallucination",
                      "floating", "size_mismatch", "indistinct", "text_artifacts", "product_text_changed",
                      "background_inappropriate"}


def test_codes_are_the_contracts_codes_each_described() -> None:
    assert set(CODES) == ARCHITECTURE_CODES
    assert all(CODES[c] and describe(c) == CODES[c] for c in CODES)
    assert describe("something_new") == "something_new"
    assert "available" in describe(GOOD)


@pytest.mark.parametrize(("name", "code"), [
    ("space mismatch", "floating"), ("Space Mismatch", "floating"), ("space_mismatch", "floating"),
    ("Size Mismatch", "size_mismatch"), ("Indistinctiveness", "indistinct"),
    ("shape hallucination", "shape_hallucination"), ("background_unsuitable", "background_inappropriate"),
    ("text_artifact", "text_artifacts"), ("product_altered", "product_altered"),
    ("PRODUCT_MISSING", "product_missing"), ("available", None), ("good", None), ("", None), (None, None),
    ("  brand_new_code ", "brand_new_code"), ("Product Text-Changed", "product_text_changed"),
    ("size   mismatch", "size_mismatch"),
])
def test_normalize(name: str | None, code: str | None) -> None:
    assert normalize(name) == code


def test_label_class() -> None:
    assert label_class("floating", 1) == GOOD  # a pass is a pass whatever the column says
    assert label_class("space mismatch", 0) == "floating"
    assert label_class("available") == GOOD and label_class("good", None) == GOOD
    assert label_class(None, 0) is None and label_class("good", 0) is None
    assert label_class("size mismatch") == "size_mismatch"


def test_severity_order_product_before_scene() -> None:
    assert SEVERITY[0] == "product_missing"
    assert rank("product_altered") < rank("shape_hallucination") < rank("floating") < rank("text_artifacts")
    assert rank("background_inappropriate") < rank("something_new") < rank(FAILED_CHECK)


def _result(check: str, passed: bool, failure: str | None = None, findings: list[Finding] | None = None,
            explanation: str = "why") -> CheckResult:
    return CheckResult(check, passed, 0.5, 0.6, explanation, failure=failure, findings=findings or [])


def test_reasons_every_finding_of_failing_checks_only() -> None:
    f1 = Finding("changed", "product_altered", "product changed", "label", 1, (0.1, 0.2, 0.3, 0.4))
    f2 = Finding("grown", "shape_hallucination", "a pedestal grew", "below", 1)
    results = [
        _result("placement", False, "floating", [Finding("no_contact", "space mismatch", "it floats")]),
        _result("consistency", False, "product_altered", [f1, f2]),
        _result("text", True, None, [Finding("watermark", "text_artifacts", "passing: not counted")]),
        _result("reward", False, "background_unsuitable", explanation="score 0.2 < 0.5"),
        _result("clip_score", False, "failed_check"),
    ]
    reasons = reasons_of(results, ignore={"clip_score"})
    assert [(r.check, r.code, r.failure) for r in reasons] == [
        ("placement", "no_contact", "floating"), ("consistency", "changed", "product_altered"),
        ("consistency", "grown", "shape_hallucination"),
        ("reward", "background_inappropriate", "background_inappropriate")]
    assert reasons[3].sentence == "score 0.2 < 0.5"
    assert main_failure(reasons) == "product_altered"
    assert main_failure(reasons[:1] + reasons[3:]) == "floating"
    assert main_failure([]) is None
    # rows read back from JSON give the same answer
    assert main_failure([r.to_dict() for r in reasons]) == "product_altered"
    d = reasons[1].to_dict()
    assert d == {"check": "consistency", "code": "changed", "failure": "product_altered",
                 "sentence": "product changed", "where": "label", "product": 1, "box": [0.1, 0.2, 0.3, 0.4]}
    assert Reason.from_dict(d) == reasons[1]
    assert "product" not in reasons[0].to_dict() and "box" not in reasons[0].to_dict()


def test_ties_keep_the_first_and_unknown_codes_still_name_a_failure() -> None:
    a = Reason("x", "c", "floating", "a")
    b = Reason("y", "c", "floating", "b")
    assert main_failure([a, b]) == "floating"
    assert main_failure([Reason("new", "n", "glare", "s"), Reason("old", "f", FAILED_CHECK, "s")]) == "glare"
    assert main_failure([Reason("new", "n", "glare", "s"), a]) == "floating"


# --- through the Judge, with checks registered for the test


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True


class FloatsCheck(Check):
    """Fails every sample with a floating finding."""

    name = "t_floats"
    Settings = _Settings

    def run(self, item: JudgeItem) -> CheckResult:
        return _result(self.name, False, "floating",
                       [Finding("no_contact", "floating", "no contact shadow under the product", "base")])


class BareCheck(Check):
    """Fails every sample without findings and without a failure name."""

    name = "t_bare"
    Settings = _Settings

    def run(self, item: JudgeItem) -> CheckResult:
        return _result(self.name, False, None, explanation="value below threshold")


class BaselineCheck(BareCheck):
    name = "t_baseline"
    baseline = True


class PassesCheck(Check):
    name = "t_passes"
    Settings = _Settings

    def run(self, item: JudgeItem) -> CheckResult:
        return _result(self.name, True)


@pytest.fixture()
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sample:
    for cls in (FloatsCheck, BareCheck, BaselineCheck, PassesCheck):
        monkeypatch.setitem(checks_base.REGISTRY, cls.name, f"{__name__}:{cls.__name__}")
    img = np.full((32, 32, 3), 200, np.uint8)
    Image.fromarray(img).save(tmp_path / "o.png")
    Image.fromarray(img).save(tmp_path / "g.png")
    return Sample("s1", str(tmp_path / "o.png"), str(tmp_path / "g.png"))


def test_a_text_change_names_the_product_whose_pixels_changed_only_by_it() -> None:
    text = Reason("text", "text_changed", "product_text_changed",
                  'the product\'s text "GLOW" reads "GIDW" in the generated image (edit distance 0.50 > 0.34)',
                  product=1, value=0.5)
    local = Reason("consistency", "changed_locally", "product_altered", "changed locally", product=1)
    structure = Reason("consistency", "structure", "product_altered", "changed structure", product=1)
    outline = Reason("consistency", "outline", "product_altered", "changed outline", product=1)
    colours = Reason("consistency", "colours", "product_altered", "changed colours", product=1)
    other = Reason("consistency", "changed_locally", "product_altered", "changed locally", product=2)
    assert main_failure([local, structure, text]) == "product_text_changed"
    assert main_failure([r.to_dict() for r in (local, structure, text)]) == "product_text_changed"
    # a reshaped or recoloured product with garbled words is altered
    assert main_failure([local, outline, text]) == "product_altered"
    assert main_failure([colours, text]) == "product_altered"
    # another product's change is not explained by this product's words
    assert main_failure([other, text]) == "product_altered"
    assert main_failure([local]) == "product_altered"
    # a wholly different word is another variant of the product: altered
    other_word = Reason("text", "text_changed", "product_text_changed",
                        'the product\'s text "ZEST" reads "BLOOM" in the generated image (edit distance 1.00 > 0.34)',
                        product=1, value=1.0)
    assert main_failure([local, structure, other_word]) == "product_altered"
    assert main_failure([local, Reason("text", "text_changed", "product_text_changed", "reads GIDW",
                                       product=1)]) == "product_altered"  # no distance given
    assert main_failure([other_word]) == "product_text_changed"  # the text check alone still names it
    # a change over more of the product than words cover (a part erased across the label) is altered
    small = Reason("consistency", "changed", "product_altered", "changed: 8 %", product=1, value=0.08)
    large = Reason("consistency", "changed", "product_altered", "changed: 28 %", product=1, value=0.28)
    assert main_failure([small, local, text]) == "product_text_changed"
    assert main_failure([large, local, text]) == "product_altered"
    assert main_failure([r.to_dict() for r in (large, local, text)]) == "product_altered"
    # product damage of other kinds still comes first
    missing = Reason("consistency", "not_found", "product_missing", "missing", product=2)
    assert main_failure([local, text, missing]) == "product_missing"


def test_verdict_reasons_and_failure_from_any_check(pair: Sample) -> None:
    v = Judge(Profile(checks={"t_bare": {}, "t_floats": {}, "t_baseline": {}})).judge(pair)
    assert v.passed is False and v.failure == "floating"
    row = v.to_row()
    assert [(r["check"], r["code"], r["failure"]) for r in row["reasons"]] == [
        ("t_bare", FAILED_CHECK, FAILED_CHECK), ("t_floats", "no_contact", "floating")]
    assert row["reasons"][0]["sentence"] == "value below threshold"
    assert row["failure"] == "floating" and row["checks"]["t_floats"]["findings"][0]["code"] == "no_contact"


def test_baselines_and_passing_checks_give_no_reason(pair: Sample) -> None:
    v = Judge(Profile(checks={"t_passes": {}, "t_baseline": {}})).judge(pair)
    assert v.passed is True and v.failure is None and v.reasons == []
    assert v.to_row()["reasons"] == []
    v = Judge(Profile(checks={"t_passes": {}, "t_bare": {}})).judge(pair)
    assert v.passed is False and v.failure == FAILED_CHECK and len(v.reasons) == 1


def test_error_rows_have_no_reasons(pair: Sample, tmp_path: Path) -> None:
    bad = Sample("s2", pair.original, str(tmp_path / "absent.png"))
    v = Judge(Profile(checks={"t_floats": {}})).judge(bad)
    assert v.passed is None and v.error and v.failure is None and v.to_row()["reasons"] == []


def test_docs_list_every_code_in_severity_order() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "taxonomy.md").read_text()
    table = [line.split("`")[1] for line in doc.splitlines() if line.startswith("| `") and "|" in line[3:]]
    assert [c for c in table if c in CODES] == list(SEVERITY)


def test_reason_text_names_the_product_once() -> None:
    assert reason_text(Reason("c", "changed", "product_altered", "changed: 40 % differ", product=2)) == \
        "product 2: changed: 40 % differ"
    assert reason_text({"sentence": "product 2's base floats", "product": 2}) == "product 2's base floats"
    assert reason_text({"sentence": "a watermark", "product": None}) == "a watermark"


def test_real_dev_reasons_are_taxonomy_classes() -> None:
    manifest = Path(__file__).parents[1].parent / "shared" / "data" / "real-dev" / "manifest.jsonl"
    if not manifest.is_file():
        pytest.skip("../shared/data/real-dev not present")
    import json

    rows = [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]
    classes = {label_class(r["reason"], r["label"]) for r in rows}
    assert classes <= set(CODES) | {GOOD} and GOOD in classes and len(classes) > 2
    assert all((label_class(r["reason"], r["label"]) == GOOD) == (r["label"] == 1) for r in rows)
