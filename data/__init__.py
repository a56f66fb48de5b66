"""ProactiveBench data layer: records and loader, episode rules, answer parser, synthetic benchmark,
and the SFT / GRPO dataset builders."""

from data.environment import Episode, Turn, TurnState, make_episode
from data.filters import IdFilter, filter_from_correctness, official_filter
from data.parsing import Judgement, Outcome, judge_answer
from data.records import (
    BenchmarkFormatError,
    ImageNotFoundError,
    LoadReport,
    Record,
    ScenarioData,
    load_benchmark,
    load_scenario,
)
from data.scenarios import SCENARIO_NAMES, SCENARIOS, resolve_scenario

__all__ = [
    "SCENARIOS",
    "SCENARIO_NAMES",
    "BenchmarkFormatError",
    "Episode",
    "IdFilter",
    "ImageNotFoundError",
    "Judgement",
    "LoadReport",
    "Outcome",
    "Record",
    "ScenarioData",
    "Turn",
    "TurnState",
    "filter_from_correctness",
    "judge_answer",
    "load_benchmark",
    "load_scenario",
    "make_episode",
    "official_filter",
    "resolve_scenario",
]
