"""Settings of the classic consistency pipeline; each field is a documented Profile threshold."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hfpc.settings import CheckSettings


class ConsistencySettings(CheckSettings):
    """Thresholds and knobs of the ``consistency`` check (all live in the Profile)."""

    backend: Literal["classic", "grounded-sam"] = Field("classic", description=(
        "segmentation backend: classic (no weights: the border's colour model, GrabCut) or "
        "grounded-sam (Grounding DINO boxes for `prompt`, SAM masks inside them, on the original and "
        "the generated image; needs hfpc[models] and the weights)"))
    detector: str = Field("IDEA-Research/grounding-dino-tiny", description=(
        "grounded-sam: Grounding DINO checkpoint, hub id or local directory (hfpc models pull grounding-dino)"))
    segmenter: str = Field("facebook/sam-vit-base", description=(
        "grounded-sam: SAM-family checkpoint (SAM, SAM-HQ, SlimSAM), hub id or local directory"))
    prompt: str = Field("product.", min_length=1, description=(
        "grounded-sam: what the detector looks for (Grounding DINO's text prompt, lower case, ending in '.')"))
    box_threshold: float = Field(0.35, ge=0, le=1, description="grounded-sam: minimum box score of a detection")
    text_threshold: float = Field(0.25, ge=0, le=1, description=(
        "grounded-sam: minimum score of a prompt word for it to label the box"))
    max_products: int = Field(8, ge=1, le=64, description="grounded-sam: most boxes segmented per image")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="grounded-sam: where the models run")
    dtype: Literal["auto", "fp32", "bf16"] = Field("auto", description=(
        "grounded-sam: auto is bf16 on GPUs and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32"))
    threshold: float = Field(0.95, ge=0, le=1, description=(
        "minimum share of each product's pixels that must be unchanged (the check's value)"))
    delta_e: float = Field(12.0, gt=0, description=(
        "CIEDE2000 colour difference above which a product pixel counts as changed"))
    max_local_change: float = Field(0.45, ge=0, le=1, description=(
        "maximum share of changed pixels in any window a quarter of a product's size "
        "(catches relabelled print)"))
    blur_sigma: float = Field(1.0, gt=0, description=(
        "Gaussian blur (pixels) of both images before colour differences: absorbs JPEG and resampling"))
    local_window: float = Field(0.12, gt=0, le=1, description=(
        "side of the local-change window as a share of the product's size (√area)"))
    local_min_area: float = Field(0.0, ge=0, le=1, description=(
        "a local-change window counts only when its changed pixels are at least this share of the "
        "product (a speck filling a tiny window is not an altered label)"))
    min_ssim: float = Field(0.6, ge=-1, le=1, description="minimum mean SSIM inside a product")
    min_edge: float = Field(0.55, ge=0, le=1, description=(
        "minimum edge-structure agreement (F1 of Canny edges, 2 px tolerance)"))
    edge_support: float = Field(0.8, gt=0, le=1, description=(
        "an edge of one copy is matched by the other's edges found at this share of the Canny "
        "thresholds (within 2 px): an edge just above the detector's threshold in one copy and "
        "just below it in the other is kept, not new or lost print"))
    max_mad: float = Field(30.0, ge=0, description=(
        "maximum mean absolute pixel difference (0–255) after colour correction"))
    max_growth: float | None = Field(0.03, ge=0, description=(
        "maximum area grown onto a product outside its outline (share of its area: a pedestal, "
        "legs, a stand, an awning of the product's own material); None measures and reports it "
        "without gating. Measured only on pasted products located with `growth_min_score`"))
    max_growth_extent: float | None = Field(0.15, ge=0, description=(
        "farthest a grown part may reach beyond the outline, as a share of the product's size "
        "(√area): thin legs or a stand are little area but reach far; None does not gate on it"))
    locate_min_score: float = Field(0.55, ge=-1, le=1, description=(
        "minimum masked correlation for a product to count as found in the generated image"))
    identity_accept: float = Field(0.85, ge=-1, le=1, description=(
        "correlation at the original position above which no search for a moved product runs"))
    min_scale: float = Field(0.15, gt=0, description=(
        "smallest rescale searched for a moved product (composition tools shrink it to a fifth)"))
    max_scale: float = Field(2.0, gt=0, description="largest rescale searched for a moved product")
    max_side: int = Field(512, ge=64, le=4096, description="long side of the working resolution in pixels")
    search_side: int = Field(160, ge=32, le=1024, description="long side of the coarse search resolution")
    search_scales: int = Field(26, ge=1, le=100, description="number of scales tried by the coarse search")
    max_rotation: float = Field(20.0, ge=0, le=180, description=(
        "largest rotation (degrees) accepted for a product found by keypoints"))
    keypoint_features: int = Field(1500, ge=50, le=20000, description=(
        "SIFT keypoints per image for the keypoint search"))
    keypoint_side: int = Field(512, ge=64, le=2048, description="long side at which keypoints are detected")
    keypoint_zoom_below: float = Field(0.45, gt=0, description=(
        "when keypoints find nothing in the whole generated image, the places where the searches "
        "put the product smaller than this are looked at again, enlarged (detail of a shrunk product)"))
    keypoint_zoom: float = Field(2.0, ge=1, le=4, description=(
        "enlargement of those places (their long side is also kept within keypoint_side)"))
    keypoint_zoom_regions: int = Field(2, ge=0, le=8, description=(
        "how many of those places are looked at again (best search scores first)"))
    keypoint_ratio: float = Field(0.8, gt=0, le=1, description="Lowe's ratio test for keypoint matches")
    keypoint_min_inliers: int = Field(8, ge=3, description=(
        "fewest RANSAC inliers for a keypoint location to be proposed"))
    keypoint_min_spread: float = Field(0.15, ge=0, le=1, description=(
        "a product not found is named altered (its own features, changed) rather than replaced "
        "when a keypoint location with at least keypoint_min_inliers inliers spans at least this "
        "share of its box: matches on one part only (the same printed word on another object) "
        "do not make it the same object"))
    keypoint_accept: int = Field(12, ge=3, description=(
        "keypoint inliers that count as finding the product even when its correlation is low "
        "(re-rendered by the generator)"))
    silhouette_accept: float = Field(0.5, ge=-1, le=1, description=(
        "silhouette score (correlation of the product's outline with where its colours are) that "
        "counts as finding a re-rendered or flat product"))
    match_distance_weight: float = Field(0.3, ge=0, description=(
        "weight of the distance from a product's own place when pairing products with regions"))
    match_iou_weight: float = Field(0.3, ge=0, description=(
        "weight of (1 − IoU with the product's own box) when pairing products with regions"))
    max_mask_share: float = Field(0.95, gt=0, le=1, description=(
        "a given mask or alpha covering more of the frame than this is ignored (it trims the "
        "border, it does not cut out a product) and the product is segmented instead"))
    min_visible: float = Field(0.6, ge=0, le=1, description=(
        "smallest share of a product that must lie inside the generated frame at a candidate place"))
    flat_std: float = Field(6.0, ge=0, description=(
        "a product whose pixel standard deviation is below this is flat: it is scored by colour "
        "closeness instead of correlation (which is undefined for a flat patch)"))
    flat_scale: float = Field(40.0, gt=0, description=(
        "mean pixel difference at which a flat product's score reaches 0"))
    min_product_area: float = Field(0.002, ge=0, description=(
        "smallest connected component (share of the image) treated as a product"))
    background_delta: float = Field(14.0, gt=0, description=(
        "Lab distance from the border colour above which an original pixel is product"))
    border_colours: int = Field(4, ge=1, le=8, description=(
        "number of backdrop colours learned from the original's border (a wall and a floor are two)"))
    hole_match: float = Field(0.5, gt=0, le=1, description=(
        "an enclosed region whose median distance to the backdrop colours is below this share of "
        "`background_delta` is a see-through hole (removed from the product whatever its size)"))
    enclosed_share: float = Field(0.8, ge=0, le=1, description=(
        "a segmented part with at least this share of its pixels inside a larger part's convex "
        "hull is a piece of that product (a slot, a window), not a product of its own"))
    min_part_share: float = Field(0.1, ge=0, le=1, description=(
        "smallest component, as a share of the largest, treated as a product: headline text, price "
        "tags, badges and specks beside the main product are not products"))
    scene_spread: float = Field(10.0, ge=0, description=(
        "mean colour spread (Lab) of the original's border above which the border is a scene, "
        "not a backdrop: the central object is then segmented with GrabCut"))
    scene_min_share: float = Field(0.03, ge=0, le=1, description=(
        "below this share of the frame the backdrop model found no product: the original is "
        "treated as a scene photo and its central object is segmented with GrabCut"))
    scene_max_share: float = Field(0.8, ge=0, le=1, description=(
        "above this share of the frame the backdrop model failed (the border is a scene): the "
        "central object is segmented with GrabCut"))
    grabcut: Literal["auto", "always", "never"] = Field("auto", description=(
        "refine the original's mask with GrabCut: only when ambiguous, always, or never"))
    scene_grabcut_side: int = Field(160, ge=64, le=1024, description=(
        "a scene photo's central object is segmented by GrabCut on a copy this many pixels across "
        "(its cost grows with the pixels; the cut changes with the size it sees)"))
    max_light_gain: float = Field(4.0, ge=1, description=(
        "largest brightness gain (or loss) of scene light absorbed before comparing; light is "
        "modelled as a smooth gain field across the product"))
    max_light_cast: float = Field(1.6, ge=1, description=(
        "largest ratio between the gains of two colour channels absorbed as the colour of the "
        "light (warm, cool, neon); a larger change of hue is a recolour"))
    scene_light_support: float | None = Field(0.03, ge=0, le=1, description=(
        "light whose colour changes from pixel to pixel (coloured sources on several sides, a neon "
        "street) is undone on a product's white and light grey surfaces when its hue is shown by at "
        "least this share of the generated scene around the product (within 15° of hue). None "
        "models light as the smooth field only"))
    scene_light_max_cast: float = Field(2.5, ge=1, description=(
        "largest ratio between the gains of two colour channels absorbed as such light on a pale "
        "surface (a white figure under a pink neon); above it the surface was recoloured"))
    scene_light_max_chroma: float = Field(20.0, ge=0, description=(
        "largest Lab chroma of the original's surface for it to show the light's colour (white, "
        "light grey); the tint of a coloured part is a recolour, not evidence of light"))
    scene_light_min_lightness: float = Field(35.0, ge=0, le=100, description=(
        "smallest Lab lightness (0-100) of the original's surface for it to show the light's "
        "colour: a dark part's tint is no evidence of light (a black part turned amber)"))
    pasted_score: float = Field(0.9, ge=-1, le=1, description=(
        "correlation at the found place above which the product's pixels were kept (pasted) and "
        "are held to the pixel gates; below it the product was redrawn and is compared coarsely"))
    pasted_share: float = Field(0.9, ge=0, le=1, description=(
        "a product whose typical area (median over windows a quarter of its size) has at least "
        "this share of practically identical pixels (ΔE2000 < `exact_delta_e`) was pasted, perhaps "
        "with an altered part, and is held to the pixel gates whatever its correlation"))
    exact_delta_e: float = Field(5.0, gt=0, description=(
        "CIEDE2000 difference under which a pixel counts as practically identical (pasted)"))
    redrawn_min_score: float = Field(0.65, ge=-1, le=1, description=(
        "a product found by correlation alone is compared as redrawn (leniently) only above this "
        "correlation; weaker finds are held to the pixel gates"))
    in_place_tolerance: float = Field(1.0, ge=0, description=(
        "a location within this many percent of the frame of the product's own place counts as in "
        "place: the generator kept the layout, so it must keep the pixels"))
    redrawn_side: int = Field(64, ge=16, le=1024, description=(
        "a redrawn product is compared at most this many pixels across (as a shopper sees it)"))
    redrawn_max_change: float = Field(0.3, ge=0, le=1, description=(
        "largest share of a redrawn product whose colour may differ (ΔE2000 > delta_e after light)"))
    redrawn_max_texture_gain: float | None = Field(1.8, gt=1, description=(
        "largest gain in local contrast of a redrawn product over the original's at the coarse "
        "scale: re-rendering softens or keeps a surface, stripes or dots painted onto it add "
        "texture; None does not gate on it"))
    max_aspect_change: float = Field(0.16, ge=0, description=(
        "largest change of a redrawn product's width/height ratio (log ratio; 0.16 ≈ 17 %)"))
    min_outline_iou: float = Field(0.6, ge=0, le=1, description=(
        "smallest overlap of a redrawn product's outline in the generated image with its expected outline"))
    hidden_cut_margin: float | None = Field(0.08, ge=0, le=1, description=(
        "a redrawn product off in proportions or outline counts as partly hidden (sunk into water or "
        "sand, behind a foreground edge, cut by the frame) when its outline fits the expected one "
        "rescaled uniformly and cut on that side (the bottom, or a side at the frame edge) at least "
        "min_outline_iou and by this much more than the expected one stretched to its box; its "
        "proportions and outline are then judged against the cut outline. None: never"))
    missing_score: float = Field(0.3, ge=-1, le=1, description=(
        "a product not found whose best correlation and colour match are both below this is reported "
        "missing rather than replaced"))
    other_object_colour_match: float | None = Field(0.4, ge=-1, le=1, description=(
        "a located product that failed, whose colours no longer fill its outline (silhouette "
        "score below this), whose edges no longer agree (edge agreement below "
        "other_object_max_edge) and of which at least other_object_min_change of the pixels "
        "differ, is another object: named product_replaced rather than product_altered (naming "
        "only; None turns this off). A recolour keeps its edges, a new print its colours"))
    other_object_max_edge: float = Field(0.85, ge=0, le=1, description=(
        "edge agreement (F1 of Canny edges, both copies at the same thresholds: no edge_support) "
        "below which a located product's structure counts as changed for the replaced test"))
    other_object_min_change: float = Field(0.35, ge=0, le=1, description=(
        "share of changed pixels a located product needs for the replaced test"))
    vacant_similarity: float | None = Field(0.7, ge=0, le=1, description=(
        "a product not found whose own place, in a generated image framed like the original, "
        "looks like its surroundings there (colour-histogram intersection of the place and a ring "
        "around it at least this) is reported missing: nothing stands where it stood. None "
        "leaves missing versus replaced to the correlations alone"))
    growth_margin: float = Field(6.0, ge=0, description=(
        "Lab margin by which a pixel next to the product must be nearer its palette than the "
        "background's (and the background's darkened copies: shadows) to count as grown product"))
    growth_max_distance: float = Field(12.0, gt=0, description=(
        "largest Lab distance from the product's palette for a pixel to count as grown product"))
    growth_local_distance: float = Field(20.0, gt=0, description=(
        "largest median Lab distance of a grown part from the product's colours near where it "
        "touches it: a part of the same object continues its material (shaded), a neighbouring "
        "object of another colour is not growth"))
    growth_reach: float = Field(0.8, gt=0, le=1, description=(
        "how far beyond the outline growth is looked for, as a share of the product's size "
        "(√area); the background palette is learned from the ring beyond that"))
    growth_tolerance: float = Field(0.03, ge=0, le=0.3, description=(
        "band along the outline, as a share of the product's size, that never counts as growth "
        "(alignment error and re-blended edges)"))
    growth_open_edge: float = Field(0.1, ge=0, le=1, description=(
        "a product-like region whose share at the edge of the growth search exceeds this runs on "
        "into the scene (a floor or wall of the product's colour) and is not a grown part"))
    growth_min_contact: float = Field(0.06, ge=0, le=2, description=(
        "a grown part must touch the product's outline along at least this share of its size "
        "(a speck or a thing that merely grazes it is not a grown part)"))
    growth_contact_reach: float = Field(0.25, ge=0, le=2, description=(
        "a grown part must match the colours of the product within this share of its size of "
        "where it touches it (a neighbouring object of another colour is not growth)"))
    growth_min_score: float = Field(0.8, ge=-1, le=1, description=(
        "growth is measured only on pasted products located with at least this correlation: "
        "elsewhere the expected outline is too uncertain (a misaligned or redrawn outline "
        "leaves the product's own edge outside it)"))
    growth_side: int = Field(256, ge=32, le=1024, description=(
        "growth is measured on a crop around the product at most this many pixels across"))
    erode: float = Field(0.02, ge=0, le=0.3, description=(
        "products are compared on their mask eroded by this share of their size (√area): "
        "re-blended anti-aliased edges are not a change"))
    erode_segmented: float = Field(0.05, ge=0, le=0.3, description=(
        "erosion used instead of `erode` when the mask was segmented rather than given: its "
        "boundary is less certain (shadows, bits of the old scene)"))
    compare_side: int = Field(192, ge=32, le=2048, description=(
        "products are compared at most this many pixels across (and never finer than the "
        "generated copy): re-rendered detail finer than this is not a change"))

    @model_validator(mode="after")
    def _bounded(self) -> ConsistencySettings:
        """Refuse settings that contradict each other or make a run unbounded."""
        if self.min_scale >= self.max_scale:
            raise ValueError(f"min_scale ({self.min_scale}) must be below max_scale ({self.max_scale})")
        if self.max_scale / self.min_scale > 100:
            raise ValueError("max_scale / min_scale above 100 makes the search unbounded")
        if self.search_side > self.max_side:
            raise ValueError(f"search_side ({self.search_side}) cannot exceed max_side ({self.max_side})")
        return self
