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


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_image(tmp_path: Path, fmt: str) -> None:
    """A truncated file is named as such (a truncated PNG is left to Pillow, which says so)."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, fmt)
    p = tmp_path / f"t.{fmt.lower()}"
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


def _noise_jpeg(path: Path, w: int, h: int, **kw) -> np.ndarray:
    rng = np.random.default_rng(3)
    small = rng.integers(0, 255, (h // 32, w // 32, 3), dtype=np.uint8)
    rgb = np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR))
    Image.fromarray(rgb).save(path, "JPEG", quality=95, **kw)
    return rgb


def test_reduced_decode_of_large_jpeg(tmp_path: Path) -> None:
    _noise_jpeg(tmp_path / "big.jpg", 4096, 2048)
    full = load_image(tmp_path / "big.jpg")
    assert full.size == (4096, 2048) and full.source_size is None
    small = load_image(tmp_path / "big.jpg", max_side=512)
    assert small.size == (1024, 512) and small.source_size == (4096, 2048)  # 1/4: long side ≥ 2 × 512
    assert small.rgb.nbytes * 16 == full.rgb.nbytes
    # the reduced decode looks like the full image shrunk
    shrunk = np.asarray(Image.fromarray(full.rgb).resize((1024, 512), Image.BOX), dtype=np.float64)
    assert np.abs(small.rgb.astype(np.float64) - shrunk).mean() < 3.0
    # no reduction when it would not halve the image, and never for other formats
    assert load_image(tmp_path / "big.jpg", max_side=1500).size == (4096, 2048)
    Image.fromarray(full.rgb).save(tmp_path / "big.png")
    assert load_image(tmp_path / "big.png", max_side=512).size == (4096, 2048)


def test_reduced_decode_keeps_orientation_and_pixel_guard(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    _noise_jpeg(tmp_path / "rot.jpg", 2048, 1024, exif=exif.tobytes())
    im = load_image(tmp_path / "rot.jpg", max_side=256)
    assert im.size == (128 * 2, 256 * 2) and im.source_size == (1024, 2048)
    with pytest.raises(ImageLoadError, match="exceeds the limit"):
        load_image(tmp_path / "rot.jpg", max_pixels=1_000_000, max_side=256)  # the file's size counts


def _pillow_only(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    with Image.open(path) as im:
        im.load()
        from hfpc.data.images import _to_rgb_alpha

        return _to_rgb_alpha(im)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "RGBA-opaque", "P", "LA", "I;16"])
def test_png_decoded_by_opencv_gives_pillows_pixels(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (23, 31, 4), dtype=np.uint8)
    if mode == "RGBA-opaque":
        rgba[..., 3] = 255
    if mode == "I;16":
        im = Image.fromarray(rng.integers(0, 65535, (23, 31), dtype=np.uint16))
    else:
        im = Image.fromarray(rgba).convert("RGBA" if mode.startswith("RGBA") else mode)
    p = _save(tmp_path / "x.png", im)
    got, want = load_image(p), _pillow_only(p)
    assert np.array_equal(got.rgb, want[0])
    assert (got.alpha is None) == (want[1] is None)
    if want[1] is not None:
        assert np.array_equal(got.alpha, want[1])


def test_png_with_exif_orientation_left_to_pillow(tmp_path: Path) -> None:
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = load_image(_save(tmp_path / "o.png", im, exif=exif.tobytes()))
    assert turned.rgb.shape[:2] == (40, 20)  # Pillow applied the orientation
