"""Pixel comparison of a kept product: what its outline and faint edges may do without counting as a change."""

from __future__ import annotations

import numpy as np

from hfpc.consistency import ConsistencySettings, analyze_pair
from hfpc.consistency.compare import compare_product
from hfpc.consistency.locate import similarity


def _sneaker() -> tuple[np.ndarray, np.ndarray]:
    """A white product with a red printed stripe and a pink sole, on a grey floor."""
    img = np.full((160, 200, 3), 120, np.uint8)
    mask = np.zeros((160, 200), bool)
    mask[40:110, 20:180] = True
    img[mask] = (235, 235, 240)
    img[55:75, 40:90] = (220, 60, 80)
    img[95:110, 120:180] = (230, 110, 200)
    return img, mask


def test_the_outline_at_the_products_extremes_is_eroded_like_the_rest() -> None:
    """The mask's last rows (where a product meets the floor) take the new scene's colour: not a
    change. Its extreme rows lie on the border of the compared crop and are eroded there too."""
    o, m = _sneaker()
    g = o.copy()
    g[~m] = (245, 245, 245)  # a white marble ledge
    g[106:110, 140:160] = (250, 250, 250)  # the ledge seen through the mask's bottom rows
    rep = analyze_pair(o, m, g)
    assert rep.passed, rep.explanation()
    assert rep.products[0].comparison.local_change < ConsistencySettings().max_local_change

    relabelled = g.copy()
    relabelled[58:72, 95:115] = (20, 20, 20)  # a new dark label, 2.5 % of the product
    rep = analyze_pair(o, m, relabelled)
    assert not rep.passed and rep.codes == ["changed_locally"], rep.explanation()


def _printed(line: int, stripes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A product with a sharp logo and faint vertical seams of contrast ``line``; ``stripes`` adds
    new dark print where the original is plain."""
    colour = np.array((170, 160, 150))
    img = np.full((160, 160, 3), 235, np.uint8)
    mask = np.zeros((160, 160), bool)
    mask[20:140, 30:130] = True
    img[mask] = colour
    img[35:55, 60:100] = (40, 40, 40)
    for x in range(40, 80, 12):
        img[65:130, x:x + 3] = colour - line
    if stripes:
        for y in range(70, 130, 10):
            img[y:y + 2, 88:122] = (30, 30, 30)
    return img, mask


def test_a_faint_edge_that_crosses_the_edge_threshold_is_not_new_print() -> None:
    """Seams just below Canny's threshold in the original and just above it in the generated
    copy are the same edges; stripes printed where the original is plain are new ones."""
    o, m = _printed(24)
    g, _ = _printed(32)
    same = similarity(1, 0, 0)
    strict = compare_product(o, m, g, same, ConsistencySettings(edge_support=1.0))
    kept = compare_product(o, m, g, same, ConsistencySettings())
    assert strict.edge < ConsistencySettings().min_edge <= kept.edge
    g[~m] = (90, 140, 200)
    assert analyze_pair(o, m, g).passed

    new_print, _ = _printed(24, stripes=True)
    assert compare_product(o, m, new_print, same, ConsistencySettings()).edge < ConsistencySettings().min_edge
    new_print[~m] = (90, 140, 200)
    assert not analyze_pair(o, m, new_print).passed
