"""An in-process run of the classic checks keeps BLAS to one thread, and gives the limit back after."""

from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from hfpc import Judge, Profile, read_manifest, run_filter
from hfpc.data.synth import generate_demo_set


def _blas_threads() -> dict[str, int]:
    return {p["filepath"]: p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_in_process_run_uses_one_blas_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not _blas_threads():
        pytest.skip("no BLAS library seen by threadpoolctl")
    before = _blas_threads()
    seen: list[dict[str, int]] = []
    judge_many = Judge.judge_many

    def spy(self: Judge, samples: list) -> list:
        seen.append(_blas_threads())
        return judge_many(self, samples)

    monkeypatch.setattr(Judge, "judge_many", spy)
    samples = read_manifest(generate_demo_set(tmp_path / "d", n=2, seed=3, size=128))
    profile = Profile(name="c", checks={"consistency": {}})
    run_filter(samples, tmp_path / "r.jsonl", profile, workers=1)
    assert seen and all(set(threads.values()) == {1} for threads in seen)
    after = _blas_threads()  # the caller's own limits are back (libraries loaded since may join)
    assert {lib: after[lib] for lib in before} == before
