"""Per-architecture recipes for tiny models: the real config classes at toy sizes, and real processors.

Each :class:`TinyArch` builds ``(config, processor)`` from a tokenizer and a :class:`TinySize`; the model
class is the real ``transformers`` class, so module names equal those of the real checkpoints.

Chat templates (``templates/*.jinja``) are the families' real ones: ``qwen2_vl`` (shared by Qwen2-VL and
Qwen2.5-VL), ``qwen3_vl``, ``llava_next`` and ``smolvlm`` are byte-identical to the originals TRL 1.16 stores
to recognize those models; ``llava`` is llava-hf/llava-1.5-7b-hf's, ``llava_onevision`` the llava-hf
llava-onevision-qwen2 one, ``internvl`` the one transformers' InternVL conversion writes into the -hf repos.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import transformers
from transformers import PretrainedConfig, ProcessorMixin
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from proactive.tiny.tokenizer import QWEN2_SPECIAL_TOKENS, QWEN3_SPECIAL_TOKENS, TextFamily

TEMPLATE_DIR = Path(__file__).parent / "templates"
QWEN_EMBEDDING_ROWS = 151936  # the real Qwen2/2.5/3-VL vocab_size (the tokenizer has 151,665 tokens)


@dataclass(frozen=True)
class TinySize:
    """Toy dimensions: the language model's width and depth, the vision tower's depth and width (0: half the
    language model's width, at least 32), the image side."""

    hidden_size: int = 64
    num_layers: int = 2
    vision_depth: int = 2
    image_size: int = 56
    vision_width: int = 0

    def __post_init__(self) -> None:
        if self.vision_width == 0:
            object.__setattr__(self, "vision_width", max(32, self.hidden_size // 2))
        if self.vision_width < 32 or self.vision_width % 16:
            raise ValueError(
                f"vision_width must be a multiple of 16 and at least 32, got {self.vision_width}"
            )
        if self.hidden_size < 32 or self.hidden_size % 16:
            raise ValueError(f"hidden_size must be a multiple of 16 and at least 32, got {self.hidden_size}")
        if self.num_layers < 1 or self.vision_depth < 1:
            raise ValueError(
                f"num_layers and vision_depth must be >= 1, got {self.num_layers}, {self.vision_depth}"
            )
        if self.image_size < 28 or self.image_size % 28:
            raise ValueError(
                f"image_size must be a multiple of 28 (two 14-pixel patches), got {self.image_size}"
            )

    @property
    def num_heads(self) -> int:
        return max(2, self.hidden_size // 16)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def num_kv_heads(self) -> int:
        return max(1, self.num_heads // 2)


@dataclass(frozen=True)
class TinyArch:
    """How to build one architecture's tiny twin."""

    name: str
    model_class: str  # the transformers class name, e.g. "Qwen2VLForConditionalGeneration"
    family: TextFamily
    template: str  # file stem under templates/
    build: Callable[[PreTrainedTokenizerBase, str, TinySize], tuple[PretrainedConfig, ProcessorMixin]]

    def chat_template(self) -> str:
        return (TEMPLATE_DIR / f"{self.template}.jinja").read_text(encoding="utf-8")

    def model_cls(self) -> type:
        return getattr(transformers, self.model_class)


def _ids(tokenizer: PreTrainedTokenizerBase, *tokens: str) -> list[int]:
    ids = tokenizer.convert_tokens_to_ids(list(tokens))
    missing = [t for t, i in zip(tokens, ids, strict=True) if i is None or i == tokenizer.unk_token_id]
    if missing:
        raise ValueError(f"tokenizer lacks the special tokens {missing}")
    return ids


def _embedding_rows(tokenizer: PreTrainedTokenizerBase) -> int:
    """Embedding rows: Qwen's padded 151,936 with the real vocabulary, else exactly the tokenizer length."""
    return max(QWEN_EMBEDDING_ROWS, len(tokenizer)) if len(tokenizer) > 100_000 else len(tokenizer)


def _qwen_text(tokenizer: PreTrainedTokenizerBase, size: TinySize, **extra: object) -> dict:
    """Text config of a Qwen2-style LM with multimodal rope sections scaled to the head size."""
    half = size.head_dim // 2
    sections = [half // 4, 3 * half // 8, half - half // 4 - 3 * half // 8]  # real: 16, 24, 24 of 64
    endoftext, im_end = _ids(tokenizer, "<|endoftext|>", "<|im_end|>")
    return dict(
        vocab_size=_embedding_rows(tokenizer),
        hidden_size=size.hidden_size,
        intermediate_size=size.hidden_size * 2,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        num_key_value_heads=size.num_kv_heads,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": sections},
        bos_token_id=endoftext,
        eos_token_id=im_end,
        pad_token_id=endoftext,
        **extra,
    )


def _qwen3_text(tokenizer: PreTrainedTokenizerBase, size: TinySize) -> dict:
    """Qwen3-VL text config: explicit head size and interleaved rope sections (real: 24, 20, 20 of 64)."""
    text = _qwen_text(tokenizer, size, head_dim=size.head_dim)
    half = size.head_dim // 2
    spatial = (half * 5) // 16
    text["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": 5_000_000.0,
        "mrope_section": [half - 2 * spatial, spatial, spatial],
        "mrope_interleaved": True,
    }
    return text


def _qwen_vision_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    image, video, start, end = _ids(
        tokenizer, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>"
    )
    return dict(
        image_token_id=image, video_token_id=video, vision_start_token_id=start, vision_end_token_id=end
    )


def _qwen_pixels(size: TinySize, patch: int, merge: int) -> dict[str, int]:
    """Image processor bounds that keep a square ``image_size`` image at its (patch*merge-rounded) size."""
    factor = patch * merge
    side = max(factor, round(size.image_size / factor) * factor)
    return {"shortest_edge": side * side, "longest_edge": side * side}


def _qwen_processor(
    processor_cls: type, tokenizer: PreTrainedTokenizerBase, template: str, size: TinySize, patch: int
) -> ProcessorMixin:
    pixels = _qwen_pixels(size, patch, 2)
    image_processor = transformers.Qwen2VLImageProcessor(size=pixels, patch_size=patch, merge_size=2)
    video_cls = (
        transformers.Qwen3VLVideoProcessor
        if processor_cls is transformers.Qwen3VLProcessor
        else transformers.Qwen2VLVideoProcessor
    )
    video_processor = video_cls(size=pixels, patch_size=patch, merge_size=2)
    return processor_cls(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=template,
    )


def _build_qwen2_vl(tokenizer, template, size):
    config = transformers.Qwen2VLConfig(
        text_config=_qwen_text(tokenizer, size),
        vision_config=dict(
            depth=size.vision_depth,
            embed_dim=size.vision_width,
            hidden_size=size.hidden_size,
            num_heads=max(2, size.vision_width // 16),
            mlp_ratio=2,
        ),
        **_qwen_vision_ids(tokenizer),
    )
    return config, _qwen_processor(transformers.Qwen2VLProcessor, tokenizer, template, size, 14)


def _build_qwen2_5_vl(tokenizer, template, size):
    config = transformers.Qwen2_5_VLConfig(
        text_config=_qwen_text(tokenizer, size),
        vision_config=dict(
            depth=size.vision_depth,
            hidden_size=size.vision_width,
            intermediate_size=size.vision_width * 2,
            num_heads=max(2, size.vision_width // 16),
            out_hidden_size=size.hidden_size,
            fullatt_block_indexes=[size.vision_depth - 1],
        ),
        **_qwen_vision_ids(tokenizer),
    )
    return config, _qwen_processor(transformers.Qwen2_5_VLProcessor, tokenizer, template, size, 14)


def _build_qwen3_vl(tokenizer, template, size):
    config = transformers.Qwen3VLConfig(
        text_config=_qwen3_text(tokenizer, size),
        vision_config=dict(
            depth=size.vision_depth,
            hidden_size=size.vision_width,
            intermediate_size=size.vision_width * 2,
            num_heads=max(2, size.vision_width // 16),
            out_hidden_size=size.hidden_size,
            num_position_embeddings=64,
            deepstack_visual_indexes=list(range(min(3, size.vision_depth, size.num_layers))),
        ),
        **_qwen_vision_ids(tokenizer),
    )
    return config, _qwen_processor(transformers.Qwen3VLProcessor, tokenizer, template, size, 16)


def _llama_text(tokenizer: PreTrainedTokenizerBase, size: TinySize, model_type: str, **extra: object) -> dict:
    """A Llama/Mistral/Qwen2 text config at toy size (special ids taken from the tokenizer)."""
    return dict(
        model_type=model_type,
        vocab_size=_embedding_rows(tokenizer),
        hidden_size=size.hidden_size,
        intermediate_size=size.hidden_size * 2,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **{"num_key_value_heads": size.num_kv_heads, **extra},
    )


def _vit(size: TinySize, model_type: str, patch: int = 14, **extra: object) -> dict:
    """A CLIP/SigLIP-style vision tower at toy size."""
    return dict(
        model_type=model_type,
        hidden_size=size.vision_width,
        intermediate_size=size.vision_width * 2,
        num_hidden_layers=size.vision_depth,
        num_attention_heads=max(2, size.vision_width // 16),
        image_size=size.image_size,
        patch_size=patch,
        **extra,
    )


def _pinpoints(side: int, shapes: list[tuple[int, int]]) -> list[list[int]]:
    """Any-resolution grid shapes (in tiles) scaled to the tile side."""
    return [[side * rows, side * cols] for rows, cols in shapes]


def _build_llava(tokenizer, template, size):
    (image,) = _ids(tokenizer, "<image>")
    config = transformers.LlavaConfig(
        vision_config=_vit(size, "clip_vision_model", projection_dim=size.vision_width),
        text_config=_llama_text(tokenizer, size, "llama", num_key_value_heads=size.num_heads),
        image_token_index=image,
        image_seq_length=(size.image_size // 14) ** 2,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    image_processor = transformers.CLIPImageProcessor(
        size={"shortest_edge": size.image_size},
        crop_size={"height": size.image_size, "width": size.image_size},
    )
    processor = transformers.LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's class token
        chat_template=template,
    )
    return config, processor


def _build_llava_next(tokenizer, template, size):
    (image,) = _ids(tokenizer, "<image>")
    pinpoints = _pinpoints(size.image_size, [(1, 2), (2, 1), (2, 2), (3, 1), (1, 3)])  # real: 336-pixel tiles
    config = transformers.LlavaNextConfig(
        vision_config=_vit(size, "clip_vision_model", projection_dim=size.vision_width),
        text_config=_llama_text(tokenizer, size, "mistral", sliding_window=None),
        image_token_index=image,
        image_grid_pinpoints=pinpoints,
        image_seq_length=(size.image_size // 14) ** 2,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    image_processor = transformers.LlavaNextImageProcessor(
        size={"shortest_edge": size.image_size},
        crop_size={"height": size.image_size, "width": size.image_size},
        image_grid_pinpoints=pinpoints,
    )
    processor = transformers.LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=template,
    )
    return config, processor


def _build_llava_onevision(tokenizer, template, size):
    image, video = _ids(tokenizer, "<image>", "<video>")
    # The real grid: 1..6 x 1..6 tiles of 384 pixels.
    pinpoints = _pinpoints(size.image_size, [(r, c) for r in range(1, 7) for c in range(1, 7)])
    config = transformers.LlavaOnevisionConfig(
        vision_config=_vit(size, "siglip_vision_model", vision_use_head=False),
        text_config=_llama_text(tokenizer, size, "qwen2"),
        image_token_index=image,
        video_token_index=video,
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
    )
    side = {"height": size.image_size, "width": size.image_size}
    processor = transformers.LlavaOnevisionProcessor(
        image_processor=transformers.LlavaOnevisionImageProcessor(size=side, image_grid_pinpoints=pinpoints),
        tokenizer=tokenizer,
        video_processor=transformers.LlavaOnevisionVideoProcessor(size=side),
        num_image_tokens=(size.image_size // 14) ** 2,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
        chat_template=template,
    )
    return config, processor


def _build_internvl(tokenizer, template, size):
    (context,) = _ids(tokenizer, "<IMG_CONTEXT>")
    image_seq_length = (size.image_size // 14) ** 2 // 4  # pixel shuffle with downsample ratio 0.5
    config = transformers.InternVLConfig(
        vision_config=dict(
            hidden_size=size.vision_width,
            intermediate_size=size.vision_width * 2,
            num_hidden_layers=size.vision_depth,
            num_attention_heads=max(2, size.vision_width // 16),
            image_size=[size.image_size, size.image_size],
            patch_size=[14, 14],
        ),
        text_config=_llama_text(tokenizer, size, "qwen2"),
        image_token_id=context,
        image_seq_length=image_seq_length,
        downsample_ratio=0.5,
        vision_feature_layer=-1,
    )
    side = {"height": size.image_size, "width": size.image_size}
    processor = transformers.InternVLProcessor(
        image_processor=transformers.GotOcr2ImageProcessor(size=side, crop_to_patches=False),
        tokenizer=tokenizer,
        video_processor=transformers.InternVLVideoProcessor(size=side),
        image_seq_length=image_seq_length,
        chat_template=template,
    )
    return config, processor


def _build_smolvlm(tokenizer, template, size):
    (image,) = _ids(tokenizer, "<image>")
    scale = 2  # pixel-shuffle factor (real SmolVLM2-2.2B: 3 on 27x27 patches)
    image_seq_len = (size.image_size // 14) ** 2 // scale**2
    config = transformers.SmolVLMConfig(
        vision_config=_vit(size, "smolvlm_vision"),
        text_config=_llama_text(tokenizer, size, "llama", num_key_value_heads=size.num_heads),
        image_token_id=image,
        scale_factor=scale,
        pad_token_id=tokenizer.pad_token_id,
    )
    edge = {"longest_edge": size.image_size}
    processor = transformers.SmolVLMProcessor(
        image_processor=transformers.SmolVLMImageProcessor(size=edge, max_image_size=edge),
        tokenizer=tokenizer,
        video_processor=transformers.SmolVLMVideoProcessor(size=edge, max_image_size=edge),
        image_seq_len=image_seq_len,
        chat_template=template,
    )
    return config, processor


QWEN2_FAMILY = TextFamily(
    "qwen2", "qwen", QWEN2_SPECIAL_TOKENS, eos_token="<|im_end|>", pad_token="<|endoftext|>"
)
QWEN3_FAMILY = TextFamily(
    "qwen3", "qwen", QWEN3_SPECIAL_TOKENS, eos_token="<|im_end|>", pad_token="<|endoftext|>"
)
# llava-1.5 (Vicuna) and llava-v1.6-mistral: Llama tokenizer, <image> and <pad> appended.
LLAVA_FAMILY = TextFamily(
    "llava",
    "llama",
    ("<image>", "<pad>"),
    eos_token="</s>",
    pad_token="<pad>",
    bos_token="<s>",
    unk_token="<unk>",
    named_tokens=(("image_token", "<image>"),),
)
# SmolVLM2: the SmolLM2 (GPT-2 style) tokenizer with the Idefics3 image markers.
SMOLVLM_FAMILY = TextFamily(
    "smolvlm",
    "gpt2",
    (
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
        "<fake_token_around_image>",
        "<image>",
        "<global-img>",
        "<end_of_utterance>",
    )
    + tuple(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)),
    eos_token="<end_of_utterance>",
    pad_token="<|im_end|>",
    bos_token="<|im_start|>",
    unk_token="<|endoftext|>",
    named_tokens=(
        ("image_token", "<image>"),
        ("fake_image_token", "<fake_token_around_image>"),
        ("global_image_token", "<global-img>"),
        ("end_of_utterance_token", "<end_of_utterance>"),
    ),
)
# llava-onevision-qwen2: the Qwen2 (not 2.5) tokenizer with three specials, then <image> and <video>.
LLAVA_ONEVISION_FAMILY = TextFamily(
    "llava_onevision",
    "qwen",
    ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"),
    eos_token="<|im_end|>",
    pad_token="<|endoftext|>",
    named_tokens=(("image_token", "<image>"), ("video_token", "<video>")),
)
# InternVL3 (-hf): the Qwen2.5 tokenizer followed by InternVL's image markers.
INTERNVL_FAMILY = TextFamily(
    "internvl",
    "qwen",
    QWEN2_SPECIAL_TOKENS
    + (
        "<img>",
        "</img>",
        "<IMG_CONTEXT>",
        "<quad>",
        "</quad>",
        "<ref>",
        "</ref>",
        "<box>",
        "</box>",
        "<video>",
    ),
    eos_token="<|im_end|>",
    pad_token="<|endoftext|>",
    named_tokens=(
        ("start_image_token", "<img>"),
        ("end_image_token", "</img>"),
        ("context_image_token", "<IMG_CONTEXT>"),
        ("video_token", "<video>"),
    ),
)

ARCHS: dict[str, TinyArch] = {
    arch.name: arch
    for arch in (
        TinyArch("qwen2_vl", "Qwen2VLForConditionalGeneration", QWEN2_FAMILY, "qwen2_vl", _build_qwen2_vl),
        TinyArch(
            "qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration", QWEN2_FAMILY, "qwen2_vl", _build_qwen2_5_vl
        ),
        TinyArch("qwen3_vl", "Qwen3VLForConditionalGeneration", QWEN3_FAMILY, "qwen3_vl", _build_qwen3_vl),
        TinyArch("llava", "LlavaForConditionalGeneration", LLAVA_FAMILY, "llava", _build_llava),
        TinyArch(
            "llava_next", "LlavaNextForConditionalGeneration", LLAVA_FAMILY, "llava_next", _build_llava_next
        ),
        TinyArch(
            "llava_onevision",
            "LlavaOnevisionForConditionalGeneration",
            LLAVA_ONEVISION_FAMILY,
            "llava_onevision",
            _build_llava_onevision,
        ),
        TinyArch("smolvlm", "SmolVLMForConditionalGeneration", SMOLVLM_FAMILY, "smolvlm", _build_smolvlm),
        TinyArch(
            "internvl", "InternVLForConditionalGeneration", INTERNVL_FAMILY, "internvl", _build_internvl
        ),
    )
}
