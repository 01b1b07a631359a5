"""Verdicts on real generated images do not flip under changes a reviewer would not notice.

Each row is judged with its generated image re-saved as JPEG, downscaled to 3/4 and mirrored
(copies in a temporary folder; the images are read from the shared folder, never copied into
the repository). Both directions: a stretched chair and a TV caption painted into the scene
stay rejected, a good chair stays accepted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hfpc import Profile, read_manifest, read_results, run_filter
from tests.shared_data import REAL_DEV, load_benchmark

pytestmark = pytest.mark.skipif(not (REAL_DEV / "manifest.jsonl").exists(), reason=f"{REAL_DEV} is not here")

ROWS = {"ck_chair_wall": False, "oc_oranges_tv": False, "ad_chair_homeoffice": True}


@pytest.mark.parametrize("change", ["jpeg", "down", "mirror"])
def test_verdicts_hold_under_benign_changes(change: str, tmp_path: Path) -> None:
    bench = load_benchmark("real_dev_robustness")
    manifest = bench.perturbed_copy(REAL_DEV, tmp_path / change, bench.PERTURBATIONS[change], set(ROWS))
    out = tmp_path / "results.jsonl"
    run_filter(read_manifest(manifest), out, Profile(), workers=1, overwrite=True)
    rows = {r["id"]: r for r in read_results(out)}
    assert set(rows) == set(ROWS)
    got = {i: rows[i]["passed"] for i in ROWS}
    assert got == ROWS, {i: rows[i]["checks"] for i in ROWS if got[i] != ROWS[i]}
