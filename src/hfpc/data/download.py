"""Download the images of a URL manifest (such as HFPC-44k) and write a local manifest.

Concurrent, with retries and exponential back-off, resumable (finished files are kept; partial
downloads go to ``.part`` files). Every URL goes through the guarded fetcher
(:mod:`hfpc.data.fetch`): public addresses only unless allowed, every redirect vetted, a total
deadline and a size cap per file, and only bytes Pillow reads as an image are kept. Each URL
that fails is recorded in ``errors.jsonl`` with its reason; the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from hfpc.data.fetch import FetchError, FetchPolicy, Resolver, fetch_to_file
from hfpc.data.manifests import write_manifest
from hfpc.types import Sample

log = logging.getLogger(__name__)


@dataclass
class DownloadSummary:
    """Counts of a download run and where its outputs are."""

    urls: int
    downloaded: int
    cached: int
    failed: int
    manifest: Path
    errors: Path


def url_filename(url: str) -> str:
    """A stable local file name for a URL (hash; the extension comes from the image format)."""
    return hashlib.sha1(url.encode()).hexdigest()[:20]


def _existing(folder: Path, stem: str) -> Path | None:
    for p in folder.glob(f"{stem}.*"):
        if p.suffix != ".part":
            return p
    return None


def fetch(url: str, folder: Path, policy: FetchPolicy, retries: int, backoff: float,
          resolver: Resolver | None = None) -> tuple[Path, bool]:
    """Download one URL into ``folder``; returns (path, was_cached). Raises FetchError on failure.

    Retries (network errors, HTTP 429/5xx) share the file's one deadline.
    """
    stem = url_filename(url)
    done = _existing(folder, stem)
    if done is not None:
        return done, True
    deadline_at = time.monotonic() + policy.deadline
    last: FetchError | None = None
    for attempt in range(retries + 1):
        if attempt:
            pause = backoff * 2 ** (attempt - 1)
            if time.monotonic() + pause >= deadline_at:
                break
            time.sleep(pause)
        try:
            return fetch_to_file(url, folder, stem, policy, resolver=resolver, deadline_at=deadline_at), False
        except FetchError as e:
            if not e.retryable:
                raise
            last = e
    assert last is not None
    raise FetchError(last.reason, f"gave up after {attempt + 1} attempts ({last})")


def download_manifest(samples: list[Sample], out: str | Path, workers: int = 16, retries: int = 3,
                      backoff: float = 0.5, timeout: float = 30.0, max_bytes: int = 50_000_000,
                      progress: Callable[[int], None] | None = None, deadline: float = 120.0,
                      allow_private: bool = False, max_redirects: int = 5,
                      policy: FetchPolicy | None = None, resolver: Resolver | None = None) -> DownloadSummary:
    """Fetch every URL of ``samples`` into ``out/images`` and write ``out/manifest.jsonl``.

    Samples whose images could not all be fetched are left out of the local manifest and listed
    in ``out/errors.jsonl`` (one row per failed URL: ``url``, ``reason`` code, ``error``
    sentence). Rerunning resumes: finished files are kept. ``timeout`` limits each connect or
    read, ``deadline`` each file as a whole. ``policy`` (when given) replaces the fetch
    settings; ``resolver`` replaces DNS resolution (tests).
    """
    policy = policy or FetchPolicy(allow_private=allow_private, max_bytes=max_bytes, timeout=timeout,
                                   deadline=deadline, max_redirects=max_redirects)
    out = Path(out)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    urls = list(dict.fromkeys(u for s in samples for u in (s.original, s.generated, s.mask) if u and "://" in u))
    local: dict[str, str] = {}
    errors: dict[str, tuple[str, str]] = {}
    counts = {"downloaded": 0, "cached": 0}
    with ThreadPoolExecutor(workers) as ex:
        futures = {ex.submit(fetch, u, images, policy, retries, backoff, resolver): u for u in urls}
        for fut in as_completed(futures):
            u = futures[fut]
            try:
                path, cached = fut.result()
                local[u] = str(path)
                counts["cached" if cached else "downloaded"] += 1
            except FetchError as e:
                errors[u] = (e.reason, str(e))
            except Exception as e:  # noqa: BLE001 - every failure becomes an error row
                errors[u] = ("internal", f"{type(e).__name__}: {e}")
            if progress:
                progress(1)
    kept = []
    for s in samples:
        refs = [r for r in (s.original, s.generated, s.mask) if r]
        if any(r in errors for r in refs):
            continue
        kept.append(replace(s, original=local.get(s.original, s.original),
                            generated=local.get(s.generated, s.generated),
                            mask=local.get(s.mask, s.mask) if s.mask else None,
                            meta={**s.meta, "source_original": s.original, "source_generated": s.generated}))
    manifest = out / "manifest.jsonl"
    write_manifest(manifest, kept)
    err_path = out / "errors.jsonl"
    err_path.write_text("".join(json.dumps({"url": u, "reason": r, "error": e}) + "\n"
                                for u, (r, e) in sorted(errors.items())))
    return DownloadSummary(len(urls), counts["downloaded"], counts["cached"], len(errors), manifest, err_path)
