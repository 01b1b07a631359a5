from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hfpc.cli import app
from hfpc.types import Sample

runner = CliRunner()


def test_demo_data_and_filter_and_report(tmp_path: Path) -> None:
    r = runner.invoke(app, ["demo-data", str(tmp_path / "d"), "--n", "4", "--seed", "9", "--size", "256"])
    assert r.exit_code == 0, r.output
    manifest = tmp_path / "d" / "manifest.jsonl"
    out = tmp_path / "results.jsonl"
    r = runner.invoke(app, ["filter", str(manifest), "-o", str(out), "-j", "1"])
    assert r.exit_code in (0, 1), r.output
    assert "4 samples" in r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 4
    assert r.exit_code == (1 if any(not x["passed"] for x in rows) else 0)
    r = runner.invoke(app, ["filter", str(manifest), "-o", str(out), "-j", "1"])
    assert "4 already judged" in r.output
    html = tmp_path / "report.html"
    r = runner.invoke(app, ["report", str(out), "-o", str(html)])
    assert r.exit_code == 0, r.output
    text = html.read_text()
    assert text.count("data:image/jpeg;base64,") >= 8 and 'data-filter="check-consistency"' in text


def test_judge_json_and_heatmap(tmp_path: Path, demo_samples: list[Sample]) -> None:
    s = next(x for x in demo_samples if x.meta["kind"] == "altered_recolour")
    heat = tmp_path / "h.png"
    r = runner.invoke(app, ["judge", s.original, s.generated, "--json", "--heatmap", str(heat)])
    assert r.exit_code == 1, r.output
    row = json.loads(r.output)
    assert row["passed"] is False and row["checks"]["consistency"]["artifacts"]["heatmap"] == str(heat)
    assert heat.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the suffix the user asked for picks the type
    jpg = tmp_path / "h.jpg"
    r = runner.invoke(app, ["judge", s.original, s.generated, "--json", "--heatmap", str(jpg)])
    assert jpg.read_bytes()[:2] == b"\xff\xd8"
    good = next(x for x in demo_samples if x.meta["kind"] == "good")
    r = runner.invoke(app, ["judge", good.original, good.generated])
    assert r.exit_code == 0 and "PASS" in r.output


def test_clear_errors(tmp_path: Path, demo_samples: list[Sample]) -> None:
    r = runner.invoke(app, ["filter", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "r.jsonl")])
    assert r.exit_code == 3 and "none.jsonl: manifest not found" in r.output
    r = runner.invoke(app, ["judge", demo_samples[0].original, str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "x.png: file not found" in r.output
    bad = tmp_path / "p.toml"
    bad.write_text("[checks.consistency]\nthreshold = 'high'\n")
    r = runner.invoke(app, ["profile", "show", str(bad)])
    assert r.exit_code == 2 and "[checks.consistency]: threshold" in r.output


def test_profile_show_and_write(tmp_path: Path) -> None:
    r = runner.invoke(app, ["profile", "show"])
    assert r.exit_code == 0 and "[checks.consistency]" in r.output and "threshold = 0.95" in r.output
    r = runner.invoke(app, ["profile", "write", str(tmp_path / "p.toml")])
    assert r.exit_code == 0 and (tmp_path / "p.toml").is_file()


def test_filter_exit_code_on_errors(tmp_path: Path, demo_samples: list[Sample]) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"id": "x", "original": demo_samples[0].original, "generated": "missing.png"}) + "\n")
    r = runner.invoke(app, ["filter", str(m), "-o", str(tmp_path / "r.jsonl"), "--no-heatmaps"])
    assert r.exit_code == 2 and "1 errors" in r.output


def test_missing_extra_is_named(tmp_path: Path, monkeypatch, capsys, demo_set: Path) -> None:
    import sys

    import pytest

    from hfpc.cli import main

    res = tmp_path / "r.jsonl"
    res.write_text("")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the eval extra were not installed
    monkeypatch.setattr(sys, "argv", ["hfpc", "evaluate", str(res), "--labels", str(demo_set)])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 2
    assert "pip install 'hfpc[eval]'" in capsys.readouterr().err


def test_report_finds_images_of_rows_written_from_another_folder(tmp_path: Path, monkeypatch) -> None:
    """Rows written by `hfpc filter` with relative paths store them relative to that run's folder."""
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["demo-data", "work/d", "--n", "3", "--seed", "2", "--size", "128"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["filter", "work/d/manifest.jsonl", "-o", "work/out/results.jsonl", "-j", "1"])
    assert r.exit_code in (0, 1), r.output
    rows = [json.loads(x) for x in (tmp_path / "work/out/results.jsonl").read_text().splitlines()]
    assert not Path(rows[0]["original"]).is_absolute()  # the case that used to break
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    r = runner.invoke(app, ["report", str(tmp_path / "work/out/results.jsonl"), "-o", "r.html"])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "other" / "r.html").read_text()
    assert text.count('src="data:image/jpeg;base64,') >= 2 * 3, "original and generated of every row"


def test_version() -> None:
    import hfpc

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"hfpc {hfpc.__version__}"
