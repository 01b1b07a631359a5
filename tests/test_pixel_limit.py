"""One source of truth for the decoding limit: CLI flag over profile over HFPC_MAX_IMAGE_PIXELS,
and Pillow's own guard never overrides it (neither tighter nor looser)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from hfpc.cli import app
from hfpc.data.images import load_image
from hfpc.errors import ImageLoadError
from hfpc.types import Sample


def _png(path: Path, side: int) -> Path:
    Image.fromarray(np.full((side, side, 3), 128, np.uint8)).save(path)
    return path


def test_hfpc_limit_not_pillows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = _png(tmp_path / "a.png", 100)  # 10,000 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow alone would call this a bomb
    assert load_image(img, max_pixels=1_000_000).rgb.shape == (100, 100, 3)
    with pytest.raises(ImageLoadError, match="exceeds the limit of 5,000"):
        load_image(img, max_pixels=5000)
    assert Image.MAX_IMAGE_PIXELS == 1000  # restored after the call


def test_cli_flag_wins_over_profile_and_environment(tmp_path: Path, demo_samples: list[Sample],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFPC_MAX_IMAGE_PIXELS", "100000000")
    s = next(x for x in demo_samples if x.meta["kind"] == "good")
    profile = tmp_path / "p.toml"
    profile.write_text("max_image_pixels = 100000000\n[checks.consistency]\n")
    r = CliRunner().invoke(app, ["judge", s.original, s.generated, "--json", "-p", str(profile),
                                 "--max-image-pixels", "100"])
    assert r.exit_code != 0
    assert "exceeds the limit of 100" in r.output
    r = CliRunner().invoke(app, ["judge", s.original, s.generated, "--json", "-p", str(profile)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["passed"] is True


def test_bad_environment_value_is_one_clear_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from hfpc.types import Verdict

    img = _png(tmp_path / "a.png", 32)
    rows = tmp_path / "r.jsonl"
    rows.write_text(json.dumps(Verdict("a", str(img), str(img), passed=True).to_row()) + "\n")
    env = dict(os.environ, HFPC_MAX_IMAGE_PIXELS="lots")
    code = "from hfpc.cli import main; main()"
    r = subprocess.run([sys.executable, "-c", code, "report", str(rows), "-o", str(tmp_path / "r.html")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert "HFPC_MAX_IMAGE_PIXELS must be a positive whole number" in r.stderr
    assert "Traceback" not in r.stderr
