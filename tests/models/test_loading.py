from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hfpc.errors import ModelNotAvailableError
from hfpc.models.encoders import ImageEncoder, build_encoder
from hfpc.models.loading import load_vision_tower, resolve


def _saved_vision_weights(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    state = load_file(str(path / "model.safetensors"))
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


@pytest.mark.parametrize(("fixture", "prefix", "n_prefix"), [
    ("tiny_blip", "vision_model.", 1), ("tiny_clip", "vision_model.", 1),
    ("tiny_siglip", "vision_model.", 0), ("tiny_dinov2", "", 1)])
def test_encoder_gets_exactly_the_saved_weights(request: pytest.FixtureRequest, fixture: str, prefix: str,
                                                n_prefix: int) -> None:
    path = request.getfixturevalue(fixture)
    enc = ImageEncoder.from_pretrained(str(path))
    saved = _saved_vision_weights(path, prefix)
    own = enc.tower.state_dict()
    assert saved, "the checkpoint holds vision weights"
    for k, v in saved.items():
        # transformers may rename keys on load (DINOv2 does): match by value where the name differs
        assert (k in own and torch.equal(own[k], v)) or any(
            o.shape == v.shape and torch.equal(o, v) for o in own.values()), k
    out = enc.encode([np.zeros((40, 50, 3), np.uint8), np.full((20, 20, 3), 200, np.uint8)])
    assert out.tokens.shape == (2, n_prefix + enc.grid**2, 32) and out.pooled.shape == (2, 32)
    assert enc.prefix_tokens(out.tokens.shape[1]) == n_prefix


def test_vision_class_on_full_checkpoint_is_refused(tiny_blip: Path) -> None:
    """The silent trap: BlipVisionModel on a full BLIP checkpoint loads no weights at all."""
    from transformers import BlipVisionModel

    _, info = BlipVisionModel.from_pretrained(tiny_blip, output_loading_info=True)
    assert info["missing_keys"], "transformers still initialises the tower at random"
    bad = tiny_blip.parent / "vision-only-config"
    bad.mkdir(exist_ok=True)
    # a checkpoint whose config claims a bare vision model but whose weights are the full model's
    import json
    import shutil

    cfg = json.loads((tiny_blip / "config.json").read_text())
    vision = {**cfg["vision_config"], "model_type": "blip_vision_model", "architectures": ["BlipVisionModel"]}
    (bad / "config.json").write_text(json.dumps(vision))
    shutil.copy(tiny_blip / "model.safetensors", bad / "model.safetensors")
    shutil.copy(tiny_blip / "preprocessor_config.json", bad / "preprocessor_config.json")
    with pytest.raises(ModelNotAvailableError, match="missing from the checkpoint"):
        load_vision_tower(str(bad))


def test_missing_model_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="hfpc models pull Salesforce/blip-itm-base-coco"):
        resolve("blip")
    with pytest.raises(ModelNotAvailableError, match="no config.json"):
        resolve(str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match="not a directory"):
        resolve(str(tmp_path / "nope" / "deeper"))


def test_random_encoder_is_not_degenerate() -> None:
    enc = build_encoder("random-vit-tiny")
    a = enc.encode([np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)]).tokens
    assert a.std() > 0.1 and (a[0] - a[1]).abs().mean() > 0.01


def _tiny_blip_checkpoint(directory: Path, arch: str) -> Path:
    """A full BLIP checkpoint of class ``arch`` (vision + text) with random weights and its processor."""
    import transformers
    from transformers import BlipConfig, BlipImageProcessorPil

    from tests.models.conftest import TEXT, VISION

    torch.manual_seed(5)
    cfg = BlipConfig(vision_config={**VISION, "initializer_range": 0.02}, text_config=TEXT,
                     projection_dim=16, image_text_hidden_size=16)
    getattr(transformers, arch)(cfg).save_pretrained(directory)
    BlipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(directory)
    return directory


@pytest.mark.parametrize("arch", ["BlipModel", "BlipForConditionalGeneration", "BlipForQuestionAnswering"])
def test_full_blip_checkpoints_load_as_vision_tower(tmp_path: Path, arch: str) -> None:
    """Any full BLIP checkpoint with complete vision weights gives the encoder exactly those weights."""
    path = _tiny_blip_checkpoint(tmp_path / arch, arch)
    enc = ImageEncoder.from_pretrained(str(path))
    saved = _saved_vision_weights(path, "vision_model.")
    own = enc.tower.state_dict()
    assert saved and set(saved) <= set(own)
    assert all(torch.equal(own[k], v) for k, v in saved.items())
    out = enc.encode([np.zeros((40, 50, 3), np.uint8)])
    assert out.tokens.shape == (1, 1 + enc.grid**2, 32)


def test_checkpoint_without_architectures_still_loads_its_tower(tmp_path: Path) -> None:
    """A config that does not name its class: the family's class is used, only the tower is strict."""
    import json

    path = _tiny_blip_checkpoint(tmp_path / "noarch", "BlipModel")
    cfg = json.loads((path / "config.json").read_text())
    cfg.pop("architectures", None)
    (path / "config.json").write_text(json.dumps(cfg))
    enc = ImageEncoder.from_pretrained(str(path))
    saved = _saved_vision_weights(path, "vision_model.")
    assert all(torch.equal(enc.tower.state_dict()[k], v) for k, v in saved.items())


@pytest.mark.parametrize("arch", ["BlipModel", "BlipForImageTextRetrieval"])
def test_missing_vision_weights_are_refused_by_name(tmp_path: Path, arch: str) -> None:
    from safetensors.torch import save_file

    path = _tiny_blip_checkpoint(tmp_path / arch, arch)
    state = load_file(str(path / "model.safetensors"))
    dropped = sorted(k for k in state if k.startswith("vision_model.encoder.layers.1."))
    assert dropped
    save_file({k: v for k, v in state.items() if k not in dropped}, str(path / "model.safetensors"),
              metadata={"format": "pt"})
    with pytest.raises(ModelNotAvailableError) as e:
        ImageEncoder.from_pretrained(str(path))
    msg = str(e.value)
    assert str(path) in msg and f"{len(dropped)} vision-tower weights" in msg
    assert dropped[0] in msg
