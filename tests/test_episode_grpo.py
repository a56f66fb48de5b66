"""Episode and tools GRPO (recipes/grpo.py with ``rollout: episode | tools``) on the tiny Qwen2-VL twin.

Checked: the rows (one per reachable state, with the path that reached it and, with history, the earlier
turns and their images), a training step in which every rollout plays its episode to the end and is
rewarded with that episode's reward, and two-step runs through ``accelerate launch`` for both rollouts
that save an adapter whose LoRA weights moved while the base model did not; the tools run starts from a
twin taught to call the tool, so its episodes do intervene and get the next view back as an image.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import test_recipes  # the recipe tests: their fixtures and helpers
import torch
from datasets import Dataset
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText, AutoProcessor
from trl import GRPOConfig, SFTConfig, SFTTrainer

from data import tools
from data.builders import SFT_PROMPT_COMPLETION_FEATURES, build_grpo_dataset
from data.environment import make_episode, reachable_states
from data.images import open_view
from data.records import load_benchmark
from eval.tool_chat import enable_tool_calling
from proactive.episode_envs import EpisodeEnvironment
from proactive.recipe_args import parse_recipe_args
from reward.episode import episode_reward, interventions

GRPO, REPO, TINY = test_recipes.GRPO, test_recipes.REPO, test_recipes.TINY
warm_model = test_recipes.warm_model  # bench and tiny_models come from conftest.py
ROD, QD = "Realistic-Occlusion-Dataset", "QuickDraw"
LEFT = "Move the occluder to the left."
CALL_TEXT = '<tool_call>\n{"name": "intervene", "arguments": {"request": "%s"}}\n</tool_call>'


def argv(config: str, model: Path, bench: Path, out: Path, **flags: object) -> list[str]:
    args = ["--config", str(TINY / config), "--model_name_or_path", str(model), "--benchmark_dir", str(bench)]
    flags = {
        "output_dir": out,
        "max_steps": 2,
        "save_strategy": "no",
        "per_device_train_batch_size": 8,
        **flags,
    }
    for key, value in flags.items():
        args += [f"--{key}", *map(str, value if isinstance(value, list) else [value])]
    return args


def build(args: list[str]):
    return GRPO.build_trainer(*parse_recipe_args(GRPOConfig, args))


def test_episode_rows_are_the_reachable_states_with_their_paths(
    warm_model: Path, bench: Path, tmp_path: Path
):
    trainer, run = build(argv("grpo_episode.yaml", warm_model, bench, tmp_path / "rows", history="true"))
    rows = trainer.train_dataset
    single_turn = build_grpo_dataset(run.records.train, bench)
    assert len(rows) == len(single_turn) == sum(len(reachable_states(r)) for r in run.records.train)
    for row in rows.select(range(0, len(rows), 7)):
        assert len(row["path"]) == row["step"]
        assert len(row["images"]) == row["step"] + 1  # history: every earlier view, then the current one
        assert [m["role"] for m in row["prompt"]] == ["user", "assistant"] * row["step"] + ["user"]
        environment = EpisodeEnvironment(trainer.environment_factories[None].args[0])
        environment.reset(**row)
        assert environment.episode.state().prompt == row["prompt"][-1]["content"][1]["text"]


def test_every_rollout_plays_its_episode_to_the_end(warm_model: Path, bench: Path, tmp_path: Path):
    trainer, _ = build(argv("grpo_episode.yaml", warm_model, bench, tmp_path / "play", max_steps=1))
    trainer.train()
    environments = trainer.environments  # the one batch's rollouts (8 rows)
    episodes = [e.episode for e in environments]
    assert len(episodes) == 8 and all(e.done for e in episodes)
    assert all(len(e.rollout_turns) >= 1 for e in environments)
    weights = trainer.environment_factories[None].args[0].weights
    rewards = [episode_reward(e.episode.turns[e.start :], weights) for e in environments]
    logged = trainer.state.log_history[0]
    assert logged["rewards/EpisodeEnvironment/mean"] == pytest.approx(sum(rewards) / 8, abs=1e-6)
    assert logged["episodes/acc"] == pytest.approx(sum(e.success for e in episodes) / 8)
    assert logged["episodes/interventions"] == pytest.approx(
        sum(interventions(e.rollout_turns) for e in environments) / 8
    )


@pytest.fixture(scope="session")
def tool_caller(bench: Path, tiny_models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The twin fine-tuned (full weights, TRL's SFTTrainer) to open every ROD episode of the tools protocol
    with the same call (moving the occluder is all ROD accepts at first): a memorization of 150 small steps
    (about 2 minutes on one CPU thread), after which most sampled calls are well formed."""
    out = tmp_path_factory.getbasetemp() / "tool_caller"
    if (out / "model.safetensors").is_file():
        return out
    base = tiny_models("qwen2_vl")
    processor = enable_tool_calling(AutoProcessor.from_pretrained(base))
    rendered = processor.apply_chat_template(
        [{"role": "user", "content": "x"}], tools=[tools.intervene], tokenize=False
    )
    system = rendered.split("<|im_start|>system\n")[1].split("<|im_end|>")[
        0
    ]  # the tool block, as a system turn
    rows = []
    for record in load_benchmark(bench, [ROD], id_filter=None)[ROD].records:
        state = make_episode(record).state()
        rows.append(
            {
                "prompt": [
                    {"role": "system", "content": [{"type": "text", "text": system}]},
                    tools.first_message(state),
                ],
                "completion": [
                    {"role": "assistant", "content": [{"type": "text", "text": CALL_TEXT % LEFT}]}
                ],
                "image": open_view(bench, state.image, state.crop),
                "step": 0,
                "scenario": state.scenario,
                "record_id": state.record_id,
            }
        )
    args = SFTConfig(
        output_dir=str(out), use_cpu=True, bf16=False, max_steps=150, per_device_train_batch_size=2, learning_rate=1e-2,
        lr_scheduler_type="constant", max_length=None, report_to="none", save_strategy="no",
        gradient_checkpointing=False, seed=0,
    )  # fmt: skip
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
    dataset = Dataset.from_list(rows, features=SFT_PROMPT_COMPLETION_FEATURES)
    SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=AutoProcessor.from_pretrained(base)
    ).train()
    model.save_pretrained(out)
    AutoProcessor.from_pretrained(base).save_pretrained(out)
    return out


def digest(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


CPU_CONFIG = ["--config_file", str(REPO / "accelerate_configs" / "cpu.yaml")]
TWO_CPU_PROCESSES = ["--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]


def launch(
    config: str, model: Path, bench: Path, out: Path, launcher=CPU_CONFIG, **flags: object
) -> list[dict]:
    """``accelerate launch <launcher> recipes/grpo.py --config recipes/tiny/<config>``; the logged history."""
    command = [sys.executable, "-m", "accelerate.commands.launch", *launcher]
    flags = {"per_device_train_batch_size": 16, "temperature": 0.7, **flags}  # 4 groups: some rewards differ
    command += [str(REPO / "recipes" / "grpo.py"), *argv(config, model, bench, out, **flags)]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TRL_EXPERIMENTAL_SILENCE": "1",
    }
    done = subprocess.run(command, cwd=out.parent, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((out / "trainer_state.json").read_text())["log_history"]


def assert_lora_moved_base_did_not(model: Path, out: Path, before: str) -> None:
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all("lora_" in name for name in adapter)  # only LoRA weights are saved
    assert any("lora_B" in name and t.abs().sum() > 0 for name, t in adapter.items())  # B starts at zero
    assert digest(model) == before
    PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(model), out)


@pytest.mark.slow
def test_episode_grpo_through_accelerate_launch_on_two_processes(
    warm_model: Path, bench: Path, tmp_path: Path
):
    before = digest(warm_model)
    history = launch("grpo_episode.yaml", warm_model, bench, tmp_path / "episode", launcher=TWO_CPU_PROCESSES)
    assert_lora_moved_base_did_not(warm_model, tmp_path / "episode", before)
    steps = [h for h in history if "rewards/EpisodeEnvironment/mean" in h]
    assert len(steps) == 2 and any(h["frac_reward_zero_std"] < 1 for h in steps)


@pytest.mark.slow
def test_tools_grpo_through_accelerate_launch(tool_caller: Path, bench: Path, tmp_path: Path):
    before = digest(tool_caller)
    history = launch(
        "grpo_tools.yaml", tool_caller, bench, tmp_path / "tools", train_scenarios=[ROD, QD], held_out_scenarios="coco",
        eval_after_training="true", eval_limit=1,
    )  # fmt: skip
    assert_lora_moved_base_did_not(tool_caller, tmp_path / "tools", before)
    steps = [h for h in history if "rewards/ToolEnvironment/mean" in h]
    assert len(steps) == 2
    assert all(h["tools/call_frequency"] > 0 and h["episodes/interventions"] > 0 for h in steps)
    summary = json.loads((tmp_path / "tools" / "eval" / "summary.json").read_text())
    assert summary["config"]["protocol"] == "tools" and summary["average"]["n"] == 3  # ROD, QD, COCO
