"""Real-dev rows for the scene checks' tests, read from the shared folder (never copied)."""

from __future__ import annotations

import json
from pathlib import Path

from hfpc.checks.base import JudgeItem
from hfpc.checks.consistency import ConsistencyCheck
from hfpc.consistency.config import ConsistencySettings
from hfpc.data.images import load_image, read_mask
from hfpc.types import Sample

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real-dev"


def located_item(row: str) -> JudgeItem:
    """The row's pair as a check sees it after the consistency check has located its product."""
    meta = next(json.loads(line) for line in (REAL / "manifest.jsonl").open() if json.loads(line)["id"] == row)
    orig = load_image(REAL / meta["original"])
    gen = load_image(REAL / meta["generated"])
    mask = read_mask(REAL / meta["mask"])[0] if meta.get("mask") else orig.alpha
    item = JudgeItem(Sample(row, "o", "g"), orig, gen, mask)
    ConsistencyCheck(ConsistencySettings()).run(item)
    return item
