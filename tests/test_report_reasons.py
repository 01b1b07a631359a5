"""The HTML report lists every reason of a failed sample and offers one filter per reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hfpc.report import write_report
from hfpc.report.html import row_reasons


def _check(passed: bool, failure: str | None = None) -> dict:
    return {"passed": passed, "value": 0.5, "threshold": 0.8, "higher_is_better": True, "explanation": "why",
            "failure": failure, "details": {}, "artifacts": {}}


ROWS = [
    {"id": "a", "original": "o.png", "generated": "a.png", "passed": False, "failure": "product_altered",
     "reasons": [{"check": "consistency", "code": "changed", "failure": "product_altered",
                  "sentence": "its label changed", "where": "label", "product": 1},
                 {"check": "placement", "code": "no_contact", "failure": "floating",
                  "sentence": "nothing under it", "where": ""}],
     "checks": {"consistency": _check(False, "product_altered"), "placement": _check(False, "floating")},
     "error": None},
    {"id": "b", "original": "o.png", "generated": "b.png", "passed": False, "failure": "floating",
     "reasons": [{"check": "placement", "code": "no_contact", "failure": "floating", "sentence": "a gap",
                  "where": ""}],
     "checks": {"consistency": _check(True), "placement": _check(False, "floating")}, "error": None},
    # written before rows had reasons: one per failing check, the old name read as its code
    {"id": "c", "original": "o.png", "generated": "c.png", "passed": False, "failure": "background_unsuitable",
     "checks": {"reward": _check(False, "background_unsuitable")}, "error": None},
    {"id": "d", "original": "o.png", "generated": "d.png", "passed": True, "failure": None, "reasons": [],
     "checks": {"consistency": _check(True)}, "error": None},
    {"id": "e", "original": "o.png", "generated": "e.png", "passed": None, "failure": None,
     "checks": {}, "error": "e.png: not an image"},
]


def test_row_reasons_read_old_and_new_rows() -> None:
    assert [x["failure"] for x in row_reasons(ROWS[0])] == ["product_altered", "floating"]
    old = row_reasons(ROWS[2])
    assert old == [{"check": "reward", "code": "background_inappropriate", "failure": "background_inappropriate",
                    "sentence": "why", "where": ""}]
    assert row_reasons(ROWS[3]) == [] and row_reasons(ROWS[4]) == []


def test_report_lists_reasons_and_one_filter_per_reason(tmp_path: Path) -> None:
    res = tmp_path / "results.jsonl"
    res.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    html = write_report(res, tmp_path / "report.html").read_text()
    buttons = re.findall(r'data-filter="reason-([a-z_]+)"[^>]*>([^<]+)<', html)
    # by severity; a reason counts every card it appears in, main or not
    assert buttons == [("product_altered", "product_altered (1)"), ("floating", "floating (2)"),
                       ("background_inappropriate", "background_inappropriate (1)")]
    assert "its label changed" in html and "product 1: its label changed" in html and "a gap" in html
    cards = dict(re.findall(r'data-failing="([^"]*)" data-failure="([^"]*)"', html))
    assert cards["check-consistency check-placement reason-product_altered reason-floating "] == "product_altered"
    assert "FAIL — <span" in html and "the product is there but changed" in html


def test_no_reason_filters_when_nothing_failed(tmp_path: Path) -> None:
    res = tmp_path / "results.jsonl"
    res.write_text(json.dumps(ROWS[3]) + "\n")
    html = write_report(res, tmp_path / "report.html").read_text()
    assert 'id="reason-filters"' not in html and 'class="reasons"' not in html
