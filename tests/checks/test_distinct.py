"""The ``distinct`` check: a product that blends into its background fails, a clear one passes.

Scenes are drawn by hand and handed over with a hand-built consistency report; the synthetic
generator and a few real good images (``../shared/data/real-dev``, skipped when absent) go end
to end.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hfpc.checks.base import JudgeItem
from hfpc.checks.consistency import ConsistencyCheck
from hfpc.checks.distinct import DistinctCheck, DistinctSettings
from hfpc.consistency.analyze import ConsistencyReport, ProductReport
from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.heatmap import HEATMAP_MAX_SIDE
from hfpc.data.images import LoadedImage
from hfpc.data.synth import make_sample
from hfpc.scene import measure_distinct
from hfpc.types import Sample
from tests.checks.real import REAL, located_item

S = 384


def scene(product: tuple[int, int, int], background: tuple[int, int, int] = (120, 140, 170),
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bottle-like product (body and cap) with a darker label stripe, on a slightly noisy backdrop."""
    rng = np.random.default_rng(seed)
    img = np.full((S, S, 3), background, np.float32) + rng.normal(0, 2.0, (S, S, 3))
    mask = np.zeros((S, S), np.uint8)
    cv2.rectangle(mask, (150, 120), (234, 320), 1, -1)
    cv2.rectangle(mask, (176, 90), (208, 120), 1, -1)
    body = mask > 0
    img[body] = product
    img[200:240, 150:235] = np.array(product, np.float32) * 0.8  # a label stripe
    return np.clip(img, 0, 255).astype(np.uint8), body


def item_for(rgb: np.ndarray, masks: list[np.ndarray | None], artifacts: Path | None = None) -> JudgeItem:
    """A JudgeItem whose consistency report says each product is at ``masks[i]`` (None: not found)."""
    products = [ProductReport(i, 0.1, m is not None, [], located_mask=m) for i, m in enumerate(masks)]
    img = LoadedImage(rgb, None, "g.png")
    item = JudgeItem(Sample("x1", "o.png", "g.png"), img, img, None, artifacts_dir=artifacts,
                     artifacts_base=artifacts)
    item.shared["consistency"] = ConsistencyReport(products, "mask", rgb)
    return item


def test_product_in_its_backgrounds_colour_is_indistinct() -> None:
    rgb, mask = scene(product=(125, 143, 172))
    r = DistinctCheck(DistinctSettings()).run(item_for(rgb, [mask]))
    assert not r.passed and r.failure == "indistinct"
    f = r.findings[0]
    assert f.failure == "indistinct" and f.product == 1
    assert "blends into its background" in f.sentence and "ΔE2000" in f.sentence
    x0, y0, x1, y1 = f.box  # the weak stretch of the outline lies on the product's outline
    assert 0.35 < x0 < x1 < 0.65 and 0.2 < y0 < y1 < 0.86


def test_contrasting_product_stands_out() -> None:
    rgb, mask = scene(product=(230, 200, 40))
    r = DistinctCheck(DistinctSettings()).run(item_for(rgb, [mask]))
    assert r.passed, r.explanation
    d = r.details["products"][0]
    assert d["colour_delta_e"] > 30 and d["boundary_delta_e"] > 30
    assert d["salience_ratio"] > 1  # a clear product draws more than its share of the salience


def test_measures_order_close_and_far_colours() -> None:
    """ΔE across the outline and the salience ratio grow with the colour difference; texture is reported."""
    near = measure_distinct(*scene(product=(130, 145, 175)))
    far = measure_distinct(*scene(product=(20, 20, 20)))
    assert near.colour_contrast < 5 < 40 < far.colour_contrast
    assert near.contrast < far.contrast
    assert near.weak_share > 0.5 > far.weak_share
    assert 0 <= near.texture_similarity <= 1 and 0 <= far.texture_similarity <= 1
    assert near.salience_ratio < far.salience_ratio


def test_saturated_product_on_its_own_hue_is_indistinct() -> None:
    """A saturated red bottle on a red backdrop a little lighter and yellower: CIEDE2000 sees more than 6 units,
    ΔE*ab sees the same hue at about the same lightness, and the same-hue rule names it."""
    rgb, mask = scene(product=(190, 40, 40), background=(210, 70, 40))
    r = DistinctCheck(DistinctSettings()).run(item_for(rgb, [mask]))
    d = r.details["products"][0]
    assert d["colour_delta_e"] > DistinctSettings().min_colour_delta_e  # the older rule alone passes it
    assert d["chroma"] >= 25 and d["colour_delta_e76"] <= 18
    assert not r.passed and "hue and lightness of its surroundings" in r.findings[0].sentence
    alone = {"max_melting_delta_e": None}  # this rule alone (the melting rule also sees this scene)
    assert DistinctCheck(DistinctSettings(max_same_hue_delta_e=None, **alone)).run(item_for(rgb, [mask])).passed
    # a crisp outline sets it apart: only an outline contrast above the limit lets it pass
    assert d["boundary_delta_e"] < DistinctSettings().max_same_hue_boundary_delta_e
    crisp = DistinctSettings(max_same_hue_boundary_delta_e=d["boundary_delta_e"] - 0.5, **alone)
    assert DistinctCheck(crisp).run(item_for(rgb, [mask])).passed


def test_saturated_product_melting_along_its_outline_is_indistinct() -> None:
    """A purple bottle on a violet backdrop: CIEDE2000 between the colours is under 10 and most of the
    outline is weak, but ΔE*ab is above the same-hue limit; the melting rule names it."""
    rgb, mask = scene(product=(150, 40, 160), background=(125, 55, 195))
    older = DistinctSettings(max_melting_delta_e=None)
    assert DistinctCheck(older).run(item_for(rgb, [mask])).passed  # the other rules alone pass it
    r = DistinctCheck(DistinctSettings()).run(item_for(rgb, [mask]))
    d = r.details["products"][0]
    assert d["colour_delta_e"] < 10 and d["colour_delta_e76"] > 18 and d["weak_share"] >= 0.4
    assert not r.passed and "much of its outline melts" in r.findings[0].sentence


@pytest.mark.parametrize(("product", "background"), [
    ((150, 40, 160), (150, 110, 170)),  # the same purple on a pinker, lighter backdrop: ΔE2000 above 10
    ((112, 112, 117), (128, 128, 133)),  # greyish, a little apart: light and shade, not hue, set it apart
])
def test_melting_rule_needs_close_saturated_colours(product: tuple[int, int, int],
                                                   background: tuple[int, int, int]) -> None:
    rgb, mask = scene(product=product, background=background)
    r = DistinctCheck(DistinctSettings()).run(item_for(rgb, [mask]))
    assert r.passed, r.details


@pytest.mark.parametrize(("product", "background"), [
    ((190, 40, 40), (120, 20, 25)),  # same hue, much darker backdrop: stands out by lightness
    ((200, 60, 40), (40, 90, 200)),  # another hue
    ((120, 120, 125), (135, 135, 140)),  # greyish, 6+ apart: the same-hue rule needs chroma
])
def test_same_hue_rule_needs_saturation_and_close_lightness(product: tuple[int, int, int],
                                                             background: tuple[int, int, int]) -> None:
    rgb, mask = scene(product=product, background=background)
    r = DistinctCheck(DistinctSettings(min_colour_delta_e=0.1)).run(item_for(rgb, [mask]))
    assert r.passed, r.details


def test_optional_salience_gate() -> None:
    rgb, mask = scene(product=(125, 143, 172))
    r = DistinctCheck(DistinctSettings(salient_ratio=1e-6)).run(item_for(rgb, [mask]))
    assert r.passed  # any salience counts: the gate lets it pass


def test_product_not_found_is_not_judged() -> None:
    rgb, _ = scene(product=(125, 143, 172))
    r = DistinctCheck(DistinctSettings()).run(item_for(rgb, [None]))
    assert r.passed and r.explanation.startswith("not judged")


def test_picture_is_a_small_jpeg_with_the_box(tmp_path: Path) -> None:
    rgb, mask = scene(product=(125, 143, 172))
    r = DistinctCheck(DistinctSettings()).run(item_for(rgb, [mask], artifacts=tmp_path))
    pic = cv2.imread(str(tmp_path / r.artifacts["picture"]))
    assert r.artifacts["picture"].endswith(".jpg")
    assert pic is not None and max(pic.shape[:2]) <= HEATMAP_MAX_SIDE
    red = (pic[..., 2] > 180) & (pic[..., 1] < 90)
    assert red.sum() > 50


def _synthetic(kind: str, seed: int) -> JudgeItem:
    s = make_sample(np.random.default_rng([91, seed]), 384, kind)
    cut = s.cutout[..., 3] > 127
    orig, gen = LoadedImage(s.original, None, "o"), LoadedImage(s.generated, None, "g")
    item = JudgeItem(Sample(f"{kind}{seed}", "o", "g"), orig, gen, cut)
    ConsistencyCheck(ConsistencySettings(max_side=384)).run(item)
    return item


def test_synthetic_good_images_pass_and_some_indistinct_are_caught() -> None:
    """No clear product fails; nearly every blending one does (the target is 90 %)."""
    c = DistinctCheck(DistinctSettings())
    good = [c.run(_synthetic(k, seed)) for k in ("good", "moved") for seed in range(3)]
    assert all(r.passed for r in good), [r.explanation for r in good]
    blended = [c.run(_synthetic("indistinct", seed)) for seed in range(6)]
    assert sum(not r.passed for r in blended) >= 5, [r.details for r in blended]


GOOD_ROWS = ("osi_box_insertanything", "mos_gwagon_finetuned", "icl_angel_neon")


@pytest.mark.skipif(not (REAL / "manifest.jsonl").exists(), reason=f"{REAL} is not here")
@pytest.mark.parametrize("row", GOOD_ROWS)
def test_real_good_images_pass(row: str) -> None:
    """Good real images whose product is close in colour to its scene still pass."""
    r = DistinctCheck(DistinctSettings()).run(located_item(row))
    assert r.passed, (row, r.explanation, r.details)


def test_muted_product_melting_into_its_backdrop_is_indistinct() -> None:
    """A dusty blue product (chroma about 17) a little darker than its dusty blue backdrop melts into it;
    a greyish one as far from its backdrop is set apart by light and shade and passes."""
    rgb, mask = scene(product=(90, 110, 140), background=(110, 128, 155))
    r = DistinctCheck(DistinctSettings()).run(item_for(rgb, [mask]))
    d = r.details["products"][0]
    assert DistinctSettings().min_melting_chroma <= d["chroma"] < DistinctSettings().min_chroma
    assert d["colour_delta_e"] > DistinctSettings().min_colour_delta_e  # the colour rule alone passes it
    assert not r.passed and "much of its outline melts" in r.findings[0].sentence
    assert DistinctCheck(DistinctSettings(min_melting_chroma=25)).run(item_for(rgb, [mask])).passed
    grey, grey_mask = scene(product=(118, 118, 124), background=(136, 136, 142))
    g = DistinctCheck(DistinctSettings()).run(item_for(grey, [grey_mask]))
    assert g.passed and g.details["products"][0]["colour_delta_e"] > DistinctSettings().min_colour_delta_e


def test_salience_without_opencv_contrib_is_the_same_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installing the OCR extra after the core package can leave OpenCV without its saliency
    module (rapidocr pulls the plain wheel over the contrib one): the same map is then computed
    from OpenCV's core functions."""
    import cv2

    import hfpc.scene as scene

    rng = np.random.default_rng(4)
    rgb = cv2.GaussianBlur(rng.integers(0, 255, (90, 130, 3), dtype=np.uint8), (0, 0), 3)
    cv2.circle(rgb, (70, 40), 15, (250, 30, 30), -1)
    monkeypatch.setattr(scene, "_SALIENCY", None)
    if hasattr(cv2, "saliency"):
        with_contrib = scene.spectral_salience(rgb)
        np.testing.assert_allclose(scene._spectral_residual(rgb), with_contrib, atol=1e-6)
        monkeypatch.delattr(cv2, "saliency")
        monkeypatch.setattr(scene, "_SALIENCY", None)
    without = scene.spectral_salience(rgb)
    assert without.shape == rgb.shape[:2] and without.dtype == np.float32
    np.testing.assert_array_equal(without, scene._spectral_residual(rgb))
