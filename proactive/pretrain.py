"""Pretrain a tiny model into a stand-in for a real MLLM: it answers informative views, it rarely asks.

usage: proactive tiny-model --arch qwen2_vl --out DIR --pretrain --data BENCH [--steps 300]

Full-weight SFT (TRL's ``SFTTrainer``, loss on the reply only) on the official MCQA prompt of every
informative state of every episode of ``BENCH`` (the options offered exactly as at that turn) plus the
reference view, each answered with the category TEXT. A small share of rows (``noise_fraction``) shows an
uninformative view with an unfocused reply: a random category, sometimes the abstain option, rarely an
accepted proactive option -- so that GRPO can sample a proactive option, as real models rarely do.

The folder's ``tiny_model.json`` holds the build arguments with the pretraining arguments under
``build.pretrain`` (a folder pretrained with the same arguments is reused) and the final metrics under
``pretrain_metrics``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import AutoModelForImageTextToText, AutoProcessor, GenerationConfig
from trl import SFTConfig, SFTTrainer

from data.builders import SFT_PROMPT_COMPLETION_FEATURES
from data.environment import TurnState, make_episode, reachable_states
from data.images import open_view
from data.prompts import assistant_message, user_message
from data.records import SYNTHETIC_MARKER, Record, load_benchmark
from data.scenarios import is_abstain
from data.stage import Stage
from proactive.tiny_models import BUILD_FILE, build_tiny_model, tiny_build_args, tiny_model_stage

PRETRAIN_FORMAT = 1


@dataclass(frozen=True)
class PretrainArgs:
    """How the tiny base is pretrained (recorded in ``tiny_model.json``; a change forces retraining)."""

    steps: int = 300
    learning_rate: float = 1e-3
    batch_size: int = 32
    noise_fraction: float = 0.2  # uninformative rows per informative row
    abstain_share: float = 0.2  # of the noise rows: the abstain option
    proactive_share: float = 0.3  # of the noise rows: an accepted proactive option
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be positive, got {self.steps}, {self.batch_size}")
        shares = (self.noise_fraction, self.abstain_share, self.proactive_share)
        if not all(0.0 <= s <= 1.0 for s in shares) or self.abstain_share + self.proactive_share > 1.0:
            raise ValueError(
                f"noise_fraction, abstain_share, proactive_share must be in [0, 1] (the two shares summing "
                f"to at most 1), got {shares}"
            )


def benchmark_digest(data_dir: str | Path) -> str:
    """A short hash of the benchmark's scenario files (and synthetic marker): new data, new pretraining."""
    folder = Path(data_dir)
    files = sorted(folder.glob("*_preprocessed.jsonl")) + [folder / SYNTHETIC_MARKER]
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _row(state: TurnState, target: str, data_dir: Path, kind: str) -> dict[str, Any]:
    return {
        "prompt": [user_message(state.prompt)],
        "completion": [assistant_message(target)],
        "image": open_view(data_dir, state.image, state.crop, owner=state.record_name),
        "step": state.step,
        "scenario": state.scenario,
        "record_id": state.record_id,
        "kind": kind,
    }


def _noise_target(state: TurnState, args: PretrainArgs, rng: random.Random) -> tuple[str, str]:
    """An unfocused reply on an uninformative view: (reply, kind)."""
    draw = rng.random()
    abstains = [o for o in state.options if is_abstain(o)]
    if draw < args.proactive_share and state.accepted_options:
        return rng.choice(state.accepted_options), "proactive"
    if draw < args.proactive_share + args.abstain_share and abstains:
        return abstains[0], "abstain"
    return rng.choice(state.categories), "guess"


def pretrain_rows(records: list[Record], data_dir: str | Path, args: PretrainArgs) -> list[dict[str, Any]]:
    """Informative states (and reference views) answered with the category text, plus the noise rows."""
    data_dir = Path(data_dir)
    rng = random.Random(args.seed)
    rows: list[dict[str, Any]] = []
    uninformative: list[TurnState] = []
    for record in records:
        for state in reachable_states(record):
            if state.informative and record.answer in state.accepted_categories:
                rows.append(_row(state, record.answer, data_dir, "answer"))
            elif state.informative is False:
                uninformative.append(state)
        reference = make_episode(record, reference=True).state()
        rows.append(_row(reference, record.answer, data_dir, "reference"))
    count = min(len(uninformative), round(args.noise_fraction * len(rows)))
    for state in rng.sample(uninformative, count):
        target, kind = _noise_target(state, args, rng)
        rows.append(_row(state, target, data_dir, kind))
    return rows


def pretrain_dataset(records: list[Record], data_dir: str | Path, args: PretrainArgs) -> Dataset:
    rows = pretrain_rows(records, data_dir, args)
    for row in rows:
        del row["kind"]
    return Dataset.from_list(rows, features=SFT_PROMPT_COMPLETION_FEATURES).shuffle(seed=args.seed)


def row_kinds(rows: list[dict[str, Any]]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    return dict(sorted(kinds.items()))


def train_full_weights(
    model_dir: Path, dataset: Dataset, args: PretrainArgs, work_dir: Path
) -> dict[str, Any]:
    """Full-weight SFT of the model in ``model_dir`` on ``dataset``; saves it back there; returns metrics."""
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(model_dir)
    config = SFTConfig(
        output_dir=str(work_dir),
        use_cpu=True,
        bf16=False,
        seed=args.seed,
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, args.steps // 20),
        weight_decay=0.0,
        max_length=None,
        packing=False,
        padding_free=False,
        activation_checkpointing=False,
        logging_steps=max(1, args.steps // 10),
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=processor)
    result = trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    model.generation_config = GenerationConfig.from_pretrained(model_dir)  # greedy, as built
    trainer.save_model(str(model_dir))
    processor.save_pretrained(str(model_dir))
    return {
        "train_runtime_s": round(result.metrics["train_runtime"], 1),
        "first_logged_loss": round(losses[0], 4) if losses else None,
        "final_loss": round(losses[-1], 4) if losses else None,
    }


def pretrain_stage(
    arch: str,
    out_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    args: PretrainArgs,
    **build_kwargs: Any,
) -> Stage:
    """The pretrained model folder as a cached stage: done when ``tiny_model.json`` records the build
    arguments with these pretraining arguments (and this data's digest) under ``build.pretrain``."""
    pretrain = {"format": PRETRAIN_FORMAT, "data": benchmark_digest(data_dir), **asdict(args)}
    return tiny_model_stage(out_dir, {**tiny_build_args(arch, **build_kwargs), "pretrain": pretrain})


def pretrain_tiny_model(
    arch: str,
    out_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    args: PretrainArgs = PretrainArgs(),
    *,
    overwrite: bool = False,
    **build_kwargs: Any,
) -> Path:
    """A tiny ``arch`` model pretrained on ``data_dir`` in ``out_dir`` (reused when built alike).

    ``build_kwargs`` go to :func:`proactive.tiny_models.build_tiny_model` (tokenizer, image_size, seed,
    hidden_size, num_layers, vision_depth).
    """
    data = Path(data_dir)
    if not (data / SYNTHETIC_MARKER).is_file() and not any(data.glob("*_preprocessed.jsonl")):
        raise FileNotFoundError(f"{data}: no benchmark here (no *_preprocessed.jsonl files)")
    stage = pretrain_stage(arch, out_dir, data, args, **build_kwargs)
    if stage.done() and not overwrite:
        return stage.folder

    def build_and_pretrain(folder: Path) -> dict[str, Any]:
        build_tiny_model(arch, folder, **build_kwargs)
        records = [r for scenario in load_benchmark(data).values() for r in scenario.records]
        rows = pretrain_rows(records, data, args)
        kinds = row_kinds(rows)
        print(f"pretraining on {len(rows)} rows from {data}: {kinds}", flush=True)
        with tempfile.TemporaryDirectory(prefix=".pretrain.", dir=folder.parent) as work_dir:
            metrics = train_full_weights(folder, pretrain_dataset(records, data, args), args, Path(work_dir))
        built = json.loads((folder / BUILD_FILE).read_text())
        facts = {key: value for key, value in built.items() if key != "build"}
        return {**facts, "pretrain_metrics": {"rows": len(rows), "row_kinds": kinds, **metrics}}

    return stage.build_staged(build_and_pretrain)
