"""A wheel install works without the clone: the package is built with pip, installed into a temporary venv that
reuses this environment's packages (torch, trl, ...; ``--system-site-packages``), and run from a temporary
folder with no PYTHONPATH: the quickstart (--fast), a shipped study by name (--dry-run) and a recipe through
``accelerate launch -m`` with a shipped config by name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SOURCES = (
    "data",
    "reward",
    "eval",
    "proactive",
    "recipes",
    "accelerate_configs",
    "pyproject.toml",
    "README.md",
)
PACKAGES = ("data", "reward", "eval", "proactive", "recipes", "accelerate_configs")


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(venv, an empty working folder, the environment to run in): the wheel built from a copy of the sources
    (no build/ leftovers of the clone), installed into the venv."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    pip = [sys.executable, "-m", "pip"]
    run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"), str(source)],
        root,
        env,
    )
    [wheel] = (root / "dist").glob("proactive_recipes-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], root, env)
    python = str(venv / "bin" / "python")
    run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed", str(wheel)],
        root,
        env,
    )
    work = root / "work"
    work.mkdir()
    env = {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}", "OMP_NUM_THREADS": "1"}
    return venv, work, env


def test_the_venv_imports_its_own_copy(installed) -> None:
    """The clone's editable install stays visible through the system site-packages, behind the venv's copy."""
    venv, work, env = installed
    code = f"import json, importlib; print(json.dumps({{n: importlib.import_module(n).__file__ for n in {PACKAGES}}}))"
    files = json.loads(run([str(venv / "bin" / "python"), "-c", code], work, env))
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert all(Path(f).is_relative_to(site) for f in files.values()), files


def test_quickstart_fast_runs_from_any_folder(installed) -> None:
    venv, work, env = installed
    printed = run(
        [str(venv / "bin" / "proactive"), "quickstart", "--fast", "--out", "qs", "--threads", "1"], work, env
    )
    report = work / "qs" / "report" / "report.md"
    assert report.is_file() and "## Targets (grpo-proactive" in report.read_text(encoding="utf-8")
    launches = [line for line in printed.splitlines() if line.startswith("$ accelerate launch")]
    assert len(launches) == 4  # SFT, then the three GRPO runs
    assert all(str(venv) in line for line in launches)  # the shipped recipe scripts and configs
    assert launches[2].endswith("--reward_preset paper_rp1.0")  # the control, in the open
    assert launches[3].endswith("--reward_preset proactive --rollout episode")


def test_shipped_study_by_name_dry_run(installed) -> None:
    venv, work, env = installed
    printed = run(
        [str(venv / "bin" / "proactive"), "study", "--config", "tiny_leave_one_out", "--dry-run"], work, env
    )
    trains = [line for line in printed.splitlines() if line.startswith("accelerate launch")]
    assert len(trains) == 7
    accelerate_config, script = trains[0].split()[3:5]
    assert Path(accelerate_config).is_file() and Path(accelerate_config).is_relative_to(venv)
    assert Path(script).name == "sft.py" and Path(script).is_relative_to(venv)


def test_recipe_module_with_a_shipped_config(installed) -> None:
    """``accelerate launch -m recipes.sft --config tiny/sft``: builds its tiny model and benchmark, trains a step."""
    venv, work, env = installed
    cpu = run([str(venv / "bin" / "proactive"), "configs", "cpu"], work, env).strip()
    command = [str(venv / "bin" / "python"), "-m", "accelerate.commands.launch", "--config_file", cpu]
    command += ["-m", "recipes.sft", "--config", "tiny/sft", "--max_steps", "1", "--output_dir", "sft"]
    command += ["--synthetic_per_scenario", "2", "--synthetic_image_size", "56", "--save_strategy", "no"]
    run(command, work, env)
    assert (work / "sft" / "adapter_model.safetensors").is_file()
    assert (work / "outputs" / "tiny-qwen2-vl" / "tiny_model.json").is_file()
