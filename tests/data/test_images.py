from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hfpc.data.images import load_image, load_mask, save_image
from hfpc.errors import ImageLoadError


def _save(path: Path, im: Image.Image, **kw) -> Path:
    im.save(path, **kw)
    return path


def test_rgb_roundtrip(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    save_image(tmp_path / "a.png", arr)
    img = load_image(tmp_path / "a.png")
    assert img.rgb.shape == (20, 30, 3) and img.alpha is None
    assert np.array_equal(img.rgb, arr)
    assert img.size == (30, 20)


def test_exif_orientation_applied(tmp_path: Path) -> None:
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 10, 20))  # blue stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    p = _save(tmp_path / "o.jpg", im, exif=exif.tobytes(), quality=95)
    img = load_image(p)
    assert img.rgb.shape[:2] == (40, 20)  # portrait after transposing
    assert img.rgb[2, 10, 2] > 200  # the blue stripe is now at the top


@pytest.mark.parametrize("mode", ["P", "CMYK", "L", "I;16", "LA", "RGBA", "1"])
def test_modes_convert_to_rgb(tmp_path: Path, mode: str) -> None:
    base = Image.new("RGB", (16, 12), (200, 100, 50))
    if mode == "I;16":
        im = Image.fromarray(np.full((12, 16), 40000, np.uint16))
    elif mode in ("LA", "RGBA"):
        im = base.convert(mode)
        a = Image.new("L", (16, 12), 0)
        a.paste(255, (4, 4, 12, 10))
        im.putalpha(a)
    else:
        im = base.convert(mode)
    ext = "tif" if mode == "CMYK" else "png"
    p = _save(tmp_path / f"m.{ext}", im)
    img = load_image(p)
    assert img.rgb.dtype == np.uint8 and img.rgb.shape == (12, 16, 3)
    if mode in ("LA", "RGBA"):
        assert img.alpha is not None and img.alpha.sum() == 8 * 6
    else:
        assert img.alpha is None
    if mode == "I;16":
        assert abs(int(img.rgb[0, 0, 0]) - round(40000 / 65535 * 255)) <= 1


def test_palette_with_transparency_gives_mask(tmp_path: Path) -> None:
    im = Image.new("P", (10, 10), 0)
    im.putpalette([255, 255, 255, 255, 0, 0] + [0] * 762)
    im.paste(1, (2, 2, 6, 6))
    im.info["transparency"] = 0
    p = _save(tmp_path / "p.png", im, transparency=0)
    img = load_image(p)
    assert img.alpha is not None and img.alpha.sum() == 16


def test_load_mask_from_grayscale(tmp_path: Path) -> None:
    m = np.zeros((8, 8), np.uint8)
    m[2:5, 2:5] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    assert load_mask(tmp_path / "m.png").sum() == 9


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda p: None, "file not found"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not an image"), "not an image"),
        (lambda p: p.mkdir(), "directory"),
    ],
)
def test_bad_files_name_file_and_reason(tmp_path: Path, setup, reason: str) -> None:
    p = tmp_path / "bad.png"
    setup(p)
    with pytest.raises(ImageLoadError) as e:
        load_image(p)
    assert str(p) in str(e.value) and reason in str(e.value)


def test_truncated_image(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    p = tmp_path / "t.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(p)


def test_pixel_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _save(tmp_path / "big.png", Image.new("RGB", (100, 100)))
    with pytest.raises(ImageLoadError, match="exceeds the limit of 5,000"):
        load_image(p, max_pixels=5000)
    monkeypatch.setenv("HFPC_MAX_IMAGE_PIXELS", "9999")
    with pytest.raises(ImageLoadError, match="HFPC_MAX_IMAGE_PIXELS"):
        load_image(p)
    monkeypatch.setenv("HFPC_MAX_IMAGE_PIXELS", "10000")
    assert load_image(p).rgb.shape == (100, 100, 3)
