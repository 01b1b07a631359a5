"""Scene light whose colour follows the surface (coloured sources on two sides) versus recolours."""

from __future__ import annotations

import numpy as np

from hfpc.consistency import ConsistencySettings
from hfpc.consistency.analyze import _findings
from hfpc.consistency.compare import compare_product
from hfpc.consistency.light import _chroma, scene_light
from hfpc.consistency.locate import similarity

PINK = np.array([1.0, 0.45, 0.75], np.float32)
BLUE = np.array([0.45, 0.6, 1.0], np.float32)


def _figure(size: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A cream figure with folds on a grey backdrop: the original, its mask, and how each fold faces (0-1)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    mask = ((xx - 80) / 45) ** 2 + ((yy - 85) / 65) ** 2 <= 1
    facing = 0.5 + 0.5 * np.sin(2 * np.pi * xx / 14 + yy / 9)  # folds: left- or right-facing
    shade = 0.8 + 0.2 * np.cos(2 * np.pi * xx / 14 + yy / 9)
    img = np.full((size, size, 3), 70, np.float32)
    img[mask] = (np.array([238, 228, 208], np.float32) * shade[..., None])[mask]
    return img.astype(np.uint8), mask, facing


def _neon(o: np.ndarray, mask: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """The figure in a neon street: each fold takes the colour of the source it faces."""
    light = facing[..., None] * PINK + (1 - facing[..., None]) * BLUE
    g = np.clip(o.astype(np.float32) * light, 0, 255)
    g[:, :80][~mask[:, :80]] = (50, 80, 230)  # blue signs on the left, pink on the right
    g[:, 80:][~mask[:, 80:]] = (230, 60, 170)
    g[:40][~mask[:40]] = (25, 20, 40)  # dark sky
    return g.astype(np.uint8)


def _verdict(o: np.ndarray, mask: np.ndarray, g: np.ndarray, s: ConsistencySettings) -> list[str]:
    c = compare_product(o, mask, g, similarity(1, 0, 0), s, erode=s.erode)
    return [f.code for f in _findings(c, None, True, s)]


def test_neon_from_two_sides_is_light_and_needs_the_scene_light() -> None:
    o, mask, facing = _figure()
    g = _neon(o, mask, facing)
    assert _verdict(o, mask, g, ConsistencySettings()) == []
    # a smooth light field of position cannot follow the folds
    assert _verdict(o, mask, g, ConsistencySettings(scene_light_support=None)) != []


def test_a_part_recoloured_to_a_hue_the_scene_lacks_fails() -> None:
    o, mask, facing = _figure()
    g = _neon(o, mask, facing)
    part = mask & (np.arange(160)[:, None] > 110)
    g[part] = np.clip(o[part] * np.array([0.55, 1.0, 0.5]), 0, 255)  # green under pink and blue light
    assert "changed" in _verdict(o, mask, g, ConsistencySettings())


def test_a_pale_part_turned_beyond_the_light_fails_even_in_a_scene_of_its_colour() -> None:
    o, mask, facing = _figure()
    g = _neon(o, mask, facing)
    part = mask & (np.arange(160)[:, None] > 110)
    g[part] = (235, 60, 150)  # painted pink: saturated, folds gone
    assert "changed" in _verdict(o, mask, g, ConsistencySettings())


def test_a_dark_part_turned_amber_in_a_warm_scene_fails() -> None:
    o, mask, _ = _figure()
    cap = mask & (np.arange(160)[:, None] < 55)
    o[cap] = (25, 25, 28)  # a black cap
    g = o.copy()
    g[~mask] = (210, 140, 50)  # a warm, amber scene
    g[cap] = (200, 130, 40)
    assert "changed" in _verdict(o, mask, g, ConsistencySettings())


def test_scene_light_corrects_pale_surfaces_only_in_the_scenes_hues() -> None:
    s = ConsistencySettings()
    ref = np.zeros((20, 40, 3), np.uint8)
    ref[:, :20] = (230, 230, 225)  # white
    ref[:, 20:] = (170, 40, 40)  # red
    m = np.ones((20, 40), bool)
    cast = np.array([1.0, 0.6, 0.8], np.float32)  # pink light
    gen = np.clip(ref * cast, 0, 255).astype(np.uint8)
    pink_scene = np.tile(np.array([[230, 60, 170]], np.uint8), (200, 1))
    green_scene = np.tile(np.array([[60, 200, 70]], np.uint8), (200, 1))

    def undo(scene: np.ndarray) -> np.ndarray:
        out = scene_light(gen.astype(np.float32), gen, ref, m, scene, s.scene_light_max_cast,
                          s.scene_light_support, s.scene_light_max_chroma, s.scene_light_min_lightness)
        # how far each column's colour (not its brightness, left to relight) is from the original's
        return np.linalg.norm(_chroma(out.reshape(-1, 3)) - _chroma(ref.reshape(-1, 3)), axis=1).reshape(20, 40).max(0)

    err = undo(pink_scene)
    assert err[:20].max() < 0.02  # the white surface shows the scene's light: undone
    assert err[20:].min() > 0.2  # the red one is no evidence of light: left
    assert undo(green_scene)[:20].min() > 0.2  # a pink cast in a green scene is not its light
