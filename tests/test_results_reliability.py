"""Batch runs a pipeline can trust: exit codes, profile hashes, retries, locking, damaged inputs."""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hfpc
from hfpc import results as results_mod
from hfpc.cli import app
from hfpc.errors import NoDecidingChecksError, ResultsError, ResultsLockedError, ResultsMismatchError
from hfpc.profile import Profile
from hfpc.results import meta_path, read_results, run_filter
from hfpc.types import Sample

runner = CliRunner()


def _pick(samples: list[Sample], kind: str) -> Sample:
    return next(s for s in samples if s.meta.get("kind") == kind)


def _manifest(path: Path, samples: list[Sample], extra: list[dict] | None = None) -> Path:
    rows = [{"id": s.id, "original": s.original, "generated": s.generated, **({"mask": s.mask} if s.mask else {})}
            for s in samples]
    path.write_text("".join(json.dumps(r) + "\n" for r in [*rows, *(extra or [])]))
    return path


def _filter(*args: str):
    return runner.invoke(app, ["filter", *args, "--no-heatmaps", "-j", "1"])


# 1. exit codes describe the whole results file, on the first run and on every rerun

def test_exit_code_is_the_same_on_rerun(tmp_path: Path, demo_samples: list[Sample]) -> None:
    good, bad = _pick(demo_samples, "good"), _pick(demo_samples, "missing")
    out = tmp_path / "r.jsonl"
    m1 = _manifest(tmp_path / "m1.jsonl", [good])
    assert _filter(str(m1), "-o", str(out)).exit_code == 0
    assert _filter(str(m1), "-o", str(out)).exit_code == 0
    m2 = _manifest(tmp_path / "m2.jsonl", [good, bad])
    assert _filter(str(m2), "-o", str(out)).exit_code == 1
    r = _filter(str(m2), "-o", str(out))
    assert r.exit_code == 1, r.output  # nothing judged now, but the file holds a failure
    m3 = _manifest(tmp_path / "m3.jsonl", [good, bad], [{"id": "gone", "original": good.original,
                                                         "generated": str(tmp_path / "nope.png")}])
    assert _filter(str(m3), "-o", str(out)).exit_code == 2
    r = _filter(str(m3), "-o", str(out))
    assert r.exit_code == 2, r.output


def test_internal_error_exits_3_with_one_line(tmp_path: Path, demo_samples: list[Sample], monkeypatch) -> None:
    m = _manifest(tmp_path / "m.jsonl", demo_samples[:1])

    def boom(*a, **k):
        raise RuntimeError("boom\n  more detail")

    monkeypatch.setattr(results_mod, "run_filter", boom)
    monkeypatch.delenv("HFPC_DEBUG", raising=False)
    r = _filter(str(m), "-o", str(tmp_path / "r.jsonl"))
    assert r.exit_code == 3
    assert "internal error" in r.output and "m.jsonl" in r.output and "boom" in r.output
    assert "Traceback" not in r.output and "more detail" not in r.output
    r = _filter(str(m), "-o", str(tmp_path / "r.jsonl"), "--debug")
    assert isinstance(r.exception, RuntimeError)
    monkeypatch.setenv("HFPC_DEBUG", "1")
    r = _filter(str(m), "-o", str(tmp_path / "r.jsonl"))
    assert isinstance(r.exception, RuntimeError)


def test_judge_internal_error_exits_3(demo_samples: list[Sample], monkeypatch) -> None:
    from hfpc.judge import Judge

    def boom(*a, **k):
        raise KeyError("inner")

    monkeypatch.setattr(Judge, "judge", boom)
    monkeypatch.delenv("HFPC_DEBUG", raising=False)
    s = demo_samples[0]
    r = runner.invoke(app, ["judge", s.original, s.generated])
    assert r.exit_code == 3 and "internal error" in r.output and Path(s.generated).name in r.output
    assert "Traceback" not in r.output


# 2. profile hash and version recorded; a rerun with another one stops

def test_profile_hash_recorded_and_other_profile_refused(tmp_path: Path, demo_samples: list[Sample],
                                                         monkeypatch) -> None:
    out = tmp_path / "r.jsonl"
    run_filter(demo_samples[:2], out, workers=1)
    rows = read_results(out)
    meta = json.loads(meta_path(out).read_text())
    assert meta["hfpc_version"] == hfpc.__version__
    assert all(r["profile_hash"] == meta["profile_hash"] for r in rows)
    # the same settings under another name: same hash, resumes
    run_filter(demo_samples[:3], out, Profile(name="renamed"), workers=1)
    with pytest.raises(ResultsMismatchError, match="--overwrite"):
        run_filter(demo_samples, out, Profile(checks={"consistency": {"threshold": 0.5}}), workers=1)
    assert len(read_results(out)) == 3  # untouched
    toml = tmp_path / "lax.toml"
    Profile(checks={"consistency": {"threshold": 0.5}}).save(toml)
    m = _manifest(tmp_path / "m.jsonl", demo_samples[:3])
    r = _filter(str(m), "-o", str(out), "-p", str(toml))
    assert r.exit_code == 3 and "profile" in r.output and "--overwrite" in r.output
    assert _filter(str(m), "-o", str(out), "-p", str(toml), "--overwrite").exit_code in (0, 1)
    monkeypatch.setattr(hfpc, "__version__", "99.0")
    with pytest.raises(ResultsMismatchError, match="hfpc"):
        run_filter(demo_samples[:3], out, Profile.from_toml(toml), workers=1)


def test_rows_of_an_older_file_without_meta_are_checked(tmp_path: Path, demo_samples: list[Sample]) -> None:
    out = tmp_path / "r.jsonl"
    run_filter(demo_samples[:2], out, workers=1)
    meta_path(out).unlink()
    with pytest.raises(ResultsMismatchError):
        run_filter(demo_samples[:3], out, Profile(checks={"consistency": {"threshold": 0.5}}), workers=1)
    assert run_filter(demo_samples[:3], out, workers=1).judged == 1


# 3. transient errors are retried on resume, input errors kept unless --retry-errors

def test_transient_errors_retried_input_errors_kept(tmp_path: Path, demo_samples: list[Sample]) -> None:
    good = demo_samples[0]
    missing = Sample("missing", good.original, str(tmp_path / "nope.png"))
    out = tmp_path / "r.jsonl"
    run_filter([good, missing], out, workers=1)
    rows = {r["id"]: r for r in read_results(out)}
    assert rows["missing"]["error_kind"] == "input" and rows[good.id]["error"] is None
    # an older row that failed on an I/O error (no error_kind: classified from its text)
    transient = {**rows[good.id], "passed": None, "checks": {},
                 "error": f"{good.generated}: cannot open: [Errno 5] Input/output error"}
    transient.pop("error_kind", None)
    out.write_text(json.dumps(transient) + "\n" + json.dumps(rows["missing"]) + "\n")
    s = run_filter([good, missing], out, workers=1)
    assert s.judged == 1 and s.skipped == 1 and s.file_errors == 1
    rows = {r["id"]: r for r in read_results(out)}
    assert rows[good.id]["error"] is None
    s = run_filter([good, missing], out, workers=1, retry_errors=True)
    assert s.judged == 1 and s.errors == 1
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == sorted([good.id, "missing"])  # no duplicates


# 4. one writer at a time; duplicate ids de-duplicated with a warning

def test_second_writer_is_refused(tmp_path: Path, demo_samples: list[Sample]) -> None:
    out = tmp_path / "r.jsonl"
    with results_mod._exclusive(out):
        with pytest.raises(ResultsLockedError, match=rf"pid {os.getpid()}"):
            run_filter(demo_samples[:1], out, workers=1)
        m = _manifest(tmp_path / "m.jsonl", demo_samples[:1])
        r = _filter(str(m), "-o", str(out))
        assert r.exit_code == 3 and "another hfpc run" in r.output
    assert run_filter(demo_samples[:1], out, workers=1).judged == 1


def test_read_results_keeps_the_last_of_duplicate_ids(tmp_path: Path, caplog) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text('{"id": "a", "passed": false}\n{"id": "b", "passed": true}\n{"id": "a", "passed": true}\n')
    with caplog.at_level(logging.WARNING):
        rows = read_results(p)
    assert {r["id"]: r["passed"] for r in rows} == {"a": True, "b": True} and len(rows) == 2
    assert "more than once" in caplog.text


def test_rows_without_a_usable_id_are_kept_and_do_not_stop_a_rerun(tmp_path: Path,
                                                                     demo_samples: list[Sample]) -> None:
    out = tmp_path / "r.jsonl"
    run_filter(demo_samples[:1], out, workers=1)
    with out.open("a") as f:
        f.write('{"id": ["odd"], "passed": true, "error": null}\n{"passed": false, "error": null}\n')
    assert len(read_results(out)) == 3
    s = run_filter(demo_samples[:2], out, workers=1)
    assert s.judged == 1 and s.file_failed + s.file_passed == 4


# 5. nothing stops a batch

def test_file_name_not_valid_utf8(tmp_path: Path, demo_samples: list[Sample]) -> None:
    if sys.platform != "linux":
        pytest.skip("byte file names are a POSIX matter")
    s = demo_samples[0]
    root = tmp_path / "set"
    (root / "originals").mkdir(parents=True)
    (root / "generated").mkdir()
    shutil.copy(s.original, root / "originals" / f"a{Path(s.original).suffix}")
    name = os.fsdecode(b"a_\xff.png")
    shutil.copy(s.generated, root / "generated" / name)
    out = tmp_path / "r.jsonl"
    r = runner.invoke(app, ["filter", str(root), "-o", str(out), "-j", "1"])
    assert r.exit_code in (0, 1, 2), r.output
    (row,) = read_results(out)
    assert os.fsencode(row["generated"]).endswith(b"a_\xff.png") and row["error"] is None
    out.read_bytes().decode("utf-8")  # the file stays valid UTF-8


def test_damaged_line_in_the_middle(tmp_path: Path, demo_samples: list[Sample]) -> None:
    out = tmp_path / "r.jsonl"
    run_filter(demo_samples[:2], out, workers=1)
    lines = out.read_text().splitlines()
    out.write_text(lines[0] + "\n{not json\n" + lines[1] + "\n")
    with pytest.raises(ResultsError, match=r"r.jsonl:2: .*--overwrite"):
        read_results(out)
    m = _manifest(tmp_path / "m.jsonl", demo_samples[:2])
    r = _filter(str(m), "-o", str(out))
    assert r.exit_code == 3 and "r.jsonl:2" in r.output and "Traceback" not in r.output
    out.write_bytes(lines[0].encode() + b"\n\xff\xfe\n" + lines[1].encode() + b"\n")
    with pytest.raises(ResultsError, match=r"r.jsonl:2: not valid UTF-8"):
        read_results(out)


def test_output_that_cannot_be_a_file(tmp_path: Path, demo_samples: list[Sample]) -> None:
    m = _manifest(tmp_path / "m.jsonl", demo_samples[:1])
    (tmp_path / "adir").mkdir()
    r = _filter(str(m), "-o", str(tmp_path / "adir"))
    assert r.exit_code == 3 and "is a directory" in r.output
    (tmp_path / "afile").write_text("x")
    r = _filter(str(m), "-o", str(tmp_path / "afile" / "r.jsonl"))
    assert r.exit_code == 3 and "afile" in r.output and "Traceback" not in r.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_folder(tmp_path: Path, demo_samples: list[Sample]) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        m = _manifest(tmp_path / "m.jsonl", demo_samples[:1])
        r = _filter(str(m), "-o", str(ro / "r.jsonl"))
        assert r.exit_code == 3 and "ro" in r.output
    finally:
        ro.chmod(0o755)


def test_killed_worker_costs_only_its_samples(tmp_path: Path, demo_samples: list[Sample]) -> None:
    samples = demo_samples[:8]
    out = tmp_path / "r.jsonl"
    killed: list[int] = []

    def kill_one(n: int) -> None:
        if not killed:
            victim = multiprocessing.active_children()[0]
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)

    s = run_filter(samples, out, workers=2, chunk_size=1, progress=kill_one)
    assert killed
    rows = read_results(out)
    assert sorted(r["id"] for r in rows) == sorted(x.id for x in samples)
    lost = [r for r in rows if r["error"]]
    assert lost and all(r["error_kind"] == "transient" and "worker process" in r["error"] for r in lost)
    assert s.errors == len(lost) < len(samples)
    again = run_filter(samples, out, workers=1)
    assert again.judged == len(lost) and again.file_errors == 0


def test_disk_full_stops_cleanly(tmp_path: Path, demo_samples: list[Sample], monkeypatch) -> None:
    out = tmp_path / "res" / "r.jsonl"
    real = results_mod._write_all
    calls = []

    def full(fd: int, data: bytes) -> None:
        calls.append(1)
        if len(calls) > 2:
            real(fd, data[: len(data) // 2])  # half a row reaches the disk
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(results_mod, "_write_all", full)
    with pytest.raises(ResultsError, match="disk is full"):
        run_filter(demo_samples[:5], out, workers=1, chunk_size=1)
    data = out.read_bytes()
    assert data.endswith(b"\n") and len(data.splitlines()) == 2
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(results_mod, "_write_all", real)
    s = run_filter(demo_samples[:5], out, workers=1)
    assert s.skipped == 2 and len(read_results(out)) == 5


# 7. a profile with no deciding check is refused

def test_profile_without_deciding_check_is_refused(tmp_path: Path, demo_samples: list[Sample]) -> None:
    off = Profile(checks={"consistency": {"enabled": False}})
    with pytest.raises(NoDecidingChecksError, match="--allow-no-checks"):
        run_filter(demo_samples[:1], tmp_path / "r.jsonl", off, workers=1)
    assert not (tmp_path / "r.jsonl").exists()
    s = run_filter(demo_samples[:1], tmp_path / "r.jsonl", off, workers=1, allow_no_checks=True)
    assert s.file_passed == 1
    toml = tmp_path / "off.toml"
    off.save(toml)
    m = _manifest(tmp_path / "m.jsonl", demo_samples[:1])
    r = _filter(str(m), "-o", str(tmp_path / "r2.jsonl"), "-p", str(toml))
    assert r.exit_code == 3 and "--allow-no-checks" in r.output
    s0 = demo_samples[0]
    r = runner.invoke(app, ["judge", s0.original, s0.generated, "-p", str(toml)])
    assert r.exit_code == 3 and "--allow-no-checks" in r.output
    r = runner.invoke(app, ["judge", s0.original, s0.generated, "-p", str(toml), "--allow-no-checks"])
    assert r.exit_code == 0


# 6. (the run side) URLs and bad manifest rows become error rows

def test_urls_and_bad_rows_become_error_rows(tmp_path: Path, demo_samples: list[Sample]) -> None:
    good = demo_samples[0]
    m = _manifest(tmp_path / "m.jsonl", [good], [
        {"id": "web", "original": "http://example.com/a.jpg", "generated": "http://example.com/b.jpg"},
        {"id": 0, "original": good.original, "generated": 7},
    ])
    assert _filter(str(m), "-o", str(tmp_path / "r0.jsonl")).exit_code == 3  # strict by default
    r = _filter(str(m), "-o", str(tmp_path / "r.jsonl"), "--skip-bad-rows")
    assert r.exit_code == 2, r.output
    rows = {x["id"]: x for x in read_results(tmp_path / "r.jsonl")}
    assert "hfpc data download" in rows["web"]["error"] and rows["web"]["error_kind"] == "input"
    assert "must be a path" in rows["0"]["error"] and rows["0"]["error_kind"] == "input"
    assert rows[good.id]["error"] is None
    only_urls = _manifest(tmp_path / "u.jsonl", [], [{"original": "https://x/a.jpg", "generated": "https://x/b.jpg"}])
    r = _filter(str(only_urls), "-o", str(tmp_path / "u_r.jsonl"))
    assert r.exit_code == 3 and "hfpc data download" in r.output


# 8. workers exit when the parent is killed

def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("kill", ["main", "group"])
def test_workers_exit_when_the_parent_is_killed(tmp_path: Path, demo_samples: list[Sample], kill: str) -> None:
    rows = [{"id": f"x{i}_{s.id}", "original": s.original, "generated": s.generated}
            for i in range(12) for s in demo_samples]
    m = tmp_path / "m.jsonl"
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "r.jsonl"
    script = tmp_path / "run.py"
    script.write_text("import sys\nfrom hfpc import read_manifest, run_filter\n"
                      "if __name__ == '__main__':\n"
                      "    run_filter(read_manifest(sys.argv[1]), sys.argv[2], workers=2, chunk_size=1)\n")
    proc = subprocess.Popen([sys.executable, str(script), str(m), str(out)], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 0):
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        kids = _children(proc.pid)
        assert kids
    finally:
        if kill == "group":
            os.killpg(proc.pid, signal.SIGKILL)  # kill -9 of the whole process group
        else:
            proc.kill()  # kill -9 of the main process only
        proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.1)
    survivors = [k for k in kids if _alive(k)]
    for k in survivors:
        os.kill(k, signal.SIGKILL)
    assert not survivors
