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
