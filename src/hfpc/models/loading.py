"""The one place that turns a model name into weights on disk.

A name is a local directory or a Hugging Face hub id (aliases such as ``blip`` expand to the
default ids). ``HF_HUB_OFFLINE=1`` is honoured: only the local cache is used. A missing model
raises :class:`~hfpc.errors.ModelNotAvailableError` with the command that fetches it. Vision
towers are loaded through their checkpoint's own class (a full BLIP, CLIP or SigLIP checkpoint
is fine) and any missing *tower* weight is refused, because
``BlipVisionModel.from_pretrained(<full BLIP checkpoint>)`` silently initialises every weight at
random and only logs it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
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

MODEL_ALIASES: dict[str, str] = {
    **ENCODER_ALIASES,
    "grounding-dino": "IDEA-Research/grounding-dino-tiny",
    "grounding-dino-base": "IDEA-Research/grounding-dino-base",
    "sam": "facebook/sam-vit-base",
    "sam-hq": "syscv-community/sam-hq-vit-base",
    "slimsam": "Zigeng/SlimSAM-uniform-77",
    "depth": "depth-anything/Depth-Anything-V2-Small-hf",
    "qwen2.5-vl-3b": "Qwen/Qwen2.5-VL-3B-Instruct",
    "qwen2.5-vl-7b": "Qwen/Qwen2.5-VL-7B-Instruct",
    "smolvlm": "HuggingFaceTB/SmolVLM-Instruct",
}
"""Every short name ``hfpc models pull`` and the Profile accept: encoders and the segmentation models."""

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
    name = MODEL_ALIASES.get(name, name)
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

    name = MODEL_ALIASES.get(name, name)
    return Path(snapshot_download(name))


def load_vision_tower(name: str, dtype: Any = None) -> tuple[Any, Any, dict[str, Any]]:
    """The vision tower and image processor of a checkpoint, with every tower weight loaded.

    A full checkpoint (BLIP captioning / retrieval / VQA, ``BlipModel``, CLIP, SigLIP …) is
    loaded with the class its config names, or the family's usual class when it names none,
    and the tower is taken from it. Only the tower's own weights must all be in the
    checkpoint: a missing text half is no concern of an image encoder, a missing tower weight
    is refused with the checkpoint's path and the keys.

    Returns ``(tower, processor, info)`` where info has the model type, resolved path and the
    class the checkpoint was loaded with.
    """
    import transformers
    from transformers import AutoConfig, AutoImageProcessor

    quiet_transformers()
    path = resolve(name, "image encoder")
    where = name if str(path) == name else f"{name} ({path})"
    config = AutoConfig.from_pretrained(path)
    owner = _OWNERS.get(config.model_type)
    if owner is None:
        raise ModelNotAvailableError(
            f"{where}: model type {config.model_type!r} is not a supported image encoder "
            f"(supported: {', '.join(sorted(_OWNERS))})")
    cls = _checkpoint_class(transformers, config, owner)
    kwargs: dict[str, Any] = {"dtype": dtype} if dtype is not None else {}
    with transformers_errors_only():  # hfpc checks the loading info itself, below
        model, info = cls.from_pretrained(path, output_loading_info=True, ignore_mismatched_sizes=True,
                                          **kwargs)
    tower = getattr(model, owner[1], None) if owner[1] else model
    if tower is None:
        raise ModelNotAvailableError(f"{where}: {cls.__name__} has no vision tower {owner[1]!r}")
    prefix = _prefix_of(model, tower)
    missing = sorted(k for k in info.get("missing_keys") or () if k.startswith(prefix))
    if missing:
        raise ModelNotAvailableError(
            f"{where}: {len(missing)} vision-tower weights are missing from the checkpoint (loaded as "
            f"{cls.__name__}): {_listing(missing)}; refusing to run a partly random encoder")
    mismatched = sorted(str(_key(m)) for m in info.get("mismatched_keys") or () if str(_key(m)).startswith(prefix))
    if mismatched:
        raise ModelNotAvailableError(
            f"{where}: {len(mismatched)} vision-tower weights have the wrong shape for the config "
            f"(loaded as {cls.__name__}): {_listing(mismatched)}")
    processor = AutoImageProcessor.from_pretrained(path)
    return tower.eval(), processor, {"model_type": config.model_type, "path": str(path), "owner": cls.__name__}


def _checkpoint_class(transformers: Any, config: Any, owner: tuple[str, str | None]) -> Any:
    """The class that saved a composite checkpoint (so its weights load without gaps), else the family's."""
    if owner[1] is not None:
        for arch in getattr(config, "architectures", None) or ():
            cls = getattr(transformers, arch, None)
            if cls is not None and getattr(cls, "config_class", None) is type(config):
                return cls
    return getattr(transformers, owner[0])


def _prefix_of(model: Any, tower: Any) -> str:
    """The state-dict prefix of ``tower`` inside ``model`` ("" when the model is the tower)."""
    if tower is model:
        return ""
    for mod_name, mod in model.named_modules():
        if mod is tower:
            return f"{mod_name}."
    return ""  # pragma: no cover - the tower is always a submodule


def _key(entry: Any) -> Any:
    """A mismatched-keys entry is a key or a (key, shape, shape) tuple, by transformers version."""
    return entry[0] if isinstance(entry, tuple) else entry


def _listing(keys: list[str], n: int = 8) -> str:
    return ", ".join(keys[:n]) + (f" … and {len(keys) - n} more" if len(keys) > n else "")


@contextlib.contextmanager
def transformers_errors_only() -> Iterator[None]:
    """Keep transformers' load reports (missing/unexpected keys, processor fallbacks) quiet; hfpc
    checks what matters itself."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
