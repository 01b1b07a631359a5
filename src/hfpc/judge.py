"""Judge: run every enabled check of a Profile over Samples and return Verdicts.

Originals are decoded once and cached (with whatever the checks prepared for them), because
generators produce many images per original; the cache is bounded in entries and in bytes
(``HFPC_CACHE_BYTES``, default 512 MB). Bad input never raises out of :meth:`Judge.judge`:
the Verdict carries ``error`` naming the file and the reason.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hfpc.checks.base import Check, JudgeItem, get_check_class
from hfpc.data.images import MASK_COVERAGE_WARNING, LoadedImage, load_image, read_mask
from hfpc.errors import HfpcError
from hfpc.profile import Profile
from hfpc.settings import int_from_env
from hfpc.taxonomy import main_failure, reasons_of
from hfpc.types import CheckResult, Sample, Verdict

log = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 512 * 2**20
"""Bytes of decoded originals (pixels, masks and what the checks prepared) the Judge keeps by
default; ``HFPC_CACHE_BYTES`` overrides it. One 8000×8000 original alone is 192 MB of RGB."""


def cache_bytes_default() -> int:
    """The original-cache byte limit in force: ``HFPC_CACHE_BYTES`` or the built-in default."""
    return int_from_env("HFPC_CACHE_BYTES", DEFAULT_CACHE_BYTES, 0, "bytes")


def _nbytes(obj: Any, depth: int = 0, seen: set[int] | None = None) -> int:
    """The bytes of the numpy arrays reachable from ``obj`` (dicts, sequences, objects), each once."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 6 or obj is None or isinstance(obj, (str, int, float, bool)):
        return 0
    seen.add(id(obj))
    if isinstance(obj, (bytes, bytearray)):
        return len(obj)
    if isinstance(obj, np.ndarray):
        return obj.nbytes if obj.base is None or id(obj.base) not in seen else 0
    if isinstance(obj, dict):
        return sum(_nbytes(v, depth + 1, seen) for v in obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return sum(_nbytes(v, depth + 1, seen) for v in obj)
    attrs = getattr(obj, "__dict__", None)
    if attrs is None and hasattr(obj, "__slots__"):
        attrs = {k: getattr(obj, k, None) for k in obj.__slots__}
    if attrs:
        return sum(_nbytes(v, depth + 1, seen) for v in attrs.values())
    nb = getattr(obj, "nbytes", None)  # array-likes
    if isinstance(nb, int):
        return nb
    if hasattr(obj, "element_size") and hasattr(obj, "nelement"):  # torch tensors
        return int(obj.element_size() * obj.nelement())
    return 0


@dataclass
class _Original:
    """A decoded original with its product mask, how the mask file was read, and the checks' cache."""

    image: LoadedImage
    mask: np.ndarray | None
    cache: dict[str, Any]
    polarity: str | None
    warnings: list[str] = field(default_factory=list)
    nbytes: int = 0  # measured when cached and again after each batch that used it


class Judge:
    """Runs a Profile's checks; ``Judge().judge(sample)`` uses the built-in defaults."""

    def __init__(self, profile: Profile | str | Path | None = None, artifacts_dir: str | Path | None = None,
                 artifacts_base: str | Path | None = None, cache_size: int = 64,
                 cache_bytes: int | None = None, reduced_decode: bool | None = None) -> None:
        self.profile = Profile.load(profile)
        self.max_image_pixels = self.profile.image_pixel_limit()
        self.checks: list[Check] = [
            get_check_class(name)(self.profile.settings(name)) for name in self.profile.enabled()
        ]
        self._baselines = {c.name for c in self.checks if c.baseline}
        self.artifacts_dir = Path(artifacts_dir) if artifacts_dir else None
        self.artifacts_base = Path(artifacts_base) if artifacts_base else self.artifacts_dir
        self._cache: OrderedDict[tuple[str, str | None], _Original] = OrderedDict()
        self._cache_size = cache_size
        self.cache_bytes = cache_bytes_default() if cache_bytes is None else cache_bytes
        """Byte limit of the original cache (the newest original is kept even when over it)."""
        if reduced_decode is None:
            reduced_decode = os.environ.get("HFPC_REDUCED_DECODE", "1").strip().lower() not in ("0", "false", "no")
        sides = [c.working_side() for c in self.checks]
        self.decode_side: int | None = (
            max(sides) if reduced_decode and sides and all(isinstance(x, int) and x > 0 for x in sides) else None)
        """Long side every enabled check works at or below (see :meth:`Check.working_side`): large
        JPEGs are then decoded at a reduced scale (see :func:`load_image`). None: full decodes,
        as for any check (a model's input size, say) that does not declare its working side, or
        with ``reduced_decode=False`` / ``HFPC_REDUCED_DECODE=0``."""

    def cache_nbytes(self) -> int:
        """Bytes the original cache holds now (decoded pixels, masks, the checks' prepared data)."""
        return sum(e.nbytes for e in self._cache.values())

    def _trim_cache(self) -> None:
        """Drop least recently used originals until both limits hold; the newest always stays."""
        total = self.cache_nbytes()
        while len(self._cache) > 1 and (len(self._cache) > self._cache_size or total > self.cache_bytes):
            _, old = self._cache.popitem(last=False)
            total -= old.nbytes

    def _original(self, sample: Sample) -> _Original:
        key = (sample.original, sample.mask)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        img = load_image(sample.original, self.max_image_pixels, max_side=self.decode_side)
        polarity: str | None = None
        if sample.mask:
            mask, polarity = read_mask(sample.mask, self.max_image_pixels, self.profile.mask_polarity)
        else:
            mask = img.alpha
        full_w, full_h = img.source_size or img.size
        if mask is not None and mask.shape != (full_h, full_w):
            raise HfpcError(f"{sample.mask or sample.original}: mask is {mask.shape[1]}×{mask.shape[0]} "
                            f"but the original is {full_w}×{full_h}")
        if mask is not None and mask.shape != img.rgb.shape[:2]:  # the original was decoded reduced
            import cv2

            mask = cv2.resize(mask.astype(np.uint8) * 255, img.size, interpolation=cv2.INTER_AREA) >= 128
        warnings: list[str] = []
        if sample.mask and mask is not None and mask.mean() > MASK_COVERAGE_WARNING:
            how = ("its opaque area" if polarity == "alpha"
                   else f"read as {polarity} (profile setting mask_polarity = {self.profile.mask_polarity!r})")
            msg = (f"{sample.mask}: the product mask covers {mask.mean():.0%} of the frame, {how}; "
                   "check that it marks the product and not the area to regenerate")
            log.warning("%s", msg)
            warnings.append(msg)
        entry = _Original(img, mask, {}, polarity, warnings)
        entry.nbytes = _nbytes(entry)
        self._cache[key] = entry
        self._trim_cache()
        return entry

    def _item(self, sample: Sample) -> tuple[JudgeItem, _Original]:
        orig = self._original(sample)
        generated = load_image(sample.generated, self.max_image_pixels, max_side=self.decode_side)
        item = JudgeItem(sample, orig.image, generated, orig.mask, orig.cache, self.artifacts_dir,
                         self.artifacts_base)
        return item, orig

    def judge(self, sample: Sample | str | Path, generated: str | Path | None = None,
              mask: str | Path | None = None) -> Verdict:
        """Judge one Sample, or one (original, generated[, mask]) pair of paths."""
        if not isinstance(sample, Sample):
            if generated is None:
                raise TypeError("judge(original, generated) needs both image paths")
            sample = Sample(id=Path(generated).stem, original=str(sample), generated=str(generated),
                            mask=str(mask) if mask else None)
        return self.judge_many([sample])[0]

    def judge_many(self, samples: Iterable[Sample]) -> list[Verdict]:
        """Judge a batch; checks with batched models see the whole batch at once."""
        samples = list(samples)
        verdicts: list[Verdict | None] = [None] * len(samples)
        items: list[tuple[int, JudgeItem]] = []
        originals: dict[int, _Original] = {}
        for i, s in enumerate(samples):
            try:
                item, originals[i] = self._item(s)
                items.append((i, item))
            except HfpcError as e:
                verdicts[i] = self._error(s, str(e))
            except Exception as e:  # noqa: BLE001 - one bad sample must not stop a batch
                log.exception("unexpected error loading %s", s.id)
                verdicts[i] = self._error(s, f"{s.generated}: unexpected error: {e!r}")
        results: dict[int, dict[str, CheckResult]] = {i: {} for i, _ in items}
        failed: dict[int, str] = {}
        for check in self.checks:
            todo = [(i, it) for i, it in items if i not in failed]
            if not todo:
                break
            try:
                out = check.run_batch([it for _, it in todo])
            except Exception:  # noqa: BLE001 - fall back to one by one to isolate the culprit
                out = []
                for i, it in todo:
                    try:
                        out.append(check.run(it))
                    except HfpcError as e:
                        failed[i] = str(e)
                        out.append(None)
                    except Exception as e:  # noqa: BLE001
                        log.exception("check %s failed on %s", check.name, it.sample.id)
                        failed[i] = f"{it.sample.generated}: check {check.name} failed: {e!r}"
                        out.append(None)
            for (i, _), r in zip(todo, out):
                if r is not None:
                    results[i][check.name] = r
        for i, it in items:
            s = it.sample
            orig = originals[i]
            if i in failed:
                verdicts[i] = self._error(s, failed[i], orig)
                continue
            checks = results[i]
            reasons = reasons_of(checks.values(), ignore=self._baselines)
            verdicts[i] = Verdict(s.id, s.original, s.generated, passed=not reasons,
                                  failure=main_failure(reasons), reasons=reasons,
                                  checks=checks, profile=self.profile.name, label=s.label,
                                  mask_polarity=orig.polarity, warnings=list(orig.warnings))
        for orig in {id(o): o for o in originals.values()}.values():
            orig.nbytes = _nbytes(orig)  # with what the checks prepared for it in this batch
        self._trim_cache()
        return [v for v in verdicts if v is not None]

    def iter_judge(self, samples: Iterable[Sample], batch_size: int = 8) -> Iterator[Verdict]:
        """Judge a stream of samples in batches, yielding Verdicts in input order."""
        batch: list[Sample] = []
        for s in samples:
            batch.append(s)
            if len(batch) >= batch_size:
                yield from self.judge_many(batch)
                batch = []
        if batch:
            yield from self.judge_many(batch)

    def _error(self, s: Sample, message: str, orig: _Original | None = None) -> Verdict:
        return Verdict(s.id, s.original, s.generated, passed=None, error=message,
                       profile=self.profile.name, label=s.label,
                       mask_polarity=orig.polarity if orig else None,
                       warnings=list(orig.warnings) if orig else [])
