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
import io
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
from proactive.tiny_models import (
    BUILD_FILE,
    build_tiny_model,
    read_build_args,
    tiny_build_args,
    tiny_model_stage,
)
from proactive.vision_warmup import view_dataset, warm_up_vision

PRETRAIN_FORMAT = 1
TRAINING_ARGS_FILE = "training_args.bin"


@dataclass(frozen=True)
class PretrainArgs:
    """How the tiny base is pretrained (recorded in ``tiny_model.json``; a change forces retraining)."""

    steps: int = 300
    learning_rate: float = 1e-3
    batch_size: int = 32
    noise_fraction: float = 0.2  # uninformative rows per informative row
    abstain_share: float = 0.2  # of the noise rows: the abstain option
    proactive_share: float = 0.3  # of the noise rows: an accepted proactive option
    scenario_rows: int = 0  # answered rows drawn per scenario (so that every scenario weighs alike); 0: all
    vision_steps: int = 0  # vision warm-up steps before the SFT (proactive/vision_warmup.py); 0: none
    vision_batch_size: int = 64
    vision_learning_rate: float = 2e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if (
            min(self.steps, self.batch_size, self.vision_batch_size) < 1
            or min(self.scenario_rows, self.vision_steps) < 0
        ):
            raise ValueError(
                f"steps and batch sizes must be positive, scenario_rows and vision_steps >= 0, got {self}"
            )
        shares = (self.noise_fraction, self.abstain_share, self.proactive_share)
        if not all(0.0 <= s <= 1.0 for s in shares) or self.abstain_share + self.proactive_share > 1.0:
            raise ValueError(
                f"noise_fraction, abstain_share, proactive_share must be in [0, 1] (the two shares summing "
                f"to at most 1), got {shares}"
            )


@dataclass(frozen=True)
class SyntheticData:
    """Pretrain on a synthetic benchmark generated for the run (``proactive synth``, at the model's image
    size) in the staging folder, removed afterwards."""

    per_scenario: int
    seed: int = 1000


def benchmark_digest(data_dir: str | Path) -> str:
    """A short hash of the benchmark's scenario files (and synthetic marker): new data, new pretraining."""
    folder = Path(data_dir)
    files = sorted(folder.glob("*_preprocessed.jsonl")) + [folder / SYNTHETIC_MARKER]
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _view_png(data_dir: Path, state: TurnState) -> dict[str, Any]:
    """The view as PNG bytes (what ``datasets.Image`` stores): a large pretraining set stays small in memory."""
    buffer = io.BytesIO()
    open_view(data_dir, state.image, state.crop, owner=state.record_name).save(
        buffer, format="PNG", compress_level=1
    )
    return {"bytes": buffer.getvalue(), "path": None}


def _row(state: TurnState, target: str, data_dir: Path, kind: str) -> dict[str, Any]:
    return {
        "prompt": [user_message(state.prompt)],
        "completion": [assistant_message(target)],
        "image": _view_png(data_dir, state),
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
    """Per scenario: its informative states and reference views answered with the category text (at most
    ``scenario_rows`` of them, drawn at random), plus ``noise_fraction`` as many noise rows on its
    uninformative states."""
    data_dir = Path(data_dir)
    rng = random.Random(args.seed)
    clean: dict[str, list[tuple[TurnState, str, str]]] = {}
    uninformative: dict[str, list[TurnState]] = {}
    for record in records:
        answers = clean.setdefault(record.scenario, [])
        for state in reachable_states(record):
            if state.informative and record.answer in state.accepted_categories:
                answers.append((state, record.answer, "answer"))
            elif state.informative is False:
                uninformative.setdefault(record.scenario, []).append(state)
        reference = make_episode(record, reference=True).state()
        answers.append((reference, record.answer, "reference"))
    rows: list[dict[str, Any]] = []
    for scenario, answers in clean.items():
        if args.scenario_rows and len(answers) > args.scenario_rows:
            answers = rng.sample(answers, args.scenario_rows)
        rows += [_row(state, answer, data_dir, kind) for state, answer, kind in answers]
        states = uninformative.get(scenario, [])
        for state in rng.sample(states, min(len(states), round(args.noise_fraction * len(answers)))):
            target, kind = _noise_target(state, args, rng)
            rows.append(_row(state, target, data_dir, kind))
    return rows


def pretrain_dataset(rows: list[dict[str, Any]], seed: int) -> Dataset:
    """The rows (without their ``kind``) as a shuffled prompt-completion dataset."""
    plain = [{key: value for key, value in row.items() if key != "kind"} for row in rows]
    return Dataset.from_list(plain, features=SFT_PROMPT_COMPLETION_FEATURES).shuffle(seed=seed)


def row_kinds(rows: list[dict[str, Any]]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    return dict(sorted(kinds.items()))


def row_counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per scenario: how many rows of each kind."""
    scenarios: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        scenarios.setdefault(row["scenario"], []).append(row)
    return {scenario: row_kinds(group) for scenario, group in sorted(scenarios.items())}


def train_full_weights(
    model_dir: Path, dataset: Dataset, args: PretrainArgs, work_dir: Path, views: Dataset | None = None
) -> dict[str, Any]:
    """Full-weight SFT of the model in ``model_dir`` on ``dataset`` (after the vision warm-up on ``views``,
    when given); saves it back there; returns metrics."""
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(model_dir)
    vision = {}
    if views is not None:
        side = read_build_args(model_dir / BUILD_FILE)["image_size"]
        vision = warm_up_vision(
            model, processor.image_processor, side, views, steps=args.vision_steps,
            batch_size=args.vision_batch_size, learning_rate=args.vision_learning_rate, seed=args.seed,
            work_dir=work_dir / "vision",
        )  # fmt: skip
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
    (model_dir / TRAINING_ARGS_FILE).unlink(missing_ok=True)  # pickled trainer arguments
    return {
        **vision,
        "train_runtime_s": round(result.metrics["train_runtime"], 1),
        "first_logged_loss": round(losses[0], 4) if losses else None,
        "final_loss": round(losses[-1], 4) if losses else None,
    }


def pretrain_stage(
    arch: str,
    out_dir: str | os.PathLike,
    data: str | os.PathLike | SyntheticData,
    args: PretrainArgs,
    **build_kwargs: Any,
) -> Stage:
    """The pretrained model folder as a cached stage: done when ``tiny_model.json`` records the build
    arguments with these pretraining arguments (and the data's recipe or digest) under ``build.pretrain``."""
    pretrain = {"format": PRETRAIN_FORMAT, "data": _data_key(data), **asdict(args)}
    return tiny_model_stage(out_dir, {**tiny_build_args(arch, **build_kwargs), "pretrain": pretrain})


def pretrain_tiny_model(
    arch: str,
    out_dir: str | os.PathLike,
    data: str | os.PathLike | SyntheticData,
    args: PretrainArgs = PretrainArgs(),
    *,
    overwrite: bool = False,
    **build_kwargs: Any,
) -> Path:
    """A tiny ``arch`` model pretrained on ``data`` (a benchmark folder, or the synthetic benchmark to
    generate) in ``out_dir`` (reused when built alike).

    ``build_kwargs`` go to :func:`proactive.tiny_models.build_tiny_model` (tokenizer, image_size, seed,
    hidden_size, num_layers, vision_depth, vision_width).
    """
    stage = pretrain_stage(arch, out_dir, data, args, **build_kwargs)
    if stage.done() and not overwrite:
        return stage.folder

    def build_and_pretrain(folder: Path) -> dict[str, Any]:
        build_tiny_model(arch, folder, **build_kwargs)
        with tempfile.TemporaryDirectory(prefix=".pretrain.", dir=folder.parent) as work_dir:
            work = Path(work_dir)
            data_dir = _pretraining_benchmark(data, work / "data", tiny_build_args(arch, **build_kwargs))
            records = [r for scenario in load_benchmark(data_dir).values() for r in scenario.records]
            rows = pretrain_rows(records, data_dir, args)
            kinds, per_scenario = row_kinds(rows), row_counts(rows)
            print(f"pretraining on {len(rows)} rows from {data_dir}: {kinds}", flush=True)
            dataset = pretrain_dataset(rows, args.seed)
            views = view_dataset(rows) if args.vision_steps else None
            del rows
            metrics = train_full_weights(folder, dataset, args, work / "trainer", views)
        built = json.loads((folder / BUILD_FILE).read_text())
        facts = {key: value for key, value in built.items() if key != "build"}
        pretrain_metrics = {
            "rows": len(dataset),
            "row_kinds": kinds,
            "scenario_rows": per_scenario,
            **metrics,
        }
        return {**facts, "pretrain_metrics": pretrain_metrics}

    return stage.build_staged(build_and_pretrain)


def _data_key(data: str | os.PathLike | SyntheticData) -> str | dict[str, Any]:
    """What the pretraining data is, as recorded: the synthetic recipe, or a digest of the folder's files."""
    if isinstance(data, SyntheticData):
        return {"synthetic": asdict(data)}
    folder = Path(data)
    if not (folder / SYNTHETIC_MARKER).is_file() and not any(folder.glob("*_preprocessed.jsonl")):
        raise FileNotFoundError(f"{folder}: no benchmark here (no *_preprocessed.jsonl files)")
    return benchmark_digest(folder)


def _pretraining_benchmark(
    data: str | os.PathLike | SyntheticData, scratch: Path, build: dict[str, Any]
) -> Path:
    """The benchmark folder to pretrain on: ``data`` itself, or the synthetic one generated into ``scratch``."""
    if not isinstance(data, SyntheticData):
        return Path(data)
    from data.synth import generate_benchmark

    print(
        f"generating the pretraining benchmark: {data.per_scenario} per scenario, seed {data.seed}",
        flush=True,
    )
    generate_benchmark(scratch, data.per_scenario, data.seed, build["image_size"])
    return scratch
