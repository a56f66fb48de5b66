"""What one evaluated episode leaves behind: its turns, how it ended, and (open mode) the judge's verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from data.environment import Episode

MCQA = "mcqa"
REFERENCE = "reference"
OPEN = "open"
MODES = (MCQA, REFERENCE, OPEN)

EpisodeKey = tuple[str, str, int]  # mode, scenario, record id


class ResultFormatError(ValueError):
    """An ``episodes.jsonl`` line that is not a valid episode result; the message names file, line, field."""


@dataclass(frozen=True)
class TurnResult:
    """One answered turn: what was shown and offered, the raw answer and how it was parsed."""

    step: int
    image: str
    crop: list[float] | None
    choices: list[str]
    answer: str
    outcome: str
    option: str | None
    category: str | None
    informative: bool | None


@dataclass(frozen=True)
class JudgeResult:
    """Open mode: exactly what the judge was given and wrote, and the verdict read from it."""

    correct_answers: list[str]  # the answer list shown to the judge
    output: str  # the judge's text after its thinking, exactly as the verdict parser read it
    suggestion: int
    category: int
    aggregate: int
    parsed: bool  # False when the output held no 0/1 list of the expected length (scored all zero)
    input_messages: list[dict[str, str]] = field(default_factory=list)  # the judge's chat input
    expected_verdicts: int = 0  # how many 0/1 entries the parser required (the official count)


@dataclass(frozen=True)
class EpisodeResult:
    """One finished episode, as one line of ``episodes.jsonl``."""

    mode: str
    scenario: str
    record_id: int
    success: bool
    end_reason: str
    num_turns: int
    interventions: int
    turns: list[TurnResult]
    judge: JudgeResult | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> EpisodeKey:
        return (self.mode, self.scenario, self.record_id)

    @property
    def proactive_steps(self) -> int:
        """The episode's psr contribution: turns - 1, as the official loop counts it."""
        return self.num_turns - 1

    def to_json(self) -> dict[str, Any]:
        line = asdict(self)
        if self.judge is None:
            del line["judge"]
        if not self.extras:
            del line["extras"]
        return line

    @classmethod
    def from_json(cls, raw: Any, where: str) -> EpisodeResult:
        """Rebuild a result from its decoded JSON line; ``where`` ("file:line") prefixes any error."""
        if not isinstance(raw, dict):
            raise ResultFormatError(f"{where}: expected a JSON object, got {type(raw).__name__}")
        for name, kind in _REQUIRED.items():
            if name not in raw:
                raise ResultFormatError(f"{where}: field {name!r}: missing")
            if not isinstance(raw[name], kind) or (kind is int and isinstance(raw[name], bool)):
                raise ResultFormatError(
                    f"{where}: field {name!r}: expected {kind.__name__}, got {raw[name]!r:.60}"
                )
        if raw["mode"] not in MODES:
            raise ResultFormatError(
                f"{where}: field 'mode': {raw['mode']!r} is not one of {', '.join(MODES)}"
            )
        try:
            turns = [TurnResult(**turn) for turn in raw["turns"]]
            judge = JudgeResult(**raw["judge"]) if raw.get("judge") is not None else None
        except TypeError as err:
            raise ResultFormatError(f"{where}: field 'turns' or 'judge': {err}") from None
        return cls(
            mode=raw["mode"],
            scenario=raw["scenario"],
            record_id=raw["record_id"],
            success=raw["success"],
            end_reason=raw["end_reason"],
            num_turns=raw["num_turns"],
            interventions=raw["interventions"],
            turns=turns,
            judge=judge,
            extras=raw.get("extras", {}),
        )


_REQUIRED: dict[str, type] = {
    "mode": str,
    "scenario": str,
    "record_id": int,
    "success": bool,
    "end_reason": str,
    "num_turns": int,
    "interventions": int,
    "turns": list,
}


def episode_result(mode: str, episode: Episode) -> EpisodeResult:
    """The result of a finished MCQA or reference-image episode."""
    if not episode.done:
        raise ValueError(f"episode {episode.record.scenario}/{episode.record.id} has not ended")
    turns = [
        TurnResult(
            step=turn.state.step,
            image=turn.state.image,
            crop=list(turn.state.crop) if turn.state.crop is not None else None,
            choices=list(turn.state.choices),
            answer=turn.answer,
            outcome=turn.judgement.outcome.value,
            option=turn.judgement.option,
            category=turn.judgement.category,
            informative=turn.state.informative,
        )
        for turn in episode.turns
    ]
    return EpisodeResult(
        mode=mode,
        scenario=episode.record.scenario,
        record_id=episode.record.id,
        success=episode.success,
        end_reason=episode.end_reason or "",
        num_turns=episode.num_turns,
        interventions=episode.interventions,
        turns=turns,
    )
