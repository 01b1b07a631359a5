from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hfpc.cli import app

runner = CliRunner()


def test_train_reward_then_filter_with_profile(tmp_path: Path, reward_set: tuple[Path, Path]) -> None:
    train, val = reward_set
    out = tmp_path / "ck"
    r = runner.invoke(app, ["train", "reward", "--train", str(train), "--val", str(val), "--encoder",
                            "random-vit-tiny", "--out", str(out), "--epochs", "2", "--balance-k", "3"])
    assert r.exit_code == 0, r.output
    assert "cluster sizes before" in r.output and (out / "model.safetensors").is_file()
    assert "[checks.reward]" in r.output
    profile = tmp_path / "p.toml"
    profile.write_text(f'name = "reward"\n[checks.consistency]\n[checks.reward]\ncheckpoint = "{out}"\n')
    res = tmp_path / "r.jsonl"
    r = runner.invoke(app, ["filter", str(val), "-o", str(res), "-p", str(profile), "-j", "1"])
    assert r.exit_code in (0, 1), r.output
    rows = [json.loads(x) for x in res.read_text().splitlines()]
    assert all("reward" in row["checks"] and "heatmap" in row["checks"]["reward"]["artifacts"] for row in rows)


def test_train_errors_are_clear(tmp_path: Path, reward_set: tuple[Path, Path]) -> None:
    r = runner.invoke(app, ["train", "reward", "--train", str(reward_set[0]), "--encoder", "blip",
                            "--out", str(tmp_path / "x"), "--epochs", "1"])
    assert r.exit_code == 2 and "hfpc models pull Salesforce/blip-itm-base-coco" in r.output
    r = runner.invoke(app, ["train", "reward", "--train", str(reward_set[0]), "--fusion", "sum",
                            "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "fusion" in r.output
    profile = tmp_path / "p.toml"
    profile.write_text('[checks.reward]\ncheckpoint = "/nonexistent/ck"\n')
    m = tmp_path / "m.jsonl"
    m.write_text("")
    r = runner.invoke(app, ["filter", str(m), "-o", str(tmp_path / "r.jsonl"), "-p", str(profile)])
    assert r.exit_code == 2 and "/nonexistent/ck" in r.output


def test_models_pull_offline_says_why() -> None:
    r = runner.invoke(app, ["models", "pull", "blip"])  # HF_HUB_OFFLINE=1 in these tests
    assert r.exit_code == 2 and "blip: download failed" in r.output


def test_missing_model_does_not_wipe_results(tmp_path: Path, reward_set: tuple[Path, Path]) -> None:
    res = tmp_path / "r.jsonl"
    res.write_text('{"id": "kept", "passed": true, "error": null, "checks": {}}\n')
    profile = tmp_path / "p.toml"
    profile.write_text('[checks.reward]\ncheckpoint = "/nonexistent/ck"\n')
    r = runner.invoke(app, ["filter", str(reward_set[1]), "-o", str(res), "-p", str(profile), "--overwrite"])
    assert r.exit_code == 2 and '"kept"' in res.read_text()
