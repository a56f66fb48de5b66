"""The page of one or more evaluation runs: every episode turn by turn, side by side across runs.

``episodes.jsonl`` records what each turn showed (image, crop, offered choices) and what the model
answered; the question text is not recorded, so the page rebuilds each turn's prompt by replaying the
recorded answers through the episode rules on the run's benchmark records (``config.json`` names the
benchmark folder and the settings that shape prompts: hint, random actions, seed). A replay that departs
from the record (the benchmark changed since the run) is said so on the page, which then shows the
recorded choices only. Fields this module does not know (added to episodes.jsonl later) are shown raw.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from data.environment import OUT_OF_RANGE, STEP_LIMIT, TurnState, make_episode
from data.parsing import Outcome
from data.paths import OutsideFolderError, inside_folder
from data.records import BenchmarkFormatError, Record, load_scenario
from data.scenarios import SCENARIO_NAMES
from eval.open_ended import open_question
from eval.report import short
from eval.results import (
    MCQA,
    MODES,
    OPEN,
    REFERENCE,
    EpisodeKey,
    EpisodeResult,
    JudgeResult,
    TurnResult,
)
from eval.rollout import episode_rng
from eval.store import CONFIG_FILE, EPISODES_FILE, read_episode_lines
from eval.view.page import (
    Facet,
    Field,
    Item,
    Page,
    Tag,
    Thumbnails,
    html_table,
    run_detail,
    turn,
    visible,
    write_page,
)

TAGS: tuple[Tag, ...] = (
    Tag("correct", "correct", "good"),
    Tag("wrong_guess_uninformative", "wrong guess on an uninformative view", "bad"),
    Tag("wrong_guess", "wrong guess on an informative or unlabelled view", "bad"),
    Tag("over_asking", "over-asking (asked on an informative view)", "warn"),
    Tag("step_limit", "step limit", "warn"),
    Tag("abstain", "abstain", "bad"),
    Tag("unparseable", "unparseable", "bad"),
    Tag("invalid_option", "offered option not accepted", "bad"),
    Tag("out_of_range", "random action left the video", "warn"),
    Tag("suggests", "open: suggests an intervention (ps)", "ask"),
    Tag("names_category", "open: names the category (cc)", "good"),
    Tag("neither", "open: neither (agg 0)", "bad"),
    Tag("judge_unparsed", "open: judge output unparsed", "warn"),
)
_END_TAGS = {
    Outcome.CORRECT.value: "correct",
    Outcome.ABSTAINED.value: "abstain",
    Outcome.UNPARSEABLE.value: "unparseable",
    Outcome.INVALID_OPTION.value: "invalid_option",
    STEP_LIMIT: "step_limit",
    OUT_OF_RANGE: "out_of_range",
}
_OUTCOME_TONES = {
    Outcome.CORRECT.value: "good",
    Outcome.INTERVENTION.value: "ask",
}
_EPISODE_FIELDS = frozenset(f.name for f in dataclass_fields(EpisodeResult))
_TURN_FIELDS = frozenset(f.name for f in dataclass_fields(TurnResult))
_JUDGE_FIELDS = frozenset(f.name for f in dataclass_fields(JudgeResult))
_JUDGE_INPUT_KEYS = ("input", "messages", "prompt")  # where a run may record the judge's exact input


class ViewInputError(ValueError):
    """A folder that cannot be shown; the message names the path (and line and field where one is at fault)."""


# --- what an episode did ------------------------------------------------------------------------------
def episode_tags(result: EpisodeResult) -> list[str]:
    """The outcome filter's values for one episode: how it ended, plus "over_asking" when it asked for an
    intervention on a view known to be informative. Open mode: the judge's verdicts."""
    if result.mode == OPEN:
        judge = result.judge
        if judge is None:
            return ["judge_unparsed"]
        tags = [] if judge.parsed else ["judge_unparsed"]
        tags += ["suggests"] if judge.suggestion else []
        tags += ["names_category"] if judge.category else []
        return tags + ([] if judge.aggregate else ["neither"])
    if result.end_reason == Outcome.WRONG_CATEGORY.value:
        last = result.turns[-1] if result.turns else None
        uninformative = last is not None and last.informative is False
        tags = ["wrong_guess_uninformative" if uninformative else "wrong_guess"]
    else:
        tags = [_END_TAGS.get(result.end_reason, f"end:{result.end_reason}")]
    if any(t.outcome == Outcome.INTERVENTION.value and t.informative is True for t in result.turns):
        tags.append("over_asking")
    return tags


def trajectory(result: EpisodeResult) -> tuple[Any, ...]:
    """What two runs are compared on for "where they differ": each turn's outcome and the ending
    (open mode: the judge's verdicts)."""
    if result.mode == OPEN:
        judge = result.judge
        return (judge.suggestion, judge.category, judge.parsed) if judge else (None,)
    return (result.end_reason, *(t.outcome for t in result.turns))


# --- reading runs -------------------------------------------------------------------------------------
@dataclass
class EvalRun:
    """One ``proactive eval`` run folder: its configuration and its episodes (typed and as written)."""

    label: str
    folder: Path
    config: dict[str, Any]
    results: dict[EpisodeKey, EpisodeResult] = field(default_factory=dict)
    lines: dict[EpisodeKey, dict[str, Any]] = field(default_factory=dict)


def read_eval_run(folder: str | Path, label: str) -> EvalRun:
    folder = Path(folder)
    path = folder / EPISODES_FILE
    if not path.is_file():
        raise ViewInputError(f"{path}: not found; RUN_DIR must be a 'proactive eval' run folder")
    config: dict[str, Any] = {}
    if (folder / CONFIG_FILE).is_file():
        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ViewInputError(f"{folder / CONFIG_FILE}:{err.lineno}: invalid JSON ({err.msg})") from None
    run = EvalRun(label, folder, config)
    for where, raw in read_episode_lines(folder):
        result = EpisodeResult.from_json(_known_fields(raw), where)
        run.results[result.key] = result
        run.lines[result.key] = raw
    return run


def _known_fields(raw: Any) -> Any:
    """``raw`` without the fields EpisodeResult does not know (newer runs may record more); the page
    shows those from the raw line."""
    if not isinstance(raw, dict):
        return raw
    known = {k: v for k, v in raw.items() if k in _EPISODE_FIELDS}
    if isinstance(raw.get("turns"), list):
        known["turns"] = [_only(turn, _TURN_FIELDS) for turn in raw["turns"]]
    if isinstance(raw.get("judge"), dict):
        known["judge"] = _only(raw["judge"], _JUDGE_FIELDS)
    return known


def _only(value: Any, names: frozenset[str]) -> Any:
    return {k: v for k, v in value.items() if k in names} if isinstance(value, dict) else value


class Benchmark:
    """Records of a benchmark folder, loaded per scenario when first asked (None where it is missing)."""

    def __init__(self, folder: str | Path | None, label: str | None = None) -> None:
        self.folder = Path(folder) if folder else None
        self.label = label or str(self.folder or "unknown")  # how the page names the folder
        self._records: dict[str, dict[int, Record]] = {}
        self.problems: list[str] = []

    @property
    def available(self) -> bool:
        return self.folder is not None and self.folder.is_dir()

    def record(self, scenario: str, record_id: int) -> Record | None:
        if not self.available:
            return None
        if scenario not in self._records:
            try:
                data = load_scenario(self.folder, scenario, id_filter="none")
                self._records[scenario] = {r.id: r for r in data.records}
            except (FileNotFoundError, BenchmarkFormatError, ValueError) as err:
                self.problems.append(str(err))
                self._records[scenario] = {}
        return self._records[scenario].get(record_id)


def replay(result: EpisodeResult, record: Record, config: dict[str, Any]) -> tuple[list[TurnState], str]:
    """The states the episode's turns showed, rebuilt by replaying its recorded answers; and a note when
    the replay departs from the record (then only the states before the departure are returned)."""
    random_actions = bool(config.get("random_actions")) and result.mode == MCQA
    rng = episode_rng(int(config.get("seed", 0)), record.scenario, record.id) if random_actions else None
    hint = bool(config.get("hint")) and result.mode != OPEN  # open mode appends its own hint to the question
    episode = make_episode(record, hint=hint, reference=result.mode == REFERENCE, rng=rng)
    states: list[TurnState] = []
    for recorded in result.turns:
        if episode.done:
            return states, "the episode rules end the episode earlier than recorded"
        state = episode.state()
        offered = [] if result.mode == OPEN else list(state.choices)
        if state.image != recorded.image or offered != list(recorded.choices):
            return states, (
                f"turn {recorded.step + 1}: the benchmark shows {state.image!r} with other choices than "
                f"recorded ({recorded.image!r}); was it regenerated since the run?"
            )
        states.append(state)
        if result.mode != OPEN:
            try:
                episode.step(recorded.answer)
            except ValueError as err:  # a record whose options no longer match the scenario's rules
                return states, f"turn {recorded.step + 1}: {err}"
    return states, ""


# --- one episode on the page --------------------------------------------------------------------------
def _lettered(choices: Sequence[str]) -> str:
    return "\n".join(f"{chr(65 + i)}. {choice}" for i, choice in enumerate(choices))


def _parsed_as(outcome: str, option: str | None, category: str | None) -> str:
    chosen = [f"option {option!r}"] if option else []
    chosen += [f"category {category!r}"] if category else []
    return outcome + (f" ({', '.join(chosen)})" if chosen else "")


def _informative_text(informative: bool | None) -> str:
    return {True: "informative view", False: "uninformative view"}.get(informative, "view not labelled")


def _raw(label: str, value: Any) -> Field:
    return (label, json.dumps(value, ensure_ascii=False, indent=1), "details")


def _judge_fields(result: EpisodeResult, raw_judge: dict[str, Any]) -> list[Field]:
    judge = result.judge
    assert judge is not None
    verdict = f"ps {judge.suggestion} · cc {judge.category} · agg {judge.aggregate}" + (
        "" if judge.parsed else " (no 0/1 list found in the judge's output: scored 0)"
    )
    fields: list[Field] = [
        ("judge verdict", verdict, "text"),
        ("reference answers", "\n".join(judge.correct_answers), "pre"),
    ]
    recorded_input = judge.input_messages or next(
        (raw_judge[k] for k in _JUDGE_INPUT_KEYS if k in raw_judge), None
    )
    fields.append(
        ("judge input", _as_text(recorded_input) if recorded_input else "(not recorded)", "details")
    )
    fields.append(("judge output", judge.output, "details"))
    shown = _JUDGE_FIELDS | set(_JUDGE_INPUT_KEYS)
    fields += [_raw(f"judge {k}", v) for k, v in raw_judge.items() if k not in shown]
    return fields


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return "\n\n".join(f"[{m.get('role', '?')}]\n{_as_text(m['content'])}" for m in value)
    return json.dumps(value, ensure_ascii=False, indent=1)


def episode_detail(
    run: EvalRun, key: EpisodeKey, benchmark: Benchmark, thumbs: Thumbnails
) -> dict[str, Any] | None:
    """One run's column of an episode card (None when the run lacks the episode)."""
    result = run.results.get(key)
    if result is None:
        return None
    raw = run.lines[key]
    record = benchmark.record(result.scenario, result.record_id)
    states, departure = replay(result, record, run.config) if record is not None else ([], "")
    notes: list[Field] = []
    if record is not None:
        notes.append(("ground truth", record.answer, "text"))
    elif benchmark.available:
        notes.append(("benchmark", f"record {result.record_id} not found in {benchmark.label}", "text"))
    if departure:
        notes.append(("replay", departure, "text"))
    notes += [_raw(k, v) for k, v in raw.items() if k not in _EPISODE_FIELDS]
    notes += [_raw(f"extras.{k}", v) for k, v in result.extras.items()]
    turns = []
    for index, recorded in enumerate(result.turns):
        state = states[index] if index < len(states) else None
        image = None
        if benchmark.folder is not None:
            try:  # a path from the run folder is opened only inside the benchmark folder
                image = thumbs.of_file(Path(inside_folder(benchmark.folder, recorded.image)), recorded.crop)
            except OutsideFolderError:
                image = None
        view = recorded.image + (f" crop {[round(x, 1) for x in recorded.crop]}" if recorded.crop else "")
        caption = f"turn {recorded.step + 1} · {_informative_text(recorded.informative)} · {view}"
        fields: list[Field] = []
        if result.mode == OPEN:
            question = open_question(state, bool(run.config.get("hint"))) if state else None
            fields.append(("question", question or "(not rebuilt: benchmark record unavailable)", "pre"))
        elif state is not None:
            fields.append(("prompt", state.prompt, "pre"))
            accepted = [*state.accepted_options, *state.accepted_categories]
            fields.append(("accepted now", " | ".join(accepted) or "nothing", "text"))
        else:
            fields.append(("offered (prompt not rebuilt)", _lettered(recorded.choices), "pre"))
        fields.append(("answer", visible(recorded.answer), "pre"))
        if result.mode == OPEN:
            raw_judge = raw.get("judge") or {}
            if result.judge is not None:
                fields += _judge_fields(result, raw_judge)
            badge = "judged"
            tone = "good" if result.judge is not None and result.judge.aggregate else "bad"
        else:
            fields.append(
                ("parsed as", _parsed_as(recorded.outcome, recorded.option, recorded.category), "text")
            )
            badge = recorded.outcome
            tone = _OUTCOME_TONES.get(recorded.outcome, "bad")
        raw_turn = raw["turns"][index]
        fields += [_raw(k, v) for k, v in raw_turn.items() if k not in _TURN_FIELDS]
        turns.append(turn(image, caption, fields, badge, tone))
    ending = "success" if result.success else "failure"
    head = (
        f"{result.mode}: ended {result.end_reason} ({ending}) after {result.num_turns} turn(s), "
        f"{result.interventions} intervention(s)"
    )
    return run_detail(head, turns, notes)


# --- the page ---------------------------------------------------------------------------------------------
def _order(keys: set[EpisodeKey]) -> list[EpisodeKey]:
    rank = {name: i for i, name in enumerate(SCENARIO_NAMES)}
    return sorted(keys, key=lambda k: (rank.get(k[1], len(rank)), k[1], MODES.index(k[0]), k[2]))


def _describe(run: EvalRun) -> str:
    config = run.config
    who = config.get("policy") or config.get("model") or "?"
    if config.get("adapter"):
        who += f" + {config['adapter']}"
    flags = [name for name in ("hint", "history", "reference", "random_actions") if config.get(name)]
    return f"{run.label}: {who}; {len(run.results)} episodes from {run.folder}" + (
        f"; {', '.join(flags)}" if flags else ""
    )


def eval_page(
    runs: Sequence[EvalRun],
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    title: str | None = None,
    data_label: str | None = None,
) -> Page:
    """The page of ``runs`` (one run, or several compared episode by episode), thumbnails written to
    ``out_dir``. ``data_dir`` replaces the benchmark folder the runs' configs name; ``data_label`` is how
    the page names it (default: its path)."""
    folders = {str(data_dir)} if data_dir else {r.config.get("data") for r in runs} - {None}
    if len(folders) > 1:
        raise ViewInputError(
            f"the runs used different benchmark folders ({', '.join(sorted(folders))}); compare runs of one "
            "benchmark, or pass --data to show them against one"
        )
    benchmark = Benchmark(next(iter(folders), None), data_label)
    if not benchmark.available:
        where = (
            f"benchmark folder {benchmark.folder} not found" if benchmark.folder else "no benchmark folder"
        )
        print(
            f"proactive view: {where}; the page shows the recorded answers and choices without images or "
            "rebuilt prompts (pass --data BENCHMARK_DIR)",
            file=sys.stderr,
        )
    thumbs = Thumbnails(out_dir)
    keys = _order({key for run in runs for key in run.results})
    items = []
    counts = {run.label: Counter() for run in runs}
    for key in keys:
        per_run = [run.results.get(key) for run in runs]
        tags = [episode_tags(r) if r is not None else [] for r in per_run]
        for run, run_tags in zip(runs, tags, strict=True):
            counts[run.label].update(run_tags)
        trajectories = {trajectory(r) if r is not None else None for r in per_run}
        mode, scenario, record_id = key
        items.append(
            Item(
                title=f"{short(scenario)} #{record_id}",
                facets=(short(scenario), mode),
                tags=tags,
                differ=len(runs) > 1 and len(trajectories) > 1,
                detail={"runs": [episode_detail(run, key, benchmark, thumbs) for run in runs]},
            )
        )
    _warn_missing(benchmark, thumbs)
    used = {t for item in items for run_tags in item.tags for t in run_tags}
    tags_shown = [t for t in TAGS if t.id in used] + [
        Tag(t, t, "warn") for t in sorted(used - {t.id for t in TAGS})
    ]
    scenarios = tuple(dict.fromkeys(short(k[1]) for k in keys))
    modes = tuple(m for m in MODES if any(k[0] == m for k in keys))
    summary = html_table(
        ["run", "episodes", *(t.label for t in tags_shown)],
        [[run.label, len(run.results), *(counts[run.label][t.id] for t in tags_shown)] for run in runs],
    )
    labels = ", ".join(run.label for run in runs)
    return Page(
        title=title or f"ProactiveBench episodes: {labels}",
        subtitle=f"{len(keys)} episodes; runs: {labels}; benchmark: {benchmark.label}",
        runs=[run.label for run in runs],
        facets=[Facet("scenario", "scenario", scenarios), Facet("mode", "mode", modes)],
        tags=tags_shown,
        items=items,
        summary_html=summary,
        about="\n".join(_describe(run) for run in runs)
        + "\n\n"
        + "\n\n".join(f"{run.label} config.json:\n{json.dumps(run.config, indent=1)}" for run in runs),
        extra={"counts": {label: dict(c) for label, c in counts.items()}},
    )


def _warn_missing(benchmark: Benchmark, thumbs: Thumbnails) -> None:
    for problem in benchmark.problems:
        print(f"proactive view: {problem}", file=sys.stderr)
    if thumbs.missing:
        print(
            f"proactive view: {len(thumbs.missing)} image(s) not found (first: {thumbs.missing[0]}); "
            "those turns show no image",
            file=sys.stderr,
        )


def write_eval_view(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    labels: Sequence[str],
    data_dir: str | Path | None = None,
    title: str | None = None,
) -> Path:
    """Write the page of the eval runs in ``run_dirs`` (labelled ``labels``) into ``out_dir``; returns the
    path of its index.html."""
    if len(set(labels)) != len(labels) or len(labels) != len(run_dirs):
        raise ViewInputError(
            f"{len(labels)} labels for {len(run_dirs)} runs; give one distinct label per run"
        )
    runs = [read_eval_run(folder, label) for folder, label in zip(run_dirs, labels, strict=True)]
    return write_page(eval_page(runs, out_dir, data_dir, title), out_dir)
