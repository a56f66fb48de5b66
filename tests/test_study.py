"""`proactive study`: cells, commands, resume, failures, the generalization matrix and its CIs.

The fast tests fake the training of each cell (an adapter file and train_results.json) and evaluate
baseline policies (no model), so the aggregation is checked against hand-computed numbers; the slow
ones run a two-cell study end to end with the tiny_model model (accelerate launch + proactive eval).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from PIL import Image

from data.scenarios import SCENARIO_NAMES
from data.synth import generate_benchmark
from eval.cli import main as eval_main
from proactive.study import LOG_FILE, SKIPPED, main, run_study
from proactive.study_config import StudyConfigError, load_study
from proactive.study_report import read_cell_result, t_interval, t_quantile

REPO = Path(__file__).resolve().parents[1]
STUDIES = REPO / "recipes" / "studies"
QD, COCO = "QuickDraw", "coco2014"
T1 = math.tan(0.475 * math.pi)  # the 95% two-sided t quantile with one degree of freedom, 12.7062


@pytest.fixture(scope="module")
def benches(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("study_data")
    generate_benchmark(root / "train", 4, seed=0, size=56)
    generate_benchmark(root / "eval", 2, seed=1, size=56)
    return root / "train", root / "eval"


def write_study(folder: Path, benches: tuple[Path, Path], tiny_model: Path, **changes: object) -> Path:
    """A two-cell SFT study (train on QD; train on COCO) of the tiny_model model, tiny_model steps, 1 episode each."""
    train, evaluation = benches
    config = {
        "name": "two",
        "methods": ["sft"],
        "recipes": {"sft": str(REPO / "recipes" / "tiny" / "sft.yaml")},
        "accelerate_config": str(REPO / "accelerate_configs" / "cpu.yaml"),
        "splits": {"qd": ["QD"], "coco": ["COCO"]},
        "seeds": [0],
        "train_overrides": {
            "model_name_or_path": str(tiny_model),
            "benchmark_dir": str(train),
            "max_steps": 2,
            "save_strategy": "no",
            "per_device_train_batch_size": 2,
        },
        "eval": {"data": str(evaluation), "limit": 1, "batch_size": 8, "args": ["--threads", "1"]},
        "env": {"OMP_NUM_THREADS": "1"},
        "out": str(folder / "out"),
        **changes,
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def fake_cell(study, cell, policy: str) -> None:
    """A cell as if trained (adapter + train_results.json) and evaluated with a baseline policy."""
    adapter = study.adapter_dir(cell)
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"x")
    (adapter / "train_results.json").write_text("{}")
    argv = [
        "--policy",
        policy,
        "--data",
        study.eval_data,
        "--out",
        str(study.eval_dir(cell)),
        "--no-progress",
    ]
    assert eval_main([*argv, "--limit", "2"]) == 0


def summary(study, cell) -> dict:
    return json.loads((study.eval_dir(cell) / "summary.json").read_text())


def log_events(study) -> list[dict]:
    path = study.out / LOG_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


# --- fast: configuration, commands, aggregation -----------------------------------------------------------
def test_cells_and_commands(tmp_path: Path, benches, tiny_model: Path) -> None:
    study = load_study(write_study(tmp_path, benches, tiny_model, seeds=[0, 1]))
    cells = study.cells()
    assert [c.name for c in cells] == ["qd-sft-seed0", "qd-sft-seed1", "coco-sft-seed0", "coco-sft-seed1"]
    assert cells[0].train_scenarios == (QD,) and QD not in cells[0].held_out and len(cells[0].held_out) == 6
    train = study.train_command(cells[1])
    assert train[:2] == ["accelerate", "launch"]
    i = train.index("--train_scenarios")
    assert train[i + 1 : i + 3] == [QD, "--held_out_scenarios"]
    assert train[train.index("--seed") + 1] == "1"
    assert train[train.index("--output_dir") + 1] == str(study.adapter_dir(cells[1]))
    assert train[train.index("--max_steps") + 1] == "2"
    assert "--reward_preset" not in train  # SFT has no reward
    evaluation = study.eval_command(cells[1])
    assert evaluation[:2] == ["proactive", "eval"]
    assert evaluation[evaluation.index("--adapter") + 1] == str(study.adapter_dir(cells[1]))
    assert evaluation[evaluation.index("--model") + 1] == str(tiny_model)
    i = evaluation.index("--scenarios")
    assert evaluation[i + 1 : i + 8] == list(SCENARIO_NAMES)


def test_grpo_cells_cross_reward_presets(tmp_path: Path, benches, tiny_model: Path) -> None:
    recipes = {"sft": str(REPO / "recipes/tiny/sft.yaml"), "grpo": str(REPO / "recipes/tiny/grpo.yaml")}
    path = write_study(
        tmp_path,
        benches,
        tiny_model,
        methods=["sft", "grpo"],
        recipes=recipes,
        reward_presets=["proactive", "paper_rp1.0"],
    )
    names = [c.name for c in load_study(path).cells()]
    assert names[:3] == ["qd-sft-seed0", "qd-grpo-proactive-seed0", "qd-grpo-paper_rp1.0-seed0"]
    assert len(names) == 6
    cell = load_study(path).cells()[2]
    command = load_study(path).train_command(cell)
    assert command[command.index("--reward_preset") + 1] == "paper_rp1.0"
    assert command[4].endswith("recipes/grpo.py")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seedz": [0]}, "seedz: unknown key; did you mean 'seeds'?"),
        ({"splits": {"bad": ["QD", "XYZ"]}}, "splits.bad: unknown scenario"),
        ({"splits": {"all": list(SCENARIO_NAMES)}}, "splits.all: trains on all seven"),
        ({"methods": ["dpo"]}, "methods: 'dpo' is not one of sft, grpo"),
        ({"train_overrides": {"output_dir": "x"}}, "train_overrides.output_dir: set by the study"),
        ({"eval": {"limit": 1}}, "eval.data: missing"),
        ({"seeds": [0, "one"]}, "seeds: expected list[int], got [0, 'one']"),
        ({"eval": {"data": "x", "limit": True}}, "eval.limit: expected int | None, got True"),
        ({"eval": {"data": "x", "batchsize": 8}}, "eval.batchsize: unknown key; did you mean 'batch_size'?"),
    ],
)
def test_bad_study_files_name_the_file_and_key(
    tmp_path: Path, benches, tiny_model: Path, change, message
) -> None:
    path = write_study(tmp_path, benches, tiny_model, **change)
    with pytest.raises(StudyConfigError) as err:
        load_study(path)
    line = re.match(rf"{re.escape(str(path))}:(\d+): ", str(err.value))  # the file and the key's line
    assert line, str(err.value)
    key = message.split(":")[0].split(".")
    text = path.read_text().splitlines()
    first = next(i for i, row in enumerate(text, 1) if row.startswith(f"{key[0]}:"))
    if len(key) == 2 and any(row.strip().startswith(f"{key[1]}:") for row in text[first:]):
        first = next(
            i for i, row in enumerate(text[first:], first + 1) if row.strip().startswith(f"{key[1]}:")
        )
    assert int(line.group(1)) == first
    assert message.lower() in str(err.value).lower()


def test_dry_run_prints_commands_and_runs_nothing(tmp_path: Path, benches, tiny_model: Path, capsys) -> None:
    path = write_study(tmp_path, benches, tiny_model)
    assert main(["--config", str(path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert (
        lines[0].startswith("accelerate launch --config_file ") and "--train_scenarios QuickDraw " in lines[0]
    )
    assert lines[1].startswith("proactive eval --model ") and "/cells/qd-sft-seed0/eval" in lines[1]
    assert "--train_scenarios coco2014 " in lines[2] and lines[3].startswith("proactive eval")
    assert not (tmp_path / "out").exists()


def test_emit_jobs_writes_one_script_per_cell(tmp_path: Path, benches, tiny_model: Path) -> None:
    path = write_study(tmp_path, benches, tiny_model)
    assert main(["--config", str(path), "--emit-jobs", str(tmp_path / "jobs")]) == 0
    listed = (tmp_path / "jobs" / "cells.txt").read_text().split()
    assert listed == ["qd-sft-seed0.sh", "coco-sft-seed0.sh"]
    for name in listed:
        script = tmp_path / "jobs" / name
        assert script.stat().st_mode & 0o111
        subprocess.run(["bash", "-n", str(script)], check=True)
        text = script.read_text()
        assert (
            "${LAUNCH_FLAGS:-} " in text and "proactive eval " in text and "export OMP_NUM_THREADS=1" in text
        )
    assert not (tmp_path / "out").exists()


def test_t_interval_by_hand() -> None:
    # closed forms of the 97.5% quantile: df 1, tan(0.475 pi); df 2, 0.95 sqrt(2 / (4 p (1 - p))), p = 0.975
    assert t_quantile(1) == pytest.approx(math.tan(0.475 * math.pi))
    assert t_quantile(2) == pytest.approx(0.95 * math.sqrt(2 / (4 * 0.975 * 0.025)))
    assert t_quantile(4) == pytest.approx(2.776, abs=1e-3) and t_quantile(200) == pytest.approx(
        1.972, abs=1e-3
    )
    lo, hi = t_interval([10.0, 20.0])  # mean 15, sd 7.071, se 5
    assert lo == pytest.approx(15 - T1 * 5) and hi == pytest.approx(15 + T1 * 5)


def test_matrix_from_finished_cells(tmp_path: Path, benches, tiny_model: Path) -> None:
    """Two seeds per split (oracle / first-option evals): means, t intervals and domain averages by hand;
    every cell already finished, so nothing is launched."""
    study = load_study(write_study(tmp_path, benches, tiny_model, seeds=[0, 1]))
    cells = study.cells()
    for cell in cells:
        fake_cell(study, cell, "oracle" if cell.seed == 0 else "first-option")
    statuses = run_study(study, echo=lambda line: None)
    assert [s.status for s in statuses] == [SKIPPED] * 4
    assert log_events(study) == []  # no command was started
    matrix = json.loads((study.out / "report" / "study.json").read_text())
    assert [r["label"] for r in matrix["rows"]] == ["qd", "coco"]
    qd = matrix["rows"][0]
    a, b = summary(study, cells[0]), summary(study, cells[1])
    for scenario in SCENARIO_NAMES:
        for metric in ("acc", "psr"):
            values = [a["scenarios"][scenario][metric], b["scenarios"][scenario][metric]]
            entry = qd["columns"][scenario]
            assert entry[metric] == pytest.approx(sum(values) / 2)
            mean, half = sum(values) / 2, T1 * abs(values[0] - values[1]) / 2
            top = min(mean + half, 100.0) if metric == "acc" else mean + half  # clipped to the range
            assert entry[f"{metric}_ci"] == pytest.approx([max(mean - half, 0.0), top], abs=1e-3)
    others = [s for s in SCENARIO_NAMES if s != QD]
    out_of_domain = [sum(x["scenarios"][s]["acc"] for s in others) / 6 for x in (a, b)]
    assert qd["columns"]["out-of-domain"]["acc_per_seed"] == pytest.approx(out_of_domain)
    assert qd["columns"]["in-domain"]["acc"] == pytest.approx(qd["columns"][QD]["acc"])
    assert qd["columns"]["average"]["psr"] == pytest.approx((a["average"]["psr"] + b["average"]["psr"]) / 2)
    text = (study.out / "report" / "study.md").read_text()
    assert "| qd (seeds 0, 1) |" in text and "out-of-domain" in text
    for metric in ("acc", "psr"):
        with Image.open(study.out / "report" / f"matrix_{metric}.png") as image:
            image.verify()
            assert image.format == "PNG"


def test_one_seed_uses_the_eval_bootstrap(tmp_path: Path, benches, tiny_model: Path) -> None:
    study = load_study(write_study(tmp_path, benches, tiny_model))
    for cell in study.cells():
        fake_cell(study, cell, "first-option")
    run_study(study, echo=lambda line: None)
    row = json.loads((study.out / "report" / "study.json").read_text())["rows"][1]
    s = summary(study, study.cells()[1])
    assert row["label"] == "coco"
    for scenario in SCENARIO_NAMES:
        assert row["columns"][scenario]["psr_ci"] == s["scenarios"][scenario]["psr_ci"]
    assert row["columns"]["average"]["psr_ci"] == s["average"]["psr_ci"]  # all seven: the eval's own CI
    assert row["columns"]["in-domain"]["psr_ci"] == s["scenarios"][COCO]["psr_ci"]


def test_report_reads_a_cell_whose_last_episode_line_is_half_written(
    tmp_path: Path, benches, tiny_model: Path
) -> None:
    study = load_study(write_study(tmp_path, benches, tiny_model))
    for cell in study.cells():
        fake_cell(study, cell, "oracle")
    cell = study.cells()[0]
    episodes = study.eval_dir(cell) / "episodes.jsonl"
    complete = episodes.read_text()
    episodes.write_text(complete + complete.splitlines()[0][:30])  # as a copy taken mid-write leaves it
    result = read_cell_result(study, cell)
    assert len(result.episodes) == len(complete.splitlines()) and result.summary == summary(study, cell)
    run_study(study, echo=lambda line: None)
    assert [r["label"] for r in json.loads((study.out / "report" / "study.json").read_text())["rows"]] == [
        "qd",
        "coco",
    ]


def test_only_runs_the_named_cells_and_reports_all_finished(
    tmp_path: Path, benches, tiny_model: Path, capsys
) -> None:
    study = load_study(write_study(tmp_path, benches, tiny_model))
    for cell in study.cells():
        fake_cell(study, cell, "abstain")
    capsys.readouterr()
    assert main(["--config", str(study.path), "--dry-run", "--only", "coco"]) == 0
    assert capsys.readouterr().out.splitlines() == ["# coco-sft-seed0: finished, skipped"]
    statuses = run_study(study, only=["coco-sft-seed0"], echo=lambda line: None)
    assert [(s.cell.name, s.status) for s in statuses] == [
        ("coco-sft-seed0", SKIPPED),
        ("qd-sft-seed0", SKIPPED),
    ]
    rows = json.loads((study.out / "report" / "study.json").read_text())["rows"]
    assert sorted(r["label"] for r in rows) == ["coco", "qd"]
    with pytest.raises(StudyConfigError, match="--only nope: no such cell or split"):
        run_study(study, only=["nope"], echo=lambda line: None)


# --- slow: a real two-cell study ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, benches, tiny_model: Path):
    folder = tmp_path_factory.mktemp("study_e2e")
    study = load_study(write_study(folder, benches, tiny_model))
    statuses = run_study(study, echo=lambda line: None)
    return study, statuses


@pytest.mark.slow
def test_two_cell_study_end_to_end(finished) -> None:
    study, statuses = finished
    assert [s.status for s in statuses] == ["done", "done"], [s.to_json() for s in statuses]
    starts = [e for e in log_events(study) if e["event"] == "start"]
    assert [(e["cell"], e["stage"]) for e in starts] == [
        ("qd-sft-seed0", "train"), ("qd-sft-seed0", "eval"), ("coco-sft-seed0", "train"), ("coco-sft-seed0", "eval")
    ]  # fmt: skip
    matrix = json.loads((study.out / "report" / "study.json").read_text())
    for row, cell in zip(matrix["rows"], study.cells(), strict=True):
        s = summary(study, cell)
        assert (study.adapter_dir(cell) / "adapter_model.safetensors").is_file()
        for scenario in SCENARIO_NAMES:
            for metric in ("acc", "psr"):
                entry = row["columns"][scenario]
                assert entry[metric] == s["scenarios"][scenario][metric]
                assert entry[f"{metric}_ci"] == s["scenarios"][scenario][f"{metric}_ci"]
        assert row["columns"]["average"]["acc"] == pytest.approx(s["average"]["acc"])
    for metric in ("acc", "psr"):
        with Image.open(study.out / "report" / f"matrix_{metric}.png") as image:
            image.verify()


@pytest.mark.slow
def test_rerun_skips_finished_cells(finished) -> None:
    study, _ = finished
    before = log_events(study)
    statuses = run_study(study, echo=lambda line: None)
    assert [s.status for s in statuses] == [SKIPPED, SKIPPED]
    assert log_events(study) == before  # no training or evaluation subprocess was started


@pytest.mark.slow
def test_failed_cell_is_reported_and_the_other_completes(tmp_path: Path, finished, capsys) -> None:
    done, _ = finished
    path = write_study(tmp_path, *_inputs(done), out=str(tmp_path / "out"))
    study = load_study(path)
    qd, coco = study.cells()
    study.cell_dir(qd).mkdir(parents=True)
    study.adapter_dir(qd).write_text("not a folder")  # the recipe cannot write its output_dir
    shutil.copytree(done.adapter_dir(coco), study.adapter_dir(coco))  # trained; its eval is still to run
    assert main(["--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"failed: qd-sft-seed0: training failed (log {study.cell_dir(qd) / 'train.log'})" in err
    assert eval_main is not None and (study.eval_dir(coco) / "summary.json").is_file()
    matrix = json.loads((study.out / "report" / "study.json").read_text())
    assert [r["label"] for r in matrix["rows"]] == ["coco"]
    cells = {c["cell"]: c for c in matrix["cells"]}
    assert cells["qd-sft-seed0"]["status"] == "failed" and cells["coco-sft-seed0"]["status"] == "done"
    assert [e["stage"] for e in log_events(study) if e["event"] == "start"] == ["train", "eval"]


def _inputs(study) -> tuple[tuple[Path, Path], Path]:
    overrides = study.train_overrides
    return (Path(overrides["benchmark_dir"]), Path(study.eval_data)), Path(overrides["model_name_or_path"])


# --- the ready-made studies -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "cells"),
    [("paper_split", 1), ("leave_one_out", 7), ("single_scenario", 7), ("rp_sweep", 4)],
)
@pytest.mark.parametrize("tiny_twin", [False, True], ids=["gpu", "tiny"])
def test_ready_made_studies_load(name: str, cells: int, tiny_twin: bool, monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO)
    path = STUDIES / f"{'tiny_' if tiny_twin else ''}{name}.yaml"
    study = load_study(path)
    assert len(study.cells()) == cells * len(study.seeds)
    assert main(["--config", str(path), "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("proactive synth")]
    assert len(lines) == 2 * len(study.cells())
