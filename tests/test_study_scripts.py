"""The shell scripts `proactive study --emit-jobs` writes run exactly the study's commands, whatever the
study file holds: names that reach a script or a file name are checked (one line naming the file, line and
key), and every value (paths, model ids, flags, environment values, the working directory) is quoted.

The scripts are run for real with bash, with `accelerate`, `proactive`, `srun` and `scontrol` on PATH
replaced by small programs that record what they were given: the test is about what the shell does with the
generated text, not about training.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from proactive.study import emit_jobs, main
from proactive.study_config import StudyConfigError, load_study

REPO = Path(__file__).resolve().parents[1]

# Each creates a file `pwned-<letter>` in the shell's working directory if a shell ever reads it as code.
HOSTILE = {
    "a": "$(touch pwned-a)",
    "b": "`touch pwned-b`",
    "c": "x; touch pwned-c",
    "d": "x\ntouch pwned-d",
    "e": "'; touch pwned-e; '",
    "f": '"; touch pwned-f; "',
    "g": "x && touch pwned-g #",
}
RECORDER = """#!{python}
import json, os, sys
with open(os.environ["RECORD"], "a", encoding="utf-8") as handle:
    env = {{key: os.environ.get(key) for key in os.environ["RECORD_ENV"].split()}}
    handle.write(json.dumps({{"command": os.path.basename(sys.argv[0]), "argv": sys.argv[1:], "env": env}}) + "\\n")
"""
SRUN = '#!/usr/bin/env bash\nshift\nexec "$@"\n'  # drops --ntasks-per-node=1 and runs the task once
SCONTROL = "#!/usr/bin/env bash\necho node0\n"


def pwned(root: Path) -> list[Path]:
    """The files a hostile value would have created, anywhere below ``root``."""
    return [path for path in root.rglob("pwned-*") if path.name in {f"pwned-{k}" for k in HOSTILE}]


def fake_tools(folder: Path) -> Path:
    folder.mkdir()
    scripts = {"accelerate": RECORDER, "proactive": RECORDER, "srun": SRUN, "scontrol": SCONTROL}
    for name, text in scripts.items():
        path = folder / name
        path.write_text(text.format(python=sys.executable), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder


def hostile_study(root: Path) -> Path:
    """A one-cell SFT study whose every free-text value, and the folders of its inputs, would run a command
    if a script left it unquoted."""
    inputs = root / f"inputs {HOSTILE['a']}"
    inputs.mkdir()
    shutil.copy(REPO / "recipes" / "tiny" / "sft.yaml", inputs / "sft.yaml")
    shutil.copy(REPO / "accelerate_configs" / "cpu.yaml", inputs / "cpu.yaml")
    config = {
        "name": "hostile",
        "methods": ["sft"],
        "recipes": {"sft": str(inputs / "sft.yaml")},
        "accelerate_config": str(inputs / "cpu.yaml"),
        "splits": {"qd": ["QD"]},
        "train_overrides": {
            "model_name_or_path": HOSTILE["b"],
            "benchmark_dir": HOSTILE["c"],
            "run_name": HOSTILE["g"],
        },
        "eval": {"data": HOSTILE["d"], "limit": 1, "args": ["--threads", HOSTILE["e"]]},
        "env": {"STUDY_A": HOSTILE["f"], "STUDY_B": HOSTILE["d"], "STUDY_C": "$HOME *"},
        "out": str(root / f"out {HOSTILE['c']}"),
    }
    path = root / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def run_script(command: list[str], tools: Path, record: Path, cwd: Path, **env: str) -> None:
    environ = {
        **os.environ,
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "RECORD": str(record),
        "RECORD_ENV": "STUDY_A STUDY_B STUDY_C LAUNCH_FLAGS",
        **env,
    }
    subprocess.run(command, check=True, env=environ, cwd=cwd, timeout=60)


def recorded(record: Path) -> list[dict]:
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


def test_hostile_values_run_nothing_and_arrive_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study_file = hostile_study(tmp_path)
    workdir = tmp_path / f"cwd {HOSTILE['b']}"  # the scripts cd into the working directory
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    study = load_study(study_file)
    (cell,) = study.cells()
    jobs = tmp_path / f"jobs {HOSTILE['g']}"
    written = emit_jobs(study, None, jobs)
    assert [p.name for p in written] == ["qd-sft-seed0.sh"]
    tools, record = fake_tools(tmp_path / "bin"), tmp_path / "record.jsonl"

    run_script(["bash", str(written[0])], tools, record, tmp_path)
    train, evaluation = recorded(record)
    assert pwned(tmp_path) == []  # no hostile text ran as code
    assert [train["command"], *train["argv"]] == study.train_command(cell)
    assert [evaluation["command"], *evaluation["argv"]] == study.eval_command(cell)
    assert train["env"] == {
        "STUDY_A": HOSTILE["f"],
        "STUDY_B": HOSTILE["d"],
        "STUDY_C": "$HOME *",
        "LAUNCH_FLAGS": None,
    }

    # The Slurm template emitted beside the scripts runs the same script through srun, adding the multi-node
    # launch flags.
    record.unlink()
    slurm = {"SLURM_ARRAY_TASK_ID": "0", "SLURM_NNODES": "1", "SLURM_NODEID": "0", "SLURM_JOB_NODELIST": "n0"}
    run_script(["bash", str(jobs / "cell.sbatch"), str(jobs)], tools, record, tmp_path, **slurm)
    train, evaluation = recorded(record)
    assert pwned(tmp_path) == []
    flags = ["--num_machines", "1", "--machine_rank", "0", "--num_processes", "4"]
    flags += ["--main_process_ip", "node0", "--main_process_port", "29500"]
    expected = study.train_command(cell)
    assert [train["command"], *train["argv"]] == [*expected[:4], *flags, *expected[4:]]
    assert [evaluation["command"], *evaluation["argv"]] == study.eval_command(cell)


@pytest.mark.parametrize(
    ("key", "change", "message"),
    [
        ("env", {"env": {"X; touch pwned": "1"}}, "env.X; touch pwned: not an environment variable name"),
        ("env", {"env": {"1X": "1"}}, "env.1X: not an environment variable name"),
        ("env", {"env": {"X": "a\0b"}}, "env.X: a value cannot hold a NUL character"),
        ("splits", {"splits": {"../up": ["QD"]}}, "splits.../up: a split name may hold only letters"),
        ("splits", {"splits": {"a b": ["QD"]}}, "splits.a b: a split name may hold only letters"),
        ("name", {"name": "x\ntouch pwned"}, "name: 'x\\ntouch pwned': a study name may hold only"),
        (
            "train_overrides",
            {"train_overrides": {"x --y": 1}},
            "train_overrides.x --y: not a recipe argument",
        ),
        ("reward_presets", {"reward_presets": ["nope"]}, "reward_presets: unknown preset 'nope'"),
        ("splits", {"splits": {"qd": "QuickDraw"}}, "splits: expected dict[str, list[str]] | None"),
        ("eval", {"eval": {"data": "d", "scenarios": "QD"}}, "eval.scenarios: expected list[str]"),
    ],
)
def test_names_that_reach_a_script_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture, key: str, change: dict, message: str
) -> None:
    """One line naming the file, the key's line and the key; no script is written."""
    config = {
        "methods": ["sft"],
        "recipes": {"sft": str(REPO / "recipes" / "tiny" / "sft.yaml")},
        "accelerate_config": str(REPO / "accelerate_configs" / "cpu.yaml"),
        "splits": {"qd": ["QD"]},
        "eval": {"data": "d"},
        **change,
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    with pytest.raises(StudyConfigError) as err:
        load_study(path)
    assert message in str(err.value)
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row.startswith(f"{key}:"))
    assert re.match(rf"{re.escape(str(path))}:({line}|{line + 1}|{line + 2}): ", str(err.value)), str(
        err.value
    )
    assert main(["--config", str(path), "--emit-jobs", str(tmp_path / "jobs")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("proactive study: ")
    assert not (tmp_path / "jobs").exists()
