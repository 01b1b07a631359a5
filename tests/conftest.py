"""Shared fixtures: a small synthetic demo set, built once per session in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from hfpc.data.manifests import read_manifest
from hfpc.data.synth import KINDS, generate_demo_set
from hfpc.types import Sample

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def _state_in_temp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Caches and state go to a temp dir: tests never write into the user's home."""
    import os

    os.environ["HFPC_CACHE_DIR"] = str(tmp_path_factory.mktemp("hfpc-cache"))


@pytest.fixture(scope="session")
def demo_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """26 samples, two of every kind, seed 3 (the benchmarks use other seeds)."""
    root = tmp_path_factory.mktemp("demo")
    return generate_demo_set(root, n=2 * len(KINDS), seed=3, kinds=dict.fromkeys(KINDS, 1))


@pytest.fixture(scope="session")
def demo_samples(demo_set: Path) -> list[Sample]:
    return read_manifest(demo_set)
