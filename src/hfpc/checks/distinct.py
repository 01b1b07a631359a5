"""The ``distinct`` check: does the product stand out from its background?

RF1M's indistinctiveness (``indistinct``), without weights: the product's colour against its
surroundings and the CIELAB contrast along its outline (both CIEDE2000), with the texture
similarity of product and surroundings and its share of the image's spectral-residual salience
reported alongside. The product's position comes from the consistency report.
"""

from __future__ import annotations

from pydantic import Field

from hfpc.checks.base import Check, JudgeItem
from hfpc.checks.placement import write_picture
from hfpc.scene import NO_SURROUNDINGS, judged_products, measure_distinct, spectral_salience
from hfpc.settings import CheckSettings
from hfpc.types import CheckResult, Finding


class DistinctSettings(CheckSettings):
    """Thresholds of the ``distinct`` check (all in the Profile)."""

    work_side: int = Field(256, ge=64, le=1024, description=(
        "long side, in pixels, at which the generated image is analysed"))
    min_colour_delta_e: float = Field(6.0, ge=0, description=(
        "CIEDE2000 between the product's median colour and that of its surroundings below which "
        "its colour blends in"))
    min_boundary_delta_e: float = Field(15.0, ge=0, description=(
        "median CIEDE2000 across the product's outline (inner vs outer ring, measured locally) "
        "below which its outline is weak; a product is indistinct when both its colour and its "
        "outline fall below their thresholds"))
    max_same_hue_delta_e: float | None = Field(18.0, ge=0, description=(
        "a saturated product is also indistinct when its median colour and that of its surroundings "
        "are both at least min_chroma saturated and lie within this plain CIELAB distance (ΔE*ab "
        "1976) of each other: the same hue at about the same lightness (CIEDE2000 shrinks such "
        "differences between saturated colours); None turns this off"))
    min_chroma: float = Field(25.0, ge=0, description=(
        "chroma (C*ab) that both the product's and its surroundings' median colours need for the "
        "same-hue rule; greyish products are judged by the CIEDE2000 rule alone, as light and "
        "shade, not hue, set them apart"))
    max_same_hue_boundary_delta_e: float = Field(20.0, ge=0, description=(
        "the same-hue rule also needs the median CIEDE2000 across the outline below this: a product "
        "of its backdrop's hue whose outline is crisp (darker or lighter all along its edge) stands out"))
    max_melting_delta_e: float | None = Field(10.0, ge=0, description=(
        "a coloured product (both median colours of chroma at least min_melting_chroma) is also "
        "indistinct when its colour differs from its surroundings by less than this CIEDE2000 and at "
        "least min_weak_share of its outline is weak: its body melts into the backdrop even where a "
        "label or a base of another colour stands out; None turns this off"))
    min_melting_chroma: float = Field(15.0, ge=0, description=(
        "chroma (C*ab) that both median colours need for the melting rule: below it a product is "
        "greyish, and light and shade that CIEDE2000 under max_melting_delta_e still shows set it "
        "apart; muted colours (a brown, a dusty blue) melt as saturated ones do"))
    min_weak_share: float = Field(0.4, ge=0, le=1, description=(
        "share of the outline that must be weak (CIEDE2000 across it below weak_delta_e) for the "
        "melting rule"))
    weak_delta_e: float = Field(10.0, ge=0, description=(
        "CIEDE2000 across the outline below which a stretch of it counts as weak (its box is the "
        "finding's box; the weak share is reported)"))
    ring: float = Field(0.06, gt=0, le=0.5, description=(
        "width of the rings on each side of the outline as a share of the product's √area"))
    salient_ratio: float | None = Field(None, gt=0, description=(
        "when set, a product whose mean salience is at least this multiple of the image's mean "
        "stands out anyway and passes (spectral-residual salience is always reported)"))
    max_texture_similarity: float | None = Field(None, ge=0, le=1, description=(
        "when set, a product whose colour and outline are weak fails only if its texture (uniform-LBP "
        "histogram overlap with its surroundings, 0-1) is at least this similar"))
    judge_rejected: bool = Field(False, description=(
        "also judge products that the consistency check found but rejected as altered or replaced "
        "(their located position is often wrong, and the pair is rejected already)"))


class DistinctCheck(Check):
    """Indistinct products: colour and outline contrast against the surroundings."""

    name = "distinct"
    Settings = DistinctSettings
    failure = "indistinct"
    description = "the product stands out from its background (colour, outline contrast, salience)"

    settings: DistinctSettings

    def run(self, item: JudgeItem) -> CheckResult:
        """Measure every found product; fail on those that blend into their surroundings."""
        s = self.settings
        report = item.shared.get("consistency")
        g, judged, n_products, details, why = judged_products(report, item.generated.rgb, item.original.rgb,
                                                              item.mask, s.work_side, s.judge_rejected)
        if why is not None:
            return CheckResult(self.name, True, NO_SURROUNDINGS, s.min_colour_delta_e,
                               f"not judged: {why} (the consistency check fails it)", details=details)
        sal = spectral_salience(g)
        findings: list[Finding] = []
        worst = NO_SURROUNDINGS
        many = n_products > 1
        for part in judged:
            assert part.mask is not None
            d = measure_distinct(g, part.mask, ring=s.ring, weak_delta_e=s.weak_delta_e, salience=sal)
            worst = min(worst, d.colour_contrast)
            weak = d.colour_contrast < s.min_colour_delta_e and d.contrast < s.min_boundary_delta_e
            same_hue = (s.max_same_hue_delta_e is not None and d.chroma >= s.min_chroma
                        and d.colour_delta_e76 <= s.max_same_hue_delta_e
                        and d.contrast < s.max_same_hue_boundary_delta_e)
            melts = (s.max_melting_delta_e is not None and d.chroma >= s.min_melting_chroma
                     and d.colour_contrast < s.max_melting_delta_e and d.weak_share >= s.min_weak_share)
            blends = weak or same_hue or melts
            if blends and s.salient_ratio is not None and d.salience_ratio >= s.salient_ratio:
                blends = False
            if blends and s.max_texture_similarity is not None and d.texture_similarity < s.max_texture_similarity:
                blends = False
            details["products"].append({
                "product": part.index + 1, "colour_delta_e": round(d.colour_contrast, 2),
                "colour_delta_e76": round(d.colour_delta_e76, 2), "chroma": round(d.chroma, 1),
                "boundary_delta_e": round(d.contrast, 2), "weak_share": round(d.weak_share, 3),
                "texture_similarity": round(d.texture_similarity, 3),
                "salience_ratio": round(d.salience_ratio, 3), "salience_share": round(d.salience_share, 4),
                "indistinct": blends})
            if blends:
                name = f"product {part.index + 1}" if many else "the product"
                if weak:
                    how = (f"its colour differs from its surroundings by ΔE2000 {d.colour_contrast:.1f} "
                           f"(< {s.min_colour_delta_e:g}) and its outline by {d.contrast:.1f} "
                           f"(< {s.min_boundary_delta_e:g})")
                elif same_hue:
                    how = (f"it has the hue and lightness of its surroundings (ΔE*ab {d.colour_delta_e76:.1f} "
                           f"≤ {s.max_same_hue_delta_e:g}, both of chroma ≥ {s.min_chroma:g})")
                else:
                    how = (f"its colour is close to its surroundings' (ΔE2000 {d.colour_contrast:.1f} < "
                           f"{s.max_melting_delta_e:g}, both of chroma ≥ {s.min_melting_chroma:g}) and much of its "
                           "outline melts into them")
                findings.append(Finding(
                    "blends_in", "indistinct",
                    f"{name} blends into its background: {how}; {100 * d.weak_share:.0f} % of the "
                    f"outline is weak, and it holds {100 * d.salience_share:.0f} % of the image's salience "
                    f"for {100 * float(part.mask.mean()):.0f} % of its area",
                    "outline", part.index + 1, d.weak_box or d.box))
        if findings:
            explanation = "; ".join(f.sentence for f in findings)
        else:
            n = "the product stands" if len(judged) == 1 else "every product stands"
            explanation = f"{n} out from its background (colour ΔE2000 ≥ {worst:.1f})"
        result = CheckResult(self.name, not findings, worst, s.min_colour_delta_e, explanation,
                             failure="indistinct" if findings else None, details=details, findings=findings)
        # a picture only where there is something to show: most pairs pass, and encoding costs
        write_picture(item, self.name, report, judged, findings, result)
        return result
