"""``hfpc judge`` names the main failure and lists every reason; ``--json`` carries them in the row."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from hfpc.cli import app
from hfpc.types import Sample

runner = CliRunner()


def _pick(samples: list[Sample], kind: str) -> Sample:
    return next(s for s in samples if s.meta["kind"] == kind)


def test_judge_prints_failure_and_reasons(demo_samples: list[Sample]) -> None:
    s = _pick(demo_samples, "missing")
    args = ["judge", s.original, s.generated, "--mask", s.mask]
    r = runner.invoke(app, args, terminal_width=200)
    assert r.exit_code == 1, r.output
    assert "FAIL — product_missing (the product is not in the generated image)" in r.output
    assert "reasons (the first is the main failure)" in r.output
    lines = r.output.splitlines()
    title = lines.index(next(x for x in lines if "reasons (the first" in x))
    first = next(i for i in range(title, len(lines)) if lines[i].startswith("┡")) + 1
    assert "product_missing" in lines[first] and "consistency" in lines[first]
    row = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert row["failure"] == "product_missing"
    assert row["reasons"] and all({"check", "code", "failure", "sentence", "where"} <= set(x) for x in row["reasons"])
    assert row["reasons"][0]["check"] == "consistency"


def test_judge_pass_has_no_reasons(demo_samples: list[Sample]) -> None:
    s = _pick(demo_samples, "good")
    r = runner.invoke(app, ["judge", s.original, s.generated, "--mask", s.mask], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert ": PASS" in r.output and "reasons" not in r.output
    row = json.loads(runner.invoke(app, ["judge", s.original, s.generated, "--mask", s.mask, "--json"]).output)
    assert row["passed"] is True and row["failure"] is None and row["reasons"] == []
