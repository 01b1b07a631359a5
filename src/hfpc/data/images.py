"""The one place where hfpc reads images: decode, validate, orient, RGBA → RGB + alpha mask.

Every failure raises :class:`~hfpc.errors.ImageLoadError` naming the file and the reason, so a
batch can record it as an error row and go on.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from hfpc.errors import ImageLoadError
from hfpc.settings import int_from_env

DEFAULT_MAX_PIXELS = 64_000_000
"""Largest image (width × height) accepted by default; guards against decompression bombs.
Override per call or with the ``HFPC_MAX_IMAGE_PIXELS`` environment variable."""

MaskPolarity = Literal["auto", "product_white", "product_black"]
"""How a grayscale mask file marks the product: white, black, or decided from the mask itself."""

MASK_COVERAGE_WARNING = 0.75
"""A product mask covering more than this share of the frame is probably inverted: warn."""

_BORDER_DECISIVE = 0.6
"""Auto polarity: the side holding at least this share of the border pixels is background."""


@dataclass
class LoadedImage:
    """An image as hfpc works with it: RGB uint8 (H×W×3) and, if it had alpha, a bool mask."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    path: str
    source_size: tuple[int, int] | None = None
    """(width, height) of the image in its file, after orientation, when the pixels were decoded
    at a reduced size (``load_image(..., max_side=...)``); None when decoded at full size."""

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgb.shape[1], self.rgb.shape[0]


def max_pixels_default() -> int:
    """The pixel-count guard in force: the environment override or the built-in default."""
    return int_from_env("HFPC_MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS, 1, "pixels")


REDUCED_DECODE_MARGIN = 2
"""A reduced decode keeps at least this many times the working side, so that the final
downscale to the working side still averages several decoded pixels per output pixel."""


_OWN_PIXEL_LIMIT = threading.Lock()


def load_image(path: str | os.PathLike[str], max_pixels: int | None = None,
               max_side: int | None = None) -> LoadedImage:
    """Read an image file into RGB + optional alpha mask, with EXIF orientation applied.

    Palette, CMYK, 16-bit, grayscale and LA/RGBA images are converted; an alpha channel that
    is not fully opaque becomes the product mask (alpha ≥ 128).

    ``max_side`` (opt-in) says the caller works at a long side of at most that many pixels: a
    JPEG much larger than that is then decoded at a reduced scale (1/2, 1/4 or 1/8, by the
    decoder itself, so the full-size pixels never exist), keeping a long side of at least
    ``REDUCED_DECODE_MARGIN × max_side``. Other formats are decoded in full. The pixel guard
    applies to the size in the file either way; ``source_size`` records it when reduced.
    """
    p = Path(path)
    limit = max_pixels_default() if max_pixels is None else max_pixels
    if not p.exists():
        raise ImageLoadError(p, "file not found")
    if p.is_dir():
        raise ImageLoadError(p, "is a directory, not an image file")
    if p.stat().st_size == 0:
        raise ImageLoadError(p, "file is empty (0 bytes)")
    try:
        with _OWN_PIXEL_LIMIT:
            # hfpc's limit (checked below, before any pixel is decoded) is the one that applies:
            # Pillow's own guard would refuse what a user allowed, or allow what they did not
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                im = Image.open(p)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except UnidentifiedImageError:
        raise ImageLoadError(p, "not an image PIL can decode (unknown or corrupt format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(p, "image is too large to decode safely (decompression bomb guard)") from None
    except OSError as e:
        raise ImageLoadError(p, f"cannot open: {e}") from None
    with im:
        w, h = im.size
        if w * h > limit:
            raise ImageLoadError(
                p,
                f"{w}×{h} = {w * h:,} pixels exceeds the limit of {limit:,} "
                "(raise it with max_pixels= or HFPC_MAX_IMAGE_PIXELS)",
            )
        if w == 0 or h == 0:
            raise ImageLoadError(p, "image has zero width or height")
        reduced = False
        if max_side is not None and im.format in ("JPEG", "MPO"):
            f = REDUCED_DECODE_MARGIN * max_side / max(w, h)
            if f <= 0.5:  # the decoder can at least halve it
                with contextlib.suppress(Exception):  # a reduced decode is only an optimisation
                    reduced = im.draft("RGB" if im.mode in ("RGB", "YCbCr") else im.mode,
                                       (math.ceil(w * f), math.ceil(h * f))) is not None
        if im.format == "PNG" and not reduced:
            fast = _decode_png(p, im)
            if fast is not None:
                return LoadedImage(rgb=fast[0], alpha=fast[1], path=str(p))
        try:
            im.load()
        except OSError as e:
            raise ImageLoadError(p, f"truncated or corrupt image data ({e})") from None
        source = (w, h)
        with contextlib.suppress(Exception):  # a broken EXIF block must not lose the image
            before = im.size
            ImageOps.exif_transpose(im, in_place=True)  # in place: no copy when there is nothing to turn
            if im.size == before[::-1] and before[0] != before[1]:
                source = (h, w)
        rgb, alpha = _to_rgb_alpha(im)
    return LoadedImage(rgb=rgb, alpha=alpha, path=str(p), source_size=source if reduced else None)


_PNG_MODES = {0: "L", 2: "RGB", 6: "RGBA"}
"""PNG colour types (IHDR) that :func:`_decode_png` takes, with the mode Pillow opens them in."""


def _decode_png(p: Path, im: Image.Image) -> tuple[np.ndarray, np.ndarray | None] | None:
    """RGB and alpha of an 8-bit grey, RGB or RGBA PNG, decoded by OpenCV; None to leave it to Pillow.

    PNG is lossless, so any decoder gives the same pixels; OpenCV's takes about 40 % less time.
    Pillow keeps every other PNG: other bit depths and colour types, a transparency chunk, EXIF
    (whose orientation Pillow applies), and a file OpenCV cannot read (it then reports why).
    """
    if "transparency" in im.info or "exif" in im.info:
        return None
    data = p.read_bytes()
    if data[12:16] != b"IHDR" or data[24] != 8 or _PNG_MODES.get(data[25]) != im.mode:
        return None
    if b"eXIf" in data or b"Raw profile type exif" in data:
        return None
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[im.mode]
    if (arr is None or arr.dtype != np.uint8 or arr.shape[:2] != im.size[::-1]
            or (arr.shape[2] if arr.ndim == 3 else 1) != channels):
        return None
    if channels == 1:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2RGB), None
    if channels == 3:
        return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB), None
    a = arr[:, :, 3]
    return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGB), (None if a.min() >= 255 else a >= 128)


def _to_rgb_alpha(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        g = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2), None
    elif mode == "CMYK":
        im = im.convert("RGB")
    elif mode in ("LA", "La", "RGBa", "PA"):
        im = im.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):
        im = im.convert("RGB")
    arr = np.asarray(im)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[2] == 4:
        import cv2

        a = arr[:, :, 3]
        rgb = cv2.cvtColor(arr, cv2.COLOR_RGBA2RGB)  # drops alpha, like a contiguous copy but faster
        if a.min() >= 255:
            return rgb, None
        return rgb, a >= 128
    return np.ascontiguousarray(arr[:, :, :3]), None


def load_mask(path: str | os.PathLike[str], max_pixels: int | None = None,
              polarity: MaskPolarity = "product_white") -> np.ndarray:
    """Read a product mask file (any mode; alpha if present, else luminance ≥ 128 = white).

    ``polarity`` says which luminance side is the product (see :func:`read_mask`).
    """
    return read_mask(path, max_pixels, polarity)[0]


def read_mask(path: str | os.PathLike[str], max_pixels: int | None = None,
              polarity: MaskPolarity = "auto") -> tuple[np.ndarray, str]:
    """A product mask file as a bool array (True = product) and the polarity that was used.

    A mask whose alpha channel is not fully opaque is a cut-out: opaque = product, whatever
    ``polarity`` says, and the polarity returned is ``"alpha"``. Otherwise the luminance is
    thresholded at 128 and ``polarity`` decides which side is the product: ``product_white``
    (hfpc's convention), ``product_black`` (inpainting masks, where white = area to regenerate)
    or ``auto`` (:func:`detect_mask_polarity`).
    """
    img = load_image(path, max_pixels=max_pixels)
    if img.alpha is not None:
        return img.alpha, "alpha"
    white = img.rgb.sum(axis=2, dtype=np.uint16) >= 384  # mean of the channels ≥ 128, in integers
    used = detect_mask_polarity(white) if polarity == "auto" else polarity
    if used not in ("product_white", "product_black"):
        raise ValueError(f"mask polarity must be auto, product_white or product_black, not {polarity!r}")
    return (white if used == "product_white" else ~white), used


def detect_mask_polarity(white: np.ndarray) -> Literal["product_white", "product_black"]:
    """Which side of a two-valued mask is the product: the background is the side at the border.

    Products sit inside the frame, the background surrounds them: the side that holds most of
    the border pixels (≥ 60 %) is background. When the border is split more evenly (a product
    cut by the frame), the side that covers more of the frame is background. A uniform mask
    keeps hfpc's convention, white = product.
    """
    white = np.asarray(white, dtype=bool)
    if white.all() or not white.any():
        return "product_white"
    h, w = white.shape
    r = max(1, min(h, w) // 100)
    border = np.concatenate([white[:r].ravel(), white[-r:].ravel(),
                             white[r:-r, :r].ravel(), white[r:-r, -r:].ravel()])
    share = float(border.mean())
    if share >= _BORDER_DECISIVE:
        return "product_black"
    if share <= 1 - _BORDER_DECISIVE:
        return "product_white"
    return "product_black" if float(white.mean()) > 0.5 else "product_white"


def save_image(path: str | os.PathLike[str], rgb: np.ndarray, quality: int = 95) -> None:
    """Write an RGB or RGBA uint8 array atomically (temporary file, then rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}.get(p.suffix.lower())
    if fmt is None:
        raise ValueError(f"{p}: unsupported image extension {p.suffix!r} (use .png, .jpg, .webp)")
    kwargs = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(rgb).save(tmp, format=fmt, **kwargs)
    os.replace(tmp, p)
