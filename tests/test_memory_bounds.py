"""Memory bounds: the Judge's cache of decoded originals is limited in bytes, not only in entries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hfpc.judge import Judge
from hfpc.types import Sample


def _pairs(tmp_path: Path, n: int, side: int) -> list[Sample]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        rgb = np.full((side, side, 3), 235, np.uint8)
        rgb[side // 4:3 * side // 4, side // 3:2 * side // 3] = rng.integers(0, 255, 3)
        Image.fromarray(rgb).save(tmp_path / f"o{i}.png")
        Image.fromarray(rgb).save(tmp_path / f"g{i}.png")
        out.append(Sample(f"s{i}", str(tmp_path / f"o{i}.png"), str(tmp_path / f"g{i}.png")))
    return out


def _held(judge: Judge) -> int:
    return sum(e.image.rgb.nbytes for e in judge._cache.values())


def test_original_cache_is_bounded_in_bytes(tmp_path: Path) -> None:
    samples = _pairs(tmp_path, 6, 256)  # 196,608 bytes of RGB per original
    judge = Judge(cache_bytes=450_000)
    for v in judge.iter_judge(samples, batch_size=2):
        assert v.error is None
    assert _held(judge) <= 450_000 and len(judge._cache) >= 1
    assert judge.cache_nbytes() <= 450_000
    # the most recent original stays cached even when it alone is over the limit
    tiny = Judge(cache_bytes=1)
    tiny.judge(samples[0])
    assert len(tiny._cache) == 1
    tiny.judge(samples[1])
    assert len(tiny._cache) == 1 and next(iter(tiny._cache))[0] == samples[1].original


def test_cache_bytes_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _pairs(tmp_path, 4, 256)
    monkeypatch.setenv("HFPC_CACHE_BYTES", "300_000")
    judge = Judge()
    judge.judge_many(samples)
    assert len(judge._cache) == 1
    monkeypatch.setenv("HFPC_CACHE_BYTES", "lots")
    with pytest.raises(Exception, match="HFPC_CACHE_BYTES"):
        Judge()


def test_default_cache_limit_is_512_mb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HFPC_CACHE_BYTES", raising=False)
    assert Judge().cache_bytes == 512 * 2**20


def _big_pair(tmp_path: Path, side: int, changed: bool) -> Sample:
    rng = np.random.default_rng(1)
    rgb = np.full((side, side, 3), 240, np.uint8)
    y0, y1, x0, x1 = side // 4, 3 * side // 4, side // 3, 2 * side // 3
    tex = rng.integers(40, 200, (16, 8, 3), dtype=np.uint8)
    rgb[y0:y1, x0:x1] = np.asarray(Image.fromarray(tex).resize((x1 - x0, y1 - y0), Image.NEAREST))
    mask = np.zeros((side, side), np.uint8)
    mask[y0:y1, x0:x1] = 255
    gen = rgb.copy()
    gen[: side // 5] = (90, 140, 200)  # a new background at the top
    if changed:
        gen[y0 + (y1 - y0) // 3: y1 - (y1 - y0) // 3, x0:x1] = (200, 30, 30)
    tag = "c" if changed else "u"
    Image.fromarray(rgb).save(tmp_path / f"o{tag}.jpg", quality=95)
    Image.fromarray(mask).save(tmp_path / f"m{tag}.png")
    Image.fromarray(gen).save(tmp_path / f"g{tag}.jpg", quality=92)
    return Sample(tag, str(tmp_path / f"o{tag}.jpg"), str(tmp_path / f"g{tag}.jpg"), str(tmp_path / f"m{tag}.png"))


def test_judge_decodes_large_jpegs_at_reduced_scale(tmp_path: Path) -> None:
    samples = [_big_pair(tmp_path, 2048, changed=False), _big_pair(tmp_path, 2048, changed=True)]
    reduced, full = Judge(), Judge(reduced_decode=False)
    assert reduced.decode_side == 512 and full.decode_side is None
    a, b = reduced.judge_many(samples), full.judge_many(samples)
    assert [v.error for v in a] == [None, None]
    entry = reduced._cache[(samples[0].original, samples[0].mask)]
    assert entry.image.size == (1024, 1024) and entry.image.source_size == (2048, 2048)
    assert entry.mask is not None and entry.mask.shape == (1024, 1024)  # the full-size mask file follows
    assert full._cache[(samples[0].original, samples[0].mask)].image.size == (2048, 2048)
    # the product check decides the same (the product hangs mid-frame: placement rightly fails both)
    consistency = [[v.checks["consistency"].passed for v in x] for x in (a, b)]
    assert consistency[0] == consistency[1] == [True, False]
    for x, y in zip(a, b):
        assert abs(x.checks["consistency"].value - y.checks["consistency"].value) < 0.02


def test_no_reduced_decode_without_a_declared_working_side() -> None:
    from hfpc.profile import Profile

    assert Judge(Profile(checks={"consistency": {"enabled": False}})).decode_side is None
    assert Judge(Profile(checks={"consistency": {"max_side": 1024}})).decode_side == 1024


def test_mask_of_wrong_size_still_refused_after_reduced_decode(tmp_path: Path) -> None:
    s = _big_pair(tmp_path, 2048, changed=False)
    Image.new("L", (1024, 1024), 255).save(tmp_path / "small_mask.png")
    v = Judge().judge(Sample("x", s.original, s.generated, str(tmp_path / "small_mask.png")))
    assert v.error is not None and "mask is 1024×1024 but the original is 2048×2048" in v.error


def test_reduced_decode_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFPC_REDUCED_DECODE", "0")
    assert Judge().decode_side is None
    assert Judge(reduced_decode=True).decode_side == 512


def test_default_workers_bounded_by_cores_and_memory(monkeypatch) -> None:
    from hfpc import results

    monkeypatch.setattr(results.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5, 6, 7}, raising=False)
    monkeypatch.setattr(results, "available_memory", lambda: 64 * 2**30)
    assert results.default_workers() == 8
    monkeypatch.setattr(results, "available_memory", lambda: 2 * results.WORKER_BYTES + 1)
    assert results.default_workers() == 2
    monkeypatch.setattr(results, "available_memory", lambda: 10)
    assert results.default_workers() == 1
    monkeypatch.setattr(results, "available_memory", lambda: None)
    assert results.default_workers() == 8


def test_available_memory_reads_this_machine() -> None:
    from hfpc.results import available_memory

    mem = available_memory()
    assert mem is not None and 2**20 < mem < 2**50
