"""Verdicts on real generated images do not flip under changes a reviewer would not notice.

Each row is judged with its generated image re-saved as JPEG, downscaled to 3/4 and mirrored
(copies in a temporary folder; the images are read from the shared folder, never copied into
the repository). Both directions: a stretched chair and a TV caption painted into the scene
stay rejected, a good chair stays accepted.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from hfpc import Profile, read_manifest, read_results, run_filter

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-dev"

pytestmark = pytest.mark.skipif(not (DATA / "manifest.jsonl").exists(), reason=f"{DATA} is not here")

ROWS = {"ck_chair_wall": False, "oc_oranges_tv": False, "ad_chair_homeoffice": True}


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "real_dev_robustness", Path(__file__).resolve().parents[1] / "benchmarks" / "real_dev_robustness.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("change", ["jpeg", "down", "mirror"])
def test_verdicts_hold_under_benign_changes(change: str, tmp_path: Path) -> None:
    bench = _benchmark()
    manifest = bench.perturbed_copy(DATA, tmp_path / change, bench.PERTURBATIONS[change], set(ROWS))
    out = tmp_path / "results.jsonl"
    run_filter(read_manifest(manifest), out, Profile(), workers=1, overwrite=True)
    rows = {r["id"]: r for r in read_results(out)}
    assert set(rows) == set(ROWS)
    got = {i: rows[i]["passed"] for i in ROWS}
    assert got == ROWS, {i: rows[i]["checks"] for i in ROWS if got[i] != ROWS[i]}
