"""The per-kind table that ``hfpc demo`` prints: flagged rows, and whether each names its kind's reason."""

from __future__ import annotations

from hfpc.cli.demo import kind_stats
from hfpc.types import Sample


def _sample(i: int, kind: str, label: int, failure: str | None = None) -> Sample:
    return Sample(f"s{i}", "o.png", "g.png", label=label, failure=failure, meta={"kind": kind})


def test_kind_stats_count_flags_and_right_reasons() -> None:
    samples = [_sample(0, "good", 1), _sample(1, "good", 1),
               _sample(2, "floating", 0, "floating"), _sample(3, "floating", 0, "floating"),
               _sample(4, "floating", 0, "floating"), _sample(5, "size_mismatch", 0, "size_mismatch")]
    rows = [{"id": "s0", "passed": True, "failure": None},
            {"id": "s1", "passed": False, "failure": "product_altered"},
            {"id": "s2", "passed": False, "failure": "floating"},
            {"id": "s3", "passed": False, "failure": "indistinct"},  # flagged, wrong reason
            {"id": "s4", "passed": True, "failure": None},  # missed
            {"id": "s5", "passed": None, "failure": None, "error": "unreadable"}]  # an error row is not a flag
    stats = {s.kind: s for s in kind_stats(samples, rows)}
    assert [s.kind for s in kind_stats(samples, rows)][0] == "good"  # kinds that should pass come first
    assert (stats["good"].n, stats["good"].flagged, stats["good"].named) == (2, 1, 0)
    assert (stats["floating"].n, stats["floating"].flagged, stats["floating"].named) == (3, 2, 1)
    assert stats["floating"].failure == "floating"
    assert (stats["size_mismatch"].flagged, stats["size_mismatch"].named) == (0, 0)


def test_demo_says_when_the_text_check_could_not_run(tmp_path, monkeypatch) -> None:
    """Without OCR the text kinds read 0 %: the demo says why, and says nothing when OCR is there."""
    from typer.testing import CliRunner

    import hfpc.text_ocr
    from hfpc.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["demo", "--out", str(tmp_path / "a"), "--n", "4", "-j", "1"])
    assert r.exit_code == 0, r.output
    if hfpc.text_ocr.ocr_missing() is None:
        assert "text check did not run" not in " ".join(r.output.split())
    monkeypatch.setattr(hfpc.text_ocr, "ocr_missing", lambda: "OCR is not installed")
    r = runner.invoke(app, ["demo", "--out", str(tmp_path / "b"), "--n", "4", "-j", "1"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "The text check did not run" in said and "pip install 'hfpc[ocr]'" in said
