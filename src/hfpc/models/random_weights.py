"""Grounding DINO and SAM checkpoints with random weights, built from configs and saved like real ones.

Tests load them through the same code as downloaded weights (tiny sizes, seconds on a CPU);
``benchmarks/model_speed.py`` times the real architectures (``full=True``: grounding-dino-tiny's
Swin-T + BERT-base with 900 queries, SAM ViT-B) where no weights can be downloaded.
"""

from __future__ import annotations

from pathlib import Path

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab(directory: Path, size: int) -> Path:
    """A BERT word-piece vocabulary: the special tokens, the prompt's words, then fillers."""
    words = _SPECIAL + [".", ",", "product", "object", "bottle", "chair", "a", "the"]
    words += [f"[unused{i}]" for i in range(max(0, size - len(words)))]
    path = directory / "vocab.txt"
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return path


def save_random_grounding_dino(directory: Path, full: bool = False, seed: int = 0) -> Path:
    """A ``GroundingDinoForObjectDetection`` with random weights and its processor in ``directory``.

    ``full``: grounding-dino-tiny's architecture (images resized to 800 px on the short side);
    else a tiny one (a few hundred kilobytes, 128-px inputs).
    """
    import torch
    from transformers import (
        BertConfig,
        BertTokenizerFast,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoProcessor,
        SwinConfig,
    )
    from transformers import GroundingDinoImageProcessorPil as ImageProcessor

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if full:
        config = GroundingDinoConfig()
        size = {"shortest_edge": 800, "longest_edge": 1333}
    else:
        config = GroundingDinoConfig(
            backbone_config=SwinConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4,
                                       image_size=128, out_features=["stage2", "stage3", "stage4"]),
            text_config=BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=64),
            d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
            encoder_attention_heads=2, decoder_attention_heads=2, num_queries=20, max_text_len=32)
        size = {"shortest_edge": 128, "longest_edge": 128}
    tokenizer = BertTokenizerFast(vocab_file=str(_vocab(directory, config.text_config.vocab_size)))
    GroundingDinoForObjectDetection(config).eval().save_pretrained(directory)
    GroundingDinoProcessor(image_processor=ImageProcessor(size=size), tokenizer=tokenizer).save_pretrained(directory)
    return directory


def save_random_sam(directory: Path, full: bool = False, seed: int = 0) -> Path:
    """A ``SamModel`` with random weights and its processor in ``directory``.

    ``full``: sam-vit-base's architecture (1024-px inputs); else a tiny one (128-px inputs).
    """
    import torch
    from transformers import (
        SamConfig,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )
    from transformers import SamImageProcessorPil as ImageProcessor

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if full:
        config = SamConfig(vision_config=SamVisionConfig(initializer_range=0.02))
        side = 1024
    else:
        # SAM's positional encoding needs num_pos_feats = hidden_size / 2 of the prompt encoder
        config = SamConfig(
            vision_config=SamVisionConfig(hidden_size=32, output_channels=16, num_hidden_layers=2,
                                          num_attention_heads=2, image_size=128, patch_size=16, window_size=4,
                                          global_attn_indexes=[1], num_pos_feats=8, mlp_dim=64, initializer_range=0.02),
            prompt_encoder_config=SamPromptEncoderConfig(hidden_size=16, image_size=128, patch_size=16),
            mask_decoder_config=SamMaskDecoderConfig(hidden_size=16, mlp_dim=32, num_attention_heads=2,
                                                     iou_head_hidden_dim=16))
        side = 128
    SamModel(config).eval().save_pretrained(directory)
    SamProcessor(image_processor=ImageProcessor(size={"longest_edge": side},
                                                pad_size={"height": side, "width": side})).save_pretrained(directory)
    return directory


def save_random_depth_anything(directory: Path, full: bool = False, seed: int = 0) -> Path:
    """A ``DepthAnythingForDepthEstimation`` with random weights and its processor in ``directory``.

    ``full``: Depth Anything V2 Small's architecture (DINOv2 ViT-S/14, 518-px inputs); else a tiny
    one (56-px inputs).
    """
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config
    from transformers import DPTImageProcessorPil as ImageProcessor

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if full:
        config, side = DepthAnythingConfig(), 518
    else:
        backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                                image_size=56, patch_size=14, reshape_hidden_states=False,
                                out_features=["stage1", "stage2", "stage3", "stage4"])
        config = DepthAnythingConfig(backbone_config=backbone, neck_hidden_sizes=[8, 16, 32, 32],
                                     fusion_hidden_size=16, head_hidden_size=8, reassemble_hidden_size=32)
        side = 56
    DepthAnythingForDepthEstimation(config).eval().save_pretrained(directory)
    ImageProcessor(size={"height": side, "width": side}, keep_aspect_ratio=True, ensure_multiple_of=14,
                   do_pad=False).save_pretrained(directory)
    return directory
