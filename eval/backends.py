"""Generators that turn chat prompts (with images) into answers: Hugging Face models (+ a PEFT adapter)
and, where it is installed, vLLM.

Generators decode greedily (the multiple-choice loop) or sample (``do_sample``, the official open-ended
loop, with the model's own generation config) and return only the new text, decoded with
``skip_special_tokens=True, clean_up_tokenization_spaces=True`` as the official loop does. A prompt whose
images the processor refuses gets ``None`` instead of a text (REJECTED): the official loops stop there.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from PIL import Image


@dataclass
class Prompt:
    """One conversation (chat messages) and its images, in the order their placeholders appear."""

    messages: list[dict[str, Any]]
    images: list[Image.Image] = field(default_factory=list)


REJECTED = None  # the answer to a prompt the processor refused


class Generator(Protocol):
    def generate(self, prompts: Sequence[Prompt]) -> list[str | None]: ...


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def after_last(ids: list[int], token_id: int) -> list[int]:
    """The ids after the last ``token_id``; all of them when it is absent (the official judge's cut)."""
    try:
        return ids[len(ids) - ids[::-1].index(token_id) :]
    except ValueError:
        return ids


def _dtype(name: str | None, device: str) -> torch.dtype:
    if name is None or name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


class HFGenerator:
    """Batched generation with a transformers model and its processor (or tokenizer), left padding.

    ``do_sample`` samples with the model's generation config (temperature, top-p, ...), as the official
    open-ended loop asks; otherwise decoding is greedy. With ``thinking_end_id`` the answer is what follows
    the last such token (the whole output when it is absent), as the official judge cuts Qwen3's thinking.
    ``clean_up_spaces`` is the decode's ``clean_up_tokenization_spaces`` (None: the tokenizer's default).
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        max_new_tokens: int = 50,
        chat_kwargs: dict[str, Any] | None = None,
        do_sample: bool = False,
        thinking_end_id: int | None = None,
        clean_up_spaces: bool | None = True,
    ):
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.tokenizer.padding_side = "left"
        self.max_new_tokens = max_new_tokens
        self.chat_kwargs = chat_kwargs or {}
        self.do_sample = do_sample
        self.thinking_end_id = thinking_end_id
        self.clean_up_spaces = clean_up_spaces
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else self.tokenizer.eos_token_id
        self.max_batch: int | None = None  # set when a batch ran out of memory: later calls are split to fit

    def encode(self, prompts: Sequence[Prompt]) -> dict[str, torch.Tensor]:
        """Template and tokenize a batch (left-padded), with the images of every prompt in order."""
        texts = [
            self.processor.apply_chat_template(
                p.messages, add_generation_prompt=True, tokenize=False, **self.chat_kwargs
            )
            for p in prompts
        ]
        images = [image for p in prompts for image in p.images]
        if images:
            inputs = self.processor(images=images, text=texts, padding=True, return_tensors="pt")
        elif self.processor is self.tokenizer:
            inputs = self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        else:
            inputs = self.processor(text=texts, padding=True, return_tensors="pt")
        return {k: v.to(self.model.device) for k, v in inputs.items()}

    def generate(self, prompts: Sequence[Prompt]) -> list[str | None]:
        """Answers of a batch, decoded from :meth:`generate_ids`; REJECTED where a prompt was refused."""
        return [
            REJECTED
            if ids is REJECTED
            else self.tokenizer.decode(
                ids, skip_special_tokens=True, clean_up_tokenization_spaces=self.clean_up_spaces
            )
            for ids in self.generate_ids(prompts)
        ]

    def generate_ids(self, prompts: Sequence[Prompt]) -> list[list[int] | None]:
        """The new token ids of each answer, up to and including its end token. A batch the processor rejects
        (e.g. Qwen's aspect-ratio limit on a thin COCO crop) is retried prompt by prompt; a prompt it still
        rejects gets REJECTED and a warning (the official loops catch ValueError and TypeError there; a
        zero-size crop raises ZeroDivisionError). A batch that runs out of accelerator memory is halved, and
        later calls are split to the size that fitted."""
        if not prompts:
            return []
        if self.max_batch is not None and len(prompts) > self.max_batch:
            step = self.max_batch  # a chunk may lower max_batch again; the chunks stay as cut here
            chunks = [prompts[i : i + step] for i in range(0, len(prompts), step)]
            return [ids for chunk in chunks for ids in self.generate_ids(chunk)]
        try:
            inputs = self.encode(prompts)
        except (ValueError, TypeError, ZeroDivisionError) as err:
            if len(prompts) == 1:
                print(
                    f"warning: the processor rejects a prompt ({type(err).__name__}: {err}); the episode stops there",
                    file=sys.stderr,
                )
                return [REJECTED]
            return [ids for prompt in prompts for ids in self.generate_ids([prompt])]
        try:
            return self._generate(inputs)
        except torch.OutOfMemoryError:
            if len(prompts) == 1:
                raise
        del inputs
        torch.cuda.empty_cache()
        self.max_batch = len(prompts) // 2
        print(
            f"warning: out of memory at batch {len(prompts)}; continuing at {self.max_batch}", file=sys.stderr
        )
        return self.generate_ids(prompts)

    @torch.inference_mode()
    def _generate(self, inputs: dict[str, torch.Tensor]) -> list[list[int]]:
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        if self.do_sample:
            decoding: dict[str, Any] = {"do_sample": True}
        else:
            decoding = {"do_sample": False, "num_beams": 1, "temperature": None, "top_p": None, "top_k": None}
        output = self.model.generate(
            **inputs, max_new_tokens=self.max_new_tokens, pad_token_id=self.pad_token_id, **decoding
        )
        eos = self.model.generation_config.eos_token_id
        stops = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        rows = []
        for row in output[:, inputs["input_ids"].shape[1] :].tolist():
            end = next((i + 1 for i, token in enumerate(row) if token in stops), len(row))
            rows.append(row[:end])
        if self.thinking_end_id is not None:
            rows = [after_last(row, self.thinking_end_id) for row in rows]
        return rows


def load_hf_generator(
    model_id: str,
    adapter: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    max_new_tokens: int = 50,
    do_sample: bool = False,
) -> HFGenerator:
    """An image-text-to-text model (folder or hub id) with its processor, and a LoRA adapter merged in."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    device = device or default_device()
    processor = AutoProcessor.from_pretrained(model_id)
    if getattr(processor, "chat_template", None) is None:
        raise ValueError(f"{model_id}: the processor has no chat template; the MCQA prompt needs one")
    model = AutoModelForImageTextToText.from_pretrained(model_id, dtype=_dtype(dtype, device)).to(device)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    return HFGenerator(model, processor, max_new_tokens, do_sample=do_sample)


THINKING_END = "</think>"  # Qwen3's end of thinking; its id, 151668, is where the official judge cuts


def load_text_generator(
    model_id: str,
    device: str | None = None,
    dtype: str | None = None,
    max_new_tokens: int = 1024,
    do_sample: bool = False,
) -> HFGenerator:
    """A chat model for text-only prompts (the open-ended judge): a causal LM with its tokenizer, or
    else an image-text-to-text model used without images. Thinking is on (Qwen3 templates; others ignore
    it) and cut at the tokenizer's ``</think>`` token where it has one; decoding keeps the tokenizer's own
    space clean-up, as the official judge decodes."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    device = device or default_device()
    config = AutoConfig.from_pretrained(model_id)
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        generator = load_hf_generator(model_id, device=device, dtype=dtype, max_new_tokens=max_new_tokens)
    else:
        tokenizer = AutoTokenizer.from_pretrained(model_id)
        model = AutoModelForCausalLM.from_pretrained(model_id, dtype=_dtype(dtype, device)).to(device)
        generator = HFGenerator(model, tokenizer, max_new_tokens)
    generator.chat_kwargs = {"enable_thinking": True}  # Qwen3 judges think first; other templates ignore it
    generator.do_sample = do_sample
    generator.thinking_end_id = generator.tokenizer.get_vocab().get(THINKING_END)
    generator.clean_up_spaces = None
    return generator


class VLLMGenerator:
    """Greedy or sampled generation with vLLM (GPU users; ``pip install proactive-recipes[vllm]``); sampling
    uses the model's generation config, as the Hugging Face generator does."""

    def __init__(
        self,
        model_id: str,
        adapter: str | None = None,
        max_new_tokens: int = 50,
        do_sample: bool = False,
        **engine_kwargs: Any,
    ):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as err:
            raise ImportError("the vLLM backend needs vllm: pip install 'proactive-recipes[vllm]'") from err
        self.llm = LLM(model=model_id, enable_lora=adapter is not None, **engine_kwargs)
        if do_sample:
            self.params = self.llm.get_default_sampling_params()
            self.params.max_tokens = max_new_tokens
            self.params.skip_special_tokens = True
        else:
            self.params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, skip_special_tokens=True)
        self.lora = None
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest("adapter", 1, adapter)

    def generate(self, prompts: Sequence[Prompt]) -> list[str | None]:
        conversations = [_with_pil_images(p) for p in prompts]
        outputs = self.llm.chat(conversations, self.params, lora_request=self.lora, use_tqdm=False)
        return [out.outputs[0].text for out in outputs]


def _with_pil_images(prompt: Prompt) -> list[dict[str, Any]]:
    """vLLM's chat format: each image placeholder carries its PIL image."""
    images = iter(prompt.images)
    messages = []
    for message in prompt.messages:
        content = message["content"]
        if isinstance(content, list):
            content = [
                {"type": "image_pil", "image_pil": next(images)} if part.get("type") == "image" else part
                for part in content
            ]
        messages.append({**message, "content": content})
    return messages
