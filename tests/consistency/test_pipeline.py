from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from hfpc.consistency import ConsistencySettings, analyze_pair
from hfpc.consistency.compare import colour_correct, compare_product
from hfpc.consistency.heatmap import render_heatmap
from hfpc.consistency.locate import Location, similarity
from hfpc.consistency.match import assign, box_iou
from hfpc.consistency.segment_classic import segment_original
from hfpc.data.images import load_image, load_mask
from hfpc.data.synth import PRODUCT_DEFECTS
from hfpc.types import Sample


@pytest.fixture(scope="module")
def reports(demo_samples: list[Sample]) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for s in demo_samples:
        o, g = load_image(s.original), load_image(s.generated)
        out[s.meta["kind"]].append(analyze_pair(o.rgb, load_mask(s.mask), g.rgb))
    return out


def test_defects_flagged_and_benign_pass(reports: dict[str, list]) -> None:
    defects = [r for k in PRODUCT_DEFECTS for r in reports[k]]
    benign = [r for k in ("good", "moved") for r in reports[k]]
    flagged = sum(not r.passed for r in defects) / len(defects)
    false_alarms = sum(not r.passed for r in benign) / len(benign)
    assert flagged >= 0.85, flagged
    assert false_alarms <= 0.25, false_alarms
    for r in reports["missing"] + reports["replaced"]:
        assert not r.passed and r.value < 0.5


def test_moved_products_are_located_by_search(reports: dict[str, list]) -> None:
    for r in reports["moved"]:
        assert r.passed, r.explanation()
        assert all(p.location.method != "same_place" and abs(p.location.scale - 1) > 0.1 for p in r.products)
        assert "moved" in r.explanation() and "unchanged" in r.explanation()


def test_explanations_and_heatmap(reports: dict[str, list]) -> None:
    r = reports["altered_recolour"][0]
    assert not r.passed and "changed" in r.explanation()
    assert r.failure == "product_altered"
    assert r.codes and all(f.code for p in r.products for f in p.findings)
    heat = render_heatmap(r)
    assert heat.shape == r.generated.shape and heat.dtype == np.uint8
    # the changed product is drawn hot: more red than the dimmed background
    p = r.products[0]
    assert heat[p.located_mask][:, 0].mean() > heat[~p.located_mask][:, 0].mean()


def test_segmentation_without_mask_matches_alpha(demo_samples: list[Sample]) -> None:
    for s in demo_samples[:8]:
        o = load_image(s.original)
        alpha = load_mask(s.mask)
        masks, source = segment_original(o.rgb, None, ConsistencySettings())
        assert source.startswith("border")
        union = np.any(masks, axis=0)
        iou = (union & alpha).sum() / (union | alpha).sum()
        assert iou > 0.9, (s.id, iou)
        assert len(masks) == s.meta["n_products"]


def _scene(shift: int = 0, colour=(200, 40, 40)) -> tuple[np.ndarray, np.ndarray]:
    img = np.full((128, 128, 3), 240, np.uint8)
    mask = np.zeros((128, 128), bool)
    mask[40:90, 30 + shift:70 + shift] = True
    img[mask] = colour
    img[50:60, 35 + shift:65 + shift] = (20, 20, 20)  # print on the product
    return img, mask


def test_same_product_passes_and_recolour_fails() -> None:
    o, m = _scene()
    rng = np.random.default_rng(0)
    g = np.clip(o.astype(int) + rng.integers(-3, 4, o.shape), 0, 255).astype(np.uint8)
    g[~m] = (90, 140, 200)
    assert analyze_pair(o, m, g).passed
    g2, _ = _scene(colour=(40, 40, 200))
    g2[~m] = (90, 140, 200)
    rep = analyze_pair(o, m, g2)
    assert not rep.passed and rep.value < 0.5


def test_colour_correction_is_bounded() -> None:
    o, m = _scene()
    brighter = np.clip(o.astype(np.float32) * 1.1, 0, 255).astype(np.uint8)
    fixed = colour_correct(brighter, o, m, 1.25, 25)
    assert np.abs(fixed[m] - o[m]).mean() < 3
    recoloured, _ = _scene(colour=(40, 40, 200))
    fixed = colour_correct(recoloured, o, m, 1.25, 25)
    assert np.abs(fixed[m] - o[m]).mean() > 40


def test_compare_counts_changed_pixels() -> None:
    o, m = _scene()
    g = o.copy()
    g[70:90, 30:70] = (30, 200, 30)  # 40 % of the product repainted
    c = compare_product(o, m, g, similarity(1, 0, 0), ConsistencySettings())
    assert 0.3 < c.changed_share < 0.5
    assert c.where.startswith("bottom")


def test_assignment_is_one_to_one() -> None:
    m1 = np.zeros((100, 200), bool)
    m1[10:50, 10:50] = True
    m2 = np.zeros((100, 200), bool)
    m2[10:50, 120:160] = True
    # both products propose the same region; product 2 also has its own
    shared = Location(similarity(1, 0, 0), 0.9, "same_place")
    own2 = Location(similarity(1, 0, 0), 0.8, "same_place")
    p = assign([m1, m2], [[shared], [Location(similarity(1, -110, 0), 0.95, "search"), own2]],
               similarity(1, 0, 0), 0.5)
    # product 2's better-scoring search hit is the region product 1 owns: it gets its own
    assert p[0].location is shared
    assert p[1].location is own2


def test_box_iou() -> None:
    assert box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0


def test_outpainted_to_another_format_is_found(demo_samples: list[Sample]) -> None:
    """A generator that outpaints to a wider format keeps the product at a new place."""
    import cv2

    for s in [x for x in demo_samples if x.meta["kind"] == "good"][:2]:
        g = load_image(s.generated).rgb
        h, w = g.shape[:2]
        wide = cv2.resize(g, (w * 16 // 9, h))
        x0 = (wide.shape[1] - w) // 2
        wide[:, x0:x0 + w] = g
        rep = analyze_pair(load_image(s.original).rgb, load_mask(s.mask), wide)
        assert rep.passed, rep.explanation()
        assert all(p.location.method != "same_place" for p in rep.products)


def _backdrop(seed: int) -> np.ndarray:
    """A new backdrop: a wall over a table, with some grain."""
    rng = np.random.default_rng(seed)
    img = np.zeros((320, 320, 3), np.float32)
    img[:200] = (205, 190, 170)
    img[200:] = (150, 105, 70)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _striped_box(img: np.ndarray, colour: tuple[int, int, int], x0: int = 120, y0: int = 90) -> None:
    import cv2

    cv2.rectangle(img, (x0, y0), (x0 + 80, y0 + 140), colour, -1)
    for y in range(y0 + 10, y0 + 140, 20):
        cv2.line(img, (x0 + 8, y), (x0 + 72, y), (250, 250, 250), 4)


def test_missing_when_its_place_shows_only_the_scene_and_replaced_when_an_object_stands_there() -> None:
    import cv2

    orig = np.full((320, 320, 3), 240, np.uint8)
    _striped_box(orig, (30, 60, 160))
    mask = np.zeros((320, 320), bool)
    mask[90:231, 120:201] = True
    empty = _backdrop(1)
    other = _backdrop(2)
    cv2.ellipse(other, (160, 160), (40, 70), 0, 0, 360, (30, 60, 160), -1)  # the product's blue, another shape
    cv2.circle(other, (160, 150), 22, (240, 200, 60), -1)

    gone = analyze_pair(orig, mask, empty).products[0]
    assert not gone.found and gone.findings[0].failure == "product_missing"
    assert "its place shows only the surrounding scene" in gone.findings[0].sentence
    swapped = analyze_pair(orig, mask, other).products[0]
    assert swapped.findings[0].failure in ("product_replaced", "product_altered"), swapped.findings[0].sentence
    assert "surrounding scene" not in swapped.findings[0].sentence
    # framed differently, the product's own place is unknown: the vacancy test does not apply
    wide = cv2.resize(empty, (480, 320))
    elsewhere = analyze_pair(orig, mask, wide).products[0]
    assert "surrounding scene" not in elsewhere.findings[0].sentence


def test_another_object_is_named_replaced_and_a_recolour_or_new_print_altered() -> None:
    from hfpc.consistency.analyze import _other_object
    from hfpc.consistency.compare import Comparison

    s = ConsistencySettings()

    def named(silhouette: float, edge: float, changed: float) -> list[str]:
        c = Comparison(changed_share=changed, local_change=1.0, delta_e_mean=20, mad=40, mad_raw=40, ssim=0.5,
                       edge=min(1.0, edge + 0.1), edge_exact=edge)  # the name follows the exact agreement
        loc = Location(similarity(1.0, 0, 0), 0.6, "search")
        loc.silhouette = silhouette
        return [f.failure for f in _other_object(c, loc, s)]

    assert named(0.2, 0.5, 0.6) == ["product_replaced"]
    assert named(0.35, 0.95, 0.9) == []  # recoloured: its edges are kept
    assert named(0.7, 0.6, 0.45) == []  # new print: its colours still fill the outline
    assert named(0.2, 0.5, 0.1) == []  # little of it differs
    assert named(-1.0, 0.5, 0.6) == []  # colour match not measured


def test_found_replacements_are_named_replaced_and_alterations_are_not(tmp_path) -> None:
    from hfpc import read_manifest
    from hfpc.data.synth import generate_demo_set

    manifest = generate_demo_set(tmp_path, n=20, seed=4321, size=384,
                                 kinds={"replaced": 10, "altered_recolour": 5, "altered_texture": 5})
    names: dict[str, list[str | None]] = defaultdict(list)
    for smp in read_manifest(manifest):
        rep = analyze_pair(load_image(smp.original).rgb, load_mask(smp.mask), load_image(smp.generated).rgb)
        names[smp.meta["kind"]] += [p.failure for p in rep.products if p.found and not p.passed]
    assert names["altered_recolour"] and names["altered_texture"]
    assert "product_replaced" not in names["altered_recolour"] + names["altered_texture"]
    assert names["replaced"].count("product_replaced") >= len(names["replaced"]) / 2, names["replaced"]


def test_a_product_whose_keypoints_still_agree_is_altered_not_replaced() -> None:
    """Keypoints that agree on one placement across the product are its own features: too few to
    accept it, they still say it is this product changed (outlined there), not another object;
    below keypoint_min_inliers, or spanning only a label's worth of it, the naming falls back to
    replaced."""
    from hfpc.consistency.analyze import _not_found

    s = ConsistencySettings()
    g = _backdrop(3)
    mask = np.zeros((320, 320), bool)
    mask[40:120, 40:100] = True
    same = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    moved = np.array([[1.0, 0.0, 150.0], [0.0, 1.0, 120.0]])
    search = Location(same, 0.42, "search", silhouette=0.45)

    def report(inliers: int, spread: float = 0.4):
        keyed = Location(moved, 0.44, "keypoints", inliers=inliers, spread=spread)
        return _not_found(0, 0.05, [search, keyed], mask, same, g, s, framed=False)

    kept = report(s.keypoint_min_inliers + 1)
    assert kept.findings[0].failure == "product_altered", kept.findings[0].sentence
    assert f"{s.keypoint_min_inliers + 1} of its keypoints" in kept.findings[0].sentence
    ys, xs = np.nonzero(kept.expected_mask)
    assert (ys.min(), xs.min()) == (160, 190)  # outlined where the keypoints put it
    other = report(s.keypoint_min_inliers - 3)
    assert other.findings[0].failure == "product_replaced", other.findings[0].sentence
    # many matches on one part only (the same printed word on another object): still replaced
    label = report(s.keypoint_min_inliers + 2, spread=0.03)
    assert label.findings[0].failure == "product_replaced", label.findings[0].sentence
