"""usage: python perf/gpu_check.py [--size real|tiny] [--out gpu_check.json] [--work DIR] [--models DIR]
                                 [--grpo-steps N] [--grpo-accumulation N] [--eval-episodes N] [--deadline S]

The recipes on one GPU at the paper's sizes, in one run, with random-init twins of the real models (the real
dimensions and Qwen vocabulary, the project's tokenizer, chat template and processor classes). It writes one
JSON (rewritten after each phase, so a run cut short keeps what it measured):

- grpo_3b: recipes/qwen2.5-vl-3b/grpo.yaml (the paper's GRPO config) on a Qwen2.5-VL-3B twin, trained on a
  local parquet copy of the official train split's schema (synthetic rows); per-device 8 x accumulation 16 =
  128 completions per optimizer step, one GPU's share of the paper's 512 on 4 GPUs. Seconds per step, the share
  of each step spent generating (TRL's ``_generate``), peak GPU memory.
- eval_3b: the ``proactive eval`` loop (select_episodes, resolve_batch_size, run_episodes) on the same twin:
  batch 32, then ``--batch-size auto`` (the batch chosen from the free memory), side by side: episodes per
  second, peak memory, the chosen batch and the speed-up (target: at least 5x).
- qlora_7b: recipes/qwen2.5-vl-7b/grpo_qlora.yaml on a Qwen2.5-VL-7B twin (NF4), 8 completions per step.
- sft_3b: recipes/qwen2.5-vl-3b/sft.yaml, steps of 8 x 4 rows.
Phases run in that order until ``--deadline`` seconds have passed; a phase that fails records its error and the
next one runs. ``--size tiny`` runs the same code with toy dimensions on CPU (tests/test_gpu_check.py).
On the H200 (no network): ``bash perf/gpu_check.sh`` (docs/gpu.md, "Measured on an H200").
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import platform
import shutil
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import transformers
from transformers import TrainerCallback

from data.environment import make_episode
from data.records import load_benchmark
from data.synth import generate_benchmark
from data.synth.train_split import card_rows, write_train_split
from eval.backends import load_hf_generator
from eval.batching import AUTO, DEFAULT_BATCH
from eval.cli import EvalConfig, resolve_batch_size, select_episodes
from eval.results import MCQA
from eval.rollout import Job, ModelAgent, run_episodes
from proactive.recipe_args import parse_recipe_args
from proactive.tiny.archs import ARCHS, TinySize
from proactive.tiny.tokenizer import build_tokenizer
from proactive.tiny_models import _generation_config
from proactive.training import package_versions

REPO = Path(__file__).resolve().parents[1]
TWIN_ARCH = "qwen2_5_vl"
# The real text dimensions (config.json of Qwen/Qwen2.5-VL-3B-Instruct and -7B-Instruct).
REAL_TEXT = {
    "qwen2.5-vl-3b": dict(
        hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
        num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True,
    ),
    "qwen2.5-vl-7b": dict(
        hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
        num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False,
    ),
}  # fmt: skip
REAL_VISION = dict(
    depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, patch_size=14, spatial_merge_size=2,
    temporal_patch_size=2, window_size=112, fullatt_block_indexes=[7, 15, 23, 31], hidden_act="silu",
)  # fmt: skip
REAL_ROPE = {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [16, 24, 24]}
REAL_PIXELS = {
    "shortest_edge": 3136,
    "longest_edge": 12845056,
}  # min_pixels / max_pixels of the real processor


@dataclass(frozen=True)
class Plan:
    """What one run does: sizes of the data and of each phase."""

    real: bool
    tokenizer: str  # "qwen": the real vocabulary; "bpe": a small one (fast on CPU)
    image_size: int  # synthetic benchmark images (COCO scenes are twice as large, shown as crops)
    per_scenario: int  # synthetic records per scenario
    grpo_steps: int
    grpo_accumulation: int  # x per-device 8 completions per optimizer step
    sft_steps: int
    sft_accumulation: int  # x per-device 8 rows per optimizer step
    qlora_steps: int
    eval_fixed_episodes: int  # at batch 32
    eval_auto_episodes: int  # at the chosen batch; 0: twice the chosen batch


PLANS = {
    "real": Plan(True, "qwen", 448, 20, 3, 16, 2, 4, 2, 320, 0),
    "tiny": Plan(False, "bpe", 56, 3, 1, 1, 1, 1, 1, 16, 24),
}


# --- twins ------------------------------------------------------------------------------------------
def twin_config(name: str, real: bool, tokenizer_kind: str = "qwen") -> tuple[Any, Any, Any]:
    """(config, processor, tokenizer) of a Qwen2.5-VL twin: the real dimensions, or the tiny ones."""
    spec = ARCHS[TWIN_ARCH]
    tokenizer = build_tokenizer(spec.family, tokenizer_kind)
    template = spec.chat_template()
    tokenizer.chat_template = template
    config, processor = spec.build(tokenizer, template, TinySize())
    if not real:
        return config, processor, tokenizer
    text = REAL_TEXT[name]
    ids = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
    special = {k: getattr(config.text_config, k) for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    config = transformers.Qwen2_5_VLConfig(
        text_config={**text, **special, "max_position_embeddings": 128000, "rope_parameters": REAL_ROPE},
        vision_config={**REAL_VISION, "out_hidden_size": text["hidden_size"]},
        tie_word_embeddings=text["tie_word_embeddings"],
        **{k: getattr(config, k) for k in ids},
    )
    processor.image_processor = transformers.Qwen2VLImageProcessor(
        size=REAL_PIXELS, patch_size=14, merge_size=2
    )
    return config, processor, tokenizer


def build_twin(name: str, folder: Path, plan: Plan, device: str) -> dict[str, Any]:
    """Random-init ``name`` twin built on ``device`` and saved to ``folder`` (bf16 on a GPU); its figures."""
    config, processor, tokenizer = twin_config(name, plan.real, plan.tokenizer)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    start = time.perf_counter()
    with torch.device(device):
        model = getattr(transformers, ARCHS[TWIN_ARCH].model_class)._from_config(config, dtype=dtype)
    built = time.perf_counter() - start
    model.generation_config = _generation_config(ARCHS[TWIN_ARCH].family.style, tokenizer, config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    parameters = sum(p.numel() for p in model.parameters())
    del model
    release_memory()
    return {
        "parameters": parameters,
        "init_seconds": round(built, 1),
        "save_seconds": round(time.perf_counter() - start - built, 1),
    }


# --- measuring --------------------------------------------------------------------------------------
def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None


class StepClock(TrainerCallback):
    """Wall time of each optimizer step (end to end) and the part of it spent in the trainer's ``_generate``."""

    def __init__(self, trainer: Any) -> None:
        self.steps: list[float] = []
        self.generating: list[float] = []
        self._generated = 0.0
        self._last = 0.0
        self.generates = hasattr(trainer, "_generate")
        if self.generates:
            generate = trainer._generate

            def timed(*args: Any, **kwargs: Any) -> Any:
                synchronize()
                start = time.perf_counter()
                out = generate(*args, **kwargs)
                synchronize()
                self._generated += time.perf_counter() - start
                return out

            trainer._generate = timed

    def on_train_begin(self, args, state, control, **kwargs):
        synchronize()
        self._last = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        synchronize()
        now = time.perf_counter()
        self.steps.append(round(now - self._last, 2))
        self.generating.append(round(self._generated, 2))
        self._last, self._generated = now, 0.0

    def figures(self) -> dict[str, Any]:
        shares = [round(g / s, 3) for g, s in zip(self.generating, self.steps, strict=True) if s > 0]
        later = sorted(self.steps[1:]) or self.steps
        figures = {
            "step_seconds": self.steps,
            "median_step_seconds_after_first": later[len(later) // 2] if later else None,
        }
        if self.generates:
            figures.update(generation_seconds=self.generating, generation_share=shares)
        return figures


def load_recipe(name: str) -> ModuleType:
    return importlib.import_module(f"recipes.{name}")


@dataclass
class Run:
    """Paths and settings every phase shares."""

    plan: Plan
    work: Path
    models: Path
    bench: Path
    split: Path
    device: str

    def train(self, recipe: str, config: str, model: Path, steps: int, *flags: str) -> dict[str, Any]:
        """``steps`` optimizer steps of a recipe built as its script builds it; timings and memory."""
        from trl import GRPOConfig, SFTConfig

        module = load_recipe(recipe)
        argv = ["--config", str(REPO / config), "--model_name_or_path", str(model), "--max_steps", str(steps)]
        argv += ["--output_dir", str(self.work / "out" / Path(config).parent.name / recipe)]
        argv += ["--benchmark_dir", str(self.bench), "--id_filter", "auto", "--save_strategy", "no"]
        argv += ["--report_to", "none", "--logging_steps", "1", "--eval_after_training", "false", *flags]
        if not self.plan.real:  # toy sizes on CPU
            argv += ["--use_cpu", "true", "--bf16", "false", "--dtype", "float32"]
        args = parse_recipe_args(GRPOConfig if recipe == "grpo" else SFTConfig, argv)
        release_memory()
        start = time.perf_counter()
        trainer, run = module.build_trainer(*args)
        loaded = time.perf_counter() - start
        clock = StepClock(trainer)
        trainer.add_callback(clock)
        trainer.train()
        training = args[1]
        figures = {
            "config": config,
            "rows": len(trainer.train_dataset),
            "per_device_batch": training.per_device_train_batch_size,
            "gradient_accumulation_steps": training.gradient_accumulation_steps,
            "load_seconds": round(loaded, 1),
            **clock.figures(),
            "peak_gib": peak_gib(),
            "logged": [
                {k: v for k, v in h.items() if "completions/" in k or k in ("loss", "reward")}
                for h in trainer.state.log_history
            ],
        }
        del trainer, run
        release_memory()
        return figures


# --- phases -----------------------------------------------------------------------------------------
def grpo_3b(run: Run) -> dict[str, Any]:
    flags = ["--train_source", "official_train", "--train_data", str(run.split)]
    flags += ["--gradient_accumulation_steps", str(run.plan.grpo_accumulation)]
    flags += ["--log_completions", "false"]
    return run.train(
        "grpo", "recipes/qwen2.5-vl-3b/grpo.yaml", run.models / "qwen2.5-vl-3b", run.plan.grpo_steps, *flags
    )


def sft_3b(run: Run) -> dict[str, Any]:
    flags = ["--gradient_accumulation_steps", str(run.plan.sft_accumulation)]
    return run.train(
        "sft", "recipes/qwen2.5-vl-3b/sft.yaml", run.models / "qwen2.5-vl-3b", run.plan.sft_steps, *flags
    )


def qlora_7b(run: Run) -> dict[str, Any]:
    twin = build_twin("qwen2.5-vl-7b", run.models / "qwen2.5-vl-7b", run.plan, run.device)
    flags = ["--train_source", "official_train", "--train_data", str(run.split), "--log_completions", "false"]
    flags += ["--gradient_accumulation_steps", "2", "--steps_per_generation", "2"]
    figures = run.train(
        "grpo",
        "recipes/qwen2.5-vl-7b/grpo_qlora.yaml",
        run.models / "qwen2.5-vl-7b",
        run.plan.qlora_steps,
        *flags,
    )
    return {"twin": twin, **figures}


def _episodes(jobs: list[Job], count: int) -> list[Job]:
    """``count`` fresh episodes, cycling over the records of ``jobs``."""
    return [Job(MCQA, make_episode(jobs[i % len(jobs)].episode.record)) for i in range(count)]


def _timed_episodes(jobs: list[Job], agent: ModelAgent, batch: int) -> dict[str, Any]:
    release_memory()
    start = time.perf_counter()
    results = run_episodes(jobs, agent, batch)
    seconds = time.perf_counter() - start
    return {
        "batch": batch,
        "episodes": len(results),
        "turns": sum(r.num_turns for r in results),
        "seconds": round(seconds, 1),
        "episodes_per_second": round(len(results) / seconds, 2),
        "peak_gib": peak_gib(),
    }


def eval_3b(run: Run) -> dict[str, Any]:
    model = run.models / "qwen2.5-vl-3b"
    config = EvalConfig(data=str(run.bench), out=str(run.work / "eval"), model=str(model), progress=False)
    start = time.perf_counter()
    generator = load_hf_generator(str(model), max_new_tokens=config.max_new_tokens)
    loaded = time.perf_counter() - start
    agent = ModelAgent(generator, run.bench)
    jobs = select_episodes(config)
    run_episodes(_episodes(jobs, DEFAULT_BATCH), agent, DEFAULT_BATCH)  # warm-up, not timed
    fixed = _timed_episodes(_episodes(jobs, run.plan.eval_fixed_episodes), agent, DEFAULT_BATCH)
    release_memory()
    chosen = resolve_batch_size(AUTO, agent, _episodes(jobs, len(jobs)))
    auto = _timed_episodes(_episodes(jobs, run.plan.eval_auto_episodes or 2 * chosen), agent, chosen)
    figures = {
        "max_new_tokens": config.max_new_tokens,
        "load_seconds": round(loaded, 1),
        "batch_32": fixed,
        "auto": auto,
        "speedup": round(auto["episodes_per_second"] / fixed["episodes_per_second"], 2),
    }
    del generator, agent
    release_memory()
    return figures


# In order of what docs/gpu.md needs most, should the deadline cut the run short.
PHASES = {"grpo_3b": grpo_3b, "eval_3b": eval_3b, "qlora_7b": qlora_7b, "sft_3b": sft_3b}


# --- the run ----------------------------------------------------------------------------------------
def prepare_data(plan: Plan, work: Path) -> tuple[Path, Path, dict[str, Any]]:
    """The synthetic benchmark (eval, SFT) and a parquet copy of the train split's schema made from it (GRPO)."""
    bench, split = work / "bench", work / "ProactiveBench"
    generate_benchmark(bench, plan.per_scenario, seed=0, size=plan.image_size)
    loaded = load_benchmark(bench, ["QuickDraw", "coco2014"])
    rows = card_rows(loaded["QuickDraw"].records + loaded["coco2014"].records, bench)
    shutil.rmtree(split, ignore_errors=True)
    write_train_split(split, rows)
    return bench, split, {"benchmark_records_per_scenario": plan.per_scenario, "train_split_rows": len(rows)}


def write_report(path: Path, report: dict[str, Any]) -> None:
    staged = path.with_suffix(".partial")
    staged.write_text(json.dumps(report, indent=2) + "\n")
    staged.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1].split("\n")[0])
    parser.add_argument("--size", choices=sorted(PLANS), default="real")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu_check"))
    parser.add_argument(
        "--models", type=Path, help="where the twins are saved (default: /dev/shm/gpu_check for real sizes)"
    )
    parser.add_argument("--grpo-steps", type=int)
    parser.add_argument("--grpo-accumulation", type=int)
    parser.add_argument(
        "--eval-episodes", type=int, help="episodes of the auto-batch eval run (default: twice the batch)"
    )
    parser.add_argument(
        "--deadline", type=float, default=420.0, help="start no phase after this many seconds"
    )
    parser.add_argument("--only", nargs="+", choices=list(PHASES), help="run only these phases")
    args = parser.parse_args(argv)
    plan = PLANS[args.size]
    overrides = {
        "grpo_steps": args.grpo_steps,
        "grpo_accumulation": args.grpo_accumulation,
        "eval_auto_episodes": args.eval_episodes,
    }
    plan = Plan(**{**asdict(plan), **{k: v for k, v in overrides.items() if v is not None}})
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if plan.real and device == "cpu":
        parser.error("--size real needs a GPU; --size tiny runs the same code on CPU")
    start = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    models = args.models or (
        Path("/dev/shm/gpu_check") if plan.real and Path("/dev/shm").is_dir() else args.work / "models"
    )
    report: dict[str, Any] = {
        "size": args.size,
        "plan": asdict(plan),
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
        "versions": package_versions(),
        "phases": {},
    }
    bench, split, report["data"] = prepare_data(plan, args.work)
    report["twin_3b"] = build_twin("qwen2.5-vl-3b", models / "qwen2.5-vl-3b", plan, device)
    write_report(args.out, report)
    run = Run(plan, args.work, models, bench, split, device)
    for name, phase in PHASES.items():
        if args.only and name not in args.only:
            continue
        if time.perf_counter() - start > args.deadline:
            report["phases"][name] = {"skipped": f"deadline of {args.deadline:.0f} s passed"}
            continue
        began = time.perf_counter()
        try:
            report["phases"][name] = phase(run)
        except Exception as err:  # one phase failing must not cost the others their figures
            traceback.print_exc()
            report["phases"][name] = {"error": f"{type(err).__name__}: {err}"[:2000]}
        release_memory()  # here, after the except block: a failed phase's frames (and model) are gone
        report["phases"][name]["phase_seconds"] = round(time.perf_counter() - began, 1)
        report["total_seconds"] = round(time.perf_counter() - start, 1)
        write_report(args.out, report)
    shutil.rmtree(models, ignore_errors=True)
    print(json.dumps(report, indent=2))
    return 1 if any("error" in p for p in report["phases"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
