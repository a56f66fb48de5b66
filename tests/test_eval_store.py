"""The run folder: append-only episodes, half-written lines after a kill, config checks on resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.results import MCQA, EpisodeResult, ResultFormatError, TurnResult
from eval.store import ConfigMismatchError, RunStore, read_episodes, read_summary
from eval.view.episodes import read_eval_run

CONFIG = {"data": "/bench", "model": None, "policy": "oracle", "seed": 0, "limit": 3, "batch_size": 8}


def result(record_id: int) -> EpisodeResult:
    turn = TurnResult(
        0, "img/0.png", None, ["I cannot tell.", "cat", "dog"], "B", "correct", None, "cat", True
    )
    return EpisodeResult(MCQA, "QuickDraw", record_id, True, "correct", 1, 0, [turn])


def test_results_round_trip_and_resume(tmp_path: Path) -> None:
    with RunStore(tmp_path, CONFIG) as store:
        store.append(result(1))
        store.append(result(2))
        with pytest.raises(ValueError, match="already recorded"):
            store.append(result(1))
    lines = (tmp_path / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["record_id"] == 1
    reopened = RunStore(
        tmp_path, {**CONFIG, "limit": 10, "batch_size": 1}
    )  # non-identity settings may change
    assert set(reopened.results) == {(MCQA, "QuickDraw", 1), (MCQA, "QuickDraw", 2)}
    assert reopened.results[(MCQA, "QuickDraw", 1)] == result(1)


def test_half_written_last_line_is_dropped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with RunStore(tmp_path, CONFIG) as store:
        store.append(result(1))
    path = tmp_path / "episodes.jsonl"
    path.write_text(path.read_text() + json.dumps(result(2).to_json())[:40])  # killed mid-write
    store = RunStore(tmp_path, CONFIG)
    assert set(store.results) == {(MCQA, "QuickDraw", 1)}
    assert "half-written" in capsys.readouterr().err
    store.append(result(2))
    store.close()
    assert [json.loads(line)["record_id"] for line in path.read_text().splitlines()] == [1, 2]


def test_refuses_another_configuration(tmp_path: Path) -> None:
    RunStore(tmp_path, CONFIG).close()
    with pytest.raises(ConfigMismatchError, match=r"policy: 'oracle' there, 'random' now"):
        RunStore(tmp_path, {**CONFIG, "policy": "random"})


def test_corrupt_lines_name_file_line_and_field(tmp_path: Path) -> None:
    RunStore(tmp_path, CONFIG).close()
    path = tmp_path / "episodes.jsonl"
    good = json.dumps(result(1).to_json())
    path.write_text(good + "\n" + "{not json\n")
    with pytest.raises(ResultFormatError, match=r"episodes.jsonl:2: invalid JSON"):
        RunStore(tmp_path, CONFIG)
    broken = result(2).to_json()
    del broken["success"]
    path.write_text(good + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(ResultFormatError, match=r"episodes.jsonl:2: field 'success': missing"):
        RunStore(tmp_path, CONFIG)
    path.write_text(good + "\n" + good + "\n")
    with pytest.raises(ResultFormatError, match=r"episodes.jsonl:2: episode .* already recorded"):
        RunStore(tmp_path, CONFIG)


def test_readers_leave_out_a_half_written_last_line_without_touching_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RunStore(tmp_path, CONFIG) as store:
        store.append(result(1))
    path = tmp_path / "episodes.jsonl"
    written = path.read_text() + json.dumps(result(2).to_json())[:40]  # a run still writing, or killed
    path.write_text(written)
    assert read_episodes(tmp_path) == [result(1)]
    assert "leaving out a half-written last line" in capsys.readouterr().err
    assert path.read_text() == written  # readers never cut: only the run that resumes does
    assert list(read_eval_run(tmp_path, "run").results) == [result(1).key]  # the episode viewer's reader
    path.write_text(written[: written.index("\n") + 1] * 2)
    with pytest.raises(ResultFormatError, match=r"episodes.jsonl:2: episode .* already recorded"):
        read_episodes(tmp_path)


def test_read_summary_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"summary.json: not found"):
        read_summary(tmp_path)
    path = tmp_path / "summary.json"
    path.write_text('{"scenarios": {},\n "average": }')
    with pytest.raises(ValueError, match=r"summary.json:2: invalid JSON"):
        read_summary(tmp_path)
    path.write_text('{"scenarios": {}}')
    with pytest.raises(ValueError, match=r"field 'average': missing or not an object"):
        read_summary(tmp_path)
    path.write_text('{"scenarios": {}, "average": {"acc": 50.0}}')
    assert read_summary(tmp_path)["average"] == {"acc": 50.0}
