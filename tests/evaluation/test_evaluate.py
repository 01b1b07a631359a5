from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hfpc import Profile, read_results, run_filter
from hfpc.cli import app
from hfpc.evaluation.calibrate import calibrate
from hfpc.evaluation.report import evaluate
from hfpc.evaluation.scores import judge_score
from hfpc.types import Sample

runner = CliRunner()


@pytest.fixture(scope="module")
def judged(demo_set: Path, demo_samples: list[Sample], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "results.jsonl"
    run_filter(demo_samples, out, workers=2)
    return out


def test_judge_score_orders_like_the_decision() -> None:
    row = {"id": "a", "checks": {"a": {"value": 0.9, "passed": True}, "b": {"value": 0.7, "passed": True}}}
    assert judge_score(row) == 0.7
    row["checks"]["b"]["passed"] = False
    assert judge_score(row) == pytest.approx(-0.3)
    assert judge_score(row, ["a"]) == 0.9


def test_evaluate_writes_metrics_figures_and_page(judged: Path, demo_set: Path, tmp_path: Path) -> None:
    res = evaluate(judged, demo_set, tmp_path / "ev", n_boot=50)
    m = res["metrics"]
    assert res["n"] == len(demo_set.read_text().splitlines()) and 0 < m["Pb"] <= 1 and 0 < m["Rg"] <= 1
    lo, hi = res["ci95"]["Rb"]
    assert lo <= m["Rb"] <= hi
    saved = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert saved["metrics"]["Pb"] == pytest.approx(m["Pb"], abs=1e-5)
    for f in ("roc_pass.png", "pr_fail.png", "histogram.png", "index.html"):
        assert (tmp_path / "ev" / f).stat().st_size > 1000
    html = (tmp_path / "ev" / "index.html").read_text()
    assert "Worst false passes" in html and "roc_pass.png" in html
    reviewer = {json.loads(x).get("failure") for x in demo_set.read_text().splitlines()} - {None}
    assert set(res["per_category"]) == reviewer | {"None"}


def test_calibrated_profile_changes_filter_decisions_as_reported(demo_set: Path, demo_samples: list[Sample],
                                                                 tmp_path: Path) -> None:
    # only the preserved share decides, and its threshold lets altered products through
    lax = Profile(name="lax", checks={"consistency": {"threshold": 0.5, "max_local_change": 1.0, "min_ssim": -1.0,
                                                      "min_edge": 0.0, "max_mad": 255.0}})
    first = tmp_path / "r1.jsonl"
    run_filter(demo_samples, first, lax, workers=2)
    c = calibrate(first, demo_set, target_rg=0.9, base_profile=lax, calib_fraction=0.5, n_boot=20, seed=1)
    assert c.profile is not None and set(c.thresholds) == {"consistency"}
    t = c.thresholds["consistency"]
    assert t > 0.5  # the lax threshold let altered products through; calibration tightens it
    path = c.profile.save(tmp_path / "cal.toml")
    second = tmp_path / "r2.jsonl"
    run_filter(demo_samples, second, Profile.from_toml(path), workers=2)
    before = {r["id"]: r for r in read_results(first)}
    after = {r["id"]: r["passed"] for r in read_results(second)}
    assert after == c.predicted
    changed = [i for i in before if before[i]["passed"] != after[i]]
    assert changed, "the calibrated profile changes some decisions"


def test_cli_evaluate_and_calibrate(judged: Path, demo_set: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["evaluate", str(judged), "--labels", str(demo_set), "-o", str(tmp_path / "e"),
                            "--bootstrap", "20"])
    assert r.exit_code == 0, r.output
    assert "Pb" in r.output and "ROC-AUC pass" in r.output
    r = runner.invoke(app, ["calibrate", str(judged), "--labels", str(demo_set), "--target-pb", "0.5",
                            "-o", str(tmp_path / "c.toml")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "c.toml").is_file() and "held-out" in r.output
    r = runner.invoke(app, ["calibrate", str(judged), "--labels", str(demo_set)])
    assert r.exit_code == 2 and "exactly one target" in r.output


def _relabelled(demo_set: Path, out: Path, column: str | None) -> Path:
    """The demo labels with the failure category moved to ``column`` (None: no category at all)."""
    lines = []
    for line in demo_set.read_text().splitlines():
        row = json.loads(line)
        row.pop("failure", None)
        if column and row["label"] == 0:
            row[column] = row["kind"]
        for key in ("original", "generated", "mask"):  # keep the paths valid from the new folder
            row[key] = str(demo_set.parent / row[key])
        lines.append(json.dumps(row))
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.mark.parametrize("column", ["reason", "category"])
def test_per_category_comes_from_the_labels(judged: Path, demo_set: Path, tmp_path: Path, column: str) -> None:
    labels = _relabelled(demo_set, tmp_path / "labels.jsonl", column)
    res = evaluate(judged, labels, tmp_path / "ev", n_boot=10)
    kinds = {json.loads(x)["kind"] for x in demo_set.read_text().splitlines() if json.loads(x)["label"] == 0}
    assert set(res["per_category"]) == kinds | {"None"}
    assert res["per_category"]["None"]["n"] == res["n_pass"]
    assert res["per_category"]["missing"]["filtered"] == 1.0
    assert res["category_source"] == "labels"
    html = (tmp_path / "ev" / "index.html").read_text()
    assert "<td>altered_recolour</td>" in html and "<td>floating</td>" in html


def test_per_category_falls_back_to_the_judges_failure(judged: Path, demo_set: Path, tmp_path: Path) -> None:
    labels = _relabelled(demo_set, tmp_path / "labels.jsonl", None)
    res = evaluate(judged, labels, tmp_path / "ev", n_boot=10)
    assert res["category_source"] == "results"
    rows = read_results(judged)
    judge_codes = {r["failure"] for r in rows if r["failure"]}
    assert set(res["per_category"]) - {"None", "(no category)"} == judge_codes
    assert sum(res["per_category"][c]["n"] for c in judge_codes) == sum(1 for r in rows if r["failure"]) \
        - res["confusion"]["fn"]  # the judge's failures among the rows reviewers failed
    assert res["per_category"]["None"]["n"] == res["n_pass"]
    assert "the labels name no category" in (tmp_path / "ev" / "index.html").read_text()


def _synthetic(tmp_path: Path, values_pass: list[float], values_fail: list[float]) -> tuple[Path, Path]:
    """Results and labels of one consistency check (threshold 0.95), one original per row."""
    rows, labels = [], []
    for label, values in ((1, values_pass), (0, values_fail)):
        for j, v in enumerate(values):
            i = f"{label}_{j}"
            check = {"passed": v >= 0.95, "value": v, "threshold": 0.95, "higher_is_better": True,
                     "explanation": "", "failure": None if v >= 0.95 else "product_inconsistent"}
            rows.append({"id": i, "original": f"o{i}.png", "generated": f"g{i}.png", "passed": check["passed"],
                         "failure": check["failure"], "checks": {"consistency": check}, "error": None})
            labels.append({"id": i, "original": f"o{i}.png", "generated": f"g{i}.png", "label": label})
    res, lab = tmp_path / "results.jsonl", tmp_path / "labels.jsonl"
    res.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lab.write_text("".join(json.dumps(r) + "\n" for r in labels))
    return res, lab


def test_calibrate_unreachable_target_exits_non_zero_without_a_profile(tmp_path: Path) -> None:
    # reviewers passed the low values and failed the high ones: filtering can never be precise
    res, lab = _synthetic(tmp_path, [0.96, 0.97, 0.98, 0.99] * 3, [0.995, 0.996, 0.997, 0.998] * 3)
    c = calibrate(res, lab, target_pb=0.9, calib_fraction=0.5, n_boot=10, rejudge=False)
    assert not c.met_target and c.profile is None
    out = tmp_path / "cal.toml"
    r = runner.invoke(app, ["calibrate", str(res), "--labels", str(lab), "--target-pb", "0.9", "-o", str(out)])
    assert r.exit_code == 1, r.output
    assert "no thresholds reach Pb ≥ 0.9" in r.output and "no profile written" in r.output
    assert not out.exists()


def test_predictions_combine_every_gate_as_the_judge_does(judged: Path, demo_set: Path, demo_samples: list[Sample],
                                                          tmp_path: Path) -> None:
    """Lowering the threshold cannot pass a row that another gate of the check (or another check) fails."""
    from hfpc.evaluation.calibrate import predict

    rows = read_results(judged)
    gated = [r for r in rows if not r["passed"] and 0.5 <= r["checks"]["consistency"]["value"] < 0.95]
    assert gated, "the demo set has rows that fail below the threshold"
    predicted = predict(judged, demo_set, {"consistency": 0.5})
    rerun = tmp_path / "r.jsonl"
    # the same profile as the judged results (every default check), only the threshold lowered
    run_filter(demo_samples, rerun, Profile(checks={**Profile().checks, "consistency": {"threshold": 0.5}}),
               workers=2)
    actual = {r["id"]: r["passed"] for r in read_results(rerun)}
    assert predicted == actual
    # without re-judging, rows whose other gates are unknown cannot be predicted at a lower threshold
    with pytest.raises(ValueError, match="re-judg"):
        predict(judged, demo_set, {"consistency": 0.5}, rejudge=False)
