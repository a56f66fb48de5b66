"""``proactive eval`` never reuses or summarises episodes it should not: a resumed run refuses records that
changed, a --limit that would shrink the summary, empty scenario files; bad numbers are refused up front."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from data.records import scenario_path
from data.scenarios import SCENARIO_NAMES
from data.synth import generate_benchmark
from eval.cli import main as eval_main

QD, COCO = "QuickDraw", "coco2014"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eval_guards") / "bench"
    generate_benchmark(path, 3, seed=0, size=32)
    return path


@pytest.fixture
def bench(clean: Path, tmp_path: Path) -> Path:
    shutil.copytree(clean, tmp_path / "bench")
    return tmp_path / "bench"


def run(capsys: pytest.CaptureFixture[str], data: Path, out: Path, *args: str) -> tuple[int, str]:
    code = eval_main(["--policy", "oracle", "--data", str(data), "--out", str(out), "--no-progress", *args])
    err = capsys.readouterr().err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("proactive eval: "), err
    return code, err


def episode_count(out: Path) -> int:
    return len((out / "episodes.jsonl").read_text(encoding="utf-8").splitlines())


# --- item 5: the records' content is part of the run's identity ---------------------------------------


def test_regenerated_benchmark_at_the_same_path_is_refused(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run(capsys, bench, out, "--limit", "2")[0] == 0
    config = json.loads((out / "config.json").read_text())
    assert set(config["data_fingerprint"]) == set(SCENARIO_NAMES)
    shutil.rmtree(bench)
    generate_benchmark(bench, 3, seed=1, size=32)  # same path, other records
    code, err = run(capsys, bench, out, "--limit", "3")
    assert code == 2 and "the records differ from those this run was started on" in err
    assert f"data_fingerprint.{QD}: {config['data_fingerprint'][QD]!r} there, " in err
    assert episode_count(out) == 2 * 7  # nothing was added to the old episodes


def test_rewritten_but_equal_records_resume_without_rerunning(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run(capsys, bench, out)[0] == 0
    first = (out / "episodes.jsonl").read_bytes()
    path = scenario_path(bench, QD)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("\n".join(json.dumps(r, sort_keys=True, indent=None) for r in records) + "\n\n")
    assert run(capsys, bench, out)[0] == 0
    assert (out / "episodes.jsonl").read_bytes() == first


def test_a_run_folder_without_a_fingerprint_is_refused(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run(capsys, bench, out, "--scenarios", "QD")[0] == 0
    config = json.loads((out / "config.json").read_text())
    del config["data_fingerprint"]  # as an older version wrote it
    (out / "config.json").write_text(json.dumps(config))
    code, err = run(capsys, bench, out, "--scenarios", "QD")
    assert code == 2 and "holds no fingerprint of its records" in err


# --- item 6: summary.json describes exactly the episodes on disk -------------------------------------


def test_a_smaller_limit_on_resume_is_refused_and_leaves_the_summary(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run(capsys, bench, out, "--limit", "2")[0] == 0
    before = {name: (out / name).read_bytes() for name in ("summary.json", "episodes.jsonl")}
    code, err = run(capsys, bench, out, "--limit", "1")
    assert code == 2
    assert "holds 7 episode(s) that this run would leave out of its summary" in err
    assert {name: (out / name).read_bytes() for name in before} == before
    assert run(capsys, bench, out)[0] == 0  # no limit: the rest is played, the summary covers all
    summary = json.loads((out / "summary.json").read_text())
    assert summary["average"]["n"] == episode_count(out) == 3 * 7


# --- item 7: no scenario silently missing from the average --------------------------------------------


def test_empty_scenario_file_is_an_error_unless_left_out_with_scenarios(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario_path(bench, QD)
    path.write_text("")
    code, err = run(capsys, bench, tmp_path / "all")
    assert code == 2 and f"{path}: no records (the file is empty)" in err
    others = [name for name in SCENARIO_NAMES if name != QD]
    out = tmp_path / "chosen"
    assert run(capsys, bench, out, "--scenarios", *others)[0] == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["average"]["scenarios"] == 6
    assert summary["note"].startswith("average over the 6 scenario(s) chosen with --scenarios, not all 7")
    assert "Note: average over the 6 scenario(s)" in (out / "summary.md").read_text()
    assert "note" not in json.loads((tmp_path / "chosen" / "config.json").read_text())


def test_a_scenario_the_filter_empties_is_an_error(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    correctness = tmp_path / "correctness.jsonl"
    rows = [{"scenario": "QD", "id": i, "model": "m", "correct": True} for i in range(3)]
    correctness.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, err = run(capsys, bench, tmp_path / "run", "--scenarios", "QD", "--id-filter", str(correctness))
    assert code == 2 and f"{scenario_path(bench, QD)}: no record left to evaluate" in err
    assert "0/3 kept" in err


# --- item 10: one line for bad numbers and bad bytes ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be a positive integer or auto, got 0"),
        (["--max-live", "-1"], "--max-live must be at least 1, got -1"),
        (["--limit", "0"], "--limit must be at least 1, got 0"),
        (["--max-new-tokens", "0"], "--max-new-tokens must be at least 1"),
        (["--judge-max-new-tokens", "-5"], "--judge-max-new-tokens must be at least 1"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--filter-threshold", "0"], "--filter-threshold must be in (0, 1], got 0.0"),
        (["--filter-threshold", "nan"], "--filter-threshold must be in (0, 1], got nan"),
        (["--id-filter", "bogus"], "id_filter 'bogus': expected auto, official, none"),
    ],
)
def test_out_of_range_numbers_are_refused_before_anything_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, err = run(capsys, tmp_path / "no-such-benchmark", tmp_path / "run", *args)
    assert code == 2 and message in err
    assert not (tmp_path / "run").exists()


def test_non_utf8_bytes_in_episodes_name_the_line(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run(capsys, bench, out, "--scenarios", "QD")[0] == 0
    path = out / "episodes.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"QuickDraw"', b'"Quick\xe9Draw"', 2))
    code, err = run(capsys, bench, out, "--scenarios", "QD")
    assert code == 2 and f"{path}:1: not UTF-8 text (byte 0xe9" in err
    config = out / "config.json"
    for damaged, message in ((b'{"data": "\xff"}', "not UTF-8 text"), (b"[1, 2]", "expected a JSON object")):
        config.write_bytes(damaged)
        code, err = run(capsys, bench, out, "--scenarios", "QD")
        assert code == 2 and f"{config}" in err and message in err
