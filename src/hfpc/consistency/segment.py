"""The Segmenter protocol and its backend registry.

A segmenter turns an original (working resolution, RGB) and an optional product mask into one
boolean mask per product and a short word saying how they were obtained (``mask``, ``border``,
``border+grabcut``…). The Profile's ``checks.consistency.backend`` names the backend; a new one
is one module plus one line in :data:`SEGMENTERS`.
"""

from __future__ import annotations

import functools
import importlib
from typing import Protocol

import numpy as np

from hfpc.consistency.config import ConsistencySettings
from hfpc.errors import ProfileError

SEGMENTERS: dict[str, str] = {
    "classic": "hfpc.consistency.segment_classic:ClassicSegmenter",
    "grounded-sam": "hfpc.consistency.segment_grounded:GroundedSamSegmenter",
}
"""Backend name → ``module:Class``; imported only when chosen."""


class Segmenter(Protocol):
    """Product masks of an original image."""

    def __init__(self, settings: ConsistencySettings) -> None: ...

    def segment(self, rgb: np.ndarray, mask: np.ndarray | None) -> tuple[list[np.ndarray], str]:
        """One mask per product (largest first) and how they were obtained."""
        ...


class GeneratedSegmenter(Segmenter, Protocol):
    """A segmenter that also finds products in generated images: its masks there propose where
    each product went (the search still runs when none of them convinces)."""

    def segment_many(self, images: list[np.ndarray]) -> list[list[np.ndarray]]:
        """Product masks of each image, largest first."""
        ...


def get_segmenter(settings: ConsistencySettings) -> Segmenter:
    """The segmenter the settings name, built with those settings."""
    target = SEGMENTERS.get(settings.backend)
    if target is None:
        raise ProfileError(f"unknown segmentation backend {settings.backend!r}; "
                           f"known: {', '.join(sorted(SEGMENTERS))}")
    module, cls = target.split(":")
    return _segmenter_class(module, cls)(settings)


@functools.cache
def _segmenter_class(module: str, cls: str) -> type:
    return getattr(importlib.import_module(module), cls)
