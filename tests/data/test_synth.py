from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from hfpc.data.images import load_image
from hfpc.data.synth import KINDS, generate_demo_set, kind_schedule, make_sample
from hfpc.types import Sample


def test_every_kind_present_with_labels(demo_samples: list[Sample]) -> None:
    kinds = {s.meta["kind"] for s in demo_samples}
    assert kinds == set(KINDS)
    for s in demo_samples:
        label, failure = KINDS[s.meta["kind"]]
        assert s.label == label and s.failure == failure
        assert Path(s.original).exists() and Path(s.generated).exists() and Path(s.mask).exists()


def test_cutout_alpha_matches_white_original(demo_samples: list[Sample]) -> None:
    s = demo_samples[0]
    cut = load_image(s.mask)
    white = load_image(s.original)
    assert cut.alpha is not None and 0.01 < cut.alpha.mean() < 0.6
    outside = white.rgb[~cut.alpha]
    assert outside.mean() > 245  # white background where the cut-out is transparent


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    def digest(root: Path) -> str:
        h = hashlib.sha256()
        for p in sorted(root.rglob("*")):
            if p.is_file():
                h.update(p.name.encode() + p.read_bytes())
        return h.hexdigest()

    a = generate_demo_set(tmp_path / "a", n=4, seed=11, size=128).parent
    b = generate_demo_set(tmp_path / "b", n=4, seed=11, size=128).parent
    c = generate_demo_set(tmp_path / "c", n=4, seed=12, size=128).parent
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)


def test_kind_schedule_proportions() -> None:
    sched = kind_schedule(180, seed=0)
    assert sched.count("good") == 50 and sched.count("moved") == 20
    assert sorted(sched) != sched  # shuffled


def test_missing_kind_removes_product() -> None:
    s = make_sample(np.random.default_rng([5, 0]), 256, "missing")
    g = make_sample(np.random.default_rng([5, 0]), 256, "good")
    assert np.array_equal(s.original, g.original)
    assert not np.array_equal(s.generated, g.generated)
