"""GRPO rewards for ProactiveBench: answer, intervention and format components over one shared parser."""

from reward.cases import CASE_DESCRIPTIONS, Case, classify, completion_text
from reward.episode import episode_reward
from reward.funcs import RewardComponent, RewardWarning, build_reward_funcs, score_completion
from reward.rows import RewardInputError, check_rows
from reward.table import COMPONENT_CASES, case_value, markdown_table, preset_table
from reward.weights import DEFAULT_PRESET, PRESETS, WEIGHT_NAMES, RewardWeights, resolve_weights

__all__ = [
    "CASE_DESCRIPTIONS",
    "COMPONENT_CASES",
    "DEFAULT_PRESET",
    "PRESETS",
    "WEIGHT_NAMES",
    "Case",
    "RewardComponent",
    "RewardInputError",
    "RewardWarning",
    "RewardWeights",
    "build_reward_funcs",
    "case_value",
    "check_rows",
    "classify",
    "completion_text",
    "episode_reward",
    "markdown_table",
    "preset_table",
    "resolve_weights",
    "score_completion",
]
