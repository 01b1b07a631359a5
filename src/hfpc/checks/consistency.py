"""The ``consistency`` check: is every product of the original unchanged in the generated image?"""

from __future__ import annotations

from hfpc.checks.base import Check, JudgeItem
from hfpc.consistency.analyze import analyze_pair, prepare_original, working_generated
from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.heatmap import HEATMAP_MAX_SIDE, HEATMAP_SUFFIX, render_heatmap, write_heatmap
from hfpc.types import CheckResult


class ConsistencyCheck(Check):
    """Pixel-level product consistency (HFPC Module 2): classic segmentation with no weights, or
    Grounding DINO + SAM (``backend = "grounded-sam"``).

    The value is the worst product's share of unchanged pixels; the check also fails when a
    product is missing, or its structure, print or colours changed beyond the Profile's gates.
    """

    name = "consistency"
    Settings = ConsistencySettings
    failure = "product_altered"
    description = "product unchanged pixel by pixel (segment, locate, match, compare)"

    settings: ConsistencySettings

    def __init__(self, settings: ConsistencySettings) -> None:
        super().__init__(settings)
        # a model backend uses every core itself and batches in one process
        self.process_parallel = settings.backend == "classic"
        self._key = f"consistency:{settings.max_side}:{settings.backend}"
        if settings.backend != "classic":
            from hfpc.consistency.segment import get_segmenter

            get_segmenter(settings).models  # noqa: B018 - load now: a missing model stops the run before it starts
            self._key += f":{settings.detector}:{settings.segmenter}:{settings.prompt}"

    def run_batch(self, items: list[JudgeItem]) -> list[CheckResult]:
        """Judge several samples; a model backend segments their generated images in one batch."""
        from hfpc.consistency.segment import get_segmenter

        seg = get_segmenter(self.settings)
        if not hasattr(seg, "segment_many") or len(items) < 2:
            return [self.run(item) for item in items]
        found = seg.segment_many([working_generated(it.generated.rgb, self.settings) for it in items])
        return [self.run(item, masks) for item, masks in zip(items, found)]

    def run(self, item: JudgeItem, generated_masks: list | None = None) -> CheckResult:
        """Segment (cached per original), locate, match and compare; write the heatmap."""
        key = self._key
        prepared = item.original_cache.get(key)
        if prepared is None:
            prepared = prepare_original(item.original.rgb, item.mask, self.settings)
            item.original_cache[key] = prepared
        report = analyze_pair(item.original.rgb, item.mask, item.generated.rgb, self.settings,
                              prepared=prepared, original_cache=item.original_cache.setdefault(key + ":features", {}),
                              generated_masks=generated_masks)
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
