"""The ``text`` check on drawn images (both directions) and on one real generated ad."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from hfpc.checks.text import TextSettings, _changed, _correlation
from hfpc.judge import Judge
from hfpc.profile import Profile
from hfpc.text_ocr import OCR_MISSING, edit_distance, text_candidates
from hfpc.types import Sample

pytest.importorskip("rapidocr")

REAL_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dev"
S = 512
PRODUCT = (176, 130, 336, 430)  # x0, y0, x1, y1 of the drawn product


def _product(img: np.ndarray, word: str, label: tuple[int, int, int] = (245, 245, 245),
             size: float = 1.2, dx: int = 0) -> None:
    """A blue box with a light label carrying ``word`` in black capitals (about 30 px high)."""
    x0, y0, x1, y1 = PRODUCT
    cv2.rectangle(img, (x0, y0), (x1, y1), (40, 90, 160), -1)
    cv2.rectangle(img, (x0 + 12, y0 + 100), (x1 - 12, y0 + 170), label, -1)
    (tw, th), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_DUPLEX, size, 2)
    org = ((x0 + x1 - tw) // 2 + dx, y0 + 135 + th // 2)
    cv2.putText(img, word, org, cv2.FONT_HERSHEY_DUPLEX, size, (10, 10, 10), 2, cv2.LINE_AA)


def _pair(tmp_path: Path, gen_word: str = "HONEY", background_text: str | None = None,
          word: str = "HONEY", label: bool = True, gen_label: tuple[int, int, int] = (245, 245, 245),
          gen_size: float = 1.2, gen_dx: int = 0) -> Sample:
    orig = np.full((S, S, 3), 235, np.uint8)
    gen = np.zeros((S, S, 3), np.uint8)
    gen[:] = np.linspace(170, 215, S, dtype=np.float32)[:, None, None].astype(np.uint8)  # a new backdrop
    gen[..., 2] = np.clip(gen[..., 2].astype(int) - 30, 0, 255)
    if label:
        _product(orig, word)
        _product(gen, gen_word, gen_label, gen_size, gen_dx)
    else:
        for img in (orig, gen):
            cv2.rectangle(img, PRODUCT[:2], PRODUCT[2:], (40, 90, 160), -1)
    if background_text:
        cv2.putText(gen, background_text, (30, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (120, 20, 20), 3, cv2.LINE_AA)
    mask = np.zeros((S, S), np.uint8)
    cv2.rectangle(mask, PRODUCT[:2], PRODUCT[2:], 255, -1)
    paths = {}
    for name, img in (("orig", orig), ("gen", gen)):
        paths[name] = tmp_path / f"{name}.png"
        cv2.imwrite(str(paths[name]), img[..., ::-1])
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    return Sample(id="t", original=str(paths["orig"]), generated=str(paths["gen"]), mask=str(tmp_path / "mask.png"))


def _judge(sample: Sample, artifacts: Path | None = None, checks: dict | None = None):
    profile = Profile(name="t", checks=checks or {"consistency": {}, "text": {}})
    return Judge(profile, artifacts_dir=artifacts).judge(sample)


def test_background_text_is_flagged_where_it_is(tmp_path: Path) -> None:
    v = _judge(_pair(tmp_path, background_text="SALE 50%"), artifacts=tmp_path / "art")
    r = v.checks["text"]
    assert not r.passed and r.failure == "text_artifacts"
    f = r.findings[0]
    assert f.failure == "text_artifacts" and f.box is not None
    x0, y0, x1, y1 = f.box  # the text spans about x 30-215, y 50-85 of 512
    assert x0 < 0.12 and 0.3 < x1 < 0.5 and 0.05 < y0 < 0.12 and 0.14 < y1 < 0.22
    assert "SALE" in f.sentence
    picture = tmp_path / "art" / r.artifacts["picture"].split("art/", 1)[-1]
    assert picture.suffix == ".jpg" and cv2.imread(str(picture)) is not None


def test_same_text_on_the_product_passes(tmp_path: Path) -> None:
    r = _judge(_pair(tmp_path)).checks["text"]
    assert r.passed, r.explanation
    assert r.details["products_kept"] == [1] and r.details["original_lines"] is None  # no OCR needed


def test_look_alike_letter_on_a_kept_product_is_product_text_changed(tmp_path: Path) -> None:
    """HONEY → HDNEY on a pasted product: one look-alike letter moves few pixels, but its blocks
    fall below the kept-print gate, the line's glyph pieces below theirs, and the reading differs."""
    r = _judge(_pair(tmp_path, gen_word="HDNEY")).checks["text"]
    assert not r.passed and r.failure == "product_text_changed", r.explanation
    line = r.details["product_lines"][0]
    assert line["original"] == "HONEY" and line["generated"] == "HDNEY" and line["changed"]


def test_same_text_on_a_redrawn_label_passes(tmp_path: Path) -> None:
    """Label repainted, lettering smaller and off centre: the text is read on both sides and reads the same."""
    r = _judge(_pair(tmp_path, gen_label=(250, 215, 120), gen_size=1.0, gen_dx=9)).checks["text"]
    assert r.passed, r.explanation
    lines = r.details["product_lines"]
    assert len(lines) == 1 and lines[0]["original"] == "HONEY" and not lines[0]["changed"]


def test_changed_label_word_is_product_text_changed(tmp_path: Path) -> None:
    r = _judge(_pair(tmp_path, gen_word="MONKS")).checks["text"]
    assert not r.passed and r.failure == "product_text_changed"
    f = r.findings[0]
    assert f.product == 1 and f.box is not None
    # the edit distance travels as the finding's value, above the check's threshold
    assert f.value is not None and f.value > TextSettings().edit_distance_threshold
    cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
    assert abs(cx - 0.5) < 0.05 and abs(cy - (PRODUCT[1] + 135) / S) < 0.05


def test_one_changed_letter_is_product_text_changed(tmp_path: Path) -> None:
    """HONEY → MONEY: the line's pixels still correlate highly as a whole and the edit distance is
    small, but each glyph is compared and both readings are sure, so the change is claimed."""
    r = _judge(_pair(tmp_path, gen_word="MONEY")).checks["text"]
    assert not r.passed and r.failure == "product_text_changed", r.explanation
    line = r.details["product_lines"][0]
    assert line["original"] == "HONEY" and line["generated"] == "MONEY" and line["changed"]
    assert 0 < line["distance"] <= TextSettings().edit_distance_threshold
    assert "both read with confidence" in r.findings[0].sentence


def test_near_reading_needs_sure_readings_and_legible_size() -> None:
    """A letter's difference counts only when both readings are sure and the line is large."""
    s = TextSettings()
    assert _changed(0.2, 0.99, 0.99, 30.0, s)
    assert not _changed(0.2, 0.80, 0.99, 30.0, s)  # unsure generated reading
    assert not _changed(0.2, 0.99, 0.85, 30.0, s)  # unsure original reading
    assert not _changed(0.2, 0.99, 0.99, 12.0, s)  # small text is misread now and then
    assert not _changed(0.0, 1.0, 1.0, 30.0, s)
    assert _changed(0.6, 0.99, 0.99, 12.0, s)  # a far, sure reading


def test_glyph_pieces_catch_a_letter_the_whole_line_hides() -> None:
    """One changed letter leaves the whole line correlating above the shortcut; its glyph piece does not."""
    def line(word: str, gain: float = 1.0) -> np.ndarray:
        img = np.full((60, 220, 3), 240, np.uint8)
        cv2.putText(img, word, (10, 45), cv2.FONT_HERSHEY_DUPLEX, 1.4, (20, 20, 20), 3, cv2.LINE_AA)
        return np.clip(img.astype(np.float32) * gain, 0, 255).astype(np.uint8)

    box, same = (5.0, 8.0, 215.0, 55.0), np.eye(3)[:2]
    whole = cv2.matchTemplate(cv2.cvtColor(line("BLOOM"), cv2.COLOR_RGB2GRAY)[8:55, 5:215],
                              cv2.cvtColor(line("BLOOW"), cv2.COLOR_RGB2GRAY)[8:55, 5:215], cv2.TM_CCOEFF_NORMED)
    assert float(whole.max()) > 0.8
    assert _correlation(line("BLOOM"), line("BLOOW"), same, box) < TextSettings().unchanged_correlation
    assert _correlation(line("BLOOM"), line("BLOOM", gain=0.8), same, box) > 0.99  # light alone


def test_glyph_pieces_follow_the_lettering_not_a_taller_box() -> None:
    """A detected line's box often spans a whole label band, twice as tall as its letters and with
    the band's edges in every row; the pieces are cut to the lettering, so ROSE → RDSE is seen."""
    def label(word: str) -> np.ndarray:
        img = np.full((90, 240, 3), (150, 40, 160), np.uint8)  # a purple product around the label
        cv2.rectangle(img, (12, 12), (228, 78), (235, 235, 225), -1)
        cv2.putText(img, word, (40, 58), cv2.FONT_HERSHEY_DUPLEX, 1.1, (20, 90, 40), 3, cv2.LINE_AA)
        return img

    box, same = (4.0, 4.0, 236.0, 86.0), np.eye(3)[:2]
    assert _correlation(label("ROSE"), label("RDSE"), same, box) < TextSettings().unchanged_correlation
    assert _correlation(label("ROSE"), label("ROSE"), same, box) > 0.99


def test_text_filling_a_square_label_is_still_read(tmp_path: Path) -> None:
    """Lettering that nearly fills a square label joins the label's edges into one line no wider
    than it is tall, which the glyph gate does not take for text; the product's own box is read
    all the same, and a changed word on it is caught."""
    def draw(word: str) -> np.ndarray:
        img = np.full((S, S, 3), 235, np.uint8)
        x0, y0, x1, y1 = PRODUCT
        cv2.rectangle(img, (x0, y0), (x1, y1), (40, 90, 160), -1)
        (tw, th), _ = cv2.getTextSize("HONEY", cv2.FONT_HERSHEY_DUPLEX, 0.9, 2)
        cx, cy = (x0 + x1) // 2, y0 + 135
        half = tw // 2 + 2
        cv2.rectangle(img, (cx - half, cy - half), (cx + half, cy + half), (245, 245, 245), -1)
        cv2.putText(img, word, (cx - tw // 2, cy + th // 2), cv2.FONT_HERSHEY_DUPLEX, 0.9, (10, 10, 10), 2,
                    cv2.LINE_AA)
        return img

    s = TextSettings()
    orig = draw("HONEY")
    assert text_candidates(orig, s.gate_contrast, s.gate_min_glyph_height, s.gate_max_glyph_share,
                           s.gate_min_glyphs, 1.0) == []
    sample = _pair(tmp_path)
    cv2.imwrite(str(tmp_path / "orig.png"), orig[..., ::-1])
    cv2.imwrite(str(tmp_path / "gen.png"), draw("MONKS")[..., ::-1])
    r = _judge(sample).checks["text"]
    assert [b.get("text") for b in r.details["original_lines"]] == ["HONEY"]
    assert not r.passed and r.failure == "product_text_changed", r.explanation


def test_product_box_is_read_again_smaller_when_nothing_is_found(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The detector misses large bold print at some sizes; a product box where it found nothing
    is looked at again at two thirds of the scale, and a changed word there is still caught."""
    import hfpc.checks.text as text_module

    real = text_module.read_text
    scales: list[float] = []

    def flaky(rgb, regions, box_threshold, min_height, min_area, full_share, scale, recognise=True):
        scales.append(scale)
        if scale == TextSettings().original_scale:
            return []  # nothing found at the first size, neither by the gate's rows nor in the box
        return real(rgb, regions, box_threshold, min_height, min_area, full_share, scale, recognise=recognise)

    monkeypatch.setattr(text_module, "read_text", flaky)
    r = _judge(_pair(tmp_path, gen_word="MONKS")).checks["text"]
    assert TextSettings().original_scale * 2 / 3 in scales
    assert not r.passed and r.failure == "product_text_changed", r.explanation


def test_low_contrast_background_lettering_is_found(tmp_path: Path) -> None:
    """Slate letters on a purple wall, softened by JPEG, are text all the same; the same wall
    without them passes."""
    sample = _pair(tmp_path, label=False)
    results = {}
    for lettering in (True, False):
        gen = np.zeros((S, S, 3), np.uint8)
        gen[:] = (115, 85, 132)
        cv2.rectangle(gen, PRODUCT[:2], PRODUCT[2:], (40, 90, 160), -1)
        if lettering:
            cv2.putText(gen, "Z7Z1", (40, 90), cv2.FONT_HERSHEY_DUPLEX, 1.4, (57, 68, 86), 3, cv2.LINE_AA)
        path = tmp_path / f"gen_{lettering}.jpg"
        cv2.imwrite(str(path), gen[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 75])
        results[lettering] = _judge(Sample(id="t", original=sample.original, generated=str(path),
                                           mask=sample.mask)).checks["text"]
    assert not results[True].passed and results[True].failure == "text_artifacts", results[True].explanation
    assert results[False].passed, results[False].explanation


def test_rescaled_small_text_is_not_claimed(tmp_path: Path) -> None:
    """Text too small to read at the generated scale is not compared (no change claimed)."""
    sample = _pair(tmp_path, gen_word="MONKS")
    checks = {"consistency": {}, "text": {"min_legible_height": 200.0}}
    r = _judge(sample, checks=checks).checks["text"]
    assert r.passed and r.details["too_small_to_compare"] == 1


def test_no_text_passes_quickly(tmp_path: Path) -> None:
    sample = _pair(tmp_path, label=False)
    judge = Judge(Profile(name="t", checks={"text": {}}))
    judge.judge(sample)  # engine created, original read
    t = time.process_time()
    r = judge.judge(sample).checks["text"]
    assert r.passed and r.details["candidate_regions"] == 0
    assert time.process_time() - t < 0.5
    assert r.details["placement"].startswith("same relative position")


def test_missing_ocr_is_said_and_not_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # import rapidocr now raises ImportError
    r = _judge(_pair(tmp_path, background_text="SALE 50%"), checks={"text": {}}).checks["text"]
    assert r.passed and r.explanation == OCR_MISSING and r.details["ocr"] is False


def test_edit_distance() -> None:
    assert edit_distance("VAT 69", "vat69") == 0.0
    assert edit_distance("69", "GD") == 1.0
    assert 0.1 < edit_distance("HONEY", "MONEY") < 0.3
    assert edit_distance("", "ABC") == 1.0
    assert edit_distance("OAK", "0AK") == 0.0 and edit_distance("B00K 5", "book s") == 0.0  # same shapes
    assert edit_distance("ROSE", "RR05E") == edit_distance("ROSE", "RROSE") < 0.34


@pytest.mark.skipif(not REAL_DEV.is_dir(), reason="real-dev data not present")
def test_real_tv_caption_is_a_text_artefact() -> None:
    row = next(json.loads(line) for line in (REAL_DEV / "manifest.jsonl").read_text().splitlines()
               if json.loads(line)["id"] == "oc_oranges_tv")
    sample = Sample(id=row["id"], original=str(REAL_DEV / row["original"]), generated=str(REAL_DEV / row["generated"]))
    r = _judge(sample).checks["text"]
    assert not r.passed and r.failure == "text_artifacts"
    boxes = [f.box for f in r.findings if f.failure == "text_artifacts"]
    assert any(b is not None and b[3] < 0.35 and b[2] - b[0] > 0.3 for b in boxes)  # the caption on the TV


def test_a_garbled_line_needs_a_row_of_glyphs() -> None:
    """An unsure reading over a wide detected box is pseudo-text only when it holds at least
    min_chars symbols: wood grain or a plank edge read as one stroke ("1") is not text."""
    from hfpc.checks.text import TextCheck, _Original
    from hfpc.text_ocr import TextBox

    check = TextCheck(TextSettings())
    orig = _Original(np.full((S, S, 3), 200, np.uint8), [np.zeros((S, S), bool)])
    quad = np.array([[300, 400], [450, 400], [450, 450], [300, 450]], np.float32)  # 150 × 50: wide enough

    def line(text: str) -> TextBox:
        return TextBox(quad, 0.75, text, 0.3, True)

    assert check._artefacts([line("1")], orig, (S, S)) == []
    assert len(check._artefacts([line("Xq#")], orig, (S, S))) == 1
