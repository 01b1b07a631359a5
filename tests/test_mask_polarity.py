"""Mask polarity: hfpc reads white = product, inpainting tools write white = area to regenerate."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hfpc import Judge, Profile
from hfpc.data.images import detect_mask_polarity, load_image, load_mask, read_mask
from hfpc.errors import ProfileError
from hfpc.types import Sample


def _square(h: int = 60, w: int = 80, box: tuple[int, int, int, int] = (20, 20, 40, 50)) -> np.ndarray:
    m = np.zeros((h, w), bool)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = True
    return m


@pytest.mark.parametrize("box", [(20, 40, 20, 50), (30, 60, 10, 70), (0, 60, 25, 55), (5, 60, 0, 45)])
def test_auto_finds_the_product_side(box: tuple[int, int, int, int]) -> None:
    """Centred, standing on the bottom edge, cut by top and bottom, in a corner: product is found."""
    product = _square(box=box)
    assert detect_mask_polarity(product) == "product_white"
    assert detect_mask_polarity(~product) == "product_black"


def test_auto_large_background_wins_when_the_border_is_split() -> None:
    # the left half of the border is white, the right half black: the larger region is background
    m = np.zeros((60, 80), bool)
    m[:, :44] = True
    assert detect_mask_polarity(m) == "product_black"
    assert detect_mask_polarity(~m) == "product_white"


def test_uniform_masks_keep_the_reading_convention() -> None:
    assert detect_mask_polarity(np.zeros((10, 10), bool)) == "product_white"
    assert detect_mask_polarity(np.ones((10, 10), bool)) == "product_white"


def _write_masks(tmp_path: Path, sample: Sample) -> tuple[Path, Path]:
    """White-product and black-product (inpainting-style) grayscale masks of a sample."""
    alpha = load_mask(sample.mask)
    white = tmp_path / f"{sample.id}_white.png"
    black = tmp_path / f"{sample.id}_black.png"
    Image.fromarray(np.where(alpha, 255, 0).astype(np.uint8)).save(white)
    Image.fromarray(np.where(alpha, 0, 255).astype(np.uint8)).save(black)
    return white, black


def test_read_mask_settings(tmp_path: Path, demo_samples: list[Sample]) -> None:
    s = demo_samples[0]
    white, black = _write_masks(tmp_path, s)
    product = load_mask(s.mask)
    for path in (white, black):
        m, used = read_mask(path, polarity="auto")
        assert np.array_equal(m, product)
        assert used == ("product_white" if path == white else "product_black")
    m, used = read_mask(black, polarity="product_white")
    assert used == "product_white" and np.array_equal(m, ~product)
    m, used = read_mask(white, polarity="product_black")
    assert used == "product_black" and np.array_equal(m, ~product)
    # an alpha channel always means opaque = product, whatever the setting
    m, used = read_mask(s.mask, polarity="product_black")
    assert used == "alpha" and np.array_equal(m, product)
    assert np.array_equal(load_mask(white), product)  # the plain reader keeps white = product


@pytest.mark.parametrize("kind", ["good", "altered_recolour", "missing"])
def test_black_product_mask_gives_the_same_verdict(tmp_path: Path, demo_samples: list[Sample], kind: str) -> None:
    s = next(x for x in demo_samples if x.meta["kind"] == kind)
    white, black = _write_masks(tmp_path, s)
    judge = Judge()
    vw = judge.judge(Sample(s.id, s.original, s.generated, str(white)))
    vb = judge.judge(Sample(s.id, s.original, s.generated, str(black)))
    assert vw.error is None and vb.error is None
    assert vw.passed == vb.passed
    cw, cb = vw.checks["consistency"], vb.checks["consistency"]
    assert (cw.passed, cw.value, cw.failure) == (cb.passed, cb.value, cb.failure)
    assert vw.to_row()["mask_polarity"] == "product_white"
    assert vb.to_row()["mask_polarity"] == "product_black"
    assert vw.warnings == [] and vb.warnings == []


def test_explicit_setting_overrides_auto_and_warns(tmp_path: Path, demo_samples: list[Sample],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    s = next(x for x in demo_samples if x.meta["kind"] == "good")
    white, black = _write_masks(tmp_path, s)
    forced = Judge(Profile(mask_polarity="product_white"))
    with caplog.at_level(logging.WARNING, logger="hfpc.judge"):
        v = forced.judge(Sample(s.id, s.original, s.generated, str(black)))
    row = v.to_row()
    assert row["mask_polarity"] == "product_white"
    # read as white = product, the inpainting mask marks the background: the product covers most of the frame
    assert len(row["warnings"]) == 1 and str(black) in row["warnings"][0] and "mask_polarity" in row["warnings"][0]
    assert any(str(black) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    v = Judge(Profile(mask_polarity="product_black")).judge(Sample(s.id, s.original, s.generated, str(white)))
    assert v.to_row()["mask_polarity"] == "product_black" and v.warnings
    v = Judge(Profile(mask_polarity="product_black")).judge(Sample(s.id, s.original, s.generated, str(black)))
    assert v.to_row()["mask_polarity"] == "product_black" and not v.warnings
    good = Judge().judge(Sample(s.id, s.original, s.generated, str(white)))
    assert v.checks["consistency"].value == good.checks["consistency"].value


def test_no_mask_file_records_null(demo_samples: list[Sample]) -> None:
    s = demo_samples[0]
    row = Judge().judge(Sample(s.id, s.original, s.generated)).to_row()
    assert row["mask_polarity"] is None and row["warnings"] == []
    row = Judge().judge(s).to_row()  # the demo set's masks are RGBA cut-outs
    assert row["mask_polarity"] == "alpha"
    assert load_image(s.mask).alpha is not None


def test_profile_setting_roundtrips_and_is_validated(tmp_path: Path) -> None:
    p = Profile(mask_polarity="product_black")
    assert Profile.from_toml(p.save(tmp_path / "p.toml")).mask_polarity == "product_black"
    assert Profile().mask_polarity == "auto"
    (tmp_path / "bad.toml").write_text('mask_polarity = "black"\n')
    with pytest.raises(ProfileError, match="mask_polarity"):
        Profile.from_toml(tmp_path / "bad.toml")
