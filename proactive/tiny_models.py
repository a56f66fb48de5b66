"""Tiny random-weight twins of real multimodal models, saved for offline use.

The saved folder loads with ``AutoModelForImageTextToText.from_pretrained(DIR)`` and
``AutoProcessor.from_pretrained(DIR)``: a real architecture at toy size, the real processor classes and
the family's real chat template. ``tiny_model.json`` records the build arguments (the stamp of a cached
stage, data/stage.py): a folder built with the same arguments is reused (``--force`` rebuilds it), one
built otherwise is replaced.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import GenerationConfig

from data.outdir import OutputFolder
from data.stage import Stage
from proactive.cli import command_parser
from proactive.tiny.archs import ARCHS, TinyArch, TinySize
from proactive.tiny.corpus import corpus_digest
from proactive.tiny.tokenizer import TOKENIZER_KINDS, build_tokenizer

BUILD_FILE = "tiny_model.json"
FORMAT_VERSION = 1

# Real checkpoints -> the architecture of their tiny twin.
TINY_TWINS: dict[str, str] = {
    "Qwen/Qwen2-VL-2B-Instruct": "qwen2_vl",
    "Qwen/Qwen2-VL-7B-Instruct": "qwen2_vl",
    "Qwen/Qwen2.5-VL-3B-Instruct": "qwen2_5_vl",
    "Qwen/Qwen2.5-VL-7B-Instruct": "qwen2_5_vl",
    "Qwen/Qwen2.5-VL-32B-Instruct": "qwen2_5_vl",
    "Qwen/Qwen2.5-VL-72B-Instruct": "qwen2_5_vl",
    "Qwen/Qwen3-VL-2B-Instruct": "qwen3_vl",
    "Qwen/Qwen3-VL-4B-Instruct": "qwen3_vl",
    "Qwen/Qwen3-VL-8B-Instruct": "qwen3_vl",
    "llava-hf/llava-1.5-7b-hf": "llava",
    "llava-hf/llava-1.5-13b-hf": "llava",
    "llava-hf/llava-v1.6-mistral-7b-hf": "llava_next",
    "llava-hf/llava-onevision-qwen2-0.5b-ov-hf": "llava_onevision",
    "llava-hf/llava-onevision-qwen2-7b-ov-hf": "llava_onevision",
    "llava-hf/llava-onevision-qwen2-72b-ov-hf": "llava_onevision",
    "HuggingFaceTB/SmolVLM2-2.2B-Instruct": "smolvlm",
    "OpenGVLab/InternVL3-1B-hf": "internvl",
    "OpenGVLab/InternVL3-2B-hf": "internvl",
    "OpenGVLab/InternVL3-8B-hf": "internvl",
}


def twin_arch_for(model_name_or_path: str | os.PathLike) -> str:
    """The tiny architecture standing in for a real hub id (or a tiny model folder, read from its build file)."""
    name = str(model_name_or_path)
    if name in TINY_TWINS:
        return TINY_TWINS[name]
    build_file = Path(name) / BUILD_FILE
    if build_file.is_file():
        return read_build_args(build_file)["arch"]
    lowered = {key.lower(): arch for key, arch in TINY_TWINS.items()}
    if name.lower() in lowered:
        return lowered[name.lower()]
    known = "\n  ".join(sorted(TINY_TWINS))
    raise KeyError(f"no tiny twin known for {name!r}; known model ids:\n  {known}")


def read_build_args(path: Path) -> dict:
    """The build arguments stored in a tiny model folder's ``tiny_model.json``."""
    try:
        return json.loads(path.read_text())["build"]
    except (json.JSONDecodeError, KeyError) as err:
        raise ValueError(f"{path}: not a tiny model build file ({err})") from err


def _build_args(arch: str, tokenizer: str, size: TinySize, seed: int) -> dict:
    args = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "tokenizer": tokenizer,
        "image_size": size.image_size,
        "seed": seed,
        "hidden_size": size.hidden_size,
        "num_layers": size.num_layers,
        "vision_depth": size.vision_depth,
        "vision_width": size.vision_width,
    }
    if tokenizer == "bpe":
        args["corpus"] = corpus_digest()
    return args


def tiny_build_args(
    arch: str,
    *,
    tokenizer: str = "bpe",
    image_size: int = 56,
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    vision_depth: int = 2,
    vision_width: int = 0,
) -> dict:
    """The build arguments :func:`build_tiny_model` records for these keywords (defaults filled in)."""
    size = TinySize(
        hidden_size=hidden_size,
        num_layers=num_layers,
        vision_depth=vision_depth,
        image_size=image_size,
        vision_width=vision_width,
    )
    return _build_args(arch, tokenizer, size, seed)


def _generation_config(style: str, tokenizer, config) -> GenerationConfig:
    """Greedy decoding; Qwen-style checkpoints stop on <|im_end|> and on <|endoftext|>."""
    eos = [tokenizer.eos_token_id]
    if style == "qwen" and tokenizer.pad_token_id not in eos:
        eos.append(tokenizer.pad_token_id)
    return GenerationConfig(
        bos_token_id=getattr(config.get_text_config(), "bos_token_id", None),
        eos_token_id=eos if len(eos) > 1 else eos[0],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )


def _write_model(spec: TinyArch, tokenizer_kind: str, size: TinySize, seed: int, folder: Path) -> dict:
    """Build and save model, processor and generation config into ``folder``; return a summary."""
    tokenizer = build_tokenizer(spec.family, tokenizer_kind)
    template = spec.chat_template()
    tokenizer.chat_template = template
    config, processor = spec.build(tokenizer, template, size)
    with torch.random.fork_rng(devices=[]):  # seed the weights without touching the caller's generator
        torch.manual_seed(seed)
        model = spec.model_cls()(config).eval()
    model.generation_config = _generation_config(spec.family.style, tokenizer, config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return {"model_class": spec.model_class, "num_parameters": sum(p.numel() for p in model.parameters())}


def build_tiny_model(
    arch: str,
    out_dir: str | os.PathLike,
    *,
    tokenizer: str = "bpe",
    image_size: int = 56,
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    vision_depth: int = 2,
    vision_width: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a tiny random-weight ``arch`` model with its processor to ``out_dir`` and return the folder.

    A folder already holding a model built with the same arguments is returned as is unless ``overwrite``; one
    holding a tiny model built otherwise is rebuilt; a non-empty folder without ``tiny_model.json`` is refused
    (FileExistsError).
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown tiny architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    if tokenizer not in TOKENIZER_KINDS:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZER_KINDS)}")
    size = TinySize(
        hidden_size=hidden_size,
        num_layers=num_layers,
        vision_depth=vision_depth,
        image_size=image_size,
        vision_width=vision_width,
    )
    stage = tiny_model_stage(out_dir, _build_args(arch, tokenizer, size, seed))
    if not stage.done() or overwrite:
        stage.build_staged(lambda folder: _write_model(ARCHS[arch], tokenizer, size, seed, folder))
    return stage.folder


def tiny_model_stage(out_dir: str | os.PathLike, build_args: dict) -> Stage:
    """The tiny model folder as a cached stage: done when ``tiny_model.json`` records ``build_args``."""
    return Stage(Path(out_dir), build_args, BUILD_FILE, field="build")


@dataclass(frozen=True)
class TinyModelRequest:
    """What one ``proactive tiny-model`` command asks for."""

    arch: str
    out: Path
    build: dict[str, Any]  # build_tiny_model's keywords
    force: bool = False
    pretrain: Any = None  # proactive.pretrain.PretrainArgs with --pretrain, else None
    data: Any = None  # the pretraining data: a benchmark folder or a proactive.pretrain.SyntheticData


def _pretrain_flag(name: str) -> str:
    """``PretrainArgs`` field -> its flag (its ``seed`` is ``--pretrain-seed``: ``--seed`` seeds the weights)."""
    return "--pretrain-seed" if name == "seed" else "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    from proactive.pretrain import PretrainArgs, SyntheticData

    parser = command_parser("proactive tiny-model", __doc__)
    parser.add_argument("--arch", required=True, choices=sorted(ARCHS))
    parser.add_argument(
        "--out", required=True, type=Path, action=OutputFolder, help="folder to write the model to"
    )
    parser.add_argument("--tokenizer", default="bpe", choices=TOKENIZER_KINDS)
    parser.add_argument("--image-size", type=int, default=56)
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--vision-depth", type=int, default=2)
    parser.add_argument("--vision-width", type=int, default=0, help="0: half of --hidden-size (at least 32)")
    parser.add_argument(
        "--force", action="store_true", help="rebuild even when the folder holds the same build"
    )
    pretraining = parser.add_argument_group("pretraining (proactive/pretrain.py)")
    pretraining.add_argument(
        "--pretrain", action="store_true", help="pretrain with full weights on the data's informative views"
    )
    source = pretraining.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, help="benchmark folder to pretrain on")
    source.add_argument(
        "--synthetic-per-scenario", type=int, help="generate a synthetic benchmark of N episodes per scenario"
    )
    pretraining.add_argument(
        "--synthetic-seed", type=int, default=SyntheticData.__dataclass_fields__["seed"].default
    )
    for field in dataclasses.fields(PretrainArgs):
        pretraining.add_argument(_pretrain_flag(field.name), type=type(field.default), default=field.default)
    return parser


def parse_request(argv: list[str] | None = None) -> TinyModelRequest:
    """The request a ``proactive tiny-model`` command line makes (parser errors exit, as argparse does)."""
    from proactive.pretrain import PretrainArgs, SyntheticData

    parser = build_parser()
    args = parser.parse_args(argv)
    build = dict(
        tokenizer=args.tokenizer,
        image_size=args.image_size,
        seed=args.seed,
        hidden_size=args.hidden_size,
        num_layers=args.num_layers,
        vision_depth=args.vision_depth,
        vision_width=args.vision_width,
    )
    if not args.pretrain:
        return TinyModelRequest(args.arch, args.out, build, args.force)
    if args.data is None and args.synthetic_per_scenario is None:
        parser.error("--pretrain needs --data BENCH or --synthetic-per-scenario N")
    values = {
        f.name: getattr(args, _pretrain_flag(f.name)[2:].replace("-", "_"))
        for f in dataclasses.fields(PretrainArgs)
    }
    data = (
        args.data
        if args.data is not None
        else SyntheticData(args.synthetic_per_scenario, args.synthetic_seed)
    )
    return TinyModelRequest(args.arch, args.out, build, args.force, PretrainArgs(**values), data)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    request = parse_request(argv)
    if request.pretrain is not None:
        return _pretrain(request, argv)
    out = build_tiny_model(request.arch, request.out, overwrite=request.force, **request.build)
    record = json.loads((out / BUILD_FILE).read_text())
    print(f"{out}: {record['model_class']}, {record['num_parameters']:,} parameters")
    return 0


def _pretrain(request: TinyModelRequest, argv: list[str]) -> int:
    """Pretrain, then record in ``tiny_model.json`` the command and the code version (git commit) it ran at."""
    from proactive.configs import shipped
    from proactive.embedded_base import git_commit
    from proactive.pretrain import pretrain_tiny_model

    code_version = git_commit(shipped("proactive", "").parent)  # the source tree; before the (long) run
    out = pretrain_tiny_model(
        request.arch, request.out, request.data, request.pretrain, overwrite=request.force, **request.build
    )
    record = json.loads((out / BUILD_FILE).read_text())
    record["command"] = ["proactive", "tiny-model", *argv]
    record["code_version"] = code_version
    (out / BUILD_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    metrics = record.get("pretrain_metrics", {})
    print(
        f"{out}: pretrained {record['model_class']}, {record['num_parameters']:,} parameters, "
        f"final loss {metrics.get('final_loss')}, {metrics.get('train_runtime_s')} s of training"
    )
    return 0
