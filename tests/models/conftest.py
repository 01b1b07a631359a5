"""Tiny random BLIP/CLIP checkpoints saved to temp dirs, loaded back through hfpc's loader."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
          "image_size": 32, "patch_size": 8}
TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
        "vocab_size": 99, "max_position_embeddings": 16}


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full BLIP ITM checkpoint (vision + text) with random weights and its image processor."""
    from transformers import BlipConfig, BlipForImageTextRetrieval, BlipImageProcessorPil

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("tiny-blip")
    cfg = BlipConfig(vision_config={**VISION, "initializer_range": 0.02}, text_config=TEXT,
                     projection_dim=16, image_text_hidden_size=16)
    BlipForImageTextRetrieval(cfg).save_pretrained(d)
    BlipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLIP (vision + text) with a character-level tokenizer and its processor."""
    from hfpc.models.encoders import save_random_clip

    return save_random_clip(tmp_path_factory.mktemp("tiny-clip"), seed=1, width=32, image_size=32)


@pytest.fixture(scope="session")
def reward_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Train and validation demo sets with six generations per original (small images)."""
    from hfpc.data.synth import generate_demo_set

    root = tmp_path_factory.mktemp("reward-data")
    return (generate_demo_set(root / "train", n=48, seed=41, size=128, per_original=6),
            generate_demo_set(root / "val", n=24, seed=42, size=128, per_original=6))


def _save_tiny(directory: Path, model: object, processor: str, **processor_kwargs: object) -> Path:
    """Save a tiny model and its image processor (the PIL variant where transformers has one)."""
    proc_cls = getattr(transformers, f"{processor}Pil", None) or getattr(transformers, processor)
    model.save_pretrained(directory)
    proc_cls(**processor_kwargs).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_siglip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import SiglipConfig, SiglipModel

    torch.manual_seed(2)
    text = {**TEXT, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    model = SiglipModel(SiglipConfig(vision_config=VISION, text_config=text))
    return _save_tiny(tmp_path_factory.mktemp("tiny-siglip"), model, "SiglipImageProcessor",
                      size={"height": 32, "width": 32})


@pytest.fixture(scope="session")
def tiny_dinov2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(3)
    return _save_tiny(tmp_path_factory.mktemp("tiny-dinov2"), Dinov2Model(Dinov2Config(**VISION)),
                      "BitImageProcessor", size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
