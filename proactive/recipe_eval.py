"""Evaluation at the end of a recipe: the saved model plays ProactiveBench episodes it never trained on.

The episodes are the held-out episodes of the train scenarios plus every episode of the held-out
scenarios (at most ``eval_limit`` per scenario), played by the ``eval`` package (MCQA, greedy, 50 new
tokens, as the official loop; 256 with chain of thought, ours) under the official modes the recipe asks
for (``eval_resize``, ``eval_icl``, ``eval_cot``, ``eval_reduce_icl_steps``), with the MCQA history or the
tools protocol (128 new tokens) when the recipe trained so, and written to
``<output_dir>/eval`` like a ``proactive eval`` run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.environment import make_episode
from data.records import Record, records_fingerprint
from eval.backends import load_hf_generator
from eval.metrics import summarize
from eval.report import write_run_report
from eval.results import MCQA
from eval.rollout import Job, ModelAgent, Modes, in_context_examples, run_episodes
from eval.store import DATA_FINGERPRINT, RunStore
from eval.tool_rollout import MAX_NEW_TOKENS as TOOLS_MAX_NEW_TOKENS
from eval.tool_rollout import TOOLS, ToolModelAgent

if TYPE_CHECKING:
    from proactive.recipe_args import ProactiveScriptArguments

EVAL_DIR = "eval"
MAX_NEW_TOKENS = 50  # the official MCQA loop's limit
COT_MAX_NEW_TOKENS = 256  # ours: room for the chain of thought before the answer


def eval_modes(args: ProactiveScriptArguments) -> Modes:
    """The official multiple-choice modes of the evaluation after training."""
    return Modes(
        resize=args.eval_resize,
        icl=args.eval_icl,
        cot=args.eval_cot,
        reduce_icl_steps=args.eval_reduce_icl_steps,
    )


def eval_records(eval_episodes: list[Record], held_out: list[Record], limit: int | None) -> list[Record]:
    """The records to evaluate: per scenario in input order, at most ``limit`` of each."""
    by_scenario: dict[str, list[Record]] = {}
    for record in eval_episodes + held_out:
        by_scenario.setdefault(record.scenario, []).append(record)
    return [record for records in by_scenario.values() for record in records[:limit]]


def flat_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """acc and psr, averaged and per scenario, as flat ``eval_*`` metrics for the trainer's logs."""
    metrics = {f"eval_{k}": summary["average"][k] for k in ("acc", "psr") if k in summary["average"]}
    for scenario, block in summary["scenarios"].items():
        metrics.update({f"eval_{scenario}_{k}": block[k] for k in ("acc", "psr") if k in block})
    return metrics


def evaluate_saved_model(
    model_id: str,
    adapter: str | None,
    benchmark_dir: str | Path,
    records: list[Record],
    out_dir: str | Path,
    dtype: str | None = None,
    batch_size: int = 32,
    seed: int = 0,
    modes: Modes | None = None,
    example_pool: Sequence[Record] = (),
    protocol: str = MCQA,
    history: bool = False,
) -> dict[str, Any]:
    """Play ``records`` with the model (plus its LoRA adapter) into ``out_dir`` and return the summary.

    Under ``modes.icl`` each ROD / MVP-N record is preceded by the example of another record of
    ``example_pool`` (the records never trained on; ``records`` when empty). ``protocol`` "tools" offers
    the interventions as tool calls; ``history`` keeps the earlier MCQA turns in the prompt."""
    modes = modes or Modes()
    tools = protocol == TOOLS
    if tools and modes.icl:
        raise ValueError("the tools protocol has no in-context examples (eval_icl)")
    max_new_tokens = TOOLS_MAX_NEW_TOKENS if tools else COT_MAX_NEW_TOKENS if modes.cot else MAX_NEW_TOKENS
    by_scenario: dict[str, list[Record]] = {}
    for record in records:
        by_scenario.setdefault(record.scenario, []).append(record)
    config = {
        "data": str(Path(benchmark_dir).resolve()),
        "model": model_id,
        "adapter": adapter,
        "episodes": sorted(f"{r.scenario}/{r.id}" for r in records),
        "mode": MCQA,
        "protocol": protocol,
        "history": history,
        "max_new_tokens": max_new_tokens,
        "dtype": dtype,
        "seed": seed,
        "batch_size": batch_size,
        **asdict(modes),
        DATA_FINGERPRINT: {name: records_fingerprint(group) for name, group in by_scenario.items()},
    }
    jobs = [Job(MCQA, make_episode(record, hint=modes.hint, resize=modes.resize)) for record in records]
    keys = [(MCQA, r.scenario, r.id) for r in records]
    with RunStore(out_dir, config, selection=set(keys)) as store:
        pending = [job for job, key in zip(jobs, keys, strict=True) if not store.done(key)]
        if pending:
            examples = in_context_examples(
                [job.episode.record for job in pending], list(example_pool) or records, modes, seed
            )
            generator = load_hf_generator(model_id, adapter, dtype=dtype, max_new_tokens=max_new_tokens)
            agent = (
                ToolModelAgent(generator, benchmark_dir)
                if tools
                else ModelAgent(generator, benchmark_dir, history, examples)
            )
            run_episodes(pending, agent, batch_size, on_result=store.append)
        results = [store.results[key] for key in keys]
    summary = summarize(results, seed=seed)
    summary["config"] = config
    write_run_report(
        summary, out_dir, f"ProactiveBench ({protocol}): {model_id}" + (f" + {adapter}" if adapter else "")
    )
    return summary
