"""Run ProactiveBench episodes with a model (or a baseline policy) and score them.

Writes RUN_DIR/episodes.jsonl (one line per finished episode, resumable), summary.json, summary.md
and one PNG per metric. Re-running into the same RUN_DIR skips the episodes it already holds.
``--protocol tools`` offers the interventions as calls of an ``intervene`` tool (data/tools.py) instead
of lettered options; acc and psr are counted as in MCQA.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from transformers import set_seed

from data.environment import REJECTED_IMAGE, make_episode
from data.icl import ICL_SCENARIOS, ExampleTurn
from data.outdir import OutputFolder
from data.policies import POLICIES
from data.records import BenchmarkFormatError, Record, load_scenario, records_fingerprint, resolve_id_filter
from data.scenarios import SCENARIO_NAMES, SCENARIOS, resolve_scenario
from eval.backends import Generator, HFGenerator, VLLMGenerator, load_hf_generator, load_text_generator
from eval.batching import AUTO, DEFAULT_BATCH, MAX_AUTO_BATCH, choose_batch_size, free_memory
from eval.metrics import summarize
from eval.open_ended import official_sample, run_open_episodes
from eval.report import run_title, write_run_report
from eval.results import MCQA, OPEN, REFERENCE, EpisodeKey, EpisodeResult, ResultFormatError
from eval.rollout import (
    Agent,
    Job,
    ModelAgent,
    Modes,
    PolicyAgent,
    RecordKey,
    conversation,
    episode_rng,
    in_context_examples,
    run_episodes,
)
from eval.store import DATA_FINGERPRINT, ConfigMismatchError, RunStore
from eval.tool_rollout import MAX_NEW_TOKENS as TOOLS_MAX_NEW_TOKENS
from eval.tool_rollout import TOOLS, ToolModelAgent, ToolPolicyAgent

DEFAULT_JUDGE = "Qwen/Qwen3-8B"
BASELINES = ("oracle", "random", "abstain", "first-option")
# Open mode. Records: every one (ours) | random.seed(0), shuffled, the first 100 (official).
OEG_SAMPLES = ("ours-all", "official")
# Open mode. Decoding: sampled, 2**15 new tokens (official) | greedy, 256 / 2,048 new tokens (ours).
OEG_DECODINGS = ("official", "ours-greedy")
OFFICIAL_OEG_MAX_NEW_TOKENS = 2**15


@dataclass
class EvalConfig:
    """Everything that defines a run (saved as RUN_DIR/config.json)."""

    data: str
    out: str
    model: str | None = None
    adapter: str | None = None
    policy: str | None = None
    scenarios: list[str] = field(default_factory=lambda: list(SCENARIO_NAMES))
    mode: str = MCQA
    protocol: str = MCQA  # or TOOLS: interventions as tool calls
    hint: bool = False
    history: bool = False
    reference: bool = False
    random_actions: bool = False
    limit: int | None = None
    id_filter: str = "auto"
    filter_threshold: float = 0.25
    seed: int = 0
    resize: bool = False
    icl: bool = False
    cot: bool = False
    reduce_icl_steps: bool = False
    max_new_tokens: int | None = None  # see build_parser
    judge_model: str | None = None
    judge_max_new_tokens: int | None = None
    oeg_sample: str = "ours-all"
    oeg_decoding: str = "official"
    backend: str = "hf"
    dtype: str | None = None
    device: str | None = None
    threads: int | None = None  # CPU threads for torch (default: torch's choice)
    batch_size: int | str = DEFAULT_BATCH  # or "auto": chosen from the free memory (eval/batching.py)
    max_live: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if (self.model is None) == (self.policy is None):
            raise ValueError("give exactly one of --model and --policy")
        if self.adapter is not None and self.model is None:
            raise ValueError("--adapter needs --model")
        if self.policy is not None and self.policy not in POLICIES:
            raise ValueError(f"unknown policy {self.policy!r}; known: {', '.join(POLICIES)}")
        if self.mode not in (MCQA, OPEN):
            raise ValueError(f"--mode must be {MCQA} or {OPEN}, got {self.mode!r}")
        if self.mode == OPEN and self.model is None:
            raise ValueError("--mode open needs --model (the policies answer multiple choice only)")
        if self.mode == OPEN and (self.history or self.reference or self.random_actions):
            raise ValueError(
                "--mode open is single-turn: --history, --reference and --random-actions do not apply"
            )
        if self.protocol not in (MCQA, TOOLS):
            raise ValueError(f"--protocol must be {MCQA} or {TOOLS}, got {self.protocol!r}")
        if self.protocol == TOOLS and (self.mode == OPEN or self.history or self.icl or self.backend != "hf"):
            raise ValueError(
                "--protocol tools plays multiple-choice episodes on the hf backend and always keeps the "
                "conversation: --mode open, --history, --icl and --backend vllm do not apply"
            )
        if self.batch_size != AUTO and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"--batch-size must be a positive integer or {AUTO}, got {self.batch_size!r}")
        if self.batch_size == AUTO and (self.mode == OPEN or self.history):
            raise ValueError(
                "--batch-size auto sizes single-turn MCQA prompts; give a number with --mode open or --history"
            )
        for flag, number in (
            ("--limit", self.limit),
            ("--max-live", self.max_live),
            ("--max-new-tokens", self.max_new_tokens),
            ("--judge-max-new-tokens", self.judge_max_new_tokens),
            ("--threads", self.threads),
        ):
            if number is not None and number < 1:
                raise ValueError(f"{flag} must be at least 1, got {number}")
        if not 0 < self.filter_threshold <= 1:
            raise ValueError(f"--filter-threshold must be in (0, 1], got {self.filter_threshold}")
        self.modes  # noqa: B018 (checks that --cot and --reduce-icl-steps come with --icl)
        if self.mode == OPEN and self.icl:
            raise ValueError("--icl is a multiple-choice mode; --mode open is single-turn without examples")
        if self.oeg_sample not in OEG_SAMPLES or self.oeg_decoding not in OEG_DECODINGS:
            raise ValueError(
                f"--oeg-sample must be one of {', '.join(OEG_SAMPLES)} and --oeg-decoding one of "
                f"{', '.join(OEG_DECODINGS)}; got {self.oeg_sample!r}, {self.oeg_decoding!r}"
            )
        if self.mode != OPEN and (self.oeg_sample, self.oeg_decoding) != (OEG_SAMPLES[0], OEG_DECODINGS[0]):
            raise ValueError("--oeg-sample and --oeg-decoding apply to --mode open only")
        self.scenarios = [resolve_scenario(s) for s in self.scenarios]
        self.data = str(Path(self.data).resolve())
        # a bad --id-filter name or correctness file is refused now, in one line, before anything loads
        resolve_id_filter(self.data, self.id_filter, self.filter_threshold)
        official_open = self.oeg_decoding == "official"
        if self.max_new_tokens is None:
            if self.mode == OPEN:
                self.max_new_tokens = OFFICIAL_OEG_MAX_NEW_TOKENS if official_open else 256
            elif self.protocol == TOOLS:  # ours: a call writes the tool's name and the request in JSON
                self.max_new_tokens = TOOLS_MAX_NEW_TOKENS
            else:  # the official MCQA loop's 50; a chain of thought needs room (ours: 256)
                self.max_new_tokens = 256 if self.cot else 50
        if self.mode == OPEN and self.judge_max_new_tokens is None:
            self.judge_max_new_tokens = OFFICIAL_OEG_MAX_NEW_TOKENS if official_open else 2048
        if self.mode == OPEN and self.judge_model is None:
            self.judge_model = DEFAULT_JUDGE

    @property
    def modes(self) -> Modes:
        """The official multiple-choice modes of the run (the hint is open mode's own in open mode)."""
        return Modes(self.hint and self.mode != OPEN, self.resize, self.icl, self.cot, self.reduce_icl_steps)

    @property
    def sampled(self) -> bool:
        """Whether generation samples: the official open-ended loop does (model and judge)."""
        return self.mode == OPEN and self.oeg_decoding == "official"


def scenario_records(config: EvalConfig) -> dict[str, list[Record]]:
    """Every record of each scenario of the run (after the id filter), in file order; a scenario with
    none is an error."""
    id_filter = resolve_id_filter(config.data, config.id_filter, config.filter_threshold)
    records = {}
    for scenario in config.scenarios:
        data = load_scenario(config.data, scenario, id_filter=id_filter)
        if not data.records:
            raise BenchmarkFormatError(
                f"{data.report.path}: no record left to evaluate ({data.report.summary()})"
            )
        records[scenario] = data.records
    return records


def select_episodes(config: EvalConfig, records: dict[str, list[Record]] | None = None) -> list[Job]:
    """Every episode of the run, scenario by scenario: the first ``limit`` records of each, in file order
    (open mode with ``--oeg-sample official``: in the official sample's order)."""
    records = records if records is not None else scenario_records(config)
    modes = config.modes
    jobs: list[Job] = []
    for scenario in config.scenarios:
        chosen = records[scenario]
        if config.mode == OPEN and config.oeg_sample == "official":
            chosen = official_sample(chosen)
        chosen = chosen[: config.limit]
        for record in chosen:
            rng = episode_rng(config.seed, scenario, record.id) if config.random_actions else None
            mode = OPEN if config.mode == OPEN else MCQA
            jobs.append(Job(mode, make_episode(record, hint=modes.hint, rng=rng, resize=modes.resize)))
        if config.reference:
            jobs += [
                Job(REFERENCE, make_episode(record, hint=modes.hint, reference=True, resize=modes.resize))
                for record in chosen
            ]
    return jobs


def _key(job: Job) -> EpisodeKey:
    return (job.mode, job.episode.record.scenario, job.episode.record.id)


def load_generator(config: EvalConfig) -> Generator:
    assert config.model is not None and config.max_new_tokens is not None
    if config.backend == "vllm":
        return VLLMGenerator(config.model, config.adapter, config.max_new_tokens, config.sampled)
    return load_hf_generator(
        config.model, config.adapter, config.device, config.dtype, config.max_new_tokens, config.sampled
    )


def evaluate(
    config: EvalConfig,
    agent: Agent | None = None,
    generator: Generator | None = None,
    judge: Generator | None = None,
) -> dict[str, Any]:
    """Run (or resume) the episodes of ``config`` into ``config.out`` and write the summary and plots.

    ``agent`` (MCQA) or ``generator`` and ``judge`` (open mode) replace what the config would load;
    tests inject them. Returns the summary.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.sampled:
        set_seed(config.seed)  # ours: the official loop leaves torch unseeded
    records = scenario_records(config)
    jobs = select_episodes(config, records)
    if config.icl and set(config.scenarios) - set(ICL_SCENARIOS):
        shown = ", ".join(SCENARIOS[s].short for s in ICL_SCENARIOS)
        print(
            f"note: --icl: the official in-context examples exist for {shown} only; the other scenarios run without",
            file=sys.stderr,
        )
    run_config = asdict(config)
    run_config[DATA_FINGERPRINT] = {name: records_fingerprint(chosen) for name, chosen in records.items()}
    with RunStore(config.out, run_config, selection={_key(job) for job in jobs}) as store:
        pending = [job for job in jobs if not store.done(_key(job))]
        if pending:
            with tqdm(
                total=len(pending),
                unit="ep",
                desc="episodes",
                disable=not config.progress,
                dynamic_ncols=True,
            ) as bar:
                record = _recorder(store, bar)
                if config.mode == OPEN:
                    generator = generator or load_generator(config)
                    assert config.judge_model is not None
                    assert config.judge_max_new_tokens is not None
                    judge = judge or load_text_generator(
                        config.judge_model,
                        config.device,
                        config.dtype,
                        config.judge_max_new_tokens,
                        config.sampled,
                    )
                    episodes = [job.episode for job in pending]
                    refused = {r.scenario for r in store.results.values() if r.end_reason == REJECTED_IMAGE}
                    run_open_episodes(
                        episodes,
                        generator,
                        judge,
                        config.data,
                        config.hint,
                        config.batch_size,
                        record,
                        refused,
                    )
                else:
                    pool = [r for scenario in config.scenarios for r in records[scenario]]
                    examples = in_context_examples(
                        [job.episode.record for job in pending], pool, config.modes, config.seed
                    )
                    agent = agent or _agent(config, examples)
                    batch_size = resolve_batch_size(config.batch_size, agent, pending)
                    run_episodes(pending, agent, batch_size, config.max_live, record)
        results: list[EpisodeResult] = [store.results[_key(job)] for job in jobs]
    summary = summarize(results, seed=config.seed)
    summary["config"] = run_config
    if set(config.scenarios) != set(SCENARIO_NAMES):
        summary["note"] = (
            f"average over the {len(config.scenarios)} scenario(s) chosen with --scenarios, not all "
            f"{len(SCENARIO_NAMES)} (the paper's average is over all {len(SCENARIO_NAMES)})"
        )
    write_run_report(summary, config.out, run_title(summary["config"]))
    return summary


def resolve_batch_size(
    batch_size: int | str, agent: Agent, pending: list[Job], free_bytes: int | None = None
) -> int:
    """``batch_size``, or for ``auto`` the largest batch that fits the free memory (``free_bytes``, measured on
    the model's device when None) with the longest first-turn prompt of one pending episode per scenario."""
    if batch_size != AUTO:
        return int(batch_size)
    generator = getattr(agent, "generator", None)
    if not isinstance(generator, HFGenerator):  # policies hold no memory; vLLM schedules its own batches
        return MAX_AUTO_BATCH
    first = {job.episode.record.scenario: job.episode for job in reversed(pending)}
    prompts = [
        conversation(
            e, e.state(), agent.data_dir, False, agent.examples.get((e.record.scenario, e.record.id), ())
        )
        for e in first.values()
    ]
    free = free_memory(generator.model.device) if free_bytes is None else free_bytes
    chosen, why = choose_batch_size(generator, prompts, free)
    print(f"proactive eval: --batch-size auto: {chosen} ({why})", file=sys.stderr)
    return chosen


def _recorder(store: RunStore, bar: tqdm) -> Callable[[EpisodeResult], None]:
    """Write each finished episode at once and show the running success rate on the progress bar."""
    counts = {"done": 0, "success": 0}

    def record(result: EpisodeResult) -> None:
        store.append(result)
        counts["done"] += 1
        counts["success"] += result.success
        bar.set_postfix(success=f"{100 * counts['success'] / counts['done']:.1f}%", refresh=False)
        bar.update(1)

    return record


def _agent(config: EvalConfig, examples: Mapping[RecordKey, Sequence[ExampleTurn]]) -> Agent:
    if config.protocol == TOOLS:
        if config.policy is not None:
            return ToolPolicyAgent(config.policy, config.seed)
        return ToolModelAgent(load_generator(config), config.data)
    if config.policy is not None:
        return PolicyAgent(config.policy, config.seed)
    return ModelAgent(load_generator(config), config.data, config.history, examples)


def build_parser() -> argparse.ArgumentParser:
    title, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(prog="proactive eval", description=title, epilog=details)
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--model", help="model folder or hub id (image-text-to-text, processor with a chat template)"
    )
    who.add_argument(
        "--policy", choices=[*BASELINES, "random-category"], help="a baseline that needs no model"
    )
    parser.add_argument("--adapter", help="PEFT LoRA folder applied on top of --model")
    parser.add_argument("--data", required=True, help="benchmark folder (<Name>_preprocessed.jsonl + images)")
    parser.add_argument("--out", required=True, action=OutputFolder, help="run folder (resumed if it exists)")
    parser.add_argument(
        "--scenarios", nargs="+", default=list(SCENARIO_NAMES), help="names or acronyms (default: all seven)"
    )
    parser.add_argument("--mode", choices=[MCQA, OPEN], default=MCQA)
    parser.add_argument(
        "--protocol",
        choices=[MCQA, TOOLS],
        default=MCQA,
        help="tools: interventions are calls of an `intervene` tool returning the next view",
    )
    parser.add_argument("--hint", action="store_true", help="append the scenario's hint to the question")
    parser.add_argument(
        "--history", action="store_true", help="keep earlier turns (and their images) in the conversation"
    )
    parser.add_argument(
        "--reference", action="store_true", help="also score the reference (informative) image"
    )
    parser.add_argument(
        "--random-actions", action="store_true", help="control: accepted options trigger a random action"
    )
    parser.add_argument(
        "--resize", action="store_true", help="official resize_samples: views resized to a 224-px short side"
    )
    parser.add_argument(
        "--icl",
        action="store_true",
        help="official in-context example (ROD, MVP-N): another record's solved episode comes first",
    )
    parser.add_argument(
        "--cot", action="store_true", help="with --icl: the example reasons before asking (official)"
    )
    parser.add_argument(
        "--reduce-icl-steps",
        action="store_true",
        help="with --icl: the example keeps its first and last turns only (official)",
    )
    parser.add_argument("--limit", type=int, help="first N records of each scenario")
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default=DEFAULT_BATCH,
        help=f"turns per generate call (default {DEFAULT_BATCH}), or {AUTO}: the largest batch whose sequences fit in "
        "60%% of the memory free once the model is loaded (GPU; RAM on CPU), at most "
        f"{MAX_AUTO_BATCH}, estimated from the model's shape and the longest first prompt (eval/batching.py); "
        "a batch that still runs out of memory is halved. MCQA without --history only",
    )
    parser.add_argument("--max-live", type=int, help="episodes in flight at once (default: the batch size)")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        help="default: mcqa 50 (official; 256 with --cot, ours), tools 128 (ours), open 32768 (official; "
        "256 with --oeg-decoding ours-greedy)",
    )
    parser.add_argument(
        "--id-filter",
        default="auto",
        help="auto (official unless synthetic), official, none, or a correctness JSONL",
    )
    parser.add_argument(
        "--filter-threshold",
        type=float,
        default=0.25,
        help="with a correctness JSONL: drop ids at least this often right",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-model", help=f"open mode: the judge (default {DEFAULT_JUDGE})")
    parser.add_argument(
        "--judge-max-new-tokens",
        type=int,
        help="default 32768 (official; 2048 with --oeg-decoding ours-greedy)",
    )
    parser.add_argument(
        "--oeg-sample",
        choices=OEG_SAMPLES,
        default=OEG_SAMPLES[0],
        help="open mode: every record (ours, default) or the official 100 per scenario (seed 0, shuffled)",
    )
    parser.add_argument(
        "--oeg-decoding",
        choices=OEG_DECODINGS,
        default=OEG_DECODINGS[0],
        help="open mode: model and judge sample (official, default) or decode greedily (ours)",
    )
    parser.add_argument("--backend", choices=["hf", "vllm"], default="hf")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--device", help="default: cuda if available, else cpu")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (e.g. 1 on a shared machine)")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    return parser


def _batch_size(text: str) -> int | str:
    return AUTO if text == AUTO else int(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    try:
        config = EvalConfig(**args)
    except ValueError as err:
        print(f"proactive eval: {err}", file=sys.stderr)
        return 2
    try:
        summary = evaluate(config)
    except (ConfigMismatchError, ResultFormatError, BenchmarkFormatError, OSError) as err:
        print(f"proactive eval: {err}", file=sys.stderr)
        return 2
    average = summary["average"]
    shown = ", ".join(
        f"{k} {average[k]:g}" for k in ("acc", "psr", "reference_acc", "ps", "cc", "agg") if k in average
    )
    print(f"{config.out}: {shown} over {len(summary['scenarios'])} scenario(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
