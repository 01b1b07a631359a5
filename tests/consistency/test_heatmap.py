"""The consistency heatmap: written by the check, decodable, of the documented size, hot where changed.

Placement and heat are tested on hand-built reports (a product moved and shrunk, compared at a
reduced scale), so they do not depend on how the analysis finds and compares products; one test
goes through the Judge end to end.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hfpc import Judge
from hfpc.consistency.analyze import ConsistencyReport, ProductReport
from hfpc.consistency.compare import Comparison
from hfpc.consistency.heatmap import (
    HEATMAP_MAX_SIDE,
    HEATMAP_SUFFIX,
    encode_heatmap,
    render_heatmap,
    write_heatmap,
)
from hfpc.consistency.locate import Location, similarity
from hfpc.data.images import load_image, save_image
from hfpc.types import Finding

X0, Y0, X1, Y1 = 150, 140, 370, 380  # the product's box in the original (working frame)
MOVE = similarity(0.8, 60.0, 40.0)  # original → generated: shrunk and moved
K = 0.5  # the comparison's scale (its maps are half the original's resolution)


def _band(which: str) -> tuple[slice, slice]:
    """Rows/columns, in the original, of the top or bottom quarter of the product."""
    rows = slice(Y0 + 10, Y0 + 70) if which == "top" else slice(Y1 - 70, Y1 - 10)
    return rows, slice(X0, X1)


def _generated(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.stack([70 + 100 * yy / h, 90 + 80 * xx / w, 120 + 0 * xx], -1).astype(np.uint8)
    rng = np.random.default_rng(1)
    return np.clip(g + rng.integers(-12, 13, g.shape), 0, 255).astype(np.uint8)


_CHANGED = Finding(code="changed", failure="product_altered", sentence="a quarter of it changed")


def _report(changed: str, comparison_frame: str = "generated", h: int = 512, w: int = 512) -> ConsistencyReport:
    """One product whose ``changed`` quarter differs by ΔE 50 and the rest by ΔE 2.

    ``comparison_frame``: the comparison's matrix leads to the analysed generated image, or to a
    copy of it shrunk to the comparison's scale (both occur).
    """
    orig_mask = np.zeros((h, w), bool)
    orig_mask[Y0:Y1, X0:X1] = True
    gen = _generated(h, w)
    located = cv2.warpAffine(orig_mask.astype(np.uint8), MOVE, (w, h), flags=cv2.INTER_NEAREST) > 0
    gen[located] = (80, 170, 200)
    de_full = np.full((h, w), 2.0, np.float32)
    de_full[_band(changed)] = 50.0
    box = (round(X0 * K), round(Y0 * K), round(X1 * K), round(Y1 * K))
    small = cv2.resize(de_full, (round(w * K), round(h * K)), interpolation=cv2.INTER_AREA)
    de = small[box[1]:box[3], box[0]:box[2]].copy()
    to_original = np.diag([1 / K, 1 / K, 1.0])
    matrix = MOVE @ to_original
    if comparison_frame == "shrunk":
        g = K / 0.8
        matrix = np.diag([g, g]) @ matrix
    comp = Comparison(changed_share=0.25, local_change=1.0, delta_e_mean=14.0, mad=20.0, mad_raw=20.0,
                      ssim=0.6, edge=0.7, where="top" if changed == "top" else "bottom",
                      box=box, matrix=matrix, delta_e_map=de)
    loc = Location(MOVE.copy(), 0.9, "search")
    p = ProductReport(index=0, area_share=0.2, found=True, findings=[_CHANGED], location=loc, comparison=comp,
                      located_mask=located, grown_mask=np.zeros((h, w), bool))
    return ConsistencyReport([p], "mask", gen)


def _in_picture(rows: slice, cols: slice, shape: tuple[int, int], size: tuple[int, int],
                erode: int = 3) -> np.ndarray:
    """Original-frame region → where it lands in a picture of ``shape`` (of a ``size`` generated image)."""
    h, w = size
    m = np.zeros((h, w), np.uint8)
    m[rows, cols] = 1
    m = cv2.warpAffine(m, MOVE, (w, h), flags=cv2.INTER_NEAREST)
    m = cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return cv2.erode(m, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8)) > 0


def _departure(pic: np.ndarray, report: ConsistencyReport) -> np.ndarray:
    """How far the picture departs from the plain generated image, per pixel."""
    plain = cv2.resize(report.generated, pic.shape[1::-1], interpolation=cv2.INTER_AREA)
    return np.abs(pic.astype(np.float32) - plain.astype(np.float32)).mean(axis=2)


@pytest.mark.parametrize("frame", ["generated", "shrunk"])
@pytest.mark.parametrize(("changed", "unchanged"), [("top", "bottom"), ("bottom", "top")])
def test_changed_part_is_hotter_than_unchanged_product_pixels(tmp_path: Path, changed: str, unchanged: str,
                                                              frame: str) -> None:
    report = _report(changed, frame)
    path = write_heatmap(tmp_path / f"h{HEATMAP_SUFFIX}", render_heatmap(report, max_side=HEATMAP_MAX_SIDE))
    pic = load_image(path).rgb
    dep = _departure(pic, report)
    hot = dep[_in_picture(*_band(changed), pic.shape[:2], (512, 512))].mean()
    cold = dep[_in_picture(*_band(unchanged), pic.shape[:2], (512, 512))].mean()
    assert hot > 60 and hot > 5 * cold, (hot, cold)
    # the hot end of JET: the light blue product turns red where it changed
    r, g, b = pic[_in_picture(*_band(changed), pic.shape[:2], (512, 512))].astype(float).mean(0)
    assert r > 1.5 * g and r > 1.5 * b, (r, g, b)
    # the backdrop is dimmed around the product
    around = ~_in_picture(slice(Y0 - 30, Y1 + 30), slice(X0 - 30, X1 + 30), pic.shape[:2], (512, 512), 0)
    plain = cv2.resize(report.generated, pic.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert pic[around].mean() < 0.7 * plain[around].mean()
    # a failed product is outlined in red
    inner = _in_picture(slice(Y0, Y1), slice(X0, X1), pic.shape[:2], (512, 512), 0)
    ring = (cv2.dilate(inner.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~inner
    red = (pic[..., 0] > 150) & (pic[..., 1] < 100) & (pic[..., 2] < 100)
    assert red[ring].mean() > 0.3


def test_missing_product_is_outlined_where_it_should_be() -> None:
    h = w = 512
    expected = np.zeros((h, w), bool)
    expected[100:300, 150:350] = True
    p = ProductReport(index=0, area_share=0.15, found=False, findings=[_CHANGED], expected_mask=expected)
    gen = _generated(h, w)
    pic = render_heatmap(ConsistencyReport([p], "mask", gen), max_side=HEATMAP_MAX_SIDE)
    red = (pic[..., 0] > 150) & (pic[..., 1] < 100) & (pic[..., 2] < 100)
    small = cv2.resize(expected.astype(np.uint8), pic.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    ring = (cv2.dilate(small, np.ones((5, 5), np.uint8)) > 0) & ~(cv2.erode(small, np.ones((5, 5), np.uint8)) > 0)
    assert 0.15 < red[ring].mean() < 0.8  # dashed: red along the outline, with gaps
    assert red[~(cv2.dilate(small, np.ones((9, 9), np.uint8)) > 0)].mean() < 0.01


def test_full_size_and_small_pictures_agree() -> None:
    report = _report("top")
    big = render_heatmap(report)
    assert big.shape == report.generated.shape  # full size unless asked otherwise
    small = render_heatmap(report, max_side=HEATMAP_MAX_SIDE)
    shrunk = cv2.resize(big, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    inner = _in_picture(slice(Y0, Y1), slice(X0, X1), small.shape[:2], (512, 512))
    assert np.abs(shrunk[inner].astype(int) - small[inner].astype(int)).mean() < 12


@pytest.mark.parametrize(("size", "expected"), [
    ((512, 512), (320, 320)),
    ((400, 512), (250, 320)),  # landscape: the long side is HEATMAP_MAX_SIDE
    ((512, 400), (320, 250)),
    ((300, 200), (300, 200)),  # never enlarged
])
def test_heatmap_size(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert HEATMAP_MAX_SIDE == 320
    report = _report("bottom", h=max(size[0], Y1 + 20), w=max(size[1], X1 + 20))
    report.generated = cv2.resize(report.generated, size[::-1])
    for p in report.products:
        p.located_mask = cv2.resize(p.located_mask.astype(np.uint8), size[::-1]) > 0
        p.grown_mask = None
    assert render_heatmap(report, max_side=HEATMAP_MAX_SIDE).shape == (*expected, 3)


def test_check_writes_a_small_decodable_heatmap(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    o = np.full((512, 448, 3), 250, np.uint8)
    mask = np.zeros(o.shape[:2], bool)
    mask[140:380, 120:330] = True
    tex = cv2.GaussianBlur(rng.integers(0, 255, (240, 210, 3)).astype(np.uint8), (9, 9), 3)
    o[mask] = np.clip(np.array([60, 110, 180]) + (tex.reshape(-1, 3).astype(int) - 128), 0, 255)
    g = _generated(512, 448)
    g[mask] = o[mask]
    g[150:200, 120:330] = g[150:200, 120:330][..., ::-1]  # a recoloured band
    save_image(tmp_path / "o.png", o)
    save_image(tmp_path / "m.png", mask.astype(np.uint8) * 255)
    save_image(tmp_path / "g.png", g)
    art = tmp_path / "art"
    v = Judge(artifacts_dir=art).judge(tmp_path / "o.png", tmp_path / "g.png", tmp_path / "m.png")
    assert v.error is None, v.error
    rel = v.checks["consistency"].artifacts["heatmap"]
    assert rel.endswith(HEATMAP_SUFFIX) and not Path(rel).is_absolute()
    path = art / rel
    assert path.is_file() and path.stat().st_size < 60_000
    assert not list(path.parent.glob(".*.tmp"))  # written atomically
    assert load_image(path).rgb.shape == (320, 280, 3)  # the library's own reader (Pillow)
    assert cv2.imread(str(path)).shape == (320, 280, 3)


def test_encode_formats_and_errors(tmp_path: Path) -> None:
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30] = (255, 0, 0)
    for ext in (".jpg", ".png", ".webp"):
        back = cv2.imdecode(np.frombuffer(encode_heatmap(rgb, ext), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        assert back.shape == rgb.shape and back[20, 10, 0] > 200 and back[20, 10, 2] < 50  # RGB order kept
    with pytest.raises(ValueError, match="unsupported"):
        write_heatmap(tmp_path / "h.gif", rgb)
    assert not list(tmp_path.iterdir())
