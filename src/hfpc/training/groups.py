"""Groups of (original, passed generations, failed generations) and splits by original."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from hfpc.types import Sample


@dataclass
class Group:
    """All labelled generations of one original."""

    original: str
    passed: list[Sample] = field(default_factory=list)
    failed: list[Sample] = field(default_factory=list)

    @property
    def samples(self) -> list[Sample]:
        """Passed then failed samples."""
        return self.passed + self.failed

    def pairs(self) -> list[tuple[Sample, Sample]]:
        """Every (passed, failed) pair: the ranking loss's comparisons."""
        return [(p, f) for p in self.passed for f in self.failed]


def build_groups(samples: list[Sample]) -> list[Group]:
    """Group labelled samples by original (unlabelled samples are skipped), in first-seen order."""
    groups: OrderedDict[str, Group] = OrderedDict()
    for s in samples:
        if s.label is None:
            continue
        g = groups.setdefault(s.original, Group(s.original))
        (g.passed if s.label == 1 else g.failed).append(s)
    return list(groups.values())


def split_by_original(samples: list[Sample], val_fraction: float = 0.1, seed: int = 0
                      ) -> tuple[list[Sample], list[Sample]]:
    """Train/validation split in which no original appears on both sides."""
    originals = sorted({s.original for s in samples})
    rng = np.random.default_rng(seed)
    rng.shuffle(originals)
    n_val = max(1, int(round(val_fraction * len(originals)))) if len(originals) > 1 else 0
    val = set(originals[:n_val])
    return [s for s in samples if s.original not in val], [s for s in samples if s.original in val]
