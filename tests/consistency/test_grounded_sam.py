"""The grounded-sam segmentation backend: product selection, proposals, the pipeline with a
stand-in model of known behaviour, and tiny random Grounding DINO + SAM through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from hfpc.consistency import locate, segment_grounded
from hfpc.consistency.analyze import analyze_pair
from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.locate import mask_proposals
from hfpc.consistency.segment_grounded import products_from_masks

SIZE = 256


def _disc(cx: int, cy: int, r: int) -> np.ndarray:
    m = np.zeros((SIZE, SIZE), np.uint8)
    cv2.circle(m, (cx, cy), r, 1, -1)
    return m > 0


def test_products_are_objects_not_duplicates_scene_or_specks() -> None:
    s = ConsistencySettings()
    a, b = _disc(60, 60, 30), _disc(180, 180, 40)
    found = [(a, 0.9), (a | b, 0.7), (b, 0.6), (_disc(10, 240, 2), 0.95), (np.ones((SIZE, SIZE), bool), 0.8)]
    kept = products_from_masks(found, s)
    # the group box loses to its better-scored item; the speck and the frame-filling mask are not products
    assert len(kept) == 2
    assert (kept[0] == b).all() and (kept[1] == a).all()
    # the other way round: a better-scored group is one product, its items are not added
    assert len(products_from_masks([(a | b, 0.9), (a, 0.7), (b, 0.6)], s)) == 1


def test_proposals_put_the_product_on_each_mask_plain_and_mirrored() -> None:
    small, big = _disc(50, 60, 20), _disc(170, 150, 40)
    (plain, mirrored), = mask_proposals(small, [big])
    for matrix in (plain, mirrored):
        assert np.allclose(matrix @ [50, 60, 1], [170, 150], atol=0.5)
        assert np.isclose(np.sqrt(abs(np.linalg.det(matrix[:, :2]))), 2.0, atol=0.02)
    assert np.linalg.det(plain[:, :2]) > 0 > np.linalg.det(mirrored[:, :2])
    assert mask_proposals(np.zeros((SIZE, SIZE), bool), [big]) == []


class _StandIn:
    """A detector + segmenter of known behaviour: every object is what differs from the
    image's border colour (the scenes below have plain backdrops)."""

    device = dtype = None

    def _objects(self, img: np.ndarray) -> np.ndarray:
        border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).astype(float)
        far = np.abs(img.astype(float) - np.median(border, axis=0)).max(axis=2) > 40
        return cv2.morphologyEx(far.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0

    def boxes(self, images: list[np.ndarray], prompt: str, box_threshold: float, text_threshold: float) -> list:
        out = []
        for img in images:
            n, _, stats, _ = cv2.connectedComponentsWithStats(self._objects(img).astype(np.uint8))
            out.append([((float(x), float(y), float(x + w), float(y + h)), 0.9)
                        for x, y, w, h, area in stats[1:] if area > 50])
        return out

    def masks_many(self, images: list[np.ndarray], boxes: list) -> list:
        return [self.masks(img, b) for img, b in zip(images, boxes)]

    def masks(self, image: np.ndarray, boxes: list) -> list:
        objects = self._objects(image)
        out = []
        for x0, y0, x1, y1 in boxes:
            m = np.zeros_like(objects)
            m[int(y0):int(y1), int(x0):int(x1)] = objects[int(y0):int(y1), int(x0):int(x1)]
            out.append((m, 0.95))
        return out


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(60, 200, (h // 6, w // 6, 3), dtype=np.uint8), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(base, (3, 3), 0)


def _scene(backdrop: tuple[int, int, int], product: np.ndarray, x: int, y: int) -> np.ndarray:
    img = np.full((SIZE, SIZE, 3), backdrop, np.uint8)
    h, w = product.shape[:2]
    img[y:y + h, x:x + w] = product
    return img


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> ConsistencySettings:
    """grounded-sam settings whose models are the stand-in."""
    monkeypatch.setattr(segment_grounded, "load_grounded_sam", lambda *a: _StandIn())
    return ConsistencySettings(backend="grounded-sam")


def test_a_moved_mirrored_rescaled_product_is_found_through_its_mask(stand_in: ConsistencySettings,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def no_search(*a: object, **k: object) -> None:
        raise AssertionError("the search ran although a segmented proposal was convincing")

    monkeypatch.setattr(locate, "template_search", no_search)
    monkeypatch.setattr(locate, "keypoint_locations", no_search)
    product = _texture(72, 60, seed=1)
    original = _scene((235, 235, 235), product, 30, 40)
    moved = cv2.resize(product[:, ::-1], (78, 94), interpolation=cv2.INTER_LINEAR)
    generated = _scene((40, 70, 120), moved, 150, 120)
    report = analyze_pair(original, None, generated, stand_in)
    assert report.mask_source == "grounded-sam"
    assert report.passed, report.explanation()
    loc = report.products[0].location
    assert loc.method == "segmented" and loc.mirrored and abs(loc.scale - 1.3) < 0.05
    assert "mirrored" in report.explanation()


def test_an_altered_product_found_through_its_mask_still_fails(stand_in: ConsistencySettings) -> None:
    product = _texture(72, 60, seed=1)
    original = _scene((235, 235, 235), product, 30, 40)
    altered = product.copy()
    altered[:30, :] = (200, 30, 30)  # the top of the product painted over (a new label)
    generated = _scene((40, 70, 120), altered, 150, 120)
    report = analyze_pair(original, None, generated, stand_in)
    assert not report.passed
    assert report.failure == "product_altered", report.explanation()
    # judged where it stands, not reported missing
    assert np.allclose(report.products[0].location.matrix[:, 2], [120, 80], atol=3)


def test_no_detection_falls_back_to_the_classic_segmentation(monkeypatch: pytest.MonkeyPatch) -> None:
    class Blind(_StandIn):
        def boxes(self, images: list, *a: object) -> list:
            return [[] for _ in images]

    monkeypatch.setattr(segment_grounded, "load_grounded_sam", lambda *a: Blind())
    product = _texture(72, 60, seed=2)
    original = _scene((235, 235, 235), product, 30, 40)
    report = analyze_pair(original, None, original.copy(), ConsistencySettings(backend="grounded-sam"))
    assert report.passed
    assert report.mask_source.endswith("(grounded-sam found no product)")


# ---- tiny random Grounding DINO + SAM, saved and loaded back through hfpc's loader ----

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from hfpc.models.random_weights import save_random_grounding_dino, save_random_sam

    root = tmp_path_factory.mktemp("grounded-sam")
    return save_random_grounding_dino(root / "gd"), save_random_sam(root / "sam")


def test_tiny_models_load_and_segment_in_fp32_and_bf16(tiny_models: tuple[Path, Path]) -> None:
    det, seg = (str(p) for p in tiny_models)
    img = _scene((235, 235, 235), _texture(72, 60, seed=3), 30, 40)
    shapes = []
    for dtype in ("fp32", "bf16"):
        models = segment_grounded.load_grounded_sam(det, seg, "cpu", dtype)
        boxes = models.boxes([img, img[::-1].copy()], "product.", 0.0, 0.0)
        assert len(boxes) == 2 and all(boxes)
        masks = models.masks(img, [b for b, _ in boxes[0][:3]])
        assert len(masks) == 3 and all(m.shape == img.shape[:2] and m.dtype == bool for m, _ in masks)
        shapes.append(str(models.dtype))
    assert shapes == ["torch.float32", "torch.bfloat16"]


def test_a_checkpoint_of_the_wrong_kind_is_refused_by_name(tiny_models: tuple[Path, Path]) -> None:
    from hfpc.errors import ModelNotAvailableError

    det, seg = (str(p) for p in tiny_models)
    with pytest.raises(ModelNotAvailableError, match="not a SAM-family segmenter"):
        segment_grounded.load_grounded_sam(det, det, "cpu", "fp32")
    with pytest.raises(ModelNotAvailableError, match="not a Grounding DINO detector"):
        segment_grounded.load_grounded_sam(seg, seg, "cpu", "fp32")


def _profile(tmp_path: Path, detector: str, segmenter: str) -> Path:
    p = tmp_path / "grounded.toml"
    p.write_text(f'name = "grounded"\n[checks.consistency]\nbackend = "grounded-sam"\n'
                 f'detector = "{detector}"\nsegmenter = "{segmenter}"\ndevice = "cpu"\n', encoding="utf-8")
    return p


def test_filter_runs_grounded_sam_end_to_end(tiny_models: tuple[Path, Path], demo_set: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hfpc.cli import app

    manifest = demo_set.parent / "first4.jsonl"  # beside the images its paths are relative to
    manifest.write_text("".join(demo_set.read_text().splitlines(keepends=True)[:4]))
    out = tmp_path / "r.jsonl"
    r = CliRunner().invoke(app, ["filter", str(manifest), "-o", str(out), "-j", "2",
                                 "--profile", str(_profile(tmp_path, *map(str, tiny_models)))])
    assert r.exit_code in (0, 1), r.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 4 and not any(x.get("error") for x in rows)
    for row in rows:
        c = row["checks"]["consistency"]
        assert c["details"]["mask_source"] in ("mask", "grounded-sam") or "grounded-sam" in c["details"]["mask_source"]
        assert c["artifacts"]["heatmap"]


def test_a_model_not_on_the_machine_stops_the_run_with_how_to_get_it(demo_set: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hfpc.cli import app

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    out = tmp_path / "r.jsonl"
    r = CliRunner().invoke(app, ["filter", str(demo_set), "-o", str(out), "--profile",
                                 str(_profile(tmp_path, "IDEA-Research/grounding-dino-tiny", "facebook/sam-vit-base"))])
    assert r.exit_code == 2, r.output
    assert "IDEA-Research/grounding-dino-tiny" in r.output and "hfpc models pull" in r.output
    assert not out.exists() or not out.read_text().strip()


def test_a_detector_that_overflows_in_bf16_runs_in_fp32(tiny_models: tuple[Path, Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    det, seg = (str(p) for p in tiny_models)
    models = segment_grounded.load_grounded_sam(det, seg, "cpu", "bf16")
    real = segment_grounded.GroundedSam._detect

    def overflowing(self: segment_grounded.GroundedSam, inputs: object) -> object:
        out = real(self, inputs)
        if self.detector.dtype == torch.bfloat16:  # what the full-size random checkpoint does
            out.logits = torch.full_like(out.logits, float("nan"))
        return out

    monkeypatch.setattr(segment_grounded.GroundedSam, "_detect", overflowing)
    img = _scene((235, 235, 235), _texture(72, 60, seed=3), 30, 40)
    boxes = models.boxes([img], "product.", 0.0, 0.0)[0]
    assert boxes and all(np.isfinite(s) for _, s in boxes)
    assert models.detector.dtype == torch.float32 and models.segmenter.dtype == torch.bfloat16
    load = segment_grounded.load_grounded_sam
    load.cache_clear()  # the converted detector must not leak into other tests


def test_sam_in_a_batch_gives_the_masks_it_gives_image_by_image(tiny_models: tuple[Path, Path]) -> None:
    det, seg = (str(p) for p in tiny_models)
    models = segment_grounded.load_grounded_sam(det, seg, "cpu", "fp32")
    a = _scene((235, 235, 235), _texture(72, 60, seed=4), 30, 40)
    b = _scene((40, 70, 120), _texture(50, 90, seed=5), 100, 120)
    boxes = [[(20.0, 30.0, 100.0, 120.0), (0.0, 0.0, 60.0, 60.0)], [], [(90.0, 110.0, 200.0, 180.0)]]
    batched = models.masks_many([a, a[::-1].copy(), b], boxes)
    alone = [models.masks(img, bx) for img, bx in zip([a, a[::-1].copy(), b], boxes)]
    assert [len(x) for x in batched] == [2, 0, 1]
    for x, y in zip(batched, alone):
        for (m1, s1), (m2, s2) in zip(x, y):
            assert (m1 == m2).mean() > 0.999 and abs(s1 - s2) < 1e-4
