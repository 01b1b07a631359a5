"""The ``text`` check: text the generator added to the background, and text it changed on the product.

Two findings, each with a box in the generated image:

- ``text_artifacts``: a line of text, pseudo-text or lettering outside the located product that
  the original does not have. Garbled glyph strings count too: a line the detector finds but the
  recogniser reads with low confidence is itself the signal.
- ``product_text_changed``: a line read on the product in the original, mapped through the
  consistency check's location of that product, reads differently in the generated image
  (normalised edit distance). Lines that would be smaller than ``min_legible_height`` px at the
  generated scale are not compared: a product shrunk to a third of its size has unreadable text,
  which is not a change.

The OCR is RapidOCR (PP-OCR models in ONNX, the ``hfpc[ocr]`` extra). Without it the check
passes with the explanation ``OCR is not installed: pip install 'hfpc[ocr]'`` and
``details.ocr = false``, so the default profile still works on a core install.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from hfpc.checks.base import Check, JudgeItem
from hfpc.consistency.locate import bbox
from hfpc.scene import downscale
from hfpc.settings import CheckSettings
from hfpc.text_ocr import (
    OCR_MISSING,
    TextBox,
    edit_distance,
    ocr_missing,
    read_lines,
    read_text,
    recognize,
    select_regions,
    text_candidates,
)
from hfpc.types import CheckResult, Finding

log = logging.getLogger(__name__)

PICTURE_MAX_SIDE = 320
"""Long side, in pixels, of the picture of text boxes the check writes."""
PICTURE_SUFFIX = ".jpg"


class TextSettings(CheckSettings):
    """Thresholds of the ``text`` check. Pixel sizes are at the working resolution (``max_side``)."""

    max_side: int = Field(512, gt=32, description="working side: both images are read with their long side "
                                                  "at most this many pixels")
    detect_scale: float = Field(0.5, gt=0, le=1,
                                description="the text detector sees the generated image's candidate regions "
                                            "resized by this factor (its cost grows with the pixels it sees; "
                                            "0.5 of 512 is 256 px)")
    original_scale: float = Field(0.75, gt=0, le=2,
                                  description="the detector sees the original's candidate regions resized by this "
                                              "factor (once per original: larger finds smaller print, at a cost)")
    gate_contrast: int = Field(28, ge=0, le=255,
                               description="edge strength (morphological gradient, 0-255, strongest channel) of "
                                           "glyph strokes; rows of glyph-sized edge blobs are the only regions "
                                           "the detector looks at (slate lettering on a purple wall, softened "
                                           "by JPEG, reaches about 40)")
    gate_min_glyph_height: int = Field(5, ge=1, description="smallest glyph blob, in px, that makes a region "
                                                            "worth detecting text in")
    gate_max_glyph_share: float = Field(0.2, gt=0, le=1,
                                        description="tallest glyph blob, as a share of the image height")
    gate_min_glyphs: int = Field(3, ge=1, description="glyph blobs a row needs to be a candidate text region")
    gate_context: int = Field(8, ge=0, description="px of context added on every side of each candidate region: "
                                                    "light lettering on a busy backdrop shows only parts of its "
                                                    "strokes, so a row of glyph blobs can be a fraction of the "
                                                    "letters' height, and the detector needs the whole line in view")
    scan_budget: float = Field(1.0, gt=0, le=1,
                               description="largest share of the generated image the detector looks at: the "
                                           "most text-like candidate regions first (bounds the cost on busy "
                                           "scenes; what is left out is reported as unscanned_share)")
    full_scan_share: float = Field(0.5, gt=0, le=1,
                                   description="when candidate regions cover more than this share of the image, "
                                               "the detector scans the whole image at once")
    box_threshold: float = Field(0.5, gt=0, lt=1, description="detector score a text line needs (PP-OCR DB "
                                                              "box threshold)")
    min_box_height: float = Field(9.0, ge=1, description="lowest text line, in px, that counts as background "
                                                         "text")
    min_box_area: float = Field(150.0, ge=1, description="smallest text line area, in px², that counts")
    min_chars: int = Field(2, ge=1, description="letters or digits a reading needs to count as text")
    garbled_confidence: float = Field(0.75, gt=0, le=1,
                                      description="recognition confidence below which a detected line reads as "
                                                  "garbled pseudo-text")
    garbled_det_score: float = Field(0.7, gt=0, le=1,
                                     description="detector score a garbled line in the background needs to be "
                                                 "reported (a well-read line needs only box_threshold)")
    garbled_min_aspect: float = Field(2.0, ge=0, description="width/height a garbled line needs (a row of "
                                                             "glyphs, not a lone mark or a patch of texture)")
    product_overlap: float = Field(0.3, ge=0, le=1,
                                   description="a line with at least this share of its area on the product "
                                               "(grown by product_margin) is the product's text, not background")
    product_margin: int = Field(6, ge=0, description="px the product's outline is grown by when telling "
                                                     "product text from background text")
    same_place_iou: float = Field(0.3, ge=0, le=1,
                                  description="a background line overlapping a background line of the original "
                                              "this much (relative position) is not new")
    min_original_confidence: float = Field(0.8, gt=0, le=1,
                                           description="product lines read less surely than this in the original "
                                                       "are not compared")
    edit_distance_threshold: float = Field(0.34, gt=0, le=1,
                                           description="normalised edit distance (case, spaces and punctuation "
                                                       "ignored) above which a product line changed")
    confident_reading: float = Field(0.95, gt=0, le=1,
                                     description="a product line at least min_garbled_height px high that both "
                                                 "images read at least this surely changed when the readings differ "
                                                 "at all (one confident letter: BLOOM → BTOOM), whatever the edit "
                                                 "distance")
    min_legible_height: float = Field(11.0, ge=1,
                                      description="a product line is compared only when its height at the "
                                                  "generated scale is at least this many px (smaller text is "
                                                  "not reliably legible)")
    unchanged_correlation: float = Field(0.95, gt=0, le=1,
                                         description="a product line whose pixels correlate at least this much "
                                                     "with the original's, in every glyph-wide piece (normalised "
                                                     "cross-correlation, 2 px slack) is unchanged without reading "
                                                     "it again")
    change_block: int = Field(16, ge=4, description="side, in px, of the blocks in which the product's pixels are "
                                                    "compared before any text on it is read")
    change_correlation: float = Field(0.9, gt=0, le=1,
                                      description="a product whose every textured block correlates at least this "
                                                  "much with the original's (±1 px) kept its print: its text is not "
                                                  "read at all (the common case costs no OCR); one look-alike "
                                                  "letter changed (O → D) leaves its blocks near 0.85")
    change_min_std: float = Field(6.0, ge=0, description="grey-level spread below which a block is flat (not "
                                                         "compared)")
    min_garbled_height: float = Field(20.0, ge=1,
                                      description="a product line that reads differently but with a confidence "
                                                  "below garbled_confidence is claimed changed only when it is at "
                                                  "least this many px high (smaller text is read unsurely even "
                                                  "when intact)")
    search_pad: float = Field(0.6, ge=0, description="the mapped line is searched for within this many line "
                                                     "heights around it")


@dataclass
class _Original:
    """What the check prepares once per original: working image, product masks, text lines."""

    rgb: np.ndarray
    masks: list[np.ndarray]
    lines: list[TextBox] | None = None
    """Found on first need (not at all when no product changed and the background has no text)."""


class TextCheck(Check):
    """Background text artefacts and changed product text, by OCR (RapidOCR, offline)."""

    name = "text"
    Settings = TextSettings
    failure = "text_artifacts"
    description = "OCR: no new text in the background, the product's text unchanged"

    settings: TextSettings
    _warned = False

    def run(self, item: JudgeItem) -> CheckResult:
        """Read the original (cached) and the generated image; compare; draw the boxes."""
        missing = ocr_missing()
        if missing is not None:
            if not TextCheck._warned:
                log.warning("text check skipped: %s", missing)
                TextCheck._warned = True
            return CheckResult(check=self.name, passed=True, value=0.0, threshold=0.0, higher_is_better=False,
                               explanation=OCR_MISSING, details={"ocr": False, "skipped": missing})
        s = self.settings
        orig = self._original(item)
        report = item.shared.get("consistency")
        g = _working(item.generated.rgb, s.max_side, getattr(report, "generated", None))
        placed, source = self._placement(item, orig, g.shape[:2])
        product_g = np.zeros(g.shape[:2], bool)
        for _, located in placed.values():
            product_g |= located
        product_g = _grow(product_g, s.product_margin)

        candidates = text_candidates(g, s.gate_contrast, s.gate_min_glyph_height, s.gate_max_glyph_share,
                                     s.gate_min_glyphs, 1.0, exclude=product_g, context=s.gate_context)
        regions, unscanned = select_regions(candidates, g.shape[:2], s.scan_budget)
        found = read_text(g, regions, s.box_threshold, s.min_box_height, s.min_box_area, s.full_scan_share,
                          s.detect_scale, recognise=False)
        background = [b for b in found if _share(b, product_g) < s.product_overlap]
        read_lines(g, background)  # lines on the product are the product's text: compared below, not here
        artefacts = self._artefacts(background, orig, g.shape[:2])
        compared, small, kept = self._product_text(g, orig, placed)
        changed = [c for c in compared if c["changed"]]

        gh, gw = g.shape[:2]
        findings = [Finding("text_changed", "product_text_changed",
                            f"the product's text \"{c['original']}\" reads \"{c['generated']}\" in the generated "
                            f"image (edit distance {c['distance']:.2f}"
                            + (f" > {s.edit_distance_threshold:.2f})" if c["distance"] > s.edit_distance_threshold
                               else f", both read with confidence ≥ {s.confident_reading:.2f})"),
                            where="on the product", product=c["product"], box=_frac(c["box"], gw, gh),
                            value=c["distance"])
                    for c in sorted(changed, key=lambda c: -c["distance"])]
        findings += [Finding("background_text", "text_artifacts", _artefact_sentence(b, s), where="background",
                             box=_frac(b.box, gw, gh)) for b in artefacts]
        passed = not findings
        details: dict[str, Any] = {
            "ocr": True, "placement": source, "candidate_regions": len(candidates),
            "scanned_share": round(sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions) / (gh * gw), 3),
            "unscanned_share": round(unscanned, 3),
            "background_lines": [b.details() for b in background],
            "artefacts": [b.details() for b in artefacts],
            "original_lines": None if orig.lines is None else [b.details() for b in orig.lines],
            "products_kept": kept,
            "product_lines": [{k: v for k, v in c.items() if k != "quad"} for c in compared],
            "too_small_to_compare": small,
        }
        result = CheckResult(check=self.name, passed=passed, value=float(len(findings)), threshold=0.0,
                             higher_is_better=False, explanation=_explain(artefacts, compared, changed, small, kept),
                             failure=findings[0].failure if findings else None, details=details,
                             findings=findings)
        where = item.artifact_path(self.name, PICTURE_SUFFIX)
        if where is not None and findings:  # passing pairs get none: encoding costs more than it tells
            from hfpc.consistency.heatmap import write_heatmap

            path, rel = where
            write_heatmap(path, render_boxes(g, product_g, found, artefacts, compared))
            result.artifacts["picture"] = rel
        return result

    def _key(self) -> str:
        fields = self.settings.model_dump(include={"max_side", "gate_contrast", "gate_min_glyph_height",
                                                   "gate_max_glyph_share", "gate_min_glyphs", "gate_context",
                                                   "full_scan_share", "scan_budget", "product_margin", "original_scale",
                                                   "box_threshold", "min_box_height", "min_box_area"})
        return "text:" + hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]

    def _original(self, item: JudgeItem) -> _Original:
        """The original at working size, its product masks and its text lines (cached per original)."""
        key = self._key()
        cached = item.original_cache.get(key)
        if cached is not None:
            return cached
        s = self.settings
        cons = _consistency_prepared(item)
        o = _working(item.original.rgb, s.max_side, cons[0] if cons is not None else None)
        masks = [cv2.resize(m.astype(np.uint8), o.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
                 for m in self._original_masks(item)]
        prepared = _Original(o, masks)
        item.original_cache[key] = prepared
        return prepared

    def _lines(self, orig: _Original) -> list[TextBox]:
        """The original's text lines (found once, read later and only where needed)."""
        if orig.lines is None:
            s = self.settings
            o = orig.rgb
            candidates = text_candidates(o, s.gate_contrast, s.gate_min_glyph_height, s.gate_max_glyph_share,
                                         s.gate_min_glyphs, 1.0, context=s.gate_context)
            # the products' own print is always read: bold lettering that touches a label's edge
            # joins it into one blob, which the glyph gate does not take for a row of glyphs
            boxes = [_padded_box(m, s.product_margin) for m in orig.masks if m.any()]
            regions, _ = select_regions([(*b, 0.0) for b in boxes] + candidates, o.shape[:2], s.scan_budget)
            lines = read_text(o, regions, s.box_threshold, s.min_box_height, s.min_box_area,
                              s.full_scan_share, s.original_scale, recognise=False)
            # the detector misses large bold print at some sizes: a product box where nothing was
            # found is looked at once more, alone and at two thirds of the scale
            for box in boxes:
                if not any(_centre_in(b, box) for b in lines):
                    lines += read_text(o, [box], s.box_threshold, s.min_box_height, s.min_box_area, 1.0,
                                       s.original_scale * 2 / 3, recognise=False)
            orig.lines = lines
        return orig.lines

    def _original_masks(self, item: JudgeItem) -> list[np.ndarray]:
        """The product masks of the original: the consistency check's segmentation when it ran, else our own."""
        cons = _consistency_prepared(item)
        if cons is not None:
            return list(cons[1])
        from hfpc.consistency.analyze import prepare_original
        from hfpc.consistency.config import ConsistencySettings

        key = f"{self._key()}:segmentation"
        masks = item.original_cache.get(key)
        if masks is None:
            _, masks, _ = prepare_original(item.original.rgb, item.mask,
                                           ConsistencySettings(max_side=self.settings.max_side))
            item.original_cache[key] = masks
        return masks

    def _placement(self, item: JudgeItem, orig: _Original,
                   shape: tuple[int, int]) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], str]:
        """Each found product's 3×3 map (our original → our generated) and its mask in the generated image.

        From the consistency report when that check ran; otherwise each product is assumed at the
        same relative position (and the details say so).
        """
        gh, gw = shape
        oh, ow = orig.rgb.shape[:2]
        report = item.shared.get("consistency")
        cons = _consistency_prepared(item)
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if report is not None and cons is not None:
            ch, cw = cons[0].shape[:2]
            rh, rw = report.generated.shape[:2]
            to_cons = np.diag([cw / ow, ch / oh, 1.0])
            to_ours = np.diag([gw / rw, gh / rh, 1.0])
            for p in report.products:
                if not p.found or p.location is None or p.located_mask is None:
                    continue
                m = to_ours @ np.vstack([p.location.matrix.astype(np.float64), [0, 0, 1]]) @ to_cons
                located = cv2.resize(p.located_mask.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0
                out[p.index] = (m, located)
            return out, "consistency"
        same = np.diag([gw / ow, gh / oh, 1.0])
        for i, mask in enumerate(orig.masks):
            out[i] = (same, cv2.resize(mask.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0)
        return out, "same relative position (no consistency report)"

    def _artefacts(self, background: list[TextBox], orig: _Original, shape: tuple[int, int]) -> list[TextBox]:
        """Background lines of the generated image that are text and that the original does not have.

        The original's lines are found only when some line is text, and read only when none of
        them is at the same place (a reading costs more than a comparison of boxes).
        """
        s = self.settings
        gh, gw = shape
        text = []
        for b in background:
            chars = sum(c.isalnum() for c in b.text)
            readable = b.confidence >= s.garbled_confidence and chars >= s.min_chars
            x0, y0, x1, y1 = b.box
            # a garbled line is still a row of glyphs: the recogniser sees at least min_chars symbols
            # in it (wood grain or a plank edge reads as one stroke, "1")
            symbols = sum(not c.isspace() for c in b.text)
            garbled = (b.confidence < s.garbled_confidence and b.det_score >= s.garbled_det_score
                       and x1 - x0 >= s.garbled_min_aspect * b.height and symbols >= s.min_chars)
            if readable or garbled:
                text.append(b)
        if not text:
            return []
        oh, ow = orig.rgb.shape[:2]
        o_product = np.zeros((oh, ow), bool)
        for m in orig.masks:
            o_product |= m
        o_product = _grow(o_product, s.product_margin)
        o_background = [b for b in self._lines(orig) if _share(b, o_product) < s.product_overlap]
        out = []
        for b in text:
            rel = _frac(b.box, gw, gh)
            if any(_iou(rel, _frac(o.box, ow, oh)) >= s.same_place_iou for o in o_background):
                continue
            read_lines(orig.rgb, o_background)  # once; kept in the cached original
            if any(edit_distance(b.text, o.text) <= s.edit_distance_threshold for o in o_background):
                continue
            out.append(b)
        return out

    def _product_text(self, g: np.ndarray, orig: _Original,
                      placed: dict[int, tuple[np.ndarray, np.ndarray]]) -> tuple[list[dict[str, Any]], int, list[int]]:
        """Each legible product line of the original against the same place in the generated image.

        A product whose pixels kept their pattern block by block is skipped (its print, text
        included, is unchanged); the third value lists those products (1-based).
        """
        s = self.settings
        compared: list[dict[str, Any]] = []
        small = 0
        kept = []
        gh, gw = g.shape[:2]
        for index, (m, located) in placed.items():
            if index >= len(orig.masks):
                continue
            if _changed_blocks(orig.rgb, g, m, located, s.change_block, s.change_correlation,
                               s.change_min_std) == 0:
                kept.append(index + 1)
                continue
            mask = _grow(orig.masks[index], s.product_margin)
            for b in self._lines(orig):
                if _share(b, mask) < s.product_overlap:
                    continue
                quad = (np.hstack([b.quad, np.ones((4, 1), np.float32)]) @ m[:2].T).astype(np.float32)
                mapped = TextBox(quad, b.det_score)
                x0, y0, x1, y1 = mapped.box
                if mapped.height < s.min_legible_height:
                    small += 1
                    continue
                if x0 < 0 or y0 < 0 or x1 > gw or y1 > gh:
                    continue  # cut by the frame: not comparable
                corr = _correlation(orig.rgb, g, m, mapped.box, min_std=s.change_min_std)
                if corr >= s.unchanged_correlation:  # same pixels: same text, nothing to read
                    compared.append({"product": index + 1, "original": b.text if b.read else None,
                                     "generated": None, "correlation": round(corr, 3), "distance": 0.0,
                                     "height": round(mapped.height, 1), "box": [round(v, 1) for v in mapped.box],
                                     "changed": False})
                    continue
                read_lines(orig.rgb, [b])  # kept in the cached original
                if b.confidence < s.min_original_confidence or sum(c.isalnum() for c in b.text) < s.min_chars:
                    continue
                reading, conf = recognize(g, [_pad_quad(quad, 0.2 * mapped.height)])[0]
                d = edit_distance(b.text, reading)
                if d > s.edit_distance_threshold:
                    reading, conf, d = self._search(g, quad, mapped.height, b.text, reading, conf, d)
                compared.append({"product": index + 1, "original": b.text, "generated": reading,
                                 "confidence": round(conf, 3), "distance": round(d, 3),
                                 "correlation": round(corr, 3),
                                 "height": round(mapped.height, 1), "box": [round(v, 1) for v in mapped.box],
                                 "changed": _changed(d, conf, b.confidence, mapped.height, s)})
        return compared, small, kept

    def _search(self, g: np.ndarray, quad: np.ndarray, height: float, text: str, reading: str, conf: float,
                d: float) -> tuple[str, float, float]:
        """Look for the line around where it was mapped (the location may be off by a few pixels)."""
        s = self.settings
        gh, gw = g.shape[:2]
        pad = s.search_pad * height
        x0, y0 = np.floor(quad.min(0) - pad).astype(int)
        x1, y1 = np.ceil(quad.max(0) + pad).astype(int)
        region = (max(0, x0), max(0, y0), min(gw, x1), min(gh, y1))
        lines = read_text(g, [region], s.box_threshold, 0.5 * height, 1.0, 1.0, 1.0)
        if not lines:
            return reading, conf, d
        tries = [(b.text, b.confidence) for b in lines]
        tries.append(("".join(b.text for b in sorted(lines, key=lambda b: b.box[0])),
                      min(b.confidence for b in lines)))
        for t, c in tries:
            dt = edit_distance(text, t)
            if dt < d:
                reading, conf, d = t, c, dt
        return reading, conf, d


def _changed(distance: float, confidence: float, original_confidence: float, height: float,
             s: TextSettings) -> bool:
    """Whether a product line's two readings say its text changed.

    A far reading changes it when it was read surely or the line is large enough to be legible;
    a near one (a letter or two) only when both readings are sure and the line is that large,
    since unsure readings of intact text differ by a letter now and then.
    """
    if distance > s.edit_distance_threshold:
        return confidence >= s.garbled_confidence or height >= s.min_garbled_height
    return (distance > 0 and height >= s.min_garbled_height
            and min(confidence, original_confidence) >= s.confident_reading)


def _consistency_prepared(item: JudgeItem) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """The consistency check's original at its working resolution and its product masks, when it ran."""
    report = item.shared.get("consistency")
    if report is None or report.original is None:
        return None
    return report.original, report.masks


def _working(rgb: np.ndarray, max_side: int, shrunk: np.ndarray | None) -> np.ndarray:
    """``rgb`` at the working side: ``shrunk`` (the consistency check's copy) when it has that size,
    since both shrink the same pixels the same way (area interpolation), else shrunk here."""
    h, w = rgb.shape[:2]
    f = max_side / max(h, w)
    size = (h, w) if f >= 1 else (max(1, round(h * f)), max(1, round(w * f)))
    if shrunk is not None and shrunk.shape[:2] == size:
        return shrunk
    return downscale(rgb, max_side)


def _changed_blocks(o: np.ndarray, g: np.ndarray, m: np.ndarray, located: np.ndarray, block: int,
                    min_corr: float, min_std: float) -> int:
    """Blocks of the located product whose pixels no longer follow the original's pattern.

    The original is mapped into the generated frame by ``m``; in each ``block``-px block that is
    wholly inside the product and textured in either image, the normalised cross-correlation of the grey
    levels (best of ±1 px shifts: the location is not exact) below ``min_corr`` counts as a
    change. Lighting changes scale and shift grey levels, which correlation ignores; redrawn print
    does not survive it. A product too small for one block counts as changed (read it instead).
    """
    x, y, w, h = cv2.boundingRect(located.astype(np.uint8))
    nbx, nby = w // block, h // block
    if nbx == 0 or nby == 0:
        return 1
    w, h = nbx * block, nby * block
    shift = m[:2].astype(np.float64).copy()
    shift[:, 2] -= [x, y]
    a = cv2.warpAffine(cv2.cvtColor(o, cv2.COLOR_RGB2GRAY), shift, (w, h), flags=cv2.INTER_LINEAR).astype(np.float32)
    inside = cv2.warpAffine(np.ones(o.shape[:2], np.uint8), shift, (w, h), flags=cv2.INTER_NEAREST) > 0
    inside &= located[y:y + h, x:x + w]
    inside = cv2.erode(inside.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # the outline mixes in background
    gpad = cv2.copyMakeBorder(cv2.cvtColor(g, cv2.COLOR_RGB2GRAY), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    gpad = gpad.astype(np.float32)

    def blocks(v: np.ndarray) -> np.ndarray:
        return v.reshape(nby, block, nbx, block).mean(axis=(1, 3))

    ma, maa = blocks(a), blocks(a * a)
    va = np.maximum(maa - ma * ma, 0.0)
    best = np.full((nby, nbx), -1.0, np.float32)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            b = gpad[y + dy:y + dy + h, x + dx:x + dx + w]
            mb, mbb, mab = blocks(b), blocks(b * b), blocks(a * b)
            vb = np.maximum(mbb - mb * mb, 0.0)
            best = np.maximum(best, (mab - ma * mb) / np.sqrt(va * vb + 1e-6))
            if dy == dx == 1:
                v_aligned = vb
    flat_a, flat_b = np.sqrt(va) <= min_std, np.sqrt(v_aligned) <= min_std
    covered = blocks(inside.astype(np.float32)) > 0.99
    # a flat block that stays flat is no evidence; one that gains texture, or loses its pattern, is
    changed = np.where(flat_a, ~flat_b, best < min_corr)
    return int((covered & changed).sum())


def _correlation(o: np.ndarray, g: np.ndarray, m: np.ndarray, box: tuple[float, float, float, float],
                 slack: int = 2, min_std: float = 6.0) -> float:
    """How alike a line's pixels are in the original (mapped by ``m``) and in the generated image.

    The line is aligned as a whole (best normalised cross-correlation of the grey patches over
    shifts of up to ``slack`` px: the location is not exact), then compared piece by piece, each
    piece about one glyph wide (±1 px); the worst textured piece counts, since one changed letter
    barely moves the whole line's correlation. 1 for identical text whatever the lighting, low
    when any part was redrawn.
    """
    gh, gw = g.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(gw, int(np.ceil(box[2]))), min(gh, int(np.ceil(box[3])))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    shift = m[:2].copy()
    shift[:, 2] -= [x0, y0]
    patch = cv2.warpAffine(cv2.cvtColor(o, cv2.COLOR_RGB2GRAY), shift, (x1 - x0, y1 - y0), flags=cv2.INTER_AREA)
    if float(patch.std()) < 2.0:
        return 0.0
    gx0, gy0, gx1, gy1 = max(0, x0 - slack), max(0, y0 - slack), min(gw, x1 + slack), min(gh, y1 + slack)
    area = cv2.cvtColor(np.ascontiguousarray(g[gy0:gy1, gx0:gx1]), cv2.COLOR_RGB2GRAY)
    ph, pw = patch.shape
    if area.shape[0] < ph or area.shape[1] < pw:
        return 0.0
    _, worst, _, (sx, sy) = cv2.minMaxLoc(cv2.matchTemplate(area, patch, cv2.TM_CCOEFF_NORMED))
    r0, r1 = _ink_rows(patch)
    step = max(4, r1 - r0)
    for tx in range(0, max(1, pw - step // 2), step):
        piece = patch[r0:r1, tx:tx + step]
        if piece.shape[1] < 4 or float(piece.std()) < min_std:
            continue
        ax0, ay0 = max(0, sx + tx - 1), max(0, sy + r0 - 1)
        near = area[ay0:sy + r1 + 1, ax0:sx + tx + piece.shape[1] + 1]
        if near.shape[0] < piece.shape[0] or near.shape[1] < piece.shape[1]:
            continue
        worst = min(worst, float(cv2.matchTemplate(near, piece, cv2.TM_CCOEFF_NORMED).max()))
    return float(worst)


def _ink_rows(patch: np.ndarray) -> tuple[int, int]:
    """First and last+1 row of the lettering in a line's grey patch: the rows that vary along it.

    A detected line's box is often much taller than its glyphs (padding, a label's band); pieces
    as tall and as wide as the box would span several letters and plain label, and hide a changed
    letter.
    """
    dx = np.abs(np.diff(patch.astype(np.float32), axis=1))
    # strokes per row, counted as strong horizontal steps: a label band's two edges cross every
    # row of it, letters cross the rows they occupy many times
    rows = (dx >= 0.25 * float(dx.max())).sum(axis=1) if dx.size else np.zeros(patch.shape[0])
    ink = np.nonzero(rows >= 0.5 * (float(rows.min()) + float(rows.max())))[0]
    return (int(ink[0]), int(ink[-1]) + 1) if len(ink) else (0, patch.shape[0])


def _padded_box(mask: np.ndarray, px: int) -> tuple[int, int, int, int]:
    """A mask's bounding box grown by ``px`` on every side, within the image."""
    x0, y0, x1, y1 = bbox(mask)
    ih, iw = mask.shape
    return (max(0, x0 - px), max(0, y0 - px), min(iw, x1 + px), min(ih, y1 + px))


def _centre_in(b: TextBox, box: tuple[int, int, int, int]) -> bool:
    """Whether a line's centre lies inside a box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = b.box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return box[0] <= cx < box[2] and box[1] <= cy < box[3]


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0 or not mask.any():
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), k) > 0


def _share(b: TextBox, mask: np.ndarray) -> float:
    """Share of a line's outline that lies on ``mask``."""
    m = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(m, [np.round(b.quad).astype(np.int32)], 1)
    n = int(m.sum())
    return float((m.astype(bool) & mask).sum() / n) if n else 0.0


def _frac(box: tuple[float, ...] | list[float], w: int, h: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    return (max(0.0, x0 / w), max(0.0, y0 / h), min(1.0, x1 / w), min(1.0, y1 / h))


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _pad_quad(quad: np.ndarray, px: float) -> np.ndarray:
    """The outline grown by ``px`` on every side (about its centre)."""
    c = quad.mean(0)
    d = quad - c
    n = np.linalg.norm(d, axis=1, keepdims=True)
    return (quad + d / np.maximum(n, 1e-6) * px * np.sqrt(2)).astype(np.float32)


def _artefact_sentence(b: TextBox, s: TextSettings) -> str:
    if b.confidence < s.garbled_confidence:
        return (f"garbled lettering in the background (read as \"{b.text}\" with confidence "
                f"{b.confidence:.2f} < {s.garbled_confidence:.2f})")
    return f"text \"{b.text}\" in the background that the original does not have"


def _explain(artefacts: list[TextBox], compared: list[dict[str, Any]], changed: list[dict[str, Any]],
             small: int, kept_products: list[int]) -> str:
    parts = []
    if changed:
        c = max(changed, key=lambda c: c["distance"])
        more = f" (and {len(changed) - 1} more line{'s' if len(changed) > 2 else ''})" if len(changed) > 1 else ""
        parts.append(f"the product's text \"{c['original']}\" reads \"{c['generated']}\"{more}")
    if artefacts:
        words = ", ".join(f"\"{b.text}\"" for b in artefacts[:3])
        parts.append(f"{len(artefacts)} line{'s' if len(artefacts) > 1 else ''} of text in the background "
                     f"({words})")
    if parts:
        return "; ".join(parts)
    if compared:
        kept = f"the product's text is unchanged ({len(compared)} line{'s' if len(compared) != 1 else ''} compared)"
    elif kept_products:
        kept = "the product's print is unchanged (its pixels kept their pattern)"
    else:
        kept = "no product text to compare"
    if small:
        kept += f", {small} line{'s' if small > 1 else ''} too small to compare at the generated scale"
    return f"no text in the background; {kept}"


def render_boxes(g: np.ndarray, product: np.ndarray, found: list[TextBox], artefacts: list[TextBox],
                 compared: list[dict[str, Any]], max_side: int = PICTURE_MAX_SIDE) -> np.ndarray:
    """The generated image dimmed, with the product outlined and every text line boxed.

    Red: background text the original does not have; orange: product text that changed; green:
    product text that kept its reading; grey: other lines the detector saw.
    """
    h0, w0 = g.shape[:2]
    f = min(1.0, max_side / max(h0, w0))
    w, h = max(1, round(w0 * f)), max(1, round(h0 * f))
    out = cv2.convertScaleAbs(cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA) if f < 1 else g, alpha=0.6)
    if product.any():
        small = cv2.resize(product.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (90, 160, 255), 1, cv2.LINE_AA)
    flagged = {id(b) for b in artefacts}

    def draw(box: tuple[float, ...] | list[float], colour: tuple[int, int, int], label: str = "") -> None:
        x0, y0, x1, y1 = (int(round(v * f)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, 2 if label else 1, cv2.LINE_AA)
        if label:
            cv2.putText(out, label[:18], (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1,
                        cv2.LINE_AA)

    for b in found:
        if id(b) not in flagged:
            draw(b.box, (150, 150, 150))
    for c in compared:
        draw(c["box"], (255, 150, 0) if c["changed"] else (40, 220, 60), c["generated"] if c["changed"] else "")
    for b in artefacts:
        draw(b.box, (230, 30, 30), b.text or "?")
    return out
