"""The ``placement`` check: does the product rest on something, and is its size plausible?

RF1M's space mismatch (``floating``) and size mismatch (``size_mismatch``), without weights. The
product's position comes from the consistency report; below its base the check looks for a
contact shadow or a surface edge, and it compares the product's share of the frame with the
Profile's bounds (and a per-category prior when the sample names a category) and, when
``neighbour_max_ratio`` is set, its height with that of solid objects standing beside it.
"""

from __future__ import annotations

import re
from typing import Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from hfpc.checks.base import Check, JudgeItem
from hfpc.consistency.heatmap import HEATMAP_MAX_SIDE, HEATMAP_SUFFIX, write_heatmap
from hfpc.models.depth import base_depth_step
from hfpc.scene import (
    Neighbour,
    Placement,
    ScenePart,
    downscale,
    draw_findings,
    judged_products,
    measure_placement,
    support_neighbours,
)
from hfpc.settings import CheckSettings
from hfpc.types import CheckResult, Finding


class PlacementSettings(CheckSettings):
    """Thresholds of the ``placement`` check (all in the Profile)."""

    work_side: int = Field(256, ge=64, le=1024, description=(
        "long side, in pixels, at which the generated image is analysed"))
    shadow_darkness: float = Field(0.1, gt=0, le=1, description=(
        "a contact shadow: the strip right under the product's base is darker than the background "
        "beside the base by at least this share of its L* (0.1 = 10 % darker)"))
    contact_depth: float = Field(0.06, gt=0, le=0.5, description=(
        "depth of that strip as a share of the product's height"))
    edge_delta: float = Field(8.0, gt=0, description=(
        "a surface edge below the base: a jump of at least this many L* units between neighbouring rows"))
    min_gap: float = Field(0.08, gt=0, le=1, description=(
        "a product floats only when the nearest shadow or surface edge below its base is at least "
        "this share of its height away (or there is none)"))
    search_depth: float = Field(0.4, gt=0, le=2, description=(
        "how far below the base, as a share of the product's height, shadows and surfaces are looked for"))
    min_view_below: float = Field(0.25, ge=0, le=2, description=(
        "the image must show at least this much (share of the product's height) below the base for "
        "the product to be judged floating; closer to the frame's bottom edge it passes"))
    max_empty_texture: float = Field(4.0, ge=0, description=(
        "the space below counts as empty (no support) when the standard deviation of its L* (its "
        "smooth trend down the rows removed) is below this; a textured floor, table or ground is a "
        "support even without a visible shadow"))
    max_gap_texture: float = Field(5.5, ge=0, description=(
        "the same limit where a shadow or surface edge was found at least min_gap below the base: "
        "the space between them is then a strip of the backdrop (a wall above a table's edge), "
        "whose own texture may be a little stronger without being something to stand on; never "
        "below max_empty_texture"))
    base_band: float = Field(0.08, gt=0, le=0.5, description=(
        "the product's base: its columns whose lowest pixel is within this share of its height "
        "from its very bottom (a chair's feet, not the seat between them)"))
    min_share: float = Field(0.002, ge=0, le=1, description=(
        "smallest plausible share of the frame covered by a product (below: size_mismatch)"))
    max_share: float = Field(0.9, gt=0, le=1, description=(
        "largest plausible share of the frame covered by a product (above: size_mismatch)"))
    category_shares: dict[str, tuple[float, float]] = Field(default_factory=dict, description=(
        "per-category (min, max) share of the frame, none by default; e.g. category_shares = "
        "{ sofa = [0.08, 0.7], ring = [0.001, 0.2] }. The category is the sample's meta \"category\", "
        "else the first key that is a word of its caption; it replaces min_share and max_share"))
    neighbour_max_ratio: float | None = Field(None, gt=0, le=1, description=(
        "when set, size_mismatch also when a solid object stands on the product's support line "
        "beside it (its base within 6 % of the product's height of the product's base) and is "
        "shorter than the product: between neighbour_min_ratio and this share of its height, "
        "as a sofa, cabinet or table half a bottle's height. Off by default: a shorter prop beside a "
        "product (its box beside a perfume bottle) is common in good ads, and without a model the "
        "check cannot tell furniture from props; set it for scenes whose neighbours are furniture"))
    neighbour_min_ratio: float = Field(0.3, gt=0, le=1, description=(
        "objects beside the product lower than this share of its height are not compared (a "
        "skirting board, a book, pebbles)"))
    neighbour_min_fill: float = Field(0.8, ge=0, le=1, description=(
        "share of its bounding box a neighbour must cover to be compared: solid objects only, whose "
        "outline was found whole (a detection with holes may be part of something larger)"))
    neighbour_min_width: float = Field(0.25, ge=0, description=(
        "width, in product heights, a neighbour must have to be compared (not a pole or a lone leg)"))
    depth_model: str | None = Field(None, description=(
        "a depth-estimation checkpoint (hub id, alias `depth`, or local directory; e.g. "
        "depth-anything/Depth-Anything-V2-Small-hf, needs hfpc[models]): a product also floats when its "
        "base is clearly nearer the camera than the surface right below it (depth_max_step). None: "
        "no depth, no weights (the default)"))
    depth_max_step: float = Field(0.1, gt=0, le=1, description=(
        "with a depth model: how much nearer than the surface right below it (share of the image's "
        "depth range, 5th to 95th percentile) a product's base may be; beyond, it stands in front "
        "of the surface, not on it"))
    depth_device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where the depth model runs")
    depth_dtype: Literal["auto", "fp32", "bf16"] = Field("auto", description=(
        "the depth model's precision: auto is bf16 on GPUs and CPUs with native bf16, else fp32"))
    judge_rejected: bool = Field(False, description=(
        "also judge products that the consistency check found but rejected as altered or replaced "
        "(their located position is often wrong, and the pair is rejected already)"))

    @model_validator(mode="after")
    def _bounds(self) -> PlacementSettings:
        bounds = {"min_share/max_share": (self.min_share, self.max_share), **self.category_shares}
        for name, (lo, hi) in bounds.items():
            if not 0 <= lo <= hi <= 1:
                raise ValueError(f"frame-share bounds for {name} must satisfy 0 <= min <= max <= 1, not ({lo}, {hi})")
        return self


def _category(item: JudgeItem, priors: dict[str, tuple[float, float]]) -> str | None:
    """The sample's category that has a prior: meta["category"], else a caption word."""
    if not priors:
        return None
    lower = {k.lower(): k for k in priors}
    cat = item.sample.meta.get("category")
    if isinstance(cat, str) and cat.lower() in lower:
        return lower[cat.lower()]
    words = re.findall(r"[\w-]+", (item.sample.caption or "").lower())
    return next((lower[w] for w in words if w in lower), None)


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %" if x >= 0.01 else f"{100 * x:.1f} %"


def write_picture(item: JudgeItem, check: str, report: object | None, judged: list[ScenePart],
                  findings: list[Finding], result: CheckResult) -> None:
    """Write a scene check's picture (products outlined, findings boxed) when it found something."""
    where = item.artifact_path(check, HEATMAP_SUFFIX) if findings else None
    if where is None:
        return
    path, rel = where
    shown = report.generated if report is not None else item.generated.rgb  # type: ignore[attr-defined]
    pic = draw_findings(shown, [p.mask for p in judged if p.mask is not None],
                        [f.box for f in findings if f.box is not None], HEATMAP_MAX_SIDE)
    write_heatmap(path, pic)
    result.artifacts["picture"] = rel


class PlacementCheck(Check):
    """Floating (no contact shadow, no surface under the base) and implausible frame share."""

    name = "placement"
    Settings = PlacementSettings
    failure = "floating"
    description = "the product rests on something (contact shadow / surface) and has a plausible size"

    settings: PlacementSettings

    def __init__(self, settings: PlacementSettings) -> None:
        super().__init__(settings)
        self._depth = None
        if settings.depth_model is not None:
            from hfpc.models.depth import load_depth

            # loaded now: a missing model stops the run before the first pair
            self._depth = load_depth(settings.depth_model, settings.depth_device, settings.depth_dtype)
            self.process_parallel = False

    def run_batch(self, items: list[JudgeItem]) -> list[CheckResult]:
        """Judge several samples; with a depth model, their generated images' depth in one batch."""
        if self._depth is not None and len(items) > 1:
            images = [downscale(it.generated.rgb, self.settings.work_side) for it in items]
            for it, d in zip(items, self._depth.predict(images)):
                it.shared["depth"] = d
        return [self.run(item) for item in items]

    def _disparity(self, item: JudgeItem, shape: tuple[int, ...]) -> np.ndarray | None:
        """The generated image's relative inverse depth at ``shape`` (computed here when no batch did)."""
        if self._depth is None:
            return None
        d = item.shared.get("depth")
        if d is None:
            d = item.shared["depth"] = self._depth.predict([downscale(item.generated.rgb, self.settings.work_side)])[0]
        if d.shape != shape[:2]:
            d = cv2.resize(d, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        return d

    def _floating(self, p: Placement) -> bool:
        s = self.settings
        return (not p.cut_by_frame and p.searched >= s.min_view_below
                and p.contact_darkness < s.shadow_darkness
                and (p.gap is None or p.gap >= s.min_gap)
                and p.below_texture < (s.max_empty_texture if p.gap is None
                                       else max(s.max_empty_texture, s.max_gap_texture)))

    def _compared(self, n: Neighbour) -> bool:
        """A neighbour whose size is a scale cue: solid, wide enough and wholly in the frame."""
        s = self.settings
        return not n.cut_by_frame and n.fill >= s.neighbour_min_fill and n.width >= s.neighbour_min_width

    def run(self, item: JudgeItem) -> CheckResult:
        """Measure every found product; fail on the first floating or implausibly sized one."""
        s = self.settings
        report = item.shared.get("consistency")
        g, judged, n_products, details, why = judged_products(report, item.generated.rgb, item.original.rgb,
                                                              item.mask, s.work_side, s.judge_rejected)
        if why is not None:
            return CheckResult(self.name, True, 1.0, s.shadow_darkness,
                               f"not judged: {why} (the consistency check fails it)", details=details)
        cat = _category(item, s.category_shares)
        lo, hi = s.category_shares[cat] if cat else (s.min_share, s.max_share)
        findings: list[Finding] = []
        worst = float("inf")
        many = n_products > 1
        disparity = self._disparity(item, g.shape)
        for part in judged:
            assert part.mask is not None
            others = None
            for o in judged:
                if o is not part and o.mask is not None:
                    others = o.mask if others is None else (others | o.mask)
            m = measure_placement(g, part.mask, others, base_band=s.base_band, contact_depth=s.contact_depth,
                                  search_depth=s.search_depth, shadow_darkness=s.shadow_darkness,
                                  edge_delta=s.edge_delta)
            worst = min(worst, m.contact_darkness)
            name = f"product {part.index + 1}" if many else "the product"
            floating = self._floating(m)
            details["products"].append({
                "product": part.index + 1, "frame_share": round(m.frame_share, 4),
                "contact_darkness": round(m.contact_darkness, 3),
                "gap": None if m.gap is None else round(m.gap, 3), "searched": round(m.searched, 3),
                "cut_by_frame": m.cut_by_frame, "below_texture": round(m.below_texture, 2),
                "floating": floating})
            if floating:
                if m.gap is not None:
                    sentence = (f"{name}'s base is {_pct(m.gap)} of its height above the nearest surface "
                                f"or shadow, with no contact shadow")
                else:
                    sentence = (f"{name} floats: no contact shadow and no surface within {_pct(m.searched)} "
                                f"of its height below its base")
                findings.append(Finding("no_support", "floating", sentence, "below the product",
                                        part.index + 1, m.gap_box))
            if disparity is not None:
                step = base_depth_step(disparity, part.mask, s.base_band, s.contact_depth)
                details["products"][-1]["depth_step"] = None if step is None else round(step, 3)
                if (step is not None and step > s.depth_max_step and not floating and not m.cut_by_frame
                        and m.searched >= s.min_view_below):
                    findings.append(Finding(
                        "depth_gap", "floating",
                        f"{name} stands in front of the surface below it, not on it: its base is nearer the "
                        f"camera by {_pct(step)} of the scene's depth range", "below the product",
                        part.index + 1, m.gap_box or m.box))
            if s.neighbour_max_ratio is not None:
                near = [n for n in support_neighbours(g, part.mask, others, min_height=s.neighbour_min_ratio)
                        if self._compared(n)]
                details["products"][-1]["neighbours"] = [round(n.height_ratio, 2) for n in near]
                low = [n for n in near if n.height_ratio <= s.neighbour_max_ratio]
                if low:
                    n = min(low, key=lambda x: x.height_ratio)
                    findings.append(Finding(
                        "smaller_neighbour", "size_mismatch",
                        f"{name} stands {1 / n.height_ratio:.1f} times as tall as the solid object beside it on "
                        f"the same support line ({_pct(n.height_ratio)} of its height; furniture "
                        f"at most {_pct(s.neighbour_max_ratio)} of a product's height contradicts its "
                        f"size)", "beside the product", part.index + 1, n.box))
            if not lo <= m.frame_share <= hi:
                what = f"a {cat}" if cat else "a product"
                bound = f"at least {_pct(lo)}" if m.frame_share < lo else f"at most {_pct(hi)}"
                findings.append(Finding("implausible_size", "size_mismatch",
                                        f"{name} covers {_pct(m.frame_share)} of the frame; {what} should cover "
                                        f"{bound}", "", part.index + 1, m.box))
        details["category"] = cat
        details["share_bounds"] = [lo, hi]
        if findings:
            explanation = "; ".join(f.sentence for f in findings)
        else:
            explanation = ("the product rests on something (contact shadow, surface or frame edge) "
                           "and its size fits the frame")
        result = CheckResult(self.name, not findings, worst if worst != float("inf") else 1.0,
                             s.shadow_darkness, explanation,
                             failure=findings[0].failure if findings else None,
                             details=details, findings=findings)
        # a picture only where there is something to show: most pairs pass, and encoding costs
        write_picture(item, self.name, report, judged, findings, result)
        return result
