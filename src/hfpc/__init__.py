"""hfpc — automatic judge for AI-generated product advertising images.

The public API: ``Judge``, ``Profile``, ``Sample``, ``Verdict``, ``CheckResult``,
``load_image``, ``read_manifest``, ``run_filter``. Importing hfpc loads no model framework.
"""

from __future__ import annotations

__version__ = "0.1.0"

from hfpc.data.images import LoadedImage, load_image
from hfpc.data.manifests import read_manifest
from hfpc.errors import HfpcError, ImageLoadError, ManifestError, ProfileError
from hfpc.judge import Judge
from hfpc.profile import Profile
from hfpc.results import read_results, run_filter
from hfpc.types import CheckResult, Sample, Verdict

__all__ = [
    "CheckResult", "HfpcError", "ImageLoadError", "Judge", "LoadedImage", "ManifestError",
    "Profile", "ProfileError", "Sample", "Verdict", "__version__", "load_image", "read_manifest",
    "read_results", "run_filter",
]
