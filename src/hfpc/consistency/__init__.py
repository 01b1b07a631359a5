"""Product consistency: segment the product, locate it in the generated image, match, compare.

The pipeline follows the HFPC paper's Module 2 (segment → match masks by IoU and position →
pixel difference inside matched masks) with classic image processing, so it runs with no weights.
"""

from hfpc.consistency.analyze import ConsistencyReport, ProductReport, analyze_pair
from hfpc.consistency.config import ConsistencySettings

__all__ = ["ConsistencyReport", "ConsistencySettings", "ProductReport", "analyze_pair"]
