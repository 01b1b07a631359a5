"""The Check protocol and the one registry of checks.

A check is a class with a ``name``, a pydantic ``Settings`` model (its Profile section, unknown
keys rejected) and ``run(item) -> CheckResult``. Adding a check means one module and one line in
:data:`REGISTRY`; the registry imports lazily so that heavy dependencies load only when used.
"""

from __future__ import annotations

import difflib
import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from hfpc.data.images import LoadedImage
from hfpc.errors import ProfileError
from hfpc.types import CheckResult, Sample

REGISTRY: dict[str, str] = {
    "consistency": "hfpc.checks.consistency:ConsistencyCheck",
    "text": "hfpc.checks.text:TextCheck",
    "placement": "hfpc.checks.placement:PlacementCheck",
    "distinct": "hfpc.checks.distinct:DistinctCheck",
    "reward": "hfpc.checks.reward:RewardCheck",
    "taxonomy": "hfpc.checks.taxonomy_check:TaxonomyCheck",
    "clip_score": "hfpc.evaluation.baselines:ClipScoreCheck",
    "clip_iqa": "hfpc.evaluation.baselines:ClipIqaCheck",
}
"""Check name → ``module:Class``. Built-in checks register here like any other."""


@dataclass
class JudgeItem:
    """What a check sees for one sample: the decoded images and a per-original cache."""

    sample: Sample
    original: LoadedImage
    generated: LoadedImage
    mask: np.ndarray | None
    original_cache: dict[str, Any] = field(default_factory=dict)
    artifacts_dir: Path | None = None
    artifacts_base: Path | None = None
    shared: dict[str, Any] = field(default_factory=dict)
    """What earlier checks found for this sample and later ones may use (the consistency check
    leaves its report under ``"consistency"``: where each product is in the generated image)."""

    def artifact_path(self, check: str, suffix: str = ".png") -> tuple[Path, str] | None:
        """Where ``check`` should write this sample's artifact, and the path to record."""
        if self.artifacts_dir is None:
            return None
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.sample.id)
        p = self.artifacts_dir / check / f"{safe}{suffix}"
        base = self.artifacts_base
        rel = str(p.relative_to(base)) if base is not None and p.is_relative_to(base) else str(p)
        return p, rel


class Check(ABC):
    """Base class of every check: settings in, a CheckResult per sample out."""

    name: ClassVar[str]
    Settings: ClassVar[type[BaseModel]]
    failure: ClassVar[str] = "failed_check"
    description: ClassVar[str] = ""
    default_enabled: ClassVar[bool] = True
    process_parallel: ClassVar[bool] = True
    """False for checks that run a model: they use all cores themselves and batch in one process."""
    baseline: ClassVar[bool] = False
    """True for comparison scorers: recorded in the row, never part of the pass/fail decision."""

    def __init__(self, settings: BaseModel) -> None:
        self.settings = settings

    def working_side(self) -> int | None:
        """Long side, in pixels, that this check works at or below (its ``max_side`` or ``work_side``
        setting); None when it needs the images as decoded. The Judge decodes large JPEGs at a
        reduced scale only when every enabled check declares one."""
        for name in ("max_side", "work_side"):
            side = getattr(self.settings, name, None)
            if isinstance(side, int) and side > 0:
                return side
        return None

    @abstractmethod
    def run(self, item: JudgeItem) -> CheckResult:
        """Judge one sample."""

    def run_batch(self, items: list[JudgeItem]) -> list[CheckResult]:
        """Judge several samples; checks with batched models override this."""
        return [self.run(item) for item in items]


def check_names() -> list[str]:
    """Names of every registered check."""
    return sorted(REGISTRY)


def get_check_class(name: str) -> type[Check]:
    """The Check class registered under ``name``; unknown names get a "did you mean"."""
    target = REGISTRY.get(name)
    if target is None:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ProfileError(f"unknown check {name!r}; known checks: {', '.join(check_names())}.{hint}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)
