"""The consistency pipeline end to end: segment → locate → match → compare → decide."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from hfpc.consistency.compare import Comparison, compare_product
from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.growth import growth_extent, growth_share, locate_growth
from hfpc.consistency.locate import Location, locate_product, mask_proposals, same_framing, score_at, similarity
from hfpc.consistency.match import assign
from hfpc.consistency.segment import get_segmenter
from hfpc.consistency.shape import ShapeMatch, match_shape
from hfpc.types import Finding

SEVERITY = {"product_missing": 4, "product_replaced": 3, "product_altered": 2, "shape_hallucination": 1}
"""Which failure names a product (and a pair) when several findings apply."""


@dataclass
class ProductReport:
    """Verdict on one product of the original."""

    index: int
    area_share: float
    found: bool
    findings: list[Finding]
    location: Location | None = None
    comparison: Comparison | None = None
    candidates: list[Location] = field(default_factory=list, repr=False)
    located_mask: np.ndarray | None = field(default=None, repr=False)
    grown_mask: np.ndarray | None = field(default=None, repr=False)
    expected_mask: np.ndarray | None = field(default=None, repr=False)
    """Where a product that was not found should be (its own place), for the heatmap."""
    tier: str = ""
    shape: ShapeMatch | None = None

    @property
    def passed(self) -> bool:
        """True when the product was found and nothing is wrong with it."""
        return self.found and not self.findings

    @property
    def reasons(self) -> list[str]:
        """The findings' sentences."""
        return [f.sentence for f in self.findings]

    @property
    def failure(self) -> str | None:
        """The most severe finding's failure code."""
        return max((f.failure for f in self.findings), key=SEVERITY.get, default=None)

    @property
    def preserved(self) -> float:
        """Share of the product's pixels that did not change (0 when it was not found)."""
        return 0.0 if self.comparison is None else 1.0 - self.comparison.changed_share

    def details(self) -> dict[str, Any]:
        """JSON-ready measures for the result row."""
        d: dict[str, Any] = {"product": self.index + 1, "found": self.found, "passed": self.passed,
                             "area_share": round(self.area_share, 4), "reasons": self.reasons,
                             "findings": [f.to_dict() for f in self.findings], "tier": self.tier}
        if self.shape is not None:
            d["shape"] = {"iou": round(self.shape.iou, 3), "aspect_change": round(self.shape.aspect_change, 3),
                          "hidden_side": self.shape.hidden_side}
        if self.location is not None:
            m = self.location.matrix
            d["location"] = {"method": self.location.method, "score": round(self.location.score, 4),
                             "inliers": self.location.inliers, "silhouette": round(self.location.silhouette, 3),
                             "mirrored": self.location.mirrored,
                             "rotation": round(self.location.rotation, 1),
                             "scale": round(self.location.scale, 4),
                             "dx": round(float(m[0, 2]), 1), "dy": round(float(m[1, 2]), 1)}
        if self.location is None and self.candidates:
            d["candidates"] = [{"method": c.method, "score": round(c.score, 3), "inliers": c.inliers,
                                "silhouette": round(c.silhouette, 3), "scale": round(c.scale, 3)}
                               for c in sorted(self.candidates, key=lambda c: -(c.score + c.silhouette))[:3]]
        if self.comparison is not None:
            c = self.comparison
            d.update(preserved=round(self.preserved, 4), changed_share=round(c.changed_share, 4),
                     delta_e_mean=round(c.delta_e_mean, 3), mad=round(c.mad, 3),
                     mad_raw=round(c.mad_raw, 3), ssim=round(c.ssim, 4), edge=round(c.edge, 4),
                     edge_exact=round(c.edge_exact, 4),
                     growth=round(c.growth, 4), growth_extent=round(c.growth_extent, 4),
                     local_change=round(c.local_change, 4),
                     exact_share=round(c.exact_share, 4), texture_gain=round(c.texture_gain, 3),
                     changed_where=c.where)
        return d


@dataclass
class ConsistencyReport:
    """Everything the consistency check found for one pair, at working resolution."""

    products: list[ProductReport]
    mask_source: str
    generated: np.ndarray = field(repr=False)
    original: np.ndarray | None = field(default=None, repr=False)
    """The original at working resolution, the frame of each location's matrix."""
    masks: list[np.ndarray] = field(default_factory=list, repr=False)
    """The original's product masks at working resolution (segmented or given), product by product."""

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
        """The most severe failure code over all products (``product_missing`` when none was segmented)."""
        if self.passed:
            return None
        if not self.products:
            return "product_missing"
        return max((p.failure for p in self.products if p.failure), key=SEVERITY.get, default=None)

    @property
    def codes(self) -> list[str]:
        """Every finding's code, product by product, without repeats."""
        return list(dict.fromkeys(f.code for p in self.products for f in p.findings))

    def findings(self) -> list[Finding]:
        """Every product's findings, most severe first, each with its product number and box."""
        if not self.products:
            return [Finding("no_product", "product_missing", "no product could be segmented in the original image")]
        out = []
        for p in self.products:
            region = p.located_mask if p.located_mask is not None else p.expected_mask
            box = _box(region)
            out += [replace(f, product=p.index + 1, box=f.box or box) for f in p.findings]
        return sorted(out, key=lambda f: -SEVERITY.get(f.failure, 0))

    def explanation(self) -> str:
        """One sentence a reviewer understands."""
        if not self.products:
            return "no product could be segmented in the original image"
        n = len(self.products)
        if self.passed:
            worst = min(self.products, key=lambda p: p.preserved)
            how = _layout_words([p.location for p in self.products if p.location is not None])
            redrawn = any(p.tier == "redrawn" for p in self.products)
            kept = "redrawn but recognisably the same" if redrawn else "unchanged"
            hidden = [p for p in self.products if p.shape is not None and p.shape.hidden_side]
            if hidden:  # a reviewer should know that part of it is not seen (sunk, behind, cut)
                whose = "its" if n == 1 else f"product {hidden[0].index + 1}'s"
                kept += f", {whose} {hidden[0].shape.hidden_side} hidden by the scene or the frame"
            how = f"{how}, {kept}" if how else kept
            return (f"{'the product is' if n == 1 else f'all {n} products are'} {how} "
                    f"({100 * worst.preserved:.0f} % of pixels preserved)")
        parts = []
        for p in self.products:
            if p.passed:
                continue
            name = "the product" if n == 1 else f"product {p.index + 1}"
            parts.append(f"{name} {p.findings[0].sentence}")
        return "; ".join(parts)


def _box(mask: np.ndarray | None) -> tuple[float, float, float, float] | None:
    """Bounding box of a mask as fractions of the image's width and height."""
    if mask is None or not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)


def _layout_words(locations: list[Location]) -> str:
    """How the products moved, in words ("mirrored, moved and rescaled").

    Mirroring is claimed only where the pattern says so (keypoints or correlation), not from a
    silhouette, which a symmetric product matches either way.
    """
    words = []
    if any(loc.mirrored and loc.method in ("keypoints", "search", "layout", "segmented") for loc in locations):
        words.append("mirrored")
    if any(abs(loc.rotation) > 3 for loc in locations):
        words.append("rotated")
    if any(loc.method != "same_place" for loc in locations):
        words.append("moved")
    if any(abs(loc.scale - 1) > 0.05 and loc.method != "same_place" for loc in locations):
        words.append("rescaled")
    if not words:
        return ""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def _downscale(img: np.ndarray, max_side: int, interp: int = cv2.INTER_AREA) -> np.ndarray:
    h, w = img.shape[:2]
    f = max_side / max(h, w)
    if f >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=interp)


def working_generated(rgb: np.ndarray, settings: ConsistencySettings) -> np.ndarray:
    """The generated image at the working resolution the comparison uses."""
    return _downscale(rgb, settings.max_side)


def prepare_original(rgb: np.ndarray, mask: np.ndarray | None,
                     settings: ConsistencySettings) -> tuple[np.ndarray, list[np.ndarray], str]:
    """Working-resolution original and its product masks (cacheable per original)."""
    o = _downscale(rgb, settings.max_side)
    m = None
    if mask is not None:
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"mask size {mask.shape[::-1]} differs from the original's {rgb.shape[1::-1]}")
        m = _downscale(mask.astype(np.uint8) * 255, settings.max_side, cv2.INTER_LINEAR) >= 128
        if m.mean() > settings.max_mask_share:
            # an alpha channel that only trims the border is not a product cut-out
            m = None
    masks, source = get_segmenter(settings).segment(o, m)
    return o, masks, source


def analyze_pair(original: np.ndarray, original_mask: np.ndarray | None, generated: np.ndarray,
                 settings: ConsistencySettings | None = None,
                 prepared: tuple[np.ndarray, list[np.ndarray], str] | None = None,
                 original_cache: dict | None = None,
                 generated_masks: list[np.ndarray] | None = None) -> ConsistencyReport:
    """Judge whether every product of ``original`` survived unchanged in ``generated``.

    ``prepared`` lets a caller reuse :func:`prepare_original`'s result across many generations
    of the same original, and ``original_cache`` (kept with it) the original's keypoints.
    ``generated_masks``: objects a segmentation backend found in the generated image at working
    resolution (:func:`working_generated`), when the caller segmented a batch at once; a backend
    that segments generated images is otherwise asked here.
    """
    settings = settings or ConsistencySettings()
    o, masks, source = prepared or prepare_original(original, original_mask, settings)
    g = working_generated(generated, settings)
    if not masks:
        return ConsistencyReport([], source, g, o, masks)
    shared: dict = {"original": original_cache if original_cache is not None else {}}
    if generated_masks is None:
        seg = get_segmenter(settings)
        generated_masks = seg.segment_many([g])[0] if hasattr(seg, "segment_many") else []
    cands = [locate_product(o, m, g, settings, shared, alone=len(masks) == 1,
                            proposals=mask_proposals(m, generated_masks)) for m in masks]
    _share_layout(o, masks, g, cands, settings)
    same = similarity(g.shape[1] / o.shape[1], 0.0, 0.0)
    pairings = assign(masks, cands, same, settings.locate_min_score, settings.match_distance_weight,
                      settings.match_iou_weight, settings.keypoint_accept, settings.silhouette_accept)
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
            reports.append(_not_found(p.product, area, cands[p.product], mask, same, g, settings,
                                      framed=same_framing(o.shape[:2], g.shape[:2])))
            continue
        erode = settings.erode if source == "mask" else settings.erode_segmented
        tolerance = 1 if p.location.method != "same_place" else 0
        comp = compare_product(o, mask, g, p.location.matrix, settings, tolerance=tolerance, erode=erode)
        # pasted: the generator kept the pixels (in place, most are unchanged, or the correlation
        # is high); an altered part of a pasted product must not send it to the lenient tier
        in_place = p.location.method == "same_place" or (
            np.abs(p.location.matrix - same).max() <= settings.in_place_tolerance * max(g.shape[:2]) / 100)
        # the lenient tier needs good evidence that this is the same object, redrawn
        redrawn_evidence = (p.location.inliers >= settings.keypoint_accept
                            or p.location.silhouette >= settings.silhouette_accept
                            or p.location.score >= settings.redrawn_min_score)
        pasted = (in_place or not redrawn_evidence or p.location.score >= settings.pasted_score
                  or comp.exact_share >= settings.pasted_share)
        if not pasted:
            comp = compare_product(o, mask, g, p.location.matrix, settings, tolerance=tolerance,
                                   side=settings.redrawn_side, erode=erode)
        others = np.zeros(g.shape[:2], bool)
        for other in located_all:
            if other is not None and other is not located:
                others |= other
        # growth is judged only where the outline is known: a pasted product, firmly located
        grown = np.zeros(g.shape[:2], bool)
        if pasted and p.location.score >= settings.growth_min_score:
            comp.growth, grown = growth_share(g, located, others, settings, o, mask, p.location.matrix,
                                              shared["original"])
            comp.growth_extent = growth_extent(grown, located)
        # the outline is checked wherever the location does not vouch for it: a redrawn product,
        # or a pasted one placed with a correlation too weak for the growth check
        weak = pasted and p.location.score < settings.growth_min_score
        shape = None if pasted and not weak else match_shape(g, located, settings.max_aspect_change,
                                                             settings.min_outline_iou, settings.hidden_cut_margin)
        findings = locate_growth(_findings(comp, shape, pasted, settings), grown, located)
        if findings:
            findings = _other_object(comp, p.location, settings) + findings
        reports.append(ProductReport(p.product, area, True, findings, p.location, comp,
                                     candidates=cands[p.product], located_mask=located, grown_mask=grown,
                                     tier="pasted" if pasted else "redrawn", shape=shape))
    return ConsistencyReport(reports, source, g, o, masks)


def _not_found(index: int, area: float, cands: list[Location], mask: np.ndarray, same: np.ndarray,
               g: np.ndarray, s: ConsistencySettings, framed: bool) -> ProductReport:
    """Report for a product with no counterpart: altered when its keypoints still agree on a
    place across its box (too few or too weakly correlated to accept it), missing when nothing
    resembles it or nothing stands at its place (in a generated image framed like the original),
    else replaced."""
    best = max((c.score for c in cands), default=-1.0)
    colour = max((c.silhouette for c in cands), default=-1.0)
    expected = cv2.warpAffine(mask.astype(np.uint8), same, (g.shape[1], g.shape[0]), flags=cv2.INTER_NEAREST) > 0
    vacant = (place_vacancy(g, expected) if framed and s.vacant_similarity is not None and expected.any()
              else None)
    keyed = max((c for c in cands if c.method == "keypoints" and c.spread >= s.keypoint_min_spread),
                key=lambda c: c.inliers, default=None)
    agreeing = keyed.inliers if keyed is not None else 0
    if best >= s.locate_min_score:
        f = Finding("not_found", "product_missing",
                    f"has no counterpart of its own: its best match (correlation {best:.2f}) is where "
                    "another product of the original stands, so it is missing")
    elif agreeing >= s.keypoint_min_inliers:
        # features that agree on one placement are this product's own, however much it changed;
        # the picture outlines it there
        expected = cv2.warpAffine(mask.astype(np.uint8), keyed.matrix, (g.shape[1], g.shape[0]),
                                  flags=cv2.INTER_NEAREST) > 0
        f = Finding("not_found", "product_altered",
                    f"changed beyond recognition: {agreeing} of its keypoints still agree on one place in the "
                    f"generated image, but what stands there correlates only {keyed.score:.2f} with it",
                    value=float(agreeing))
    elif vacant is not None and vacant >= s.vacant_similarity:
        f = Finding("not_found", "product_missing",
                    f"is missing: its place shows only the surrounding scene ({100 * vacant:.0f} % alike in "
                    f"colour) and nothing elsewhere matches it (best correlation {best:.2f})", value=round(vacant, 3))
    elif best < s.missing_score and colour < s.missing_score:
        f = Finding("not_found", "product_missing",
                    f"is missing: nothing in the generated image resembles it (best correlation {best:.2f}, "
                    f"colour match {colour:.2f})")
    else:
        f = Finding("not_found", "product_replaced",
                    f"was not found in the generated image (best correlation {_below(best, s.locate_min_score)}): "
                    "replaced by another object or missing")
    return ProductReport(index, area, False, [f], candidates=cands, expected_mask=expected)


def _other_object(c: Comparison, loc: Location, s: ConsistencySettings) -> list[Finding]:
    """A ``product_replaced`` finding for a failed product that is another object at its place:
    its colours no longer fill its outline, its edges changed and much of it differs (a recolour
    keeps the edges, a new print keeps the colours). Empty otherwise."""
    if (s.other_object_colour_match is None or not -1 < loc.silhouette < s.other_object_colour_match
            or c.edge_exact >= s.other_object_max_edge or c.changed_share < s.other_object_min_change):
        return []
    return [Finding("other_object", "product_replaced",
                    f"is another object: its colours no longer fill its outline (colour match "
                    f"{loc.silhouette:.2f}), its edges changed (edge agreement {c.edge_exact:.2f}) and "
                    f"{100 * c.changed_share:.0f} % of its pixels differ", value=round(loc.silhouette, 3))]


def place_vacancy(g: np.ndarray, place: np.ndarray) -> float:
    """How much ``place`` of the generated image looks like its surroundings (0-1).

    Histogram intersection of coarse CIELAB colours inside the place and in a ring around it a
    quarter of its size wide: near 1 when the scene simply continues through it (nothing stands
    there), low when an object of its own colours does.
    """
    k = max(3, int(0.25 * np.sqrt(place.sum())))
    ring = (cv2.dilate(place.astype(np.uint8), np.ones((k, k), np.uint8)) > 0) & ~place
    if not ring.any():
        return 0.0
    lab = cv2.cvtColor(g, cv2.COLOR_RGB2LAB)
    bins, ranges = [4, 8, 8], [0, 256, 0, 256, 0, 256]
    inside = cv2.calcHist([lab], [0, 1, 2], place.astype(np.uint8), bins, ranges).ravel()
    around = cv2.calcHist([lab], [0, 1, 2], ring.astype(np.uint8), bins, ranges).ravel()
    return float(np.minimum(inside / inside.sum(), around / around.sum()).sum())


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


def _below(value: float, limit: float) -> str:
    """"value < limit" with enough digits that the two never print the same ("0.549 < 0.55")."""
    for digits in (2, 3, 4, 6):
        if f"{value:.{digits}f}" != f"{limit:.{digits}f}":
            return f"{value:.{digits}f} < {limit:g}"
    return f"{value!r} < {limit!r}"


def _findings(c: Comparison, shape: ShapeMatch | None, pasted: bool, s: ConsistencySettings) -> list[Finding]:
    """What is wrong with a located product, most telling first.

    A pasted product (high correlation: the generator kept its pixels) must keep them: share
    of changed pixels, local change, structure, edges and colour are gated. A redrawn one
    (found by keypoints, silhouette or a weaker correlation) is compared as a shopper sees it:
    colours at a coarse scale and its proportions and outline.
    """
    out = []
    where = f" ({c.where})" if c.where else ""
    if shape is not None and shape.aspect_change > s.max_aspect_change:
        pct = 100 * (np.exp(shape.aspect_change) - 1)
        out.append(Finding("proportions", "product_altered",
                           f"changed proportions: width/height differ by {pct:.0f} % (stretched or squeezed)"))
    if shape is not None and shape.iou < s.min_outline_iou:
        out.append(Finding("outline", "product_altered",
                           f"changed outline: it overlaps its expected outline by only {100 * shape.iou:.0f} %"))
    if pasted:
        if 1 - c.changed_share < s.threshold:
            out.append(Finding("changed", "product_altered",
                               f"changed: {100 * c.changed_share:.0f} % of its pixels differ by ΔE2000 > "
                               f"{s.delta_e:g}{where}", c.where, value=round(c.changed_share, 4)))
        if c.local_change > s.max_local_change:
            out.append(Finding("changed_locally", "product_altered",
                               f"changed locally{where}: {100 * c.local_change:.0f} % of one area differs, "
                               "e.g. altered print or label", c.where))
        if c.ssim < s.min_ssim:
            out.append(Finding("structure", "product_altered",
                               f"changed structure{where}: SSIM {_below(c.ssim, s.min_ssim)}", c.where))
        if c.edge < s.min_edge:
            out.append(Finding("print", "product_altered",
                               f"changed outlines/print{where}: edge agreement {_below(c.edge, s.min_edge)}",
                               c.where))
        if c.mad > s.max_mad:
            out.append(Finding("colours", "product_altered",
                               f"changed colours: mean pixel difference {c.mad:.1f} > {s.max_mad:g}", c.where))
    else:
        if c.changed_share > s.redrawn_max_change:
            out.append(Finding("colours", "product_altered",
                               f"changed colours{where}: {100 * c.changed_share:.0f} % of it differs by ΔE2000 > "
                               f"{s.delta_e:g} beyond what the scene's light explains", c.where))
        if s.redrawn_max_texture_gain is not None and c.texture_gain > s.redrawn_max_texture_gain:
            out.append(Finding("pattern", "product_altered",
                               f"gained a pattern: its surface is {c.texture_gain:.1f}× as textured as the "
                               "original's even at a coarse scale (e.g. stripes or dots painted on)",
                               value=round(c.texture_gain, 3)))
    wide = s.max_growth is not None and c.growth > s.max_growth
    far = s.max_growth_extent is not None and c.growth_extent > s.max_growth_extent
    if wide or far:
        out.append(Finding("grown", "shape_hallucination",
                           f"grew a part outside its outline ({100 * c.growth:.0f} % of its area, reaching "
                           f"{100 * c.growth_extent:.0f} % of its size beyond it; e.g. a pedestal, legs or a stand)",
                           value=round(c.growth, 4)))
    return out
