"""The consistency pipeline end to end: segment → locate → match → compare → decide."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from hfpc.consistency.compare import Comparison, compare_product, growth_share
from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.locate import Location, locate_product, score_at, similarity
from hfpc.consistency.match import assign
from hfpc.consistency.segment import get_segmenter


@dataclass
class ProductReport:
    """Verdict on one product of the original."""

    index: int
    area_share: float
    found: bool
    passed: bool
    reasons: list[str]
    location: Location | None = None
    comparison: Comparison | None = None
    located_mask: np.ndarray | None = field(default=None, repr=False)
    grown_mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def preserved(self) -> float:
        """Share of the product's pixels that did not change (0 when it was not found)."""
        return 0.0 if self.comparison is None else 1.0 - self.comparison.changed_share

    def details(self) -> dict[str, Any]:
        """JSON-ready measures for the result row."""
        d: dict[str, Any] = {"product": self.index, "found": self.found, "passed": self.passed,
                             "area_share": round(self.area_share, 4), "reasons": self.reasons}
        if self.location is not None:
            m = self.location.matrix
            d["location"] = {"method": self.location.method, "score": round(self.location.score, 4),
                             "scale": round(self.location.scale, 4),
                             "dx": round(float(m[0, 2]), 1), "dy": round(float(m[1, 2]), 1)}
        if self.comparison is not None:
            c = self.comparison
            d.update(preserved=round(self.preserved, 4), changed_share=round(c.changed_share, 4),
                     delta_e_mean=round(c.delta_e_mean, 3), mad=round(c.mad, 3),
                     mad_raw=round(c.mad_raw, 3), ssim=round(c.ssim, 4), edge=round(c.edge, 4),
                     growth=round(c.growth, 4), local_change=round(c.local_change, 4),
                     changed_where=c.where)
        return d


@dataclass
class ConsistencyReport:
    """Everything the consistency check found for one pair, at working resolution."""

    products: list[ProductReport]
    mask_source: str
    generated: np.ndarray = field(repr=False)

    @property
    def passed(self) -> bool:
        """True when every product was found and kept all its gates."""
        return bool(self.products) and all(p.passed for p in self.products)

    @property
    def value(self) -> float:
        """The worst product's preserved share (0 if none was found, or none was segmented)."""
        return min((p.preserved for p in self.products), default=0.0)

    @property
    def failure(self) -> str | None:
        """Failure category: shape hallucination when only growth failed, else inconsistency."""
        if self.passed:
            return None
        bad = [p for p in self.products if not p.passed]
        if bad and all(r.startswith("grew") for p in bad for r in p.reasons):
            return "shape_hallucination"
        return "product_inconsistent"

    def explanation(self) -> str:
        """One sentence a reviewer understands."""
        if not self.products:
            return "no product could be segmented in the original image"
        n = len(self.products)
        if self.passed:
            worst = min(self.products, key=lambda p: p.preserved)
            moved = any(p.location and p.location.method != "same_place" for p in self.products)
            where = "moved/rescaled but " if moved else ""
            return (f"{'the product is' if n == 1 else f'all {n} products are'} {where}unchanged "
                    f"({100 * worst.preserved:.0f} % of pixels preserved)")
        parts = []
        for p in self.products:
            if p.passed:
                continue
            name = "the product" if n == 1 else f"product {p.index + 1}"
            parts.append(f"{name} {p.reasons[0]}")
        return "; ".join(parts)


def _downscale(img: np.ndarray, max_side: int, interp: int = cv2.INTER_AREA) -> np.ndarray:
    h, w = img.shape[:2]
    f = max_side / max(h, w)
    if f >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=interp)


def prepare_original(rgb: np.ndarray, mask: np.ndarray | None,
                     settings: ConsistencySettings) -> tuple[np.ndarray, list[np.ndarray], str]:
    """Working-resolution original and its product masks (cacheable per original)."""
    o = _downscale(rgb, settings.max_side)
    m = None
    if mask is not None:
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"mask size {mask.shape[::-1]} differs from the original's {rgb.shape[1::-1]}")
        m = _downscale(mask.astype(np.uint8) * 255, settings.max_side, cv2.INTER_LINEAR) >= 128
    masks, source = get_segmenter(settings).segment(o, m)
    return o, masks, source


def analyze_pair(original: np.ndarray, original_mask: np.ndarray | None, generated: np.ndarray,
                 settings: ConsistencySettings | None = None,
                 prepared: tuple[np.ndarray, list[np.ndarray], str] | None = None) -> ConsistencyReport:
    """Judge whether every product of ``original`` survived unchanged in ``generated``.

    ``prepared`` lets a caller reuse :func:`prepare_original`'s result across many generations
    of the same original.
    """
    settings = settings or ConsistencySettings()
    o, masks, source = prepared or prepare_original(original, original_mask, settings)
    g = _downscale(generated, settings.max_side)
    if not masks:
        return ConsistencyReport([], source, g)
    shared: dict = {}
    cands = [locate_product(o, m, g, settings, shared) for m in masks]
    _share_layout(o, masks, g, cands, settings)
    same = similarity(g.shape[1] / o.shape[1], 0.0, 0.0)
    pairings = assign(masks, cands, same, settings.locate_min_score)
    total = o.shape[0] * o.shape[1]
    reports = []
    located_all = [
        cv2.warpAffine(m.astype(np.uint8), p.location.matrix, (g.shape[1], g.shape[0]),
                       flags=cv2.INTER_NEAREST) > 0 if p.location is not None else None
        for p, m in zip(pairings, masks)
    ]
    for p, mask, located in zip(pairings, masks, located_all):
        area = float(mask.sum() / total)
        if p.location is None:
            best = max((c.score for c in cands[p.product]), default=-1.0)
            reports.append(ProductReport(p.product, area, False, False, [
                f"was not found in the generated image (best correlation {best:.2f} < "
                f"{settings.locate_min_score:.2f}): missing or replaced"]))
            continue
        comp = compare_product(o, mask, g, p.location.matrix, settings,
                               tolerance=1 if p.location.method != "same_place" else 0)
        others = np.zeros(g.shape[:2], bool)
        for other in located_all:
            if other is not None and other is not located:
                others |= other
        comp.growth, grown = growth_share(g, located, others)
        reasons = _reasons(comp, settings)
        reports.append(ProductReport(p.product, area, True, not reasons, reasons, p.location, comp,
                                     located, grown))
    return ConsistencyReport(reports, source, g)


def _share_layout(o: np.ndarray, masks: list[np.ndarray], g: np.ndarray, cands: list[list[Location]],
                  settings: ConsistencySettings) -> None:
    """Offer each product the moves found for the others: a new layout usually moves them together."""
    if len(masks) < 2:
        return
    moves = [c[0] for c in cands if c and c[0].method != "same_place" and c[0].score >= settings.identity_accept]
    for mask, c in zip(masks, cands):
        best = c[0].score if c else -1.0
        for mv in moves:
            if any(np.abs(mv.matrix - x.matrix).max() < 1e-6 for x in c):
                continue
            score = score_at(o, mask, g, mv.matrix, settings)
            if score > best:
                c.insert(0, Location(mv.matrix.copy(), score, "layout"))
                best = score
        c.sort(key=lambda x: -x.score)


def _reasons(c: Comparison, s: ConsistencySettings) -> list[str]:
    out = []
    preserved = 1 - c.changed_share
    if preserved < s.threshold:
        where = f", mostly {c.where}" if c.where else ""
        out.append(f"changed: {100 * c.changed_share:.0f} % of its pixels differ by ΔE2000 > "
                   f"{s.delta_e:g}{where}")
    if c.local_change > s.max_local_change:
        where = f" ({c.where})" if c.where else ""
        out.append(f"changed locally: {100 * c.local_change:.0f} % of one area{where} differs, "
                   "e.g. altered print or label")
    if c.ssim < s.min_ssim:
        out.append(f"changed structure: SSIM {c.ssim:.2f} < {s.min_ssim:.2f}")
    if c.edge < s.min_edge:
        out.append(f"changed outlines/print: edge agreement {c.edge:.2f} < {s.min_edge:.2f}")
    if c.mad > s.max_mad:
        out.append(f"changed colours: mean pixel difference {c.mad:.1f} > {s.max_mad:g}")
    if s.max_growth is not None and c.growth > s.max_growth:
        out.append(f"grew a shape outside its outline ({100 * c.growth:.0f} % of its area, e.g. a "
                   f"pedestal, legs or handle)")
    return out
