"""Grounding DINO and SAM checkpoints with random weights, built from configs and saved like real ones.

Tests load them through the same code as downloaded weights (tiny sizes, seconds on a CPU);
``benchmarks/model_speed.py`` times the real architectures (``full=True``: grounding-dino-tiny's
Swin-T + BERT-base with 900 queries, SAM ViT-B) where no weights can be downloaded.
"""

from __future__ import annotations

from pathlib import Path

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab(size: int, extra: tuple[str, ...] = ()) -> dict[str, int]:
    """A BERT word-piece vocabulary: the special tokens, the prompt's words, then fillers."""
    words = _SPECIAL + [".", ",", "product", "object", "bottle", "chair", "a", "the", *extra]
    words += [f"[unused{i}]" for i in range(max(0, size - len(words)))]
    return {w: i for i, w in enumerate(words)}


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
    tokenizer = BertTokenizerFast(vocab=_vocab(config.text_config.vocab_size))
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


_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}")


def char_tokenizer() -> object:
    """A character-level fast tokenizer (printable ASCII, ``<image>``): decoding gives back the exact text."""
    import string

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    special = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]
    chars = sorted(set(string.printable) - set("\x0b\x0c"))
    tk = Tokenizer(models.WordLevel({t: i for i, t in enumerate(special + chars)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", additional_special_tokens=["<image>"])


def llava_config(vocab_size: int, image_token: int, full: bool = False) -> object:
    """A LLaVA configuration: tiny, or (``full``) about 3 B parameters (CLIP ViT-L/14 at 336 px and a
    Llama decoder of Llama-3.2-3B's shape), the size of the small VLMs teams run as judges."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    if full:
        vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                  num_attention_heads=16, image_size=336, patch_size=14, projection_dim=768)
        text = LlamaConfig(vocab_size=vocab_size, hidden_size=3072, intermediate_size=8192, num_hidden_layers=28,
                           num_attention_heads=24, num_key_value_heads=8, max_position_embeddings=8192)
    else:
        vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                  image_size=32, patch_size=8)
        text = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=8192)
    text.bos_token_id, text.eos_token_id, text.pad_token_id = 2, 3, 0
    return LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token, vision_feature_layer=-2)


def llava_processor(tokenizer: object, full: bool = False) -> object:
    """The processor of :func:`llava_config`'s model, with a plain chat template."""
    from transformers import CLIPImageProcessorPil, LlavaProcessor

    side, patch = (336, 14) if full else (32, 8)
    images = CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    return LlavaProcessor(image_processor=images, tokenizer=tokenizer, patch_size=patch,
                          vision_feature_select_strategy="default", chat_template=_CHAT_TEMPLATE,
                          num_additional_image_tokens=1)


def save_random_llava(directory: Path, seed: int = 0) -> Path:
    """A tiny LLaVA image-text-to-text model with random weights, a character-level tokenizer and a chat
    template, saved like a real checkpoint (its answers are noise)."""
    import torch
    from transformers import LlavaForConditionalGeneration

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tok = char_tokenizer()
    config = llava_config(len(tok), tok.convert_tokens_to_ids("<image>"))
    LlavaForConditionalGeneration(config).eval().save_pretrained(directory)
    llava_processor(tok).save_pretrained(directory)
    return directory
