"""Usage: python perf/time_eval.py [--per-scenario 16] [--batch-size 32] [--arch qwen2_vl] [--threads 1]
                          [--answers free|letters] [--work DIR] [--json OUT.json]

Episodes per second of the batched multi-turn rollout (one generate call per batch per turn) against a
one-episode-at-a-time loop (the official loop's shape), with a tiny offline model over the synthetic
benchmark, plus peak memory: the process's max RSS after loading, after the one-at-a-time loop and
after the batched loop (getrusage), and tracemalloc's peak of Python allocations in a separate, untimed
batched run (tracing slows Python down, so it stays out of the timings). Both loops must give identical
per-episode outcomes. Target: >= 5x at batch 32.

``--answers free`` (default) lets the random model write 50 tokens of free text, as the official loop
allows (episodes mostly end at turn 1, unparseable); ``--answers letters`` restricts it to one letter
A-H through its generation config (``suppress_tokens``), so answers parse and episodes run several turns.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoTokenizer

from data.environment import make_episode
from data.records import load_benchmark
from data.synth import generate_benchmark
from eval.backends import load_hf_generator
from eval.results import MCQA, EpisodeResult
from eval.rollout import Job, ModelAgent, run_episodes
from proactive.tiny_models import build_tiny_model


def timed_run(records: list, agent: ModelAgent, batch_size: int) -> tuple[list[EpisodeResult], float, int]:
    """Play every record once; return results (in record order), seconds, and generate calls made."""
    calls = 0
    generate = agent.generator.generate

    def counting(prompts: Any) -> list[str]:
        nonlocal calls
        calls += 1
        return generate(prompts)

    agent.generator.generate = counting  # type: ignore[method-assign]
    jobs = [Job(MCQA, make_episode(record)) for record in records]
    start = time.perf_counter()
    results = run_episodes(jobs, agent, batch_size=batch_size)
    seconds = time.perf_counter() - start
    agent.generator.generate = generate  # type: ignore[method-assign]
    order = {(r.scenario, r.id): i for i, r in enumerate(records)}
    return sorted(results, key=lambda r: order[(r.scenario, r.record_id)]), seconds, calls


def letters_only(model_dir: Path, out_dir: Path) -> Path:
    """A copy of the model whose generation config suppresses every token but the letters A-H."""
    if not out_dir.is_dir():
        shutil.copytree(model_dir, out_dir)
        tokenizer = AutoTokenizer.from_pretrained(out_dir)
        allowed = {tokenizer.convert_tokens_to_ids(letter) for letter in "ABCDEFGH"}
        vocab = AutoConfig.from_pretrained(out_dir).get_text_config().vocab_size
        config = json.loads((out_dir / "generation_config.json").read_text())
        config["suppress_tokens"] = [i for i in range(vocab) if i not in allowed]
        (out_dir / "generation_config.json").write_text(json.dumps(config))
    return out_dir


def max_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--per-scenario", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--arch", default="qwen2_vl")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--answers", choices=["free", "letters"], default="free")
    parser.add_argument("--work", help="folder for the tiny model and benchmark (default: a temporary one)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    work = Path(args.work or tempfile.mkdtemp(prefix="time_eval_"))
    data_dir = work / "bench"
    if not (data_dir / "synthetic.json").is_file():
        generate_benchmark(data_dir, args.per_scenario, seed=0, size=56)
    model_dir = build_tiny_model(args.arch, work / f"tiny_{args.arch}")
    if args.answers == "letters":
        model_dir = letters_only(model_dir, work / f"tiny_{args.arch}_letters")
    records = [r for scenario in load_benchmark(data_dir, id_filter=None).values() for r in scenario.records]
    generator = load_hf_generator(
        str(model_dir), device="cpu", max_new_tokens=1 if args.answers == "letters" else 50
    )
    agent = ModelAgent(generator, data_dir)

    rss_loaded = max_rss_mib()
    sequential, seq_s, seq_calls = timed_run(records, agent, batch_size=1)
    rss_sequential = max_rss_mib()
    batched, bat_s, bat_calls = timed_run(records, agent, batch_size=args.batch_size)
    rss_batched = max_rss_mib()
    tracemalloc.start()
    timed_run(records, agent, batch_size=args.batch_size)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    turns = sum(r.num_turns for r in batched)
    figures = {
        "answers": args.answers,
        "episodes": len(records),
        "turns": turns,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "one_at_a_time_episodes_per_s": round(len(records) / seq_s, 2),
        "batched_episodes_per_s": round(len(records) / bat_s, 2),
        "speedup": round(seq_s / bat_s, 2),
        "generate_calls": {"one_at_a_time": seq_calls, "batched": bat_calls},
        "identical_outcomes": [r.to_json() for r in sequential] == [r.to_json() for r in batched],
        "max_rss_mib": {
            "after_loading": rss_loaded,
            "after_one_at_a_time": rss_sequential,
            "after_batched": rss_batched,
        },
        "batched_python_peak_mib": round(traced_peak / 2**20, 1),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["identical_outcomes"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
