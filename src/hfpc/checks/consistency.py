"""The ``consistency`` check: is every product of the original unchanged in the generated image?"""

from __future__ import annotations

from hfpc.checks.base import Check, JudgeItem
from hfpc.consistency.analyze import analyze_pair, prepare_original
from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.heatmap import HEATMAP_MAX_SIDE, HEATMAP_SUFFIX, render_heatmap, write_heatmap
from hfpc.types import CheckResult


class ConsistencyCheck(Check):
    """Pixel-level product consistency (HFPC Module 2) with classic segmentation, no weights.

    The value is the worst product's share of unchanged pixels; the check also fails when a
    product is missing, or its structure, print or colours changed beyond the Profile's gates.
    """

    name = "consistency"
    Settings = ConsistencySettings
    failure = "product_altered"
    description = "product unchanged pixel by pixel (segment, locate, match, compare)"

    settings: ConsistencySettings

    def run(self, item: JudgeItem) -> CheckResult:
        """Segment (cached per original), locate, match and compare; write the heatmap."""
        key = f"consistency:{self.settings.max_side}:{self.settings.backend}"
        prepared = item.original_cache.get(key)
        if prepared is None:
            prepared = prepare_original(item.original.rgb, item.mask, self.settings)
            item.original_cache[key] = prepared
        report = analyze_pair(item.original.rgb, item.mask, item.generated.rgb, self.settings,
                              prepared=prepared, original_cache=item.original_cache.setdefault(key + ":features", {}))
        item.shared[self.name] = report
        result = CheckResult(
            check=self.name,
            passed=report.passed,
            value=report.value,
            threshold=self.settings.threshold,
            explanation=report.explanation(),
            failure=report.failure,
            details={"mask_source": report.mask_source, "codes": report.codes,
                     "products": [p.details() for p in report.products]},
            findings=report.findings(),
        )
        where = item.artifact_path(self.name, HEATMAP_SUFFIX)
        if where is not None:
            path, rel = where
            write_heatmap(path, render_heatmap(report, max_side=HEATMAP_MAX_SIDE))
            result.artifacts["heatmap"] = rel
        return result
