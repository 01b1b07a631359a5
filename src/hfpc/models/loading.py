"""The one place that turns a model name into weights on disk.

A name is a local directory or a Hugging Face hub id (aliases such as ``blip`` expand to the
default ids). ``HF_HUB_OFFLINE=1`` is honoured: only the local cache is used. A missing model
raises :class:`~hfpc.errors.ModelNotAvailableError` with the command that fetches it. Vision
towers are loaded from their checkpoint's own class and any missing key is refused, because
``BlipVisionModel.from_pretrained(<full BLIP checkpoint>)`` silently initialises every weight at
random and only logs it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hfpc.errors import ModelNotAvailableError

log = logging.getLogger(__name__)

ENCODER_ALIASES: dict[str, str] = {
    "blip": "Salesforce/blip-itm-base-coco",
    "clip": "openai/clip-vit-base-patch16",
    "siglip": "google/siglip-base-patch16-224",
    "dinov2": "facebook/dinov2-base",
}
"""Short names for the encoders the reward model supports; BLIP is the paper's choice."""

# model_type → transformers class that owns the checkpoint, and the attribute of its vision tower
_OWNERS: dict[str, tuple[str, str | None]] = {
    "blip": ("BlipForImageTextRetrieval", "vision_model"),
    "blip_vision_model": ("BlipVisionModel", None),
    "clip": ("CLIPModel", "vision_model"),
    "clip_vision_model": ("CLIPVisionModel", "vision_model"),
    "siglip": ("SiglipModel", "vision_model"),
    "siglip_vision_model": ("SiglipVisionModel", "vision_model"),
    "dinov2": ("Dinov2Model", None),
}


def quiet_transformers() -> None:
    """Silence transformers' per-load progress bars; hfpc reports progress itself."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` asks for no network access."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def resolve(name: str, kind: str = "model") -> Path:
    """Local directory holding ``name``'s files: the directory itself, or the hub cache.

    Downloads only when online and not cached. Raises ModelNotAvailableError saying how to
    get the files when neither works.
    """
    name = ENCODER_ALIASES.get(name, name)
    p = Path(name).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ModelNotAvailableError(f"{p}: directory has no config.json, so it is not a saved {kind}")
        return p
    if p.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelNotAvailableError(f"{name}: not a directory with a saved {kind}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:  # pragma: no cover - part of the models extra
        raise ModelNotAvailableError("huggingface_hub is missing: pip install 'hfpc[models]'") from e
    try:
        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached: try the hub unless offline
        pass
    hint = (f"run `hfpc models pull {name}` on a machine with internet access and copy the hub "
            f"cache (or the directory it prints) here, or pass a local directory")
    if offline():
        raise ModelNotAvailableError(f"{name}: {kind} not in the local cache and HF_HUB_OFFLINE is set; {hint}")
    try:
        return Path(snapshot_download(name))
    except Exception as e:  # noqa: BLE001 - network, auth, unknown repo
        raise ModelNotAvailableError(f"{name}: cannot download the {kind} ({type(e).__name__}: {e}); {hint}") from None


def pull(name: str) -> Path:
    """Download ``name`` into the hub cache (for later offline use) and return its directory."""
    from huggingface_hub import snapshot_download

    name = ENCODER_ALIASES.get(name, name)
    return Path(snapshot_download(name))


def load_vision_tower(name: str, dtype: Any = None) -> tuple[Any, Any, dict[str, Any]]:
    """The vision tower and image processor of a checkpoint, with every weight loaded.

    Returns ``(tower, processor, info)`` where info has the model type and resolved path.
    """
    import transformers
    from transformers import AutoConfig, AutoImageProcessor

    quiet_transformers()
    path = resolve(name, "image encoder")
    config = AutoConfig.from_pretrained(path)
    owner = _OWNERS.get(config.model_type)
    if owner is None:
        raise ModelNotAvailableError(
            f"{name}: model type {config.model_type!r} is not a supported image encoder "
            f"(supported: {', '.join(sorted(_OWNERS))})")
    cls = getattr(transformers, owner[0])
    kwargs = {"dtype": dtype} if dtype is not None else {}
    model, info = cls.from_pretrained(path, output_loading_info=True, **kwargs)
    missing = list(info.get("missing_keys") or [])
    if missing:
        raise ModelNotAvailableError(
            f"{name}: {len(missing)} weights are missing from the checkpoint (e.g. {missing[:3]}); "
            "refusing to run a partly random encoder")
    if info.get("mismatched_keys"):
        raise ModelNotAvailableError(f"{name}: weights with mismatched shapes: {info['mismatched_keys'][:3]}")
    tower = getattr(model, owner[1]) if owner[1] else model
    processor = AutoImageProcessor.from_pretrained(path)
    return tower.eval(), processor, {"model_type": config.model_type, "path": str(path), "owner": owner[0]}
