"""The ``grounded-sam`` backend: Grounding DINO boxes for a text prompt, SAM masks inside them.

This is the HFPC paper's Module 2 segmentation, run on both images: the original's masks are
the products; the generated image's masks propose where each product went (a candidate
location per mask, matched by correlation, IoU and positional distance like every other
candidate). Everything after segmentation (search fallback, comparison, gates, heatmap) is the
classic pipeline's, so rows and pictures read the same whichever backend made the masks.

Weights load once per process through :mod:`hfpc.models.loading` (hub id or local directory,
``HF_HUB_OFFLINE`` honoured); bf16 on GPUs and on CPUs with native bf16.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from hfpc.consistency.config import ConsistencySettings
from hfpc.consistency.segment_classic import ClassicSegmenter, split_products
from hfpc.errors import ModelNotAvailableError

log = logging.getLogger(__name__)

# model_type of a SAM-family checkpoint → the transformers class that runs it
_SAM_CLASSES = {"sam": "SamModel", "sam_hq": "SamHQModel"}


@dataclass
class GroundedSam:
    """A loaded detector and segmenter with their processors, on one device and dtype."""

    detector: Any
    det_processor: Any
    segmenter: Any
    seg_processor: Any
    device: Any
    dtype: Any

    def boxes(self, images: list[np.ndarray], prompt: str, box_threshold: float,
              text_threshold: float) -> list[list[tuple[tuple[float, float, float, float], float]]]:
        """Per image, the (x0, y0, x1, y1) boxes in pixels whose prompt score passes, best first."""
        import torch

        if not images:
            return []
        inputs = self.det_processor(images=list(images), text=[prompt] * len(images), return_tensors="pt",
                                    padding=True)
        out = self._detect(inputs)
        # −inf marks the text positions a box cannot name; NaN is an overflow
        if out.logits.isnan().any() or out.pred_boxes.isnan().any():
            if self.detector.dtype == torch.float32:
                raise RuntimeError("the detector returned NaN scores")
            # Grounding DINO's full-size checkpoints can overflow in bf16 where the tiny ones do not:
            # the detector then runs in fp32 (SAM keeps the faster dtype)
            log.warning("Grounding DINO gave NaN scores in %s; the detector runs in fp32 from now on",
                        self.detector.dtype)
            self.detector = self.detector.float()
            out = self._detect(inputs)
        found = self.det_processor.post_process_grounded_object_detection(
            out, inputs["input_ids"], threshold=box_threshold, text_threshold=text_threshold,
            target_sizes=[img.shape[:2] for img in images])
        result = []
        for r in found:
            pairs = [(tuple(float(v) for v in b), float(s)) for b, s in zip(r["boxes"].tolist(), r["scores"].tolist())]
            result.append(sorted(pairs, key=lambda p: -p[1]))
        return result

    def _detect(self, inputs: Any) -> Any:
        import torch

        dtype = self.detector.dtype
        moved = {k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device))
                 for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.detector(**moved)
        out.logits, out.pred_boxes = out.logits.float(), out.pred_boxes.float()
        return out

    def masks_many(self, images: list[np.ndarray],
                   boxes: list[list[tuple[float, float, float, float]]]) -> list[list[tuple[np.ndarray, float]]]:
        """:meth:`masks` for several images, their image embeddings (SAM's costly part) in one batch.

        SAM-HQ's decoder also needs the encoder's intermediate features: it runs image by image.
        """
        import torch

        if type(self.segmenter).__name__ != "SamModel" or len(images) < 2:
            return [self.masks(img, b) for img, b in zip(images, boxes)]
        todo = [i for i, b in enumerate(boxes) if b]
        out: list[list[tuple[np.ndarray, float]]] = [[] for _ in images]
        if not todo:
            return out
        pixels = self.seg_processor(images=[images[i] for i in todo], return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            embeddings = self.segmenter.get_image_embeddings(pixels.to(self.device, self.dtype))
        for k, i in enumerate(todo):
            out[i] = self.masks(images[i], boxes[i], embeddings[k:k + 1])
        return out

    def masks(self, image: np.ndarray,
              boxes: list[tuple[float, float, float, float]],
              embeddings: Any = None) -> list[tuple[np.ndarray, float]]:
        """SAM's best mask (of its three proposals) inside each box, with its predicted IoU
        (``embeddings``: the image's, when a batch computed them already)."""
        import torch

        if not boxes:
            return []
        inputs = self.seg_processor(images=image, input_boxes=[[list(b) for b in boxes]], return_tensors="pt")
        sizes = (inputs.pop("original_sizes"), inputs.pop("reshaped_input_sizes"))
        if embeddings is not None:
            inputs.pop("pixel_values")
            inputs["image_embeddings"] = embeddings
        inputs = {k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
                  for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.segmenter(**inputs, multimask_output=True)
        masks = self.seg_processor.post_process_masks(out.pred_masks.float().cpu(), *sizes)[0]  # boxes×3×H×W
        iou = out.iou_scores.float().cpu()[0]  # boxes×3
        best = iou.argmax(dim=1)
        return [(masks[i, int(best[i])].numpy().astype(bool), float(iou[i, best[i]])) for i in range(len(boxes))]


def _device_dtype(device: str, dtype: str) -> tuple[Any, Any]:
    from hfpc.checks.reward import pick_device_dtype

    return pick_device_dtype(device, dtype)


@functools.lru_cache(maxsize=2)
def load_grounded_sam(detector: str, segmenter: str, device: str = "auto", dtype: str = "auto") -> GroundedSam:
    """Load (once per process) a Grounding DINO checkpoint and a SAM-family checkpoint.

    Raises :class:`ModelNotAvailableError` naming the checkpoint when the models extra is
    missing, the weights are not available, or the checkpoint is not of the expected kind.
    """
    try:
        import transformers
        from transformers import AutoConfig, AutoProcessor
    except ImportError as e:
        raise ModelNotAvailableError("the grounded-sam backend needs the models extra: "
                                     "pip install 'hfpc[models]'") from e
    from hfpc.models.loading import quiet_transformers, resolve, transformers_errors_only

    quiet_transformers()
    dev, dt = _device_dtype(device, dtype)
    det_path = resolve(detector, "Grounding DINO detector")
    seg_path = resolve(segmenter, "SAM segmenter")
    with transformers_errors_only():
        det_type = AutoConfig.from_pretrained(det_path).model_type
        if det_type != "grounding-dino":
            raise ModelNotAvailableError(f"{detector}: model type {det_type!r} is not a Grounding DINO detector")
        seg_type = AutoConfig.from_pretrained(seg_path).model_type
        if seg_type not in _SAM_CLASSES:
            raise ModelNotAvailableError(f"{segmenter}: model type {seg_type!r} is not a SAM-family segmenter "
                                         f"(supported: {', '.join(sorted(_SAM_CLASSES))})")
        det = transformers.GroundingDinoForObjectDetection.from_pretrained(det_path, dtype=dt).to(dev).eval()
        seg = getattr(transformers, _SAM_CLASSES[seg_type]).from_pretrained(seg_path, dtype=dt).to(dev).eval()
        det_proc = AutoProcessor.from_pretrained(det_path)
        seg_proc = AutoProcessor.from_pretrained(seg_path)
    return GroundedSam(det, det_proc, seg, seg_proc, dev, dt)


def products_from_masks(found: list[tuple[np.ndarray, float]], settings: ConsistencySettings) -> list[np.ndarray]:
    """The product masks among SAM's, largest first.

    Masks too small to be a product (``min_product_area`` of the frame) or covering nearly the
    whole frame (``max_mask_share``: the scene, not a product) are dropped, and so is a mask
    lying mostly (``enclosed_share``) inside one already kept, in score order: a box around a
    group and a box around one of its items must not make two products of one object.
    """
    kept: list[np.ndarray] = []
    for mask, _ in sorted(found, key=lambda f: -f[1]):
        share = float(mask.mean())
        if share < settings.min_product_area or share > settings.max_mask_share:
            continue
        area = mask.sum()
        if any((mask & k).sum() >= settings.enclosed_share * min(area, k.sum()) for k in kept):
            continue
        kept.append(mask)
    return sorted(kept, key=lambda m: -int(m.sum()))


class GroundedSamSegmenter:
    """Products as SAM masks inside Grounding DINO's boxes for the Profile's prompt."""

    def __init__(self, settings: ConsistencySettings, models: GroundedSam | None = None) -> None:
        self.settings = settings
        self._models = models

    @property
    def models(self) -> GroundedSam:
        """The loaded models (on first use)."""
        if self._models is None:
            s = self.settings
            self._models = load_grounded_sam(s.detector, s.segmenter, s.device, s.dtype)
        return self._models

    def segment(self, rgb: np.ndarray, mask: np.ndarray | None) -> tuple[list[np.ndarray], str]:
        """A given mask is used as it is; else the detector's products. When it finds none, the
        classic backend's (the row says so in its mask source)."""
        if mask is not None:
            return split_products(mask, self.settings), "mask"
        products = self.segment_many([rgb])[0]
        if products:
            return products, "grounded-sam"
        masks, source = ClassicSegmenter(self.settings).segment(rgb, None)
        return masks, f"{source} (grounded-sam found no product)"

    def segment_many(self, images: list[np.ndarray]) -> list[list[np.ndarray]]:
        """Product masks of several images: one batched detector pass and one batched SAM image
        encoder pass, then SAM's mask decoder per image (box counts differ)."""
        s = self.settings
        all_boxes = self.models.boxes(images, s.prompt, s.box_threshold, s.text_threshold)
        kept = [boxes[:s.max_products] for boxes in all_boxes]
        found = self.models.masks_many(images, [[b for b, _ in boxes] for boxes in kept])
        return [products_from_masks([(m, score) for (m, _), (_, score) in zip(masks, boxes)], s)
                for masks, boxes in zip(found, kept)]
