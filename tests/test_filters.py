"""The official 7,557-id filter, the threshold filter, and how the loader applies them."""

from __future__ import annotations

import json
import shutil

import pytest

from data.filters import filter_from_correctness, official_filter
from data.records import load_scenario, resolve_id_filter
from data.synth import generate_benchmark


def test_official_filter_holds_the_papers_counts():
    ids = official_filter().ids
    counts = {name: len(v) for name, v in ids.items()}
    assert counts == {
        "Realistic-Occlusion-Dataset": 88,
        "OcclusionDataSet-MM20": 42,
        "MVP-N": 2591,
        "ImageNet-C": 1095,
        "QuickDraw": 2105,
        "ChangeIt": 396,
        "coco2014": 1240,
    }
    assert len(official_filter()) == 7557
    assert official_filter().keeps("MVP-N", 5) and not official_filter().keeps("MVP-N", 6)


def correctness_file(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_threshold_filter_drops_records_enough_models_answer(tmp_path):
    # record 1: 1 of 4 models right (25%); record 2: 0 of 4; record 3: 2 of 4 (50%)
    rows = [
        {"scenario": "QD", "id": rid, "model": f"m{m}", "correct": m < right}
        for rid, right in ((1, 1), (2, 0), (3, 2))
        for m in range(4)
    ]
    path = correctness_file(tmp_path / "c.jsonl", rows)
    assert filter_from_correctness(path, 0.25).ids == {"QuickDraw": frozenset({2})}
    assert filter_from_correctness(path, 0.3).ids == {"QuickDraw": frozenset({1, 2})}
    assert filter_from_correctness(path, 1.01).ids == {"QuickDraw": frozenset({1, 2, 3})}


def test_threshold_filter_bad_line_names_file_line_and_field(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"scenario": "QD", "id": 1, "model": "m", "correct": true}\n\n{"scenario": "QD", "id": "1"}\n'
    )
    with pytest.raises(ValueError, match=rf"{path}:3: field 'id': expected int"):
        filter_from_correctness(path)


def test_loader_applies_the_official_filter_to_official_folders_and_counts_drops(tmp_path):
    generate_benchmark(tmp_path / "synth", per_scenario=8, seed=0, size=56, scenarios=["MVP-N"])
    official = tmp_path / "official"
    official.mkdir()
    shutil.copy(tmp_path / "synth" / "MVP-N_preprocessed.jsonl", official)  # no synthetic marker
    loaded = load_scenario(official, "MVP-N")  # "auto": the official filter
    kept = sorted(r.id for r in loaded.records)
    assert kept == [5]  # of ids 0..7 the official filter keeps only 5
    assert loaded.report.dropped == {"not in official filter": 7}
    assert len(load_scenario(official, "MVP-N", id_filter="none").records) == 8
    assert len(load_scenario(tmp_path / "synth", "MVP-N").records) == 8  # synthetic: unfiltered


def test_resolve_id_filter_refuses_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="expected auto, official, none"):
        resolve_id_filter(tmp_path, "strict")
