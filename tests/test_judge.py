from __future__ import annotations

import json
from pathlib import Path

import pytest

from hfpc import Judge, read_results, run_filter
from hfpc.types import Sample


def _bad_samples(tmp_path: Path, good: Sample) -> list[Sample]:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    return [
        Sample("missing", good.original, str(tmp_path / "nope.png")),
        Sample("empty", str(tmp_path / "empty.png"), good.generated),
        Sample("notimage", good.original, str(tmp_path / "text.png")),
    ]


def test_judge_paths_and_row(demo_samples: list[Sample]) -> None:
    s = demo_samples[0]
    v = Judge().judge(s.original, s.generated, s.mask)
    row = v.to_row()
    assert set(row) >= {"id", "original", "generated", "passed", "failure", "checks", "error",
                        "hfpc_version", "profile"}
    c = row["checks"]["consistency"]
    assert set(c) >= {"passed", "value", "threshold", "explanation", "details", "artifacts"}
    json.dumps(row)


def test_bad_inputs_become_error_rows(tmp_path: Path, demo_samples: list[Sample]) -> None:
    bad = _bad_samples(tmp_path, demo_samples[0])
    verdicts = Judge().judge_many([demo_samples[0], *bad])
    assert verdicts[0].error is None
    reasons = {v.id: v.error for v in verdicts[1:]}
    assert "nope.png: file not found" in reasons["missing"]
    assert "empty.png: file is empty" in reasons["empty"]
    assert "text.png: not an image" in reasons["notimage"]
    assert all(v.passed is None for v in verdicts[1:])


def test_filter_writes_heatmaps_and_resumes(tmp_path: Path, demo_samples: list[Sample]) -> None:
    samples = demo_samples[:6] + _bad_samples(tmp_path, demo_samples[0])
    out = tmp_path / "res" / "results.jsonl"
    art = tmp_path / "res" / "art"
    s1 = run_filter(samples[:4], out, workers=1, artifacts_dir=art)
    assert s1.judged == 4
    rows = read_results(out)
    heat = rows[0]["checks"]["consistency"]["artifacts"]["heatmap"]
    assert (out.parent / heat).is_file() and not Path(heat).is_absolute()
    # a killed run leaves a torn last line: it is dropped and the sample judged again
    with out.open("a") as f:
        f.write('{"id": "torn", "passed": tr')
    s2 = run_filter(samples, out, workers=2)
    assert s2.skipped == 4 and s2.judged == len(samples) - 4 and s2.errors == 3
    rows = read_results(out)
    assert sorted(r["id"] for r in rows) == sorted(s.id for s in samples)
    s3 = run_filter(samples, out, workers=1)
    assert s3.judged == 0 and len(read_results(out)) == len(samples)
    s4 = run_filter(samples[:2], out, workers=1, overwrite=True)
    assert s4.judged == 2 and len(read_results(out)) == 2


def test_results_reader_rejects_garbage_mid_file(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(ValueError, match="r.jsonl:2"):
        read_results(p)


def test_original_decoded_once(demo_samples: list[Sample], monkeypatch: pytest.MonkeyPatch) -> None:
    import hfpc.judge as judge_mod

    calls: list[str] = []
    real = judge_mod.load_image

    def counting(path, *a, **k):
        calls.append(str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(judge_mod, "load_image", counting)
    s = demo_samples[0]
    twins = [Sample(f"t{i}", s.original, s.generated, s.mask) for i in range(3)]
    Judge().judge_many(twins)
    assert calls.count(s.original) == 1 and calls.count(s.generated) == 3
