"""The page of a GRPO run's sampled completions, logging step by logging step.

With ``log_completions: true`` TRL's GRPOTrainer writes, at every logging step, the last generation
batch to ``OUTPUT_DIR/completions/completions_<step>.parquet``: prompts (images stripped), completions,
one column per reward function, the advantages and the ``log_extra`` columns our reward adds
(``reward_case``, and the row's ``scenario``, ``record_id``, ``turn``, ``informative``). TRL keeps the
prompt images for wandb / trackio only; ``proactive.view.callback.CompletionImages`` saves them beside
the parquet files (``completions/images/``, one JSON list per logging step naming each row's images).
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from eval.report import short
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
)
from reward.cases import CASE_DESCRIPTIONS, Case, completion_text
from reward.funcs import CASE_COLUMN

COMPLETIONS_DIR = "completions"
IMAGES_DIR = f"{COMPLETIONS_DIR}/images"
TRL_COLUMNS = frozenset(("step", "prompt", "completion", "advantage"))

_CASE_TONES = {Case.CORRECT: "good", Case.USEFUL_INTERVENTION: "ask", Case.OVER_ASKING: "warn"}
NO_SIGNAL = Tag("no_signal", "no signal (every completion scored alike)", "warn")


def images_index_path(output_dir: str | Path, step: int) -> Path:
    return Path(output_dir) / IMAGES_DIR / f"images_{step:05d}.json"


# --- reading ----------------------------------------------------------------------------------------
@dataclass
class Sample:
    """One logged completion."""

    step: int
    prompt: str
    completion: str
    rewards: dict[str, float | None]
    total: float
    advantage: float | None
    extras: dict[str, Any]
    images: list[Path] = field(default_factory=list)

    @property
    def case(self) -> str | None:
        value = self.extras.get(CASE_COLUMN)
        return str(value) if value is not None else None


def has_samples(folder: str | Path) -> bool:
    return any((Path(folder) / COMPLETIONS_DIR).glob("completions_*.parquet"))


def _messages_text(messages: Any) -> str:
    """The text of a logged prompt: each message's role and text, its images shown as [image]."""
    if not isinstance(messages, list):
        return completion_text(messages)
    parts = []
    for message in messages:
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        images = sum(isinstance(b, dict) and b.get("type") == "image" for b in blocks)
        parts.append(f"[{message.get('role', '?')}] " + "[image] " * images + completion_text(message))
    return "\n\n".join(parts)


def reward_weights(output_dir: Path, names: Sequence[str]) -> list[float]:
    """The run's ``reward_weights`` (resolved_config.yaml), or 1 for every reward function."""
    path = output_dir / "resolved_config.yaml"
    if path.is_file():
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        weights = (config.get("training_args") or {}).get("reward_weights")
        if weights and len(weights) == len(names):
            return [float(w) for w in weights]
    return [1.0] * len(names)


def read_samples(output_dir: str | Path) -> tuple[list[Sample], list[str]]:
    """Every logged completion of a GRPO output folder, in step order, and the reward functions' names."""
    folder = Path(output_dir)
    paths = sorted((folder / COMPLETIONS_DIR).glob("completions_*.parquet"))
    if not paths:
        raise FileNotFoundError(
            f"{folder / COMPLETIONS_DIR}: no completions_*.parquet; train with log_completions: true"
        )
    samples: list[Sample] = []
    names: list[str] = []
    for path in paths:
        table = pq.read_table(path)
        rewards = [f.name for f in table.schema if pa.types.is_floating(f.type) and f.name not in TRL_COLUMNS]
        names = names or rewards
        weights = reward_weights(folder, rewards)
        rows = table.to_pylist()
        steps = {row["step"] for row in rows}
        images = _row_images(folder, steps.pop() if len(steps) == 1 else None, len(rows), path)
        for index, row in enumerate(rows):
            values = {name: _number(row[name]) for name in rewards}
            total = sum(w * v for w, v in zip(weights, values.values(), strict=True) if v is not None)
            extras = {k: v for k, v in row.items() if k not in TRL_COLUMNS and k not in values}
            samples.append(
                Sample(
                    step=int(row["step"]),
                    prompt=_messages_text(row["prompt"]),
                    completion=completion_text(row["completion"]),
                    rewards=values,
                    total=total,
                    advantage=_number(row.get("advantage")),
                    extras=extras,
                    images=images[index],
                )
            )
    return samples, names


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _row_images(folder: Path, step: int | None, rows: int, parquet: Path) -> list[list[Path]]:
    path = images_index_path(folder, step) if step is not None else None
    if path is None or not path.is_file():
        return [[] for _ in range(rows)]
    names = json.loads(path.read_text(encoding="utf-8"))
    if len(names) != rows:
        print(
            f"proactive view: {path}: {len(names)} rows for {rows} in {parquet}; images left out",
            file=sys.stderr,
        )
        return [[] for _ in range(rows)]
    return [[path.parent / name for name in row] for row in names]


# --- the page ---------------------------------------------------------------------------------------
def _groups(samples: Sequence[Sample]) -> list[list[Sample]]:
    """Consecutive completions of one prompt at one step (TRL logs a prompt's generations together)."""
    groups: list[list[Sample]] = []
    for sample in samples:
        last = groups[-1][0] if groups else None
        if last is not None and (last.step, last.prompt, last.images) == (
            sample.step,
            sample.prompt,
            sample.images,
        ):
            groups[-1].append(sample)
        else:
            groups.append([sample])
    return groups


def _case_tag(case: str) -> Tag:
    known = {c.value: c for c in Case}
    tone = _CASE_TONES.get(known[case], "bad") if case in known else "warn"
    return Tag(case, case.replace("_", " "), tone)


def _reward_text(sample: Sample) -> str:
    parts = ", ".join(
        f"{name} {value:+.2f}" if value is not None else f"{name} –" for name, value in sample.rewards.items()
    )
    return f"total {sample.total:+.2f} ({parts})"


def _group_item(group: list[Sample], thumbs: Thumbnails) -> Item:
    first = group[0]
    extras = first.extras
    scenario = short(str(extras["scenario"])) if extras.get("scenario") else "?"
    where = f"{scenario} #{extras['record_id']}" if extras.get("record_id") is not None else scenario
    if extras.get("turn") is not None:
        where += f" turn {int(extras['turn']) + 1}"
    informative = extras.get("informative")
    view = {True: "informative view", False: "uninformative view"}.get(informative, "view not labelled")
    image = thumbs.of_file(first.images[0]) if first.images else None
    turns = [turn(image, f"prompt · {view}", [("prompt", first.prompt, "pre")])]
    for number, sample in enumerate(group, start=1):
        advantage = "–" if sample.advantage is None else f"{sample.advantage:+.3f}"
        fields: list[Field] = [
            ("completion", visible(sample.completion), "pre"),
            ("reward", f"{_reward_text(sample)}; advantage {advantage}", "text"),
        ]
        case = sample.case or "?"
        described = CASE_DESCRIPTIONS.get(Case(case)) if case in {c.value for c in Case} else None
        caption = f"completion {number}" + (f": {described}" if described else "")
        turns.append(turn(None, caption, fields, case, _case_tag(case).tone, show_image=False))
    totals = [s.total for s in group]
    mean = sum(totals) / len(totals)
    head = f"step {first.step}: {len(group)} completion(s), mean reward {mean:+.2f}, min {min(totals):+.2f}, max {max(totals):+.2f}"
    tags = sorted({s.case or "?" for s in group}) + (
        [NO_SIGNAL.id] if len(group) > 1 and len(set(totals)) == 1 else []
    )
    return Item(
        title=f"step {first.step} · {where}",
        facets=(scenario, str(first.step)),
        tags=[tags],
        differ=False,
        detail={"runs": [run_detail(head, turns)]},
    )


def samples_page(output_dir: str | Path, out_dir: str | Path, title: str | None = None) -> Page:
    """The page of a GRPO output folder's logged completions, thumbnails written to ``out_dir``."""
    folder = Path(output_dir)
    samples, names = read_samples(folder)
    thumbs = Thumbnails(out_dir)
    groups = _groups(samples)
    items = [_group_item(group, thumbs) for group in groups]
    cases = [c.value for c in Case] + sorted({s.case or "?" for s in samples} - {c.value for c in Case})
    present = {t for item in items for t in item.tags[0]}
    tags = [_case_tag(c) for c in cases if c in present] + ([NO_SIGNAL] if NO_SIGNAL.id in present else [])
    steps = sorted({s.step for s in samples})
    by_step: dict[int, list[Sample]] = {step: [] for step in steps}
    for sample in samples:
        by_step[sample.step].append(sample)
    shown_cases = [c for c in cases if any(s.case == c for s in samples)]
    rows = []
    for step, logged in by_step.items():
        counts = Counter(s.case for s in logged)
        mean = sum(s.total for s in logged) / len(logged)
        rows.append(
            [
                step,
                len(logged),
                f"{mean:+.2f}",
                *(f"{100 * counts[c] / len(logged):.0f}" for c in shown_cases),
            ]
        )
    summary = (
        "<p>Each logging step's last generation batch: the share of completions per reward case (%).</p>"
    )
    summary += html_table(["step", "completions", "mean reward", *shown_cases], rows)
    scenarios = tuple(dict.fromkeys(item.facets[0] for item in items))
    config = folder / "resolved_config.yaml"
    return Page(
        title=title or f"GRPO samples: {folder.name}",
        subtitle=f"{len(samples)} completions of {len(groups)} prompts over {len(steps)} logging steps; "
        f"reward functions: {', '.join(names)}; from {folder}",
        runs=[folder.name],
        facets=[Facet("scenario", "scenario", scenarios), Facet("step", "step", tuple(map(str, steps)))],
        tags=tags,
        items=items,
        tag_label="reward case",
        item_noun="prompts",
        summary_html=summary,
        about=config.read_text(encoding="utf-8") if config.is_file() else "",
        extra={"completions": len(samples)},
    )
