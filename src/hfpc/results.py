"""Batch judging to a JSONL results file: parallel, flushed per sample, resumable, no duplicates."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from hfpc.judge import Judge
from hfpc.profile import Profile
from hfpc.types import Sample

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """Counts of one ``filter`` run (skipped = already in the results file)."""

    total: int
    skipped: int
    judged: int
    passed: int
    failed: int
    errors: int


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """All complete rows of a results file (a torn last line from a killed run is ignored)."""
    p = Path(path)
    rows = []
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                if line.endswith("\n"):
                    raise ValueError(f"{p}:{lineno}: not a JSON result row") from None
                log.warning("%s:%d: ignoring an incomplete last line", p, lineno)
    return rows


def _prepare_output(path: Path, overwrite: bool) -> set[str]:
    """Ids already judged; a torn last line is cut off so appends stay valid JSONL."""
    if overwrite or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as f:
            f.truncate(cut)
        log.warning("%s: removed an incomplete last line left by an interrupted run", path)
    return {r["id"] for r in read_results(path)}


_worker_judge: Judge | None = None


def _init_worker(profile: dict[str, Any], artifacts_dir: str | None, base: str | None) -> None:
    global _worker_judge
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    _worker_judge = Judge(Profile(**profile), artifacts_dir, base)


def _work(chunk: list[Sample]) -> list[dict[str, Any]]:
    assert _worker_judge is not None
    return [v.to_row() for v in _worker_judge.judge_many(chunk)]


def _chunks(samples: list[Sample], size: int) -> Iterator[list[Sample]]:
    """Chunks that keep generations of one original together (they share its cache)."""
    ordered = sorted(samples, key=lambda s: s.original)
    chunk: list[Sample] = []
    for _, group in groupby(ordered, key=lambda s: s.original):
        for s in group:
            chunk.append(s)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _spawn_possible() -> bool:
    """Spawned workers re-import the main script; a script read from stdin cannot be re-imported."""
    import __main__

    main_file = getattr(__main__, "__file__", None)
    if main_file and not os.path.exists(main_file):
        log.warning("the main script %s is not a file: judging in one process", main_file)
        return False
    return True


def run_filter(samples: list[Sample], out: str | Path, profile: Profile | None = None,
               workers: int | None = None, overwrite: bool = False,
               artifacts_dir: str | Path | None = None, chunk_size: int = 4,
               progress: Callable[[int], None] | None = None) -> RunSummary:
    """Judge ``samples`` into the JSONL file ``out``, skipping ids already there.

    Each row is written and flushed as soon as its sample is judged, so a killed run resumes
    where it stopped. ``workers`` defaults to the number of CPU cores.
    """
    out = Path(out)
    profile = profile or Profile()
    workers = max(1, workers or os.cpu_count() or 1)
    art = str(artifacts_dir) if artifacts_dir else None
    out.parent.mkdir(parents=True, exist_ok=True)
    base = str(out.parent.resolve())
    # build the checks before touching the results file: a missing model must not cost old results
    judge = Judge(profile, art, base)
    done = _prepare_output(out, overwrite)
    todo = [s for s in samples if s.id not in done]
    counts = {"passed": 0, "failed": 0, "errors": 0}

    def write(f: Any, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            key = "errors" if row["error"] else ("passed" if row["passed"] else "failed")
            counts[key] += 1
        if progress:
            progress(len(rows))

    runs_models = not all(c.process_parallel for c in judge.checks)
    if runs_models:
        chunk_size = max(chunk_size, 32)  # one process, batched inference
    in_process = workers == 1 or len(todo) <= chunk_size or runs_models or not _spawn_possible()
    with out.open("a", encoding="utf-8") as f:
        if in_process:
            for chunk in _chunks(todo, chunk_size):
                write(f, [v.to_row() for v in judge.judge_many(chunk)])
        else:
            # spawn, not fork: forking a process whose OpenCV thread pool is live deadlocks
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_init_worker,
                                     initargs=(profile.model_dump(), art, base)) as ex:
                pending = set()
                it = _chunks(todo, chunk_size)
                for chunk in it:
                    pending.add(ex.submit(_work, chunk))
                    if len(pending) >= workers * 3:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            write(f, fut.result())
                for fut in pending:
                    write(f, fut.result())
        os.fsync(f.fileno())
    return RunSummary(len(samples), len(samples) - len(todo), len(todo), **counts)
