"""Procedural demo and benchmark data: product cut-outs composited into generated scenes.

Each product is rendered from a small parameter set (archetype, colours, label word, pattern),
so a defect is made by changing one thing and rendering again. Everything is deterministic for
a seed: sample ``i`` draws from ``numpy.random.default_rng([seed, i])``.
"""

from __future__ import annotations

import colorsys
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from hfpc.data.manifests import write_manifest
from hfpc.types import Sample

ARCHETYPES = ("bottle", "box", "jar", "shoe", "bag")
WORDS = ("AQUA", "FRESH", "LUXE", "PURE", "NOVA", "ZEST", "BLOOM", "VITA", "MIST", "GLOW",
         "CALM", "ROSE", "SILK", "OAK", "SUN", "MINT")
SS = 2  # supersampling factor for anti-aliased rendering

# kind → (label, failure category). The order is the order of the cycle that assigns kinds.
KINDS: dict[str, tuple[int, str | None]] = {
    "good": (1, None),
    "moved": (1, None),
    "altered_recolour": (0, "product_altered"),
    "altered_texture": (0, "product_altered"),
    "altered_erased": (0, "product_altered"),
    "altered_text": (0, "product_altered"),
    "altered_warp": (0, "product_altered"),
    "missing": (0, "product_missing"),
    "replaced": (0, "product_replaced"),
    "shape_extended": (0, "shape_hallucination"),
    "floating": (0, "floating"),
    "indistinct": (0, "indistinct"),
    "text_artifact": (0, "text_artifacts"),
    "size_mismatch": (0, "size_mismatch"),
    "text_changed": (0, "product_text_changed"),
}
KIND_WEIGHTS = {"good": 5, "moved": 2, "altered_recolour": 1, "altered_texture": 1,
                "altered_erased": 1, "altered_text": 1, "altered_warp": 1, "missing": 1,
                "replaced": 1, "shape_extended": 1, "floating": 1, "indistinct": 1,
                "text_artifact": 1, "size_mismatch": 1, "text_changed": 1}
KIND_GENERATIONS: tuple[tuple[str, ...], ...] = (
    ("good", "moved", "altered_recolour", "altered_texture", "altered_erased", "altered_text", "altered_warp",
     "missing", "replaced", "shape_extended", "floating", "indistinct", "text_artifact"),
    ("size_mismatch", "text_changed"),
)
"""Kinds in the order they joined the generator. :func:`kind_schedule` gives each generation its
share of the samples after those of the generations before it, so that a kind added later
leaves the index (and so the rendering) of every earlier kind's samples as it was."""
PRODUCT_DEFECTS = tuple(k for k, (_, f) in KINDS.items()
                        if f in ("product_altered", "product_missing", "product_replaced"))


@dataclass
class ProductSpec:
    """Everything needed to render one product cut-out."""

    archetype: str
    color: tuple[float, float, float]
    accent: tuple[float, float, float]
    word: str
    height: int
    aspect: float
    pattern: str | None = None


@dataclass
class Placement:
    """Where a rendered product sits in a canvas: its base centre and a scale."""

    cx: float
    base_y: float
    scale: float = 1.0


@dataclass
class Tile:
    """A rendered product: premultiplied-free RGB in [0,1] and alpha in [0,1]."""

    rgb: np.ndarray
    alpha: np.ndarray
    label_box: tuple[int, int, int, int] | None = None
    body_box: tuple[int, int, int, int] = (0, 0, 0, 0)
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- products

def random_spec(rng: np.random.Generator, size: int, archetype: str | None = None) -> ProductSpec:
    """Draw a product: archetype, saturated main colour, light label colour, a label word."""
    arch = archetype or str(rng.choice(ARCHETYPES))
    h = rng.uniform(0, 1)
    color = colorsys.hsv_to_rgb(h, rng.uniform(0.45, 0.9), rng.uniform(0.45, 0.85))
    accent = colorsys.hsv_to_rgb((h + rng.uniform(0.3, 0.7)) % 1, rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.9))
    aspect = {"bottle": rng.uniform(0.36, 0.46), "box": rng.uniform(0.7, 0.95),
              "jar": rng.uniform(0.85, 1.1), "shoe": rng.uniform(1.6, 1.9),
              "bag": rng.uniform(0.85, 1.05)}[arch]
    frac = {"bottle": (0.42, 0.55), "box": (0.32, 0.42), "jar": (0.28, 0.36),
            "shoe": (0.2, 0.26), "bag": (0.34, 0.44)}[arch]
    return ProductSpec(arch, tuple(color), tuple(accent), str(rng.choice(WORDS)),
                       int(size * rng.uniform(*frac)), float(aspect))


def _cyl_shading(w: int, strength: float = 0.45) -> np.ndarray:
    x = np.linspace(-1, 1, w)
    shade = 1 - strength * (x**2) + 0.25 * np.exp(-((x + 0.45) ** 2) / 0.015)
    return np.clip(shade, 0, 1.3).astype(np.float32)


def _fill(mask: np.ndarray, pts: np.ndarray) -> None:
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)


def _put_word(canvas: np.ndarray, word: str, box: tuple[int, int, int, int], color: tuple) -> None:
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    font = cv2.FONT_HERSHEY_DUPLEX
    (tw, th), _ = cv2.getTextSize(word, font, 1.0, 2)
    scale = min(0.86 * bw / tw, 0.62 * bh / th)
    thick = max(1, int(round(scale * 2.2)))
    (tw, th), _ = cv2.getTextSize(word, font, scale, thick)
    org = (int(x0 + (bw - tw) / 2), int(y0 + (bh + th) / 2))
    _blend_text(canvas, word, org, font, scale, color, thick)


def _blend_text(canvas: np.ndarray, word: str, org: tuple[int, int], font: int, scale: float,
                color: tuple, thick: int, mask: np.ndarray | None = None) -> None:
    """Draw anti-aliased text onto a float canvas (OpenCV only draws text on uint8)."""
    m = np.zeros(canvas.shape[:2], np.uint8)
    cv2.putText(m, word, org, font, scale, 255, thick, lineType=cv2.LINE_AA)
    a = m.astype(np.float32)[..., None] / 255.0
    if mask is not None:
        a = a * mask[..., None]
    canvas[:] = canvas * (1 - a) + np.asarray(color, np.float32) * a


def render_product(spec: ProductSpec) -> Tile:
    """Render a product cut-out (shading, highlight, printed label with text) at ``spec.height``."""
    H = spec.height * SS
    W = max(8, int(spec.height * spec.aspect)) * SS
    alpha = np.zeros((H, W), np.float32)
    base = np.ones((H, W, 3), np.float32) * np.array(spec.color, np.float32)
    shade = np.ones((H, W), np.float32)
    label_box = None
    a = spec.archetype
    if a in ("bottle", "jar"):
        neck = 0.34 if a == "bottle" else 0.92
        top = 0.24 if a == "bottle" else 0.16
        bx0, bx1 = 0.02 * W, 0.98 * W
        body_top = top * H + (0.1 * H if a == "bottle" else 0.03 * H)
        nx0, nx1 = W * (0.5 - neck / 2), W * (0.5 + neck / 2)
        pts = np.array([[bx0, H - 1], [bx0, body_top], [nx0, top * H], [nx0, 0.05 * H],
                        [nx1, 0.05 * H], [nx1, top * H], [bx1, body_top], [bx1, H - 1]])
        _fill(alpha, pts)
        cap = np.zeros_like(alpha)
        _fill(cap, np.array([[nx0, 0], [nx1, 0], [nx1, 0.12 * H], [nx0, 0.12 * H]]))
        alpha = np.maximum(alpha, cap)
        base[cap > 0.5] = spec.accent
        shade *= _cyl_shading(W)[None, :]
        label_box = (int(0.1 * W), int(body_top + 0.18 * (H - body_top)), int(0.9 * W),
                     int(body_top + 0.62 * (H - body_top)))
        body = (0, int(body_top), W, H)
    elif a == "box":
        d = 0.18
        fx1, fy0 = W * (1 - d), H * d
        _fill(alpha, np.array([[0, fy0], [fx1, fy0], [fx1, H - 1], [0, H - 1]]))
        top = np.zeros_like(alpha)
        _fill(top, np.array([[0, fy0], [W * d, 0], [W - 1, 0], [fx1, fy0]]))
        side = np.zeros_like(alpha)
        _fill(side, np.array([[fx1, fy0], [W - 1, 0], [W - 1, H * (1 - d)], [fx1, H - 1]]))
        alpha = np.maximum(alpha, np.maximum(top, side))
        shade[top > 0.5] = 1.25
        shade[side > 0.5] = 0.7
        label_box = (int(0.1 * fx1), int(fy0 + 0.25 * (H - fy0)), int(0.9 * fx1), int(fy0 + 0.6 * (H - fy0)))
        body = (0, int(fy0), int(fx1), H)
    elif a == "shoe":
        sole = np.zeros_like(alpha)
        _fill(sole, np.array([[0.02 * W, 0.82 * H], [0.98 * W, 0.82 * H], [0.98 * W, H - 1], [0.04 * W, H - 1]]))
        _fill(alpha, np.array([[0.02 * W, 0.84 * H], [0.05 * W, 0.45 * H], [0.3 * W, 0.05 * H],
                               [0.48 * W, 0.05 * H], [0.55 * W, 0.4 * H], [0.98 * W, 0.62 * H],
                               [0.98 * W, 0.84 * H]]))
        alpha = np.maximum(alpha, sole)
        base[sole > 0.5] = spec.accent
        for i in range(4):
            y = (0.18 + 0.08 * i) * H
            cv2.line(base, (int(0.3 * W), int(y)), (int(0.52 * W), int(y + 0.05 * H)),
                     tuple(float(c) for c in spec.accent), max(2, SS * 2), cv2.LINE_AA)
        shade *= np.linspace(1.15, 0.8, H, dtype=np.float32)[:, None]
        label_box = (int(0.52 * W), int(0.58 * H), int(0.95 * W), int(0.8 * H))
        body = (0, int(0.4 * H), W, int(0.82 * H))
    else:  # bag
        ht = 0.3 * H
        _fill(alpha, np.array([[0.1 * W, ht], [0.9 * W, ht], [W - 1, H - 1], [0, H - 1]]))
        handle = np.zeros_like(alpha)
        cv2.ellipse(handle, (W // 2, int(ht)), (int(0.28 * W), int(0.26 * H)), 0, 180, 360, 1.0,
                    max(3, int(0.05 * W)), cv2.LINE_AA)
        alpha = np.maximum(alpha, handle)
        base[(handle > 0.5) & (np.arange(H)[:, None] < ht)] = spec.accent
        shade *= _cyl_shading(W, 0.25)[None, :]
        label_box = (int(0.22 * W), int(ht + 0.22 * (H - ht)), int(0.78 * W), int(ht + 0.55 * (H - ht)))
        body = (0, int(ht), W, H)

    rgb = base * shade[:, :, None]
    if spec.pattern:
        _apply_pattern(rgb, alpha, body, spec.pattern, spec.accent)
    if label_box is not None:
        x0, y0, x1, y1 = label_box
        rgb[y0:y1, x0:x1] = np.array([0.96, 0.95, 0.9], np.float32) * shade[y0:y1, x0:x1, None]
        ink = tuple(float(c) * 0.5 for c in spec.accent)
        _put_word(rgb, spec.word, label_box, ink)
    rgb = cv2.resize(np.clip(rgb, 0, 1), (W // SS, H // SS), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (W // SS, H // SS), interpolation=cv2.INTER_AREA)
    lb = tuple(v // SS for v in label_box) if label_box else None
    return Tile(rgb, alpha, lb, tuple(v // SS for v in body))


def _apply_pattern(rgb: np.ndarray, alpha: np.ndarray, body: tuple, pattern: str, accent: tuple) -> None:
    x0, y0, x1, y1 = body
    H, W = rgb.shape[:2]
    yy, xx = np.mgrid[0:H, 0:W]
    period = max(8, W // 6)
    if pattern == "stripes":
        m = ((xx + yy) // (period // 2)) % 2 == 0
    else:
        m = ((xx % period - period / 2) ** 2 + (yy % period - period / 2) ** 2) < (period / 2.6) ** 2
    m &= (yy >= y0) & (yy < y1) & (xx >= x0) & (xx < x1)
    mean = rgb[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)
    inv = np.where(mean > 0.5, 0.1, 0.95).astype(np.float32)
    rgb[m] = 0.25 * rgb[m] + 0.75 * inv


# ----------------------------------------------------------------------------- scenes

def _lab1(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.asarray(rgb, np.float32).reshape(1, 1, 3), cv2.COLOR_RGB2LAB).reshape(3)


AVOID_DELTA_E = 25.0
"""A scene colour drawn within this CIELAB distance (ΔE*ab) of a product's colour is turned away
from it (hue opposite, or lightness flipped for greyish ones): a product on a backdrop of its own
colour melts into it, which only an ``indistinct`` sample may show."""


def _away_from(c: np.ndarray, hsv: tuple[float, float, float], avoid: list[tuple]) -> np.ndarray:
    """``c`` (drawn as ``hsv``), moved away from every colour of ``avoid`` it is close to (no new draws)."""
    def close(x: np.ndarray) -> bool:
        return any(float(np.linalg.norm(_lab1(x) - _lab1(a))) < AVOID_DELTA_E for a in avoid)

    if not close(c):
        return c
    h, s, v = hsv
    turned = np.asarray(colorsys.hsv_to_rgb((h + 0.5) % 1, s, v), np.float32)
    if not close(turned):
        return turned
    return np.asarray(colorsys.hsv_to_rgb((h + 0.5) % 1, s, 1.3 - v), np.float32)


def random_background(rng: np.random.Generator, size: int, near: tuple | None = None,
                      avoid: list[tuple] | None = None) -> tuple[np.ndarray, float]:
    """A generated scene: surface in perspective + wall, gradient, or texture; returns (rgb, floor_y).

    ``near``: every scene colour is close to this one (an indistinct product's). ``avoid``: no
    scene colour is close to these (the products of every other sample).
    """
    S = size
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32) / S

    def col() -> np.ndarray:
        if near is not None:  # close enough that wall and floor (or both ends of a gradient) share its hue
            return np.clip(np.asarray(near, np.float32) + rng.normal(0, 0.025, 3), 0, 1)
        hsv = (rng.uniform(), rng.uniform(0.05, 0.5), rng.uniform(0.35, 0.95))
        c = np.asarray(colorsys.hsv_to_rgb(*hsv), np.float32)
        return _away_from(c, hsv, avoid) if avoid else c

    kind = rng.choice(["room", "room", "gradient", "texture"])
    floor_y = float(rng.uniform(0.55, 0.7))
    if kind == "room":
        wall, floor = col(), col()
        img = np.where((yy < floor_y)[..., None], wall * (0.9 + 0.1 * yy[..., None]), floor)
        vx = rng.uniform(0.3, 0.7)
        depth = np.clip((yy - floor_y) / (1 - floor_y), 1e-3, 1)
        planks = np.sin(((xx - vx) / depth) * rng.uniform(20, 40)) > 0.85
        img = np.where(((yy >= floor_y) & planks)[..., None], img * 0.85, img)
        img = img * (0.75 + 0.25 * (1 - np.abs(yy - floor_y)))[..., None]
    elif kind == "gradient":
        c1, c2 = col(), col()
        t = (yy * rng.uniform(0.5, 1) + np.hypot(xx - 0.5, yy - 0.5) * rng.uniform(0, 0.6))[..., None]
        img = c1 * (1 - np.clip(t, 0, 1)) + c2 * np.clip(t, 0, 1)
    else:
        c = col()
        noise = cv2.GaussianBlur(rng.normal(0, 1, (S, S)).astype(np.float32), (0, 0), S / rng.uniform(20, 60))
        noise /= np.abs(noise).max() + 1e-6
        img = c * (1 + 0.25 * noise[..., None])
        if rng.uniform() < 0.5:
            img = img * np.where(((xx * 12).astype(int) + (yy * 12).astype(int)) % 2 == 0, 1.0, 0.93)[..., None]
    img = img + rng.normal(0, 0.01, img.shape)
    return np.clip(img, 0, 1).astype(np.float32), floor_y


def _paste(canvas: np.ndarray, tile_rgb: np.ndarray, tile_a: np.ndarray, pl: Placement) -> np.ndarray:
    """Composite a tile onto ``canvas`` (both [0,1]); returns the full-canvas alpha used."""
    if pl.scale != 1.0:
        w = max(2, int(round(tile_rgb.shape[1] * pl.scale)))
        h = max(2, int(round(tile_rgb.shape[0] * pl.scale)))
        interp = cv2.INTER_AREA if pl.scale < 1 else cv2.INTER_LINEAR
        tile_rgb = cv2.resize(tile_rgb, (w, h), interpolation=interp)
        tile_a = cv2.resize(tile_a, (w, h), interpolation=interp)
    h, w = tile_a.shape
    x0, y0 = int(round(pl.cx - w / 2)), int(round(pl.base_y - h))
    S_h, S_w = canvas.shape[:2]
    full = np.zeros((S_h, S_w), np.float32)
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(S_w, x0 + w), min(S_h, y0 + h)
    if cx1 <= cx0 or cy1 <= cy0:
        return full
    a = tile_a[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    full[cy0:cy1, cx0:cx1] = a
    canvas[cy0:cy1, cx0:cx1] = (canvas[cy0:cy1, cx0:cx1] * (1 - a[..., None])
                                + tile_rgb[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] * a[..., None])
    return full


def _continue_into(bg: np.ndarray, tile: Tile, pl: Placement, relight: np.ndarray) -> None:
    """Tint ``bg`` in place so that, around where ``tile`` will stand, it has the product's colour.

    The scene's median colour in a band around the product is scaled, per channel, to the median
    lit colour of the product's body (its printed label left out): the scene's colour continues
    into the product while the scene keeps its light and texture, and shading, lid or sole still
    set parts of the product apart, as they would on a real backdrop of its colour.
    """
    body = tile.alpha > 0.5
    if tile.label_box is not None:
        x0, y0, x1, y1 = tile.label_box
        body[y0:y1, x0:x1] = False
    a = _paste(np.zeros_like(bg), tile.rgb, tile.alpha, pl) > 0.5
    if not body.any() or not a.any():
        return
    r = max(2, int(round(0.15 * np.sqrt(a.sum()))))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    around = cv2.dilate(a.astype(np.uint8), disk).astype(bool) & ~a
    if not around.any():
        return
    colour = np.median(tile.rgb[body], 0) * relight
    gain = colour / np.maximum(np.median(bg[around], 0), 1e-3)
    bg *= np.clip(gain, 0.4, 2.5).astype(np.float32)
    np.clip(bg, 0, 1, out=bg)


def _contact_shadow(canvas: np.ndarray, cx: float, base_y: float, width: float, strength: float) -> None:
    S_h, S_w = canvas.shape[:2]
    m = np.zeros((S_h, S_w), np.float32)
    cv2.ellipse(m, (int(cx), int(base_y)), (max(2, int(width * 0.6)), max(2, int(width * 0.09))),
                0, 0, 360, 1.0, -1, cv2.LINE_AA)
    m = cv2.GaussianBlur(m, (0, 0), max(1.0, width * 0.06))
    canvas *= (1 - strength * m)[..., None]


# ----------------------------------------------------------------------------- defects

def _recolour(spec: ProductSpec, rng: np.random.Generator) -> ProductSpec:
    h, s, v = colorsys.rgb_to_hsv(*spec.color)
    new = colorsys.hsv_to_rgb((h + rng.uniform(0.3, 0.7)) % 1, max(s, 0.6), v)
    return replace(spec, color=tuple(new))


def _erase(tile: Tile, rng: np.random.Generator) -> Tile:
    h, w = tile.alpha.shape
    m = np.zeros((h, w), np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.3, 0.7) * h
    cv2.ellipse(m, (int(cx), int(cy)), (int(rng.uniform(0.3, 0.45) * w), int(rng.uniform(0.15, 0.25) * h)),
                float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
    return replace(tile, alpha=tile.alpha * (1 - m))


def _warp(tile: Tile, rng: np.random.Generator) -> Tile:
    h, w = tile.alpha.shape
    if rng.uniform() < 0.5:
        sx = rng.uniform(1.25, 1.4)
        nw = int(w * sx)
        return Tile(cv2.resize(tile.rgb, (nw, h)), cv2.resize(tile.alpha, (nw, h)), None, tile.body_box)
    amp = rng.uniform(0.12, 0.18) * w
    pad = int(amp) + 2
    yy, xx = np.mgrid[0:h, 0:w + 2 * pad].astype(np.float32)
    map_x = xx - pad - amp * np.sin(np.pi * yy / h)
    rgb = cv2.remap(tile.rgb, map_x, yy, cv2.INTER_LINEAR, borderValue=0)
    a = cv2.remap(tile.alpha, map_x, yy, cv2.INTER_LINEAR, borderValue=0)
    return Tile(rgb, a, None, tile.body_box)


def _extend(tile: Tile, spec: ProductSpec, rng: np.random.Generator) -> Tile:
    """Grow a pedestal, legs or a handle onto the product, in the product's own colour."""
    h, w = tile.alpha.shape
    kind = rng.choice(["pedestal", "legs", "handle"])
    col = np.asarray(spec.color, np.float32)
    if kind == "handle":
        pad = int(0.45 * w)
        rgb = np.zeros((h, w + pad, 3), np.float32)
        a = np.zeros((h, w + pad), np.float32)
        rgb[:, :w], a[:, :w] = tile.rgb, tile.alpha
        ring = np.zeros_like(a)
        cv2.ellipse(ring, (w - 2, h // 2), (int(0.4 * w), int(0.22 * h)), 0, -90, 90, 1.0,
                    max(3, int(0.08 * w)), cv2.LINE_AA)
        ring *= 1 - a
        rgb = rgb * (1 - ring[..., None]) + col * 0.8 * ring[..., None]
        return Tile(rgb, np.maximum(a, ring), tile.label_box, tile.body_box, {"dx": pad / 2})
    ext = int(h * rng.uniform(0.18, 0.3))
    rgb = np.zeros((h + ext, w, 3), np.float32)
    a = np.zeros((h + ext, w), np.float32)
    rgb[:h], a[:h] = tile.rgb, tile.alpha
    shade = _cyl_shading(w)[None, :, None] * col * 0.85
    if kind == "pedestal":
        x0, x1 = int(0.1 * w), int(0.9 * w)
        a[h:, x0:x1] = 1
        rgb[h:, x0:x1] = shade[:, x0:x1]
    else:
        for lx in (0.12, 0.78):
            x0, x1 = int(lx * w), int((lx + 0.1) * w)
            a[h:, x0:x1] = 1
            rgb[h:, x0:x1] = shade[:, x0:x1]
    return Tile(rgb, a, tile.label_box, tile.body_box)


WATERMARKS = ("SAMPLE", "PREVIEW", "WATERMARK", "PHOTOSTOCK", "DRAFT COPY", "NOT FOR SALE")


def _text_artifacts(canvas: np.ndarray, prod_alpha: np.ndarray, rng: np.random.Generator) -> None:
    """Garbled words scattered over the background, then a half-transparent watermark across it.

    The product is kept out of both, so the defect is the scene's alone (as in RF1M, where
    text in the background is a reason of its own and the product stays intact).
    """
    S = canvas.shape[0]
    letters = "ABCDEFGHKLMNPRSTWXZ0123456789"
    keep_out = 1 - np.clip(prod_alpha * 3, 0, 1)
    for _ in range(int(rng.integers(2, 5))):
        word = "".join(rng.choice(list(letters), int(rng.integers(4, 9))))
        org = (int(rng.uniform(0.02, 0.6) * S), int(rng.uniform(0.08, 0.95) * S))
        scale = rng.uniform(0.7, 1.5) * S / 512
        color = tuple(float(c) for c in rng.uniform(0, 1, 3))
        _blend_text(canvas, word, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color,
                    max(1, int(2 * scale)), mask=keep_out)
    _watermark(canvas, keep_out, rng)


def _watermark(canvas: np.ndarray, keep_out: np.ndarray, rng: np.random.Generator) -> None:
    """A stock-photo style watermark: large light or dark text, tilted or along an edge, 25–45 % opaque."""
    H, W = canvas.shape[:2]
    word = str(rng.choice(WATERMARKS))
    font = cv2.FONT_HERSHEY_DUPLEX
    (tw, th), _ = cv2.getTextSize(word, font, 1.0, 2)
    diagonal = rng.uniform() < 0.6
    scale = (rng.uniform(0.6, 0.85) if diagonal else rng.uniform(0.3, 0.45)) * W / tw
    thick = max(1, int(round(scale * 2)))
    (tw, th), _ = cv2.getTextSize(word, font, scale, thick)
    m = np.zeros((H, W), np.uint8)
    if diagonal:
        cv2.putText(m, word, (int((W - tw) / 2), int((H + th) / 2)), font, scale, 255, thick, cv2.LINE_AA)
        rot = cv2.getRotationMatrix2D((W / 2, H / 2), float(rng.choice([-1, 1]) * rng.uniform(20, 40)), 1.0)
        m = cv2.warpAffine(m, rot, (W, H), flags=cv2.INTER_LINEAR)
    else:
        x = int(rng.uniform(0.02, 0.98) * (W - tw))
        y = int(rng.choice([rng.uniform(0.04, 0.12), rng.uniform(0.9, 0.97)]) * H + th / 2)
        cv2.putText(m, word, (x, y), font, scale, 255, thick, cv2.LINE_AA)
    a = m.astype(np.float32) / 255.0 * rng.uniform(0.25, 0.45) * keep_out
    ink = np.full(3, 1.0 if rng.uniform() < 0.7 else 0.1, np.float32)
    canvas[:] = canvas * (1 - a[..., None]) + ink * a[..., None]


_LOOKALIKE = {"A": "4R", "B": "8R", "C": "GO", "D": "OP", "E": "FB", "F": "EP", "G": "C6", "H": "NK", "I": "L1",
              "K": "XH", "L": "IT", "M": "NW", "N": "MH", "O": "QD", "P": "RF", "Q": "OG", "R": "PB", "S": "58",
              "T": "IY", "U": "VO", "V": "UY", "W": "VM", "X": "KY", "Y": "VT", "Z": "27"}


def misspell(word: str, rng: np.random.Generator) -> str:
    """``word`` with one or two letters changed the way generators garble print (look-alike
    glyphs, a doubled or dropped letter); never the word itself."""
    out = list(word)
    for _ in range(int(rng.integers(1, 3))):
        i = int(rng.integers(len(out)))
        how = rng.uniform()
        if how < 0.7 or len(out) < 4:
            choices = _LOOKALIKE.get(out[i], "XQZ")
            out[i] = str(rng.choice(list(choices)))
        elif how < 0.85:
            out.insert(i, out[i])
        else:
            del out[i]
    new = "".join(out)
    return new if new != word else word[::-1] if word[::-1] != word else word + "X"


# ----------------------------------------------------------------------------- scene furniture

FURNITURE = ("sofa", "armchair", "table", "cabinet", "lamp")
FURNITURE_ASPECT = {"sofa": (2.0, 2.4), "armchair": (0.95, 1.1), "table": (1.4, 1.8), "cabinet": (0.5, 0.75),
                    "lamp": (0.3, 0.4)}


def _furniture_tile(kind: str, h: int, aspect: float, rng: np.random.Generator) -> Tile:
    """A simple piece of furniture ``h`` pixels high, front view, in muted fabric or wood colours."""
    H, W = h * SS, max(8, int(h * aspect)) * SS
    hue = rng.uniform(0.02, 0.14) if kind in ("table", "cabinet") else rng.uniform()
    col = np.asarray(colorsys.hsv_to_rgb(hue, rng.uniform(0.15, 0.5), rng.uniform(0.35, 0.75)), np.float32)
    dark = col * 0.6
    rgb = np.zeros((H, W, 3), np.float32)
    alpha = np.zeros((H, W), np.float32)

    def box(x0: float, y0: float, x1: float, y1: float, c: np.ndarray) -> None:
        p0, p1 = (int(x0 * W), int(y0 * H)), (int(x1 * W) - 1, int(y1 * H) - 1)
        cv2.rectangle(rgb, p0, p1, tuple(float(v) for v in c), -1)
        cv2.rectangle(alpha, p0, p1, 1.0, -1)

    if kind in ("sofa", "armchair"):
        arm = 0.12 if kind == "sofa" else 0.18
        for x in (0.06, 0.9):
            box(x, 0.82, x + 0.04, 1.0, dark)  # legs
        box(0.04, 0.0, 0.96, 0.6, col * 0.85)  # back
        box(0.0, 0.48, 1.0, 0.84, col)  # seat
        box(0.0, 0.28, arm, 0.84, col * 0.93)
        box(1 - arm, 0.28, 1.0, 0.84, col * 0.93)
        if kind == "sofa":
            cv2.line(rgb, (W // 2, int(0.1 * H)), (W // 2, int(0.6 * H)), tuple(float(v) for v in col * 0.7), SS * 2)
    elif kind == "table":
        box(0.0, 0.0, 1.0, 0.1, col * 1.1)
        box(0.06, 0.1, 0.12, 1.0, col * 0.8)
        box(0.88, 0.1, 0.94, 1.0, col * 0.8)
    elif kind == "cabinet":
        box(0.0, 0.0, 1.0, 0.95, col)
        box(0.04, 0.95, 0.96, 1.0, dark)
        cv2.line(rgb, (W // 2, int(0.04 * H)), (W // 2, int(0.9 * H)), tuple(float(v) for v in dark), SS * 2)
        for x in (0.42, 0.54):
            box(x, 0.45, x + 0.04, 0.55, np.full(3, 0.85, np.float32))
    else:  # floor lamp
        shade = np.asarray(colorsys.hsv_to_rgb(rng.uniform(0.08, 0.15), 0.25, 0.92), np.float32)
        pts = np.array([[0.1 * W, 0.3 * H], [0.9 * W, 0.3 * H], [0.7 * W, 0.0], [0.3 * W, 0.0]], np.int32)
        cv2.fillPoly(rgb, [pts], tuple(float(v) for v in shade))
        cv2.fillPoly(alpha, [pts], 1.0)
        box(0.46, 0.3, 0.54, 0.97, dark)
        box(0.2, 0.95, 0.8, 1.0, dark)
    rgb = cv2.resize(rgb, (W // SS, H // SS), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (W // SS, H // SS), interpolation=cv2.INTER_AREA)
    return Tile(rgb, alpha)


def _add_furniture(bg: np.ndarray, rng: np.random.Generator, places: list[Placement], tiles: list[Tile]) -> dict:
    """Stand one piece of furniture on the products' floor line, beside them and *smaller* than them.

    Real furniture is 3–15 times the height of these products; here it is 0.45–0.8 times the
    tallest product's height, an implausible size relation (RF1M size mismatch: "a massage chair
    appears smaller than a cabinet"). Returns what was drawn, for the sample's ``meta``.
    """
    S = bg.shape[1]
    kind = str(rng.choice(FURNITURE))
    aspect = float(rng.uniform(*FURNITURE_ASPECT[kind]))
    prod_h = max(t.alpha.shape[0] * p.scale for t, p in zip(tiles, places))
    left = min(p.cx - t.alpha.shape[1] * p.scale / 2 for t, p in zip(tiles, places))
    right = max(p.cx + t.alpha.shape[1] * p.scale / 2 for t, p in zip(tiles, places))
    base = max(p.base_y for p in places)
    h = prod_h * rng.uniform(0.45, 0.8)
    gap = S * rng.uniform(0.02, 0.05)
    room = max(left, S - right) - gap
    h = max(S * 0.06, min(h, room / (aspect * 0.75)))  # at least three quarters of it in the frame
    w = h * aspect
    on_left = left > S - right
    cx = left - gap - w / 2 if on_left else right + gap + w / 2
    tile = _furniture_tile(kind, int(h), aspect, rng)
    _contact_shadow(bg, cx, base, tile.alpha.shape[1], rng.uniform(0.3, 0.5))
    _paste(bg, tile.rgb, tile.alpha, Placement(cx, base))
    return {"furniture": kind, "furniture_height_ratio": round(float(h / prod_h), 3)}


def _add_surface(bg: np.ndarray, rng: np.random.Generator, places: list[Placement], tiles: list[Tile]) -> float:
    """A table top, counter or shelf whose top face is where the products would stand.

    Its back edge is a little above the products' base line and its front edge a little below;
    returns the back edge's height, which a floating product is lifted clear of.
    """
    S_h, S_w = bg.shape[:2]
    base = max(p.base_y for p in places)
    left = min(p.cx - t.alpha.shape[1] * p.scale / 2 for t, p in zip(tiles, places))
    right = max(p.cx + t.alpha.shape[1] * p.scale / 2 for t, p in zip(tiles, places))
    kind = rng.choice(["table", "counter", "shelf"])
    if rng.uniform() < 0.4:
        x0, x1 = -2.0, S_w + 2.0
    else:
        margin = (right - left) * rng.uniform(0.3, 0.8)
        x0, x1 = max(-2.0, left - margin), min(S_w + 2.0, right + margin)
    back, front = base - S_h * rng.uniform(0.04, 0.07), base + S_h * rng.uniform(0.015, 0.03)
    inset = (x1 - x0) * 0.04
    col = np.asarray(colorsys.hsv_to_rgb(rng.uniform(0.05, 0.13), rng.uniform(0.1, 0.5),
                                         rng.uniform(0.45, 0.9)), np.float32)
    top = np.array([[x0 + inset, back], [x1 - inset, back], [x1, front], [x0, front]], np.int32)
    cv2.fillPoly(bg, [top], tuple(float(v) for v in col * 1.08), cv2.LINE_AA)
    edge = {"table": S_h * 0.03, "shelf": S_h * 0.02, "counter": S_h}[kind]
    cv2.rectangle(bg, (int(x0), int(front)), (int(x1), int(min(S_h, front + edge))),
                  tuple(float(v) for v in col * 0.72), -1)
    if kind == "table":
        for lx in (x0 + (x1 - x0) * 0.06, x1 - (x1 - x0) * 0.1):
            cv2.rectangle(bg, (int(lx), int(front + edge)), (int(lx + (x1 - x0) * 0.04), S_h),
                          tuple(float(v) for v in col * 0.6), -1)
    np.clip(bg, 0, 1, out=bg)
    return float(back)


# ----------------------------------------------------------------------------- one sample

@dataclass
class SynthSample:
    """One generated example: images as uint8 arrays plus its labels."""

    original: np.ndarray
    cutout: np.ndarray
    generated: np.ndarray
    kind: str
    caption: str
    n_products: int
    extra: dict = field(default_factory=dict)
    """What the defect drew, where a kind says more (furniture and its size ratio, a changed word)."""


def _layout(rng: np.random.Generator, specs: list[ProductSpec], size: int) -> list[Placement]:
    base_y = size * rng.uniform(0.8, 0.88)
    if len(specs) == 1:
        return [Placement(size * rng.uniform(0.4, 0.6), base_y)]
    widths = [s.height * s.aspect for s in specs]
    gap = size * 0.04
    total = sum(widths) + gap
    x = (size - total) / 2
    out = []
    for w in widths:
        out.append(Placement(x + w / 2, base_y))
        x += w + gap
    return out


@dataclass
class SynthOriginal:
    """A rendered original: its products, where they stand, and the two original images."""

    specs: list[ProductSpec]
    places: list[Placement]
    tiles: list[Tile]
    original: np.ndarray
    cutout: np.ndarray


def make_original(rng: np.random.Generator, size: int) -> SynthOriginal:
    """Render one original: one or two products on white, and its RGBA cut-out."""
    n_products = 2 if rng.uniform() < 0.15 else 1
    specs = [random_spec(rng, size) for _ in range(n_products)]
    if n_products == 2:
        for s in specs:
            s.height = int(s.height * 0.85)
            while s.height * s.aspect > size * 0.42:
                s.height = int(s.height * 0.9)
    places = _layout(rng, specs, size)
    tiles = [render_product(s) for s in specs]
    white = np.ones((size, size, 3), np.float32)
    cut_a = np.zeros((size, size), np.float32)
    for t, pl in zip(tiles, places):
        cut_a = np.maximum(cut_a, _paste(white, t.rgb, t.alpha, pl))
    original = _u8(white)
    cutout = np.dstack([original, _u8(cut_a[..., None])[..., 0]])
    return SynthOriginal(specs, places, tiles, original, cutout)


def make_sample(rng: np.random.Generator, size: int, kind: str,
                orig: SynthOriginal | None = None) -> SynthSample:
    """Render one generated image of ``kind`` (and its original, unless one is given)."""
    if orig is None:
        orig = make_original(rng, size)
    specs, places, tiles = orig.specs, orig.places, orig.tiles
    original, cutout = orig.original, orig.cutout
    n_products = len(specs)

    # the generated image
    target = int(rng.integers(n_products))
    near = specs[target].color if kind == "indistinct" else None
    avoid = None if near is not None else [sp.color for sp in specs]
    bg, _ = random_background(rng, size, near=near, avoid=avoid)
    gen_tiles, gen_places = list(tiles), [replace(p) for p in places]
    extra: dict = {}
    relight = rng.uniform(0.92, 1.08) * (1 + rng.normal(0, 0.025, 3))
    shadow = kind != "floating"
    if kind == "moved":
        s = float(rng.choice([rng.uniform(0.65, 0.85), rng.uniform(1.15, 1.3)]))
        dx = rng.uniform(-0.15, 0.15) * size
        mid = np.mean([p.cx for p in places])
        for p in gen_places:
            p.cx = mid + (p.cx - mid) * s + dx
            p.scale = s
            p.base_y = min(size * 0.97, p.base_y + rng.uniform(-0.05, 0.08) * size)
        top = min(p.base_y - t.alpha.shape[0] * s for p, t in zip(gen_places, tiles))
        if top < 2:
            for p in gen_places:
                p.base_y -= top - 2
        # shift the whole group back into the frame (clipping products one by one could overlap them)
        left = min(p.cx - t.alpha.shape[1] * s / 2 for p, t in zip(gen_places, tiles))
        right = max(p.cx + t.alpha.shape[1] * s / 2 for p, t in zip(gen_places, tiles))
        shift = max(0.0, 2 - left) - max(0.0, right - (size - 2))
        for p in gen_places:
            p.cx += shift
    elif kind == "floating":
        back = _add_surface(bg, rng, gen_places, tiles)
        base = max(p.base_y for p in gen_places)
        # above the surface's back edge with wall showing under it, not standing further back on it
        lift = max(tiles[target].alpha.shape[0] * rng.uniform(0.15, 0.3), base - back + size * rng.uniform(0.04, 0.08))
        for p in gen_places:
            p.base_y -= lift
        extra = {"gap": round(float(back - (base - lift)), 1)}
    elif kind == "size_mismatch":
        # rescaled clearly (as "moved" is) so that the product itself is found unchanged
        s = float(rng.uniform(1.15, 1.3))
        mid = np.mean([p.cx for p in places])
        for p in gen_places:
            p.cx = mid + (p.cx - mid) * s
            p.scale = s
        top = min(p.base_y - t.alpha.shape[0] * s for p, t in zip(gen_places, tiles))
        left = min(p.cx - t.alpha.shape[1] * s / 2 for p, t in zip(gen_places, tiles))
        right = max(p.cx + t.alpha.shape[1] * s / 2 for p, t in zip(gen_places, tiles))
        room = min(size * 0.3, size - (right - left) - 4)  # free width the furniture needs on one side
        shift = max(0.0, room - left) if left >= size - right else -max(0.0, room - (size - right))
        for p in gen_places:
            p.base_y -= min(0.0, top - 2)
            p.cx += shift
        extra = _add_furniture(bg, rng, gen_places, tiles)
    elif kind == "text_changed":
        printed = misspell(specs[target].word, rng)
        gen_tiles[target] = render_product(replace(specs[target], word=printed))
        extra = {"word": specs[target].word, "printed": printed}
    elif kind == "altered_recolour":
        gen_tiles[target] = render_product(_recolour(specs[target], rng))
    elif kind == "altered_texture":
        gen_tiles[target] = render_product(replace(specs[target], pattern=str(rng.choice(["stripes", "dots"]))))
    elif kind == "altered_text":
        word = str(rng.choice([w for w in WORDS if w != specs[target].word]))
        gen_tiles[target] = render_product(replace(specs[target], word=word))
    elif kind == "altered_erased":
        gen_tiles[target] = _erase(tiles[target], rng)
    elif kind == "altered_warp":
        gen_tiles[target] = _warp(tiles[target], rng)
    elif kind == "replaced":
        other = random_spec(rng, size, str(rng.choice([a for a in ARCHETYPES if a != specs[target].archetype])))
        other.height = specs[target].height
        gen_tiles[target] = render_product(_recolour(other, rng))
    elif kind == "shape_extended":
        gen_tiles[target] = _extend(tiles[target], specs[target], rng)

    if kind == "indistinct":
        _continue_into(bg, gen_tiles[target], gen_places[target], relight)
    canvas = bg.copy()
    gen_a = np.zeros((size, size), np.float32)
    for i, (t, pl) in enumerate(zip(gen_tiles, gen_places)):
        if kind == "missing" and i == target:
            continue
        ext = t.alpha.shape[0] - tiles[i].alpha.shape[0] if kind == "shape_extended" and i == target else 0
        # a grown part must not move the product itself
        pl_i = replace(pl, base_y=pl.base_y + ext * pl.scale, cx=pl.cx + t.extra.get("dx", 0.0) * pl.scale)
        if shadow:
            _contact_shadow(canvas, pl_i.cx, pl_i.base_y, t.alpha.shape[1] * pl.scale, rng.uniform(0.35, 0.6))
        a = t.alpha
        if rng.uniform() < 0.6:
            a = cv2.GaussianBlur(a, (0, 0), rng.uniform(0.6, 1.2))
        lit = np.clip(t.rgb * relight.astype(np.float32), 0, 1)
        if shadow and rng.uniform() < 0.5:
            h = lit.shape[0]
            ramp = np.clip((np.arange(h) - 0.88 * h) / (0.12 * h), 0, 1).astype(np.float32)
            lit = lit * (1 - rng.uniform(0.1, 0.22) * ramp)[:, None, None]
        gen_a = np.maximum(gen_a, _paste(canvas, lit, a, pl_i))
    if kind == "text_artifact":
        _text_artifacts(canvas, gen_a, rng)
    if rng.uniform() < 0.4:
        f = rng.uniform(0.85, 0.95)
        small = cv2.resize(canvas, (int(size * f), int(size * f)), interpolation=cv2.INTER_AREA)
        canvas = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    generated = _u8(canvas)
    caption = " and ".join(f"{s.archetype} '{s.word}'" for s in specs)
    return SynthSample(original, cutout, generated, kind, caption, n_products, extra)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)


def _encode(rgb: np.ndarray, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, quality=quality)
    return buf.getvalue()


def _cycle_schedule(n: int, seed: int | list[int], weights: dict[str, int]) -> list[str]:
    cycle = [k for k, w in weights.items() for _ in range(w)]
    out = [cycle[i % len(cycle)] for i in range(n)]
    np.random.default_rng(seed).shuffle(out)
    return out


def kind_schedule(n: int, seed: int, kinds: dict[str, int] | None = None) -> list[str]:
    """Kinds for ``n`` samples in proportion to ``kinds`` weights, shuffled by ``seed``.

    The kinds of each of :data:`KIND_GENERATIONS` (then any others) get their share of ``n``
    by weight, one block after the other, each block a shuffled cycle of its weights: with
    only the first generation's kinds this is the schedule the generator always made.
    """
    weights = {k: w for k, w in (kinds or KIND_WEIGHTS).items() if w > 0}
    if not weights:
        raise ValueError("kind_schedule needs at least one kind with a positive weight")
    unknown = sorted(set(weights) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    groups = [[k for k in gen if k in weights] for gen in KIND_GENERATIONS]
    groups.append([k for k in weights if not any(k in gen for gen in KIND_GENERATIONS)])
    groups = [g for g in groups if g]
    totals = np.array([sum(weights[k] for k in g) for g in groups], float)
    exact = n * totals / totals.sum()
    counts = np.floor(exact).astype(int)
    for j in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[j] += 1  # largest remainders, earlier generations first on ties
    out: list[str] = []
    for j, (g, c) in enumerate(zip(groups, counts)):
        out += _cycle_schedule(int(c), seed if j == 0 else [seed, j], {k: weights[k] for k in g})
    return out


def generate_demo_set(out: str | Path, n: int = 60, seed: int = 0, size: int = 512,
                      kinds: dict[str, int] | None = None, per_original: int = 1,
                      progress: Callable[[int], None] | None = None) -> Path:
    """Write ``n`` labelled samples under ``out`` and return the path of ``manifest.jsonl``.

    Layout: ``originals/pNNNN.jpg`` (white background), ``originals/pNNNN.png`` (RGBA cut-out),
    ``generated/pNNNN_K.{png,jpg,webp}``, ``manifest.jsonl``. With ``per_original`` = 1 each
    generated image has its own original (independent per-kind statistics); larger values give
    groups of generations per original, as reward-model training needs.
    """
    out = Path(out)
    (out / "originals").mkdir(parents=True, exist_ok=True)
    (out / "generated").mkdir(parents=True, exist_ok=True)
    samples = []
    orig: SynthOriginal | None = None
    for i, kind in enumerate(kind_schedule(n, seed, kinds)):
        o_idx, k = divmod(i, per_original)
        name = f"p{o_idx:04d}"
        if per_original == 1:
            rng = np.random.default_rng([seed, i])
            orig = make_original(rng, size)
        elif k == 0:
            orig = make_original(np.random.default_rng([seed, o_idx, 1 << 20]), size)
            rng = np.random.default_rng([seed, i])
        else:
            rng = np.random.default_rng([seed, i])
        assert orig is not None
        s = make_sample(rng, size, kind, orig)
        if k == 0:
            (out / "originals" / f"{name}.jpg").write_bytes(_encode(s.original, "JPEG", 95))
            Image.fromarray(s.cutout, "RGBA").save(out / "originals" / f"{name}.png")
        fmt, ext = [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")][int(rng.integers(3))]
        gname = f"{name}_{k + 1}.{ext}"
        (out / "generated" / gname).write_bytes(_encode(s.generated, fmt, int(rng.integers(82, 96))))
        label, failure = KINDS[kind]
        samples.append(Sample(
            id=f"s{i:04d}", original=str(out / "originals" / f"{name}.jpg"),
            generated=str(out / "generated" / gname), mask=str(out / "originals" / f"{name}.png"),
            caption=s.caption, label=label, failure=failure,
            meta={"kind": kind, "n_products": s.n_products, **s.extra},
        ))
        if progress:
            progress(i + 1)
    manifest = out / "manifest.jsonl"
    write_manifest(manifest, samples)
    (out / "README.json").write_text(json.dumps({"generator": "hfpc.data.synth", "n": n, "seed": seed,
                                                 "size": size}, indent=2))
    return manifest
