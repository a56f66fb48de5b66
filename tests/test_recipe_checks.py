"""A recipe's arguments are checked before anything loads: numbers out of range, YAML values of the wrong
type, a single name for a list, bad reward settings, an unusable output_dir and a damaged checkpoint each stop
the run with one line naming the file and line (or the flag); under `accelerate launch -q` that line is all
the user sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from test_recipes import SFT, TINY
from trl import GRPOConfig, ModelConfig, SFTConfig, TrlParser

from proactive.recipe_args import ProactiveScriptArguments, RecipeConfigError, parse_recipe_args
from proactive.recipe_checks import RANGES, check_checkpoint

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {"sft": SFTConfig, "grpo": GRPOConfig}

# For every range we check: the recipe and flags that set a value outside it, which transformers and TRL do
# not refuse while parsing (test_the_libraries_do_not_refuse_these_values); max_steps: -1 lets epochs count.
OUT_OF_RANGE: dict[str, tuple[str, list[str]]] = {
    "max_steps": ("sft", ["--max_steps", "-3"]),
    "num_train_epochs": ("sft", ["--max_steps", "-1", "--num_train_epochs", "0"]),
    "per_device_train_batch_size": ("sft", ["--per_device_train_batch_size", "0"]),
    "per_device_eval_batch_size": ("sft", ["--per_device_eval_batch_size", "0"]),
    "gradient_accumulation_steps": ("sft", ["--gradient_accumulation_steps", "0"]),
    "learning_rate": ("sft", ["--learning_rate", "-0.1"]),
    "weight_decay": ("sft", ["--weight_decay", "-1"]),
    "max_grad_norm": ("sft", ["--max_grad_norm", "-1"]),
    "logging_steps": ("sft", ["--logging_steps", "-1"]),
    "save_steps": ("sft", ["--save_steps", "0"]),
    "eval_steps": ("sft", ["--eval_steps", "0"]),
    "save_total_limit": ("sft", ["--save_total_limit", "-1"]),
    "seed": ("sft", ["--seed", "-1"]),
    "data_seed": ("sft", ["--data_seed", "-1"]),
    "dataloader_num_workers": ("sft", ["--dataloader_num_workers", "-1"]),
    "num_generations": ("grpo", ["--num_generations", "0"]),
    "num_generations_eval": ("grpo", ["--num_generations_eval", "0"]),
    "max_completion_length": ("grpo", ["--max_completion_length", "0"]),
    "temperature": ("grpo", ["--temperature", "0"]),
    "top_p": ("grpo", ["--top_p", "1.5"]),
    "top_k": ("grpo", ["--top_k", "-1"]),
    "min_p": ("grpo", ["--min_p", "2"]),
    "repetition_penalty": ("grpo", ["--repetition_penalty", "0"]),
    "beta": ("grpo", ["--beta", "-1"]),
    "epsilon": ("grpo", ["--epsilon", "-0.2"]),
    "epsilon_high": ("grpo", ["--epsilon_high", "-1"]),
    "num_iterations": ("grpo", ["--num_iterations", "0"]),
    "steps_per_generation": ("grpo", ["--steps_per_generation", "0"]),
    "generation_batch_size": ("grpo", ["--generation_batch_size", "0"]),
    "lora_r": ("sft", ["--lora_r", "0"]),
    "lora_alpha": ("sft", ["--lora_alpha", "-16"]),
    "lora_dropout": ("sft", ["--lora_dropout", "1.0"]),
    "synthetic_per_scenario": ("sft", ["--synthetic_per_scenario", "-1"]),
    "synthetic_image_size": ("sft", ["--synthetic_image_size", "8"]),
    "synthetic_seed": ("sft", ["--synthetic_seed", "-1"]),
    "filter_threshold": ("sft", ["--filter_threshold", "1.5"]),
    "split_seed": ("sft", ["--split_seed", "-1"]),
    "max_train_samples": ("sft", ["--max_train_samples", "0"]),
    "eval_limit": ("sft", ["--eval_limit", "-1"]),
    "eval_batch_size": ("sft", ["--eval_batch_size", "0"]),
}


def tiny(method: str) -> list[str]:
    return ["--config", str(TINY / f"{method}.yaml")]


def yaml_with(tmp_path: Path, method: str, extra: str) -> tuple[Path, int]:
    """The tiny recipe with ``extra`` appended; the path and the line ``extra`` starts on."""
    text = (TINY / f"{method}.yaml").read_text(encoding="utf-8")
    path = tmp_path / f"{method}.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return path, len(text.splitlines()) + 1


def test_every_range_is_tested() -> None:
    assert set(OUT_OF_RANGE) == set(RANGES)


@pytest.mark.parametrize("key", sorted(OUT_OF_RANGE))
def test_the_libraries_do_not_refuse_these_values(key: str) -> None:
    """Each of our ranges is needed: without it transformers and TRL build the arguments (or crash with
    something else than a ValueError, as GRPOConfig does dividing by num_generations: 0)."""
    method, flags = OUT_OF_RANGE[key]
    parser = TrlParser((ProactiveScriptArguments, CONFIGS[method], ModelConfig))
    try:
        parser.parse_args_and_config([*tiny(method), *flags])
    except ValueError as err:
        pytest.fail(f"the libraries now refuse {flags}: drop our range for {key} ({err})")
    except ArithmeticError:
        assert key == "num_generations"


@pytest.mark.parametrize("key", sorted(OUT_OF_RANGE))
def test_out_of_range_numbers_are_refused_naming_the_flag(key: str) -> None:
    method, flags = OUT_OF_RANGE[key]
    with pytest.raises(RecipeConfigError) as err:
        parse_recipe_args(CONFIGS[method], [*tiny(method), *flags])
    assert str(err.value).startswith(f"--{key}: ") and "is out of range, expected" in str(err.value)


def test_out_of_range_in_the_yaml_names_file_and_line(tmp_path: Path) -> None:
    path, line = yaml_with(tmp_path, "sft", "max_steps: -3\n")
    text = path.read_text().replace("max_steps: 3\n", "")  # the tiny recipe's own max_steps
    path.write_text(text)
    line = text.splitlines().index("max_steps: -3") + 1
    with pytest.raises(RecipeConfigError) as err:
        parse_recipe_args(SFTConfig, ["--config", str(path)])
    assert str(err.value) == (
        f"{path}:{line}: max_steps: -3 is out of range, expected -1 (train for num_train_epochs) or at least 1"
    )
    _, training, _ = parse_recipe_args(SFTConfig, ["--config", str(path), "--max_steps", "2"])
    assert training.max_steps == 2  # the flag overrides the file, and is what is checked


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("lora_r: [8]\n", "lora_r: expected int, got [8]"),
        ("max_steps: 2.5\n", "max_steps: expected int, got 2.5"),
        ("bf16: {a: 1}\n", "bf16: expected bool | None, got {'a': 1}"),
        ("reward_kwargs: [1, 2]\n", "reward_kwargs: expected dict[str, Any] | str | None, got [1, 2]"),
    ],
)
def test_yaml_values_of_the_wrong_type(tmp_path: Path, extra: str, message: str) -> None:
    path, line = yaml_with(tmp_path, "sft", extra)
    with pytest.raises(RecipeConfigError) as err:
        parse_recipe_args(SFTConfig, ["--config", str(path)])
    assert str(err.value) == f"{path}:{line}: {message}"


def test_a_single_name_is_a_one_item_list(tmp_path: Path) -> None:
    """`train_scenarios: QuickDraw` was read letter by letter ("unknown scenario 'Q'")."""
    path, _ = yaml_with(tmp_path, "sft", "train_scenarios: QuickDraw\nheld_out_scenarios: ROD\n")
    script, _, model = parse_recipe_args(SFTConfig, ["--config", str(path)])
    assert script.train_scenarios == ["QuickDraw"]
    assert script.held_out_scenarios == ["Realistic-Occlusion-Dataset"]
    assert isinstance(model.lora_target_modules, str)  # PEFT's regex string is kept as it is


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n"])
def test_a_yaml_that_is_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture, text: str) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    assert SFT.main(["--config", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}") and "mapping" in lines[0]


def test_an_argparse_refusal_is_one_line(capsys: pytest.CaptureFixture) -> None:
    assert SFT.main([*tiny("sft"), "--lr_scheduler_type", "nope"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "invalid choice: 'nope'" in lines[0]


def run_sft(capsys: pytest.CaptureFixture, tmp_path: Path, *flags: str) -> str:
    """The recipe's one error line, from a run whose model and benchmark do not exist: the error comes
    before anything would have loaded them."""
    missing = tmp_path / "missing"
    argv = [*tiny("sft"), "--model_name_or_path", str(missing / "model"), "--tiny_model_arch", ""]
    argv += ["--benchmark_dir", str(missing / "bench"), "--synthetic_per_scenario", "0"]
    argv += ["--output_dir", str(tmp_path / "out"), *flags]
    assert SFT.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert not missing.exists()
    return lines[0]


def test_reward_settings_are_checked_before_loading(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert "unknown reward preset 'nope'" in run_sft(capsys, tmp_path, "--reward_preset", "nope")
    line = run_sft(capsys, tmp_path, "--reward_kwargs", '{"corect": 1}')
    assert "unknown reward weight(s) corect" in line
    line = run_sft(capsys, tmp_path, "--reward_kwargs", '{"correct": NaN}')
    assert "reward weight 'correct': expected a finite number, got nan" in line
    path, _ = yaml_with(tmp_path, "sft", "reward_kwargs: {abstain: .inf}\n")
    assert SFT.main(["--config", str(path), "--output_dir", str(tmp_path / "o")]) == 2
    assert "reward weight 'abstain': expected a finite number, got inf" in capsys.readouterr().err


def test_an_unusable_output_dir_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file")
    line = run_sft(capsys, tmp_path, "--output_dir", str(taken))
    assert line == f"error: output_dir: {taken}: exists and is not a folder; choose another output folder"
    line = run_sft(capsys, tmp_path, "--output_dir", str(taken / "run"))
    assert line == f"error: output_dir: {taken / 'run'}: cannot be created, {taken} is a file"


def checkpoint(folder: Path) -> Path:
    """A checkpoint folder laid out as the Trainer saves one (small real files)."""
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 5}))
    save_file({"w": torch.ones(4)}, folder / "adapter_model.safetensors")
    torch.save({"state": {0: torch.zeros(64)}}, folder / "optimizer.pt")
    torch.save({"last_epoch": 5}, folder / "scheduler.pt")
    return folder


@pytest.mark.parametrize(
    ("name", "damage", "reason"),
    [
        ("trainer_state.json", lambda b: b[:-3], "Expecting"),
        ("adapter_model.safetensors", lambda b: b[: len(b) - 4], "Error while deserializing header"),
        ("optimizer.pt", lambda b: b[: len(b) - 40], "zip file"),
        ("optimizer.pt", lambda b: b[:200] + bytes([b[200] ^ 0xFF]) + b[201:], "fails its checksum"),
        ("scheduler.pt", lambda b: b"\0" * len(b), "zip file"),
    ],
    ids=["json", "safetensors", "truncated-torch", "flipped-byte-torch", "zeroed-torch"],
)
def test_a_damaged_checkpoint_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str, damage, reason: str
) -> None:
    out = tmp_path / "out"
    folder = checkpoint(out / "checkpoint-5")
    check_checkpoint(folder)  # intact: passes
    path = folder / name
    path.write_bytes(damage(path.read_bytes()))
    line = run_sft(capsys, tmp_path, "--resume_from_checkpoint", "true")
    assert line.startswith(f"error: {path}: damaged checkpoint file (") and reason in line, line
    assert f"delete {folder} to resume from an earlier checkpoint" in line
    assert zipfile.is_zipfile(folder / "optimizer.pt") or name == "optimizer.pt"


@pytest.mark.slow
def test_accelerate_launch_quiet_shows_the_one_line(tmp_path: Path) -> None:
    """Under `accelerate launch -q` (one process, as accelerate_configs/cpu.yaml runs) the user sees the
    recipe's line and no traceback; accelerate turns the exit status into 1."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "-q", "--config_file"]
    command += [str(REPO / "accelerate_configs" / "cpu.yaml"), str(REPO / "recipes" / "sft.py")]
    command += [*tiny("sft"), "--max_steps", "-3", "--output_dir", str(tmp_path / "out")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    ours = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert ours == [
        "error: --max_steps: -3 is out of range, expected -1 (train for num_train_epochs) or at least 1"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_multi_process_launch_prints_the_line_once(tmp_path: Path) -> None:
    """Two processes (torchrun under accelerate): the line is printed once per machine, first; what follows
    is torch.distributed's failure report and accelerate's traceback, which -q does not silence there."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "-q", "--multi_gpu", "--num_processes"]
    command += ["2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    command += [str(REPO / "recipes" / "sft.py"), *tiny("sft"), "--max_steps", "-3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    ours = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode != 0 and ours == [
        "error: --max_steps: -3 is out of range, expected -1 (train for num_train_epochs) or at least 1"
    ]
    first = done.stderr.index(ours[0])
    assert "Traceback" not in done.stderr[:first]
