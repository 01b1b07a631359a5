"""Download the images of a URL manifest (such as HFPC-44k) and write a local manifest.

Concurrent, with retries and exponential back-off, resumable (finished files are kept; partial
downloads go to ``.part`` files), limited by content type and size. Each URL that fails is
recorded in ``errors.jsonl`` with its reason; the run goes on.
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

import httpx

from hfpc.data.manifests import write_manifest
from hfpc.types import Sample

log = logging.getLogger(__name__)

CONTENT_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif",
                 "image/bmp": ".bmp", "image/tiff": ".tif"}


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
    """A stable local file name for a URL (hash; the extension comes from the content type)."""
    return hashlib.sha1(url.encode()).hexdigest()[:20]


def _existing(folder: Path, stem: str) -> Path | None:
    for p in folder.glob(f"{stem}.*"):
        if p.suffix != ".part":
            return p
    return None


def fetch(client: httpx.Client, url: str, folder: Path, max_bytes: int, retries: int,
          backoff: float) -> tuple[Path, bool]:
    """Download one URL into ``folder``; returns (path, was_cached). Raises RuntimeError on failure."""
    stem = url_filename(url)
    done = _existing(folder, stem)
    if done is not None:
        return done, True
    part = folder / f"{stem}.part"
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            with client.stream("GET", url) as r:
                if r.status_code in (429, 500, 502, 503, 504):
                    last = f"HTTP {r.status_code}"
                    continue
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")
                ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
                if ctype not in CONTENT_TYPES:
                    raise RuntimeError(f"content type {ctype or 'missing'!r} is not an image type")
                length = int(r.headers.get("content-length") or 0)
                if length > max_bytes:
                    raise RuntimeError(f"{length:,} bytes exceeds the limit of {max_bytes:,}")
                size = 0
                with part.open("wb") as f:
                    for chunk in r.iter_bytes(65536):
                        size += len(chunk)
                        if size > max_bytes:
                            raise RuntimeError(f"more than the limit of {max_bytes:,} bytes")
                        f.write(chunk)
                if size == 0:
                    raise RuntimeError("empty response body")
            final = folder / f"{stem}{CONTENT_TYPES[ctype]}"
            part.replace(final)
            return final, False
        except httpx.HTTPError as e:
            last = f"{type(e).__name__}: {e}"
        except RuntimeError:
            part.unlink(missing_ok=True)
            raise
    part.unlink(missing_ok=True)
    raise RuntimeError(f"gave up after {retries + 1} attempts ({last})")


def download_manifest(samples: list[Sample], out: str | Path, workers: int = 16, retries: int = 3,
                      backoff: float = 0.5, timeout: float = 30.0, max_bytes: int = 50_000_000,
                      progress: Callable[[int], None] | None = None) -> DownloadSummary:
    """Fetch every URL of ``samples`` into ``out/images`` and write ``out/manifest.jsonl``.

    Samples whose images could not all be fetched are left out of the local manifest and listed
    in ``out/errors.jsonl`` (one row per failed URL). Rerunning resumes: finished files are kept.
    """
    out = Path(out)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    urls = list(dict.fromkeys(u for s in samples for u in (s.original, s.generated, s.mask) if u and "://" in u))
    local: dict[str, str] = {}
    errors: dict[str, str] = {}
    counts = {"downloaded": 0, "cached": 0}
    with httpx.Client(timeout=timeout, follow_redirects=True,
                      headers={"User-Agent": "hfpc-downloader"}) as client, \
            ThreadPoolExecutor(workers) as ex:
        futures = {ex.submit(fetch, client, u, images, max_bytes, retries, backoff): u for u in urls}
        for fut in as_completed(futures):
            u = futures[fut]
            try:
                path, cached = fut.result()
                local[u] = str(path)
                counts["cached" if cached else "downloaded"] += 1
            except Exception as e:  # noqa: BLE001 - every failure becomes an error row
                errors[u] = str(e)
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
    err_path.write_text("".join(json.dumps({"url": u, "error": e}) + "\n" for u, e in sorted(errors.items())))
    return DownloadSummary(len(urls), counts["downloaded"], counts["cached"], len(errors), manifest, err_path)
