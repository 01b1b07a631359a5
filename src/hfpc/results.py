"""Batch judging to a JSONL results file: parallel, flushed per sample, resumable, no duplicates.

One run writes a results file at a time (``<out>.lock``). ``<out>.meta.json`` records the hfpc
version and the content hash of the profile the rows were judged with, so that a rerun with
another profile or version stops instead of mixing decisions. Error rows say whether their
cause can pass (``error_kind``: ``transient`` — I/O, a killed worker — or ``input`` — a missing
file, not an image …); a rerun judges transient errors again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from hfpc.data.manifests import MANIFEST_ERROR_KEY
from hfpc.errors import NoDecidingChecksError, ResultsError, ResultsLockedError, ResultsMismatchError
from hfpc.judge import Judge
from hfpc.profile import Profile
from hfpc.types import Sample, Verdict

log = logging.getLogger(__name__)

TRANSIENT = "transient"
INPUT = "input"
# error texts whose cause is the input itself: judging it again gives the same error
_INPUT_ERRORS = ("file not found", "is a directory, not an image", "file is empty", "not an image",
                 "too large", "exceeds the limit", "zero width or height", "truncated or corrupt",
                 "this is a URL", "manifest")
_MAX_BROKEN_POOLS = 3


@dataclass
class RunSummary:
    """Counts of one ``filter`` run (skipped = already in the results file).

    ``passed``/``failed``/``errors`` count the rows written by this run; ``file_passed``,
    ``file_failed`` and ``file_errors`` count every row of the results file after it, which is
    what :attr:`exit_code` describes.
    """

    total: int
    skipped: int
    judged: int
    passed: int
    failed: int
    errors: int
    file_passed: int = 0
    file_failed: int = 0
    file_errors: int = 0

    @property
    def exit_code(self) -> int:
        """0 every row passed, 1 some failed, 2 some could not be judged (errors win)."""
        if self.file_errors:
            return 2
        return 1 if self.file_failed else 0


def error_kind(message: str | None) -> str | None:
    """``input`` when judging the sample again would give the same error, else ``transient``."""
    if not message:
        return None
    low = message.lower()
    return INPUT if any(m.lower() in low for m in _INPUT_ERRORS) else TRANSIENT


def row_error_kind(row: dict[str, Any]) -> str | None:
    """The error kind of a result row: its own ``error_kind``, else classified from its text."""
    if not row.get("error"):
        return None
    kind = row.get("error_kind")
    return kind if kind in (TRANSIENT, INPUT) else error_kind(str(row["error"]))


def profile_hash(profile: Profile) -> str:
    """Content hash of what decides: the resolved profile without its name and description."""
    d = profile.resolved()
    d.pop("name", None)
    d.pop("description", None)
    d["max_image_pixels"] = profile.image_pixel_limit()
    text = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def meta_path(out: str | Path) -> Path:
    """The sidecar that records the profile hash and hfpc version of a results file."""
    p = Path(out)
    return p.with_name(p.name + ".meta.json")


def lock_path(out: str | Path) -> Path:
    p = Path(out)
    return p.with_name(p.name + ".lock")


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """All complete rows of a results file (a torn last line from a killed run is ignored).

    A damaged line elsewhere raises :class:`ResultsError` naming the file and line. Rows that
    repeat an id (a file two runs wrote at once) are reduced to the last one, with a warning.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise ResultsError(f"{p}: is a directory, not a results file") from None
    except FileNotFoundError:
        raise ResultsError(f"{p}: results file not found") from None
    except OSError as e:
        raise ResultsError(f"{p}: cannot read: {e.strerror or e}") from None
    rows: dict[Any, dict[str, Any]] = {}
    anonymous: list[dict[str, Any]] = []
    dup: dict[Any, int] = {}
    lines = data.split(b"\n")
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        last = lineno == len(lines)  # no newline after it: a write that was cut short
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            if last:
                log.warning("%s:%d: ignoring an incomplete last line", p, lineno)
                continue
            why = "not valid UTF-8" if isinstance(e, UnicodeDecodeError) else f"not a JSON result row ({e.msg})"
            raise ResultsError(f"{p}:{lineno}: {why}; the file is damaged: remove that line, or start "
                               "over with --overwrite") from None
        if not isinstance(row, dict):
            raise ResultsError(f"{p}:{lineno}: not a JSON result row (a {type(row).__name__}); remove that "
                               "line, or start over with --overwrite")
        key = _rid(row)
        if key is None:
            anonymous.append(row)
            continue
        if key in rows:
            dup[key] = dup.get(key, 1) + 1
            del rows[key]
        rows[key] = row
    if dup:
        some = ", ".join(repr(k) for k in list(dup)[:3])
        log.warning("%s: %d id(s) appear more than once (%s…); keeping the last row of each", p, len(dup), some)
    return [*rows.values(), *anonymous]


def _rid(row: dict[str, Any]) -> Any:
    """A row's id when it can be one (a dict or list cannot), else None."""
    key = row.get("id")
    return None if isinstance(key, (dict, list)) else key


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file; no temp file is left behind on failure."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (one seam for the tests that fill the disk)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _encode_row(row: dict[str, Any]) -> bytes:
    """One JSONL line; a path that is not valid UTF-8 (surrogate-escaped bytes) is written escaped."""
    try:
        return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(row, ensure_ascii=True) + "\n").encode("ascii")


def _os_error(out: Path, e: OSError, what: str) -> ResultsError:
    if e.errno == errno.ENOSPC:
        why = "the disk is full"
    elif e.errno == errno.EDQUOT:
        why = "the disk quota is exceeded"
    else:
        why = e.strerror or str(e)
    return ResultsError(f"{out}: {what}: {why}; the rows written so far are complete: "
                        "free space and rerun to resume")


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold ``<out>.lock`` (non-blocking): a second writer of the same file is refused."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    lp = lock_path(out)
    try:
        fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ResultsError(f"{out}: cannot create the lock file {lp.name}: {e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ResultsError(f"{out}: cannot lock {lp.name}: {e.strerror or e}") from None
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            who = f"(pid {holder}) " if holder.isdigit() else ""
            raise ResultsLockedError(
                f"{out}: another hfpc run {who}is writing this results file; wait for it to finish, "
                "or write to another file with -o") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is a courtesy; the lock holds without it
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race a waiting run)


def _check_meta(out: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """Refuse to extend a results file judged with another profile or hfpc version."""
    mp = meta_path(out)
    old: dict[str, Any] | None = None
    if mp.exists():
        try:
            old = json.loads(mp.read_text(encoding="utf-8"))
            if not isinstance(old, dict):
                raise ValueError("not an object")
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise ResultsError(f"{mp}: cannot read ({e}); start over with --overwrite") from None
    else:
        hashed = [r for r in rows if r.get("profile_hash")]
        if hashed:
            old = {"profile_hash": hashed[-1]["profile_hash"], "hfpc_version": hashed[-1].get("hfpc_version"),
                   "profile_name": hashed[-1].get("profile")}
        elif rows:
            old = {"hfpc_version": rows[-1].get("hfpc_version"), "profile_name": rows[-1].get("profile")}
            log.warning("%s: written before hfpc recorded profile hashes; the profile cannot be checked", out)
    if not old:
        return
    differs = []
    if old.get("hfpc_version") and old["hfpc_version"] != meta["hfpc_version"]:
        differs.append(f"hfpc {old['hfpc_version']} (this run: {meta['hfpc_version']})")
    if old.get("profile_hash") and old["profile_hash"] != meta["profile_hash"]:
        differs.append(f"profile {old.get('profile_name')!r} hash {old['profile_hash']} "
                       f"(this run: {meta['profile_name']!r} hash {meta['profile_hash']})")
    if differs:
        raise ResultsMismatchError(
            f"{out} was judged with {' and '.join(differs)}; adding rows would mix decisions: start "
            "over with --overwrite, or write to another file with -o")


def _prepare_output(path: Path, overwrite: bool, meta: dict[str, Any] | None = None,
                    retry: set[str] | None = None, retry_all: bool = False) -> list[dict[str, Any]]:
    """Rows kept from an earlier run (already judged); a torn last line is cut off so appends stay valid.

    Error rows of ids in ``retry`` whose cause can pass (all of them with ``retry_all``) are
    removed from the file, so that they are judged again without leaving duplicates.
    """
    if overwrite or not path.exists():
        _atomic_write(path, b"")
        return []
    rows = read_results(path)
    if meta is not None:
        _check_meta(path, rows, meta)
    data = path.read_bytes()
    drop = {
        r["id"] for r in rows
        if r.get("error") and _rid(r) in (retry or set()) and (retry_all or row_error_kind(r) == TRANSIENT)
    }
    kept = [r for r in rows if _rid(r) not in drop]
    n_lines = sum(1 for line in data.split(b"\n") if line.strip())
    torn = bool(data) and not data.endswith(b"\n")
    if drop or torn or len(kept) != n_lines:  # retried errors, duplicates or a torn line: rewrite the file
        _atomic_write(path, b"".join(_encode_row(r) for r in kept))
        if drop:
            log.info("%s: judging %d error row(s) again", path, len(drop))
        if torn:
            log.warning("%s: removed an incomplete last line left by an interrupted run", path)
    return kept


_worker_judge: Judge | None = None


def _watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Exit this worker when the process that started it is gone (killed with -9, say)."""
    def poll() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(interval)

    threading.Thread(target=poll, name="hfpc-parent-watch", daemon=True).start()


def one_blas_thread() -> Any:
    """Limit BLAS (and OpenMP) libraries to one thread; the returned object restores the previous
    limits when used as a context manager.

    The judge's matrix products are small (a few colours × the pixels of a crop): extra BLAS
    threads cost more to wake than they save, and spin on a busy or shared core (several times
    the CPU time). OpenBLAS reads its thread count when numpy is loaded, so an environment variable
    set later has no effect; threadpoolctl changes it in the running process.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _init_worker(profile: dict[str, Any], artifacts_dir: str | None, base: str | None,
                 parent_pid: int | None = None) -> None:
    global _worker_judge
    if parent_pid is not None:
        _watch_parent(parent_pid)
    one_blas_thread()  # for the worker's lifetime: the workers already share the cores
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


WORKER_BYTES = 600 * 2**20
"""Memory a worker may need at the largest supported image sizes (see ``benchmarks/memory.py``)."""


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_workers() -> int:
    """Worker processes for a run: one per core, but no more than the available memory holds."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    avail = available_memory()
    by_memory = cores if avail is None else max(1, avail // WORKER_BYTES)
    return max(1, min(cores, by_memory))


def _spawn_possible() -> bool:
    """Spawned workers re-import the main script; a script read from stdin cannot be re-imported."""
    import __main__

    main_file = getattr(__main__, "__file__", None)
    if main_file and not os.path.exists(main_file):
        log.warning("the main script %s is not a file: judging in one process", main_file)
        return False
    return True


def _is_url(ref: str | None) -> bool:
    return bool(ref) and "://" in str(ref)


def _unjudgeable(s: Sample) -> str | None:
    """Why a sample cannot be given to the judge at all (a bad manifest row, a URL), else None."""
    if MANIFEST_ERROR_KEY in s.meta:
        return str(s.meta[MANIFEST_ERROR_KEY])
    for ref in (s.generated, s.original, s.mask):
        if _is_url(ref):
            return f"{ref}: this is a URL: run `hfpc data download` first"
    return None


def _error_row(s: Sample, message: str, profile: Profile, kind: str) -> dict[str, Any]:
    row = Verdict(s.id, s.original, s.generated, passed=None, error=message, profile=profile.name,
                  label=s.label).to_row()
    row["error_kind"] = kind
    return row


def deciding_checks(judge: Judge) -> list[str]:
    """Names of the judge's checks that decide pass/fail (enabled and not baselines)."""
    return [c.name for c in judge.checks if not getattr(c, "baseline", False)]


def run_filter(samples: list[Sample], out: str | Path, profile: Profile | None = None,
               workers: int | None = None, overwrite: bool = False,
               artifacts_dir: str | Path | None = None, chunk_size: int = 4,
               progress: Callable[[int], None] | None = None, retry_errors: bool = False,
               allow_no_checks: bool = False) -> RunSummary:
    """Judge ``samples`` into the JSONL file ``out``, skipping ids already there.

    Each row is written and flushed as soon as its sample is judged, so a killed run resumes
    where it stopped; error rows whose cause can pass are judged again (all of them with
    ``retry_errors``). ``workers`` defaults to :func:`default_workers` (cores, bounded by
    available memory). A results file written
    with another profile or hfpc version is refused (:class:`ResultsMismatchError`), so is a
    file another run is writing (:class:`ResultsLockedError`) and a profile with no check that
    decides (:class:`NoDecidingChecksError`, unless ``allow_no_checks``).
    """
    out = Path(out)
    profile = profile or Profile()
    workers = max(1, workers or default_workers())
    art = str(artifacts_dir) if artifacts_dir else None
    if out.is_dir():
        raise ResultsError(f"{out}: is a directory; give a results file path such as {out / 'results.jsonl'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ResultsError(f"{out}: cannot create its folder {out.parent}: {e.strerror or e}") from None
    base = str(out.parent.resolve())
    # build the checks before touching the results file: a missing model must not cost old results
    judge = Judge(profile, art, base)
    if not allow_no_checks and not deciding_checks(judge):
        raise NoDecidingChecksError(
            f"profile {profile.name!r} enables no check that decides pass/fail, so every sample would "
            "pass; enable one (e.g. [checks.consistency]) or pass --allow-no-checks")
    phash = profile_hash(profile)
    from hfpc import __version__

    meta = {"hfpc_version": __version__, "profile_hash": phash, "profile_name": profile.name,
            "profile": profile.resolved()}
    with _exclusive(out):
        try:
            kept = _prepare_output(out, overwrite, meta, {s.id for s in samples}, retry_errors)
            _atomic_write(meta_path(out), (json.dumps(meta, indent=1, default=str) + "\n").encode())
        except PermissionError as e:
            raise ResultsError(f"{out}: cannot write: {e.strerror or e}") from None
        except OSError as e:
            raise _os_error(out, e, "cannot prepare the results file") from None
        done = {_rid(r) for r in kept} - {None}
        file_counts = {"passed": 0, "failed": 0, "errors": 0}
        for r in kept:
            file_counts["errors" if r.get("error") else ("passed" if r.get("passed") else "failed")] += 1
        todo = [s for s in samples if s.id not in done]
        counts = {"passed": 0, "failed": 0, "errors": 0}
        try:
            fd = os.open(out, os.O_WRONLY | os.O_APPEND)
        except OSError as e:
            raise ResultsError(f"{out}: cannot open for writing: {e.strerror or e}") from None

        def write(rows: list[dict[str, Any]]) -> None:
            for row in rows:
                row["profile_hash"] = phash
                if row.get("error"):
                    row.setdefault("error_kind", error_kind(row["error"]))
                data = _encode_row(row)
                size = os.fstat(fd).st_size
                try:
                    _write_all(fd, data)
                except OSError as e:
                    with contextlib.suppress(OSError):  # no torn row: cut back to the last complete one
                        os.ftruncate(fd, size)
                    raise _os_error(out, e, f"stopped writing after {sum(counts.values())} row(s)") from None
                key = "errors" if row["error"] else ("passed" if row["passed"] else "failed")
                counts[key] += 1
            if progress:
                progress(len(rows))

        try:
            ready = [s for s in todo if _unjudgeable(s) is None]
            bad = [s for s in todo if _unjudgeable(s) is not None]
            if bad:
                write([_error_row(s, _unjudgeable(s) or "", profile, INPUT) for s in bad])
            runs_models = not all(c.process_parallel for c in judge.checks)
            if runs_models:
                chunk_size = max(chunk_size, 32)  # one process, batched inference
            in_process = workers == 1 or len(ready) <= chunk_size or runs_models or not _spawn_possible()
            if in_process:
                # model checks keep their threads (batched inference uses the cores)
                with contextlib.nullcontext() if runs_models else one_blas_thread():
                    for chunk in _chunks(ready, chunk_size):
                        write([v.to_row() for v in judge.judge_many(chunk)])
            else:
                _run_pool(ready, chunk_size, workers, profile, art, base, write)
            try:
                os.fsync(fd)
            except OSError as e:
                raise _os_error(out, e, "cannot flush the results to disk") from None
        finally:
            os.close(fd)
    return RunSummary(len(samples), len(samples) - len(todo), len(todo), **counts,
                      file_passed=file_counts["passed"] + counts["passed"],
                      file_failed=file_counts["failed"] + counts["failed"],
                      file_errors=file_counts["errors"] + counts["errors"])


def _run_pool(todo: list[Sample], chunk_size: int, workers: int, profile: Profile, art: str | None,
              base: str, write: Callable[[list[dict[str, Any]]], None]) -> None:
    """Judge ``todo`` in worker processes; a worker killed by the OS costs its batches an error row."""
    queue = deque(_chunks(todo, chunk_size))
    broken_in_a_row = 0
    while queue:
        pending: dict[Future[list[dict[str, Any]]], list[Sample]] = {}
        lost: list[list[Sample]] = []
        # spawn, not fork: forking a process whose OpenCV thread pool is live deadlocks
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_init_worker,
                                 initargs=(profile.model_dump(), art, base, os.getpid())) as ex:
            try:
                while queue or pending:
                    while queue and len(pending) < workers * 3:
                        chunk = queue.popleft()
                        pending[ex.submit(_work, chunk)] = chunk
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        chunk = pending.pop(fut)
                        try:
                            rows = fut.result()
                        except BrokenProcessPool:
                            lost.append(chunk)
                            continue
                        broken_in_a_row = 0
                        write(rows)
                    if lost:
                        break
            except BrokenProcessPool:  # submitting to a pool that just broke
                lost.append(chunk)
            # the pool is broken: what was still pending either finished or was lost with it
            for fut, chunk in pending.items():
                try:
                    rows = fut.result()
                except BrokenProcessPool:
                    lost.append(chunk)
                else:
                    write(rows)
        if not lost:
            continue
        broken_in_a_row += 1
        n = sum(len(c) for c in lost)
        log.warning("a worker process died (killed by the OS?); %d sample(s) in flight get an error row, "
                    "the run goes on with new workers", n)
        write([_error_row(s, f"{s.generated}: the worker process judging it died (killed by the OS, out of "
                             "memory?); rerun to judge it again", profile, TRANSIENT)
               for c in lost for s in c])
        if broken_in_a_row >= _MAX_BROKEN_POOLS and queue:
            raise ResultsError(f"worker processes died {broken_in_a_row} times in a row without judging a "
                               "sample; stopping (the rows written so far are kept; rerun to resume)")
