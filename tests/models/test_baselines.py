from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hfpc import Judge, Profile, read_manifest, run_filter
from hfpc.cli import app


def test_clip_baselines_run_and_do_not_decide(tiny_clip: Path, reward_set: tuple[Path, Path], tmp_path: Path) -> None:
    samples = read_manifest(reward_set[1])[:6]
    profile = Profile(checks={"consistency": {}, "clip_score": {"model": str(tiny_clip), "threshold": 1.1},
                              "clip_iqa": {"model": str(tiny_clip)}})
    verdicts = Judge(profile).judge_many(samples)
    for v in verdicts:
        cs, iqa = v.checks["clip_score"], v.checks["clip_iqa"]
        assert -1 <= cs.value <= 1 and not cs.passed  # threshold 1.1: always "fails" ...
        assert 0 <= iqa.value <= 1
        assert v.passed == v.checks["consistency"].passed  # ... but never decides
    same = Judge(profile).judge(samples[0].original, samples[0].original).checks["clip_score"].value
    assert same == pytest.approx(1.0, abs=1e-4)


def test_compare_table(tiny_clip: Path, reward_set: tuple[Path, Path], tmp_path: Path) -> None:
    manifest = reward_set[1]
    profile = Profile(checks={"consistency": {}, "clip_score": {"model": str(tiny_clip)}})
    res = tmp_path / "r.jsonl"
    run_filter(read_manifest(manifest), res, profile, workers=1)
    r = CliRunner().invoke(app, ["evaluate", str(res), "--labels", str(manifest), "--compare",
                                 "-o", str(tmp_path / "cmp"), "--bootstrap", "10"])
    assert r.exit_code == 0, r.output
    assert "clip_score" in r.output and "PLCC" in r.output
    scorers = json.loads((tmp_path / "cmp" / "compare.json").read_text())["scorers"]
    assert set(scorers) == {"clip_score", "hfpc judge (consistency)"}
    assert scorers["hfpc judge (consistency)"]["checks"] == ["consistency"]
    assert (tmp_path / "cmp" / "roc_pass.png").is_file()
    from hfpc.evaluation.calibrate import calibrate

    # baselines never decide, so calibration leaves them out
    assert set(calibrate(res, manifest, target_rg=0.5, n_boot=5).thresholds) == {"consistency"}
