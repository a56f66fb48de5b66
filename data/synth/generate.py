"""Write the synthetic ProactiveBench: seven scenario files in the official format, their images, the
``<Name>_informative.json`` sidecars and, last, the ``synthetic.json`` marker (the stamp of a cached stage,
data/stage.py: it holds the generator's arguments).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from data.environment import image_path_for, make_episode, reachable_states
from data.policies import oracle, run_policy
from data.records import SYNTHETIC_MARKER, Record, informative_path, parse_record, scenario_path
from data.scenarios import SCENARIO_NAMES, resolve_scenario
from data.stage import Stage
from data.synth import changeit, coco, inc, mvpn, quickdraw, rod, vsod
from data.synth.drawing import Box
from data.synth.sample import Sample

GENERATOR = "proactive-recipes synthetic ProactiveBench"
MAKERS: dict[str, Callable[[int, random.Random, int], Sample]] = {
    rod.NAME: rod.make_sample,
    vsod.NAME: vsod.make_sample,
    mvpn.NAME: mvpn.make_sample,
    inc.NAME: inc.make_sample,
    quickdraw.NAME: quickdraw.make_sample,
    changeit.NAME: changeit.make_sample,
    coco.NAME: coco.make_sample,
}
WEAK_OCCLUSION_EVERY = 9  # VSOD: one weak-occlusion record (dropped by the loader) per this many kept ones
PNG_COMPRESS_LEVEL = 1
MIN_SIZE = 32  # the smallest image side the drawings fit in


class GeneratorError(RuntimeError):
    """A generated record breaks its own ground truth (a bug in the generator, never in the input)."""


def reachable_views(record: Record) -> dict[str, tuple[str, Box | None]]:
    """Every view (key -> image, crop) an episode of ``record`` can show, plus its reference view."""
    views = {state.view_key: (state.image, state.crop) for state in reachable_states(record)}
    reference = make_episode(record, reference=True).state()
    views[reference.view_key] = (reference.image, reference.crop)
    return views


def _check(
    record: Record, informative: list[str], rendered: set[str], views: dict[str, tuple[str, Box | None]]
) -> int:
    """Raise :class:`GeneratorError` unless the record plays as designed; return the oracle's turns."""
    where = f"{record.scenario} record {record.id}"
    missing = sorted({image for image, _ in views.values()} - rendered)
    if missing:
        raise GeneratorError(f"{where}: views without an image: {missing}")
    labelled = replace(record, informative_views=frozenset(informative))
    if make_episode(labelled).state().informative:
        raise GeneratorError(f"{where}: the first view already shows the object")
    if not make_episode(labelled, reference=True).state().informative:
        raise GeneratorError(f"{where}: the reference view does not show the object")
    episode = run_policy(make_episode(labelled), oracle)
    if not episode.success:
        raise GeneratorError(
            f"{where}: the oracle fails ({episode.end_reason} after {episode.num_turns} turns)"
        )
    return episode.num_turns


def _strong_flags(scenario: str, per_scenario: int, seed: int) -> list[bool]:
    """Per line: whether the record is kept by the loader. VSOD mixes in weak occlusions (false)."""
    if scenario != vsod.NAME:
        return [True] * per_scenario
    weak = per_scenario // WEAK_OCCLUSION_EVERY + 1
    flags = [True] * per_scenario + [False] * weak
    random.Random(f"{seed}:{scenario}:weak").shuffle(flags)
    return flags


def generate_scenario(
    out_dir: Path, scenario: str, per_scenario: int, seed: int, size: int
) -> dict[str, Any]:
    """Write one scenario's JSONL file, images and sidecar; return its summary row."""
    path = scenario_path(out_dir, scenario)
    sidecar: dict[str, list[str]] = {}
    made_dirs: set[Path] = set()
    categories: set[str] = set()
    images = turns = kept = 0
    flags = _strong_flags(scenario, per_scenario, seed)
    with open(path, "w", encoding="utf-8") as handle:
        for index, strong in enumerate(flags):
            rng = random.Random(f"{seed}:{scenario}:{index}")
            sample = (
                vsod.make_sample(index, rng, size, strong)
                if scenario == vsod.NAME
                else MAKERS[scenario](index, rng, size)
            )
            record = parse_record(scenario, sample.line, f"{path}:{index + 1}")
            rendered = set()
            for image in sorted(image_path_for(record)):
                if image not in sample.views:
                    raise GeneratorError(f"{scenario} record {index}: no picture for {image}")
                target = out_dir / image
                if target.parent not in made_dirs:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    made_dirs.add(target.parent)
                sample.render(image).save(target, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
                rendered.add(image)
            views = reachable_views(record)
            informative = sorted(
                key for key, (image, crop) in views.items() if sample.shows_object(image, crop)
            )
            turns += _check(record, informative, rendered, views)
            sidecar[str(index)] = informative
            handle.write(json.dumps(sample.line) + "\n")
            images += len(rendered)
            kept += strong
            categories.update(record.categories)
    informative_path(out_dir, scenario).write_text(json.dumps(sidecar, indent=0) + "\n", encoding="utf-8")
    return {
        "records": len(flags),
        "kept": kept,
        "images": images,
        "categories": sorted(categories),
        "oracle_turns": turns / len(flags),
    }


def benchmark_stage(
    out_dir: str | Path,
    per_scenario: int,
    seed: int = 0,
    size: int = 112,
    scenarios: Iterable[str] | None = None,
) -> Stage:
    """The synthetic benchmark in ``out_dir`` as a cached stage: done when ``synthetic.json`` holds these
    arguments (callers that reuse a finished benchmark ask ``.done()``)."""
    info = {
        "generator": GENERATOR,
        "per_scenario": per_scenario,
        "seed": seed,
        "size": size,
        "scenarios": [resolve_scenario(s) for s in (scenarios or SCENARIO_NAMES)],
    }
    return Stage(Path(out_dir), info, SYNTHETIC_MARKER)


def generate_benchmark(
    out_dir: str | Path,
    per_scenario: int,
    seed: int = 0,
    size: int = 112,
    scenarios: Iterable[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Write a synthetic benchmark with ``per_scenario`` kept records per scenario into ``out_dir``.

    Same arguments, same bytes: every record draws from its own seeded generator. ``size`` is the side
    of the square PNG images (COCO scenes are twice as large). Returns, per scenario, the records
    written and kept by the loader, the images written, the categories used and the oracle's mean
    number of turns. The folder is rebuilt from empty by the stage rule (data/stage.py): the
    ``synthetic.json`` marker is written last, so a folder with it is complete, and ``synthetic.unfinished``
    claims the folder meanwhile, so an interrupted run is redone in place. A non-empty folder with neither
    (maybe the official benchmark) is refused.
    """
    if per_scenario < 1:
        raise ValueError(f"per_scenario must be at least 1, got {per_scenario}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} pixels, got {size}")
    stage = benchmark_stage(out_dir, per_scenario, seed, size, scenarios)
    out = stage.begin()
    summary = {
        name: generate_scenario(out, name, per_scenario, seed, size) for name in stage.key["scenarios"]
    }
    stage.finish()
    return summary
