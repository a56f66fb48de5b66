"""The SFT and GRPO recipes end to end on tiny offline models and a synthetic benchmark (CPU).

Each run starts from recipes/tiny/<recipe>.yaml with paths and step counts overridden on the command
line. Checked: LoRA weights move and base weights do not, the saved adapter loads back with PEFT and
generates, the resolved config and metrics are written, a run resumes from its checkpoint, QLoRA and
DeepSpeed ZeRO-2/3 runs save a real adapter, and bad configurations fail with a clear message.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from peft import PeftModel
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText, AutoProcessor, TrainerCallback
from trl import GRPOConfig, SFTConfig

from data.builders import GRPO_FEATURES
from data.official_train import content_sha256, open_train_split
from data.prompts import user_message
from data.records import load_benchmark
from data.synth.train_split import card_rows, write_train_split
from eval.backends import HFGenerator, Prompt
from eval.rollout import Modes
from proactive.recipe_args import RecipeConfigError, parse_recipe_args
from proactive.recipe_eval import eval_modes
from proactive.tiny.archs import ARCHS
from proactive.training import train_and_save
from proactive.vision_modules import is_vision_module

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "recipes" / "tiny"
FAST_ARCH = "qwen2_vl"
OTHER_ARCHS = [arch for arch in ARCHS if arch != FAST_ARCH]


def load_recipe(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", REPO / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SFT = load_recipe("sft")
GRPO = load_recipe("grpo")


@pytest.fixture(scope="session")
def warm_model(bench: Path, tiny_models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen2-VL fully fine-tuned on the oracle's replies for a few steps: its samples now name
    offered choices often enough that GRPO groups get different rewards (a random model's never do)."""
    out = tmp_path_factory.getbasetemp() / "recipes_warm"
    if not (out / "model.safetensors").is_file():
        argv = recipe_argv("sft", tiny_models(FAST_ARCH), bench, out, max_steps=30, use_peft="false")
        argv += ["--learning_rate", "3e-3", "--per_device_train_batch_size", "8"]
        assert SFT.main(argv) == 0
    return out


def recipe_argv(
    recipe: str, model: Path, bench: Path, out: Path, max_steps: int = 3, **flags: object
) -> list[str]:
    argv = ["--config", str(TINY / f"{recipe}.yaml"), "--model_name_or_path", str(model)]
    argv += ["--benchmark_dir", str(bench), "--output_dir", str(out), "--max_steps", str(max_steps)]
    flags = {"save_strategy": "no", "logging_steps": 1, **flags}
    if recipe == "grpo":
        flags = {"num_completions_to_print": 0, "per_device_train_batch_size": 8, **flags}
    for key, value in flags.items():
        argv += [f"--{key}", str(value)]
    return argv


def build(recipe: ModuleType, argv: list[str]):
    config_class = SFTConfig if recipe is SFT else GRPOConfig
    return recipe.build_trainer(*parse_recipe_args(config_class, argv))


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def split_lora(state: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    lora = {k: v for k, v in state.items() if "lora_" in k}
    return lora, {k: v for k, v in state.items() if "lora_" not in k}


def changed(before: dict, after: dict) -> set[str]:
    return {name for name in before if not torch.equal(before[name], after[name])}


def train_and_compare(recipe: ModuleType, argv: list[str]):
    """Train one recipe run; return (trainer, lora names, lora names that changed, base names that changed)."""
    trainer, run = build(recipe, argv)
    before = snapshot(trainer.model)
    train_and_save(trainer, run)
    after = snapshot(trainer.model)
    lora, base = split_lora(before)
    assert lora, "no LoRA weights in the trained model"
    return trainer, set(lora), changed(lora, after), changed(base, after)


def reload_and_generate(model_dir: Path, out: Path, trained: torch.nn.Module) -> str:
    """Load the saved adapter onto a fresh base with PEFT, check it equals the trained one, generate."""
    base = AutoModelForImageTextToText.from_pretrained(model_dir)
    loaded = PeftModel.from_pretrained(base, out)
    trained_lora, _ = split_lora(trained.state_dict())
    loaded_lora, _ = split_lora(loaded.state_dict())
    assert trained_lora.keys() == loaded_lora.keys()
    for name, tensor in trained_lora.items():
        assert torch.equal(tensor.cpu(), loaded_lora[name]), name
    generator = HFGenerator(loaded, AutoProcessor.from_pretrained(out), max_new_tokens=4)
    image = Image.new("RGB", (56, 56), (10, 120, 200))
    [text] = generator.generate([Prompt([user_message("What is it? A. cat B. dog")], [image])])
    assert isinstance(text, str)
    return text


def assert_outputs(out: Path, steps: int) -> dict:
    """The files a finished run leaves, with the values they must hold."""
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all(t.numel() > 0 for t in adapter.values())
    assert any("lora_B" in name and t.abs().sum() > 0 for name, t in adapter.items())
    assert (out / "processor_config.json").is_file() and (out / "chat_template.jinja").is_file()
    config = yaml.safe_load((out / "resolved_config.yaml").read_text())
    assert set(config) == {"script_args", "training_args", "model_args", "data", "distributed", "versions"}
    assert config["training_args"]["max_steps"] == steps
    assert config["data"]["train_episodes"] > 0 and config["data"]["train_rows"] > 0
    assert config["versions"]["trl"].startswith("1.16")
    results = json.loads((out / "train_results.json").read_text())
    assert results["train_samples"] == config["data"]["train_rows"] and "train_loss" in results
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == steps
    return config


# --- SFT --------------------------------------------------------------------------------------------
def test_sft_on_a_fresh_clone_builds_its_inputs_and_trains_only_lora(tmp_path: Path):
    """The tiny YAML as is (paths moved to tmp): benchmark and model are created, then 3 LoRA steps."""
    model_dir, bench_dir, out = tmp_path / "tiny-qwen2-vl", tmp_path / "bench", tmp_path / "sft"
    argv = recipe_argv("sft", model_dir, bench_dir, out, synthetic_per_scenario=3, synthetic_image_size=56)
    trainer, lora, lora_changed, base_changed = train_and_compare(SFT, argv)
    assert (bench_dir / "synthetic.json").is_file() and (model_dir / "tiny_model.json").is_file()
    assert base_changed == set()
    assert {n for n in lora if "lora_B" in n} <= lora_changed  # B starts at zero: every B moved
    assert all("language_model" in name for name in lora)  # LoRA on the language model only
    config = assert_outputs(out, 3)
    assert config["script_args"]["train_scenarios"] == ["QuickDraw", "coco2014"]
    assert config["data"]["resumed_from_checkpoint"] is None
    reload_and_generate(model_dir, out, trainer.model)


def test_sft_trains_on_the_reply_only_for_single_turns(bench: Path, tiny_models, tmp_path: Path):
    argv = recipe_argv("sft", tiny_models(FAST_ARCH), bench, tmp_path / "out", max_steps=1)
    trainer, _ = build(SFT, argv)
    assert {"prompt", "completion", "image"} <= set(trainer.train_dataset.column_names)
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    reply_tokens = (batch["labels"] != -100).sum(dim=1)
    assert 0 < reply_tokens.max() < 30 < batch["input_ids"].shape[1]


def test_sft_multi_turn_letters(bench: Path, tiny_models, tmp_path: Path):
    out = tmp_path / "multi"
    argv = recipe_argv("sft", tiny_models(FAST_ARCH), bench, out, sft_turns="multi", answer_format="letter")
    trainer, _ = build(SFT, argv)
    assert {"messages", "images"} <= set(trainer.train_dataset.column_names)
    assert trainer.train_dataset[0]["messages"][1]["content"][0]["text"] in "ABCDEFGHIJ"
    assert SFT.main(argv) == 0
    assert_outputs(out, 3)


@pytest.mark.slow
@pytest.mark.parametrize("arch", OTHER_ARCHS)
def test_sft_lora_other_archs(arch: str, bench: Path, tiny_models, tmp_path: Path):
    model_dir = tiny_models(arch)
    trainer, lora, lora_changed, base_changed = train_and_compare(
        SFT, recipe_argv("sft", model_dir, bench, tmp_path / "sft")
    )
    assert base_changed == set() and {n for n in lora if "lora_B" in n} <= lora_changed
    assert not [name for name in lora if is_vision_module(name)]
    assert_outputs(tmp_path / "sft", 3)
    reload_and_generate(model_dir, tmp_path / "sft", trainer.model)


# --- GRPO -------------------------------------------------------------------------------------------
def test_grpo_from_a_warm_model_trains_only_lora(warm_model: Path, bench: Path, tmp_path: Path):
    out = tmp_path / "grpo"
    trainer, lora, lora_changed, base_changed = train_and_compare(
        GRPO, recipe_argv("grpo", warm_model, bench, out, max_steps=4)
    )
    history = trainer.state.log_history
    assert any(h.get("frac_reward_zero_std", 1) < 1 for h in history), "no group had different rewards"
    assert any(h.get("outcomes/unparseable", 1) < 1 for h in history)
    assert base_changed == set() and lora_changed
    config = assert_outputs(out, 4)
    assert config["training_args"]["log_completions"] is True
    assert config["script_args"]["reward_preset"] == "proactive"
    assert list((out / "completions").glob("*.parquet"))  # the sampled completions are logged
    reload_and_generate(warm_model, out, trainer.model)


@pytest.mark.slow
@pytest.mark.parametrize("arch", OTHER_ARCHS)
def test_grpo_other_archs(arch: str, bench: Path, tiny_models, tmp_path: Path):
    """A random model's rollouts all score the same, so only the run, the base weights and the saved
    adapter are checked here (the warm Qwen2-VL test checks that GRPO moves LoRA)."""
    model_dir = tiny_models(arch)
    trainer, _, _, base_changed = train_and_compare(
        GRPO, recipe_argv("grpo", model_dir, bench, tmp_path / "g")
    )
    assert base_changed == set()
    adapter = load_file(tmp_path / "g" / "adapter_model.safetensors")
    assert adapter and all(t.numel() > 0 for t in adapter.values())
    reload_and_generate(model_dir, tmp_path / "g", trainer.model)


@pytest.mark.slow
def test_grpo_qlora_step(warm_model: Path, bench: Path, tmp_path: Path):
    out = tmp_path / "qlora"
    trainer, _, lora_changed, base_changed = train_and_compare(
        GRPO, recipe_argv("grpo", warm_model, bench, out, max_steps=4, load_in_4bit="true")
    )
    kinds = {
        type(m).__name__
        for n, m in trainer.model.named_modules()
        if n.endswith("self_attn.q_proj.base_layer")
    }
    assert kinds == {"Linear4bit"}
    vision = [
        m for n, m in trainer.model.named_modules() if ".visual." in n and isinstance(m, torch.nn.Linear)
    ]
    assert vision and all(type(m) is torch.nn.Linear for m in vision)  # the vision tower stays unquantized
    assert type(trainer.model.get_output_embeddings()) is torch.nn.Linear
    assert base_changed == set() and lora_changed
    config = assert_outputs(out, 4)
    assert (
        config["model_args"]["load_in_4bit"] is True and config["model_args"]["bnb_4bit_quant_type"] == "nf4"
    )


# --- resume -----------------------------------------------------------------------------------------
class StepRecorder(TrainerCallback):
    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


def test_resume_continues_from_the_last_checkpoint(bench: Path, tiny_models, tmp_path: Path):
    out = tmp_path / "resumable"
    first = recipe_argv(
        "sft", tiny_models(FAST_ARCH), bench, out, max_steps=2, save_strategy="steps", save_steps=2
    )
    assert SFT.main(first) == 0
    assert (out / "checkpoint-2").is_dir()
    second = recipe_argv(
        "sft", tiny_models(FAST_ARCH), bench, out, max_steps=4, save_strategy="steps", save_steps=2,
        resume_from_checkpoint="true",
    )  # fmt: skip
    trainer, run = build(SFT, second)
    recorder = StepRecorder()
    trainer.add_callback(recorder)
    train_and_save(trainer, run)
    assert recorder.steps == [3, 4]  # steps 1-2 came from the checkpoint
    config = assert_outputs(out, 4)
    assert config["data"]["resumed_from_checkpoint"] == str(out / "checkpoint-2")
    logged = [
        h["step"] for h in json.loads((out / "trainer_state.json").read_text())["log_history"] if "loss" in h
    ]
    assert logged == [1, 2, 3, 4]


def test_resume_true_without_checkpoint_starts_from_scratch(bench: Path, tiny_models, tmp_path: Path):
    out = tmp_path / "fresh"
    argv = recipe_argv("sft", tiny_models(FAST_ARCH), bench, out, max_steps=1, resume_from_checkpoint="true")
    assert SFT.main(argv) == 0
    assert (
        yaml.safe_load((out / "resolved_config.yaml").read_text())["data"]["resumed_from_checkpoint"] is None
    )


# --- evaluation after training ----------------------------------------------------------------------
def test_eval_after_training_scores_unseen_episodes(bench: Path, tiny_models, tmp_path: Path):
    out = tmp_path / "evaluated"
    argv = recipe_argv(
        "sft", tiny_models(FAST_ARCH), bench, out, max_steps=1, eval_after_training="true", eval_limit=1,
        eval_batch_size=4, eval_resize="true", eval_icl="true",
    )  # fmt: skip
    assert SFT.main(argv) == 0
    metrics = json.loads((out / "eval_results.json").read_text())
    assert {"eval_acc", "eval_psr", "eval_QuickDraw_acc", "eval_ChangeIt_psr"} <= set(metrics)
    summary = json.loads((out / "eval" / "summary.json").read_text())
    assert summary["average"]["n"] == 7  # one episode per scenario
    assert summary["config"]["icl"] and summary["config"]["resize"]  # the official modes asked for
    episodes = [json.loads(line) for line in (out / "eval" / "episodes.jsonl").read_text().splitlines()]
    config = yaml.safe_load((out / "resolved_config.yaml").read_text())
    assert config["data"]["eval_episodes"] > 0
    _, run = build(SFT, argv)  # the QuickDraw / coco2014 episodes evaluated were held out of training
    train_ids = {(r.scenario, r.id) for r in run.records.train}
    assert not {(e["scenario"], e["record_id"]) for e in episodes} & train_ids


# --- errors -----------------------------------------------------------------------------------------
def test_unknown_yaml_key_names_the_key_and_file(tmp_path: Path):
    config = tmp_path / "bad.yaml"
    text = (TINY / "grpo.yaml").read_text()
    lines = len(text.splitlines())
    config.write_text(text + "lerning_rate: 0.1\n")
    with pytest.raises(
        RecipeConfigError,
        match=rf"bad\.yaml:{lines + 1}: unknown key 'lerning_rate'.*did you mean 'learning_rate'",
    ):
        parse_recipe_args(GRPOConfig, ["--config", str(config)])


def test_reward_weights_mapping_points_to_reward_kwargs(tmp_path: Path):
    config = tmp_path / "weights.yaml"
    config.write_text((TINY / "grpo.yaml").read_text() + "reward_weights: {useful_intervention: 0.75}\n")
    with pytest.raises(RecipeConfigError, match=r"weights.yaml:\d+: key 'reward_weights'.*'reward_kwargs'"):
        parse_recipe_args(GRPOConfig, ["--config", str(config)])


def test_main_reports_config_errors_in_one_line(tmp_path: Path, capsys):
    assert SFT.main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'missing.yaml'}: config file not found"
    assert SFT.main(recipe_argv("sft", tmp_path, tmp_path, tmp_path, max_length=512)) == 2
    assert "vision SFT needs max_length: null" in capsys.readouterr().err
    if not torch.cuda.is_available():  # TrainingArguments' own check, reported with the config file
        assert SFT.main(recipe_argv("sft", tmp_path, tmp_path, tmp_path, bf16="true", use_cpu="false")) == 2
        assert capsys.readouterr().err.startswith(
            f"error: {TINY / 'sft.yaml'}: Your setup doesn't support bf16"
        )


def test_missing_model_is_a_clear_error(bench: Path, tmp_path: Path, capsys):
    missing = tmp_path / "no" / "model"
    argv = recipe_argv("sft", missing, bench, tmp_path / "out", tiny_model_arch="")
    assert SFT.main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: model_name_or_path {str(missing)!r}: cannot load it")
        and "tiny_model_arch" in err
    )
    assert SFT.main(recipe_argv("sft", missing, bench, tmp_path / "out", tiny_model_arch="qwen9")) == 2
    assert "tiny_model_arch: unknown tiny architecture 'qwen9'" in capsys.readouterr().err


def test_missing_benchmark_folder_is_a_clear_error(tiny_models, tmp_path: Path, capsys):
    missing = tmp_path / "no-such-bench"
    argv = recipe_argv("grpo", tiny_models(FAST_ARCH), missing, tmp_path / "out", synthetic_per_scenario=0)
    assert GRPO.main(argv) == 2
    err = capsys.readouterr().err
    assert f"benchmark_dir {str(missing)!r}: no such folder" in err and "synthetic_per_scenario" in err


def test_flags_override_yaml_and_tiny_yamls_hold_the_vision_settings():
    script, sft, model = parse_recipe_args(
        SFTConfig, ["--config", str(TINY / "sft.yaml"), "--learning_rate", "0.5", "--train_scenarios", "qd", "rod",
                    "--held_out_scenarios", "coco", "--reward_kwargs", '{"abstain": -1}']
    )  # fmt: skip
    assert sft.learning_rate == 0.5 and sft.max_length is None and not sft.packing and not sft.padding_free
    assert script.train_scenarios == ["QuickDraw", "Realistic-Occlusion-Dataset"]
    assert script.reward_kwargs == {"abstain": -1}
    assert sft.use_cpu and not sft.bf16 and sft.report_to == []
    _, grpo, model = parse_recipe_args(GRPOConfig, ["--config", str(TINY / "grpo.yaml")])
    assert grpo.log_completions and grpo.per_device_train_batch_size % grpo.num_generations == 0
    assert model.use_peft and "language_model" in model.lora_target_modules
    with pytest.raises(RecipeConfigError, match="share QuickDraw"):
        parse_recipe_args(SFTConfig, ["--config", str(TINY / "sft.yaml"), "--held_out_scenarios", "qd"])
    script, _, _ = parse_recipe_args(
        SFTConfig, ["--config", str(TINY / "sft.yaml"), "--eval_icl", "true", "--eval_cot", "true"]
    )
    assert eval_modes(script) == Modes(icl=True, cot=True)
    with pytest.raises(RecipeConfigError, match="eval_reduce_icl_steps: .* need icl"):
        parse_recipe_args(SFTConfig, ["--config", str(TINY / "sft.yaml"), "--eval_reduce_icl_steps", "true"])


# --- DeepSpeed --------------------------------------------------------------------------------------
def launch(recipe: str, launcher: list[str], model: Path, bench: Path, out: Path, **flags: object) -> dict:
    """``accelerate launch <launcher flags> recipes/<recipe>.py ...`` in a subprocess; the resolved config."""
    command = [sys.executable, "-m", "accelerate.commands.launch", *launcher, "--num_machines", "1"]
    command += ["--mixed_precision", "no", "--dynamo_backend", "no", str(REPO / "recipes" / f"{recipe}.py")]
    command += recipe_argv(recipe, model, bench, out, max_steps=2, **flags)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, cwd=out.parent, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return yaml.safe_load((out / "resolved_config.yaml").read_text())


@pytest.mark.slow
def test_two_cpu_processes_on_a_fresh_clone(tmp_path: Path):
    """--multi_gpu --num_processes 2 with use_cpu runs two gloo processes (--cpu would silently run one);
    the main process builds the missing benchmark and model before the other one reads them."""
    model_dir, bench_dir, out = tmp_path / "tiny", tmp_path / "bench", tmp_path / "grpo"
    launcher = ["--multi_gpu", "--num_processes", "2"]
    config = launch(
        "grpo", launcher, model_dir, bench_dir, out, synthetic_per_scenario=3, synthetic_image_size=56
    )
    assert (
        config["distributed"]["distributed_type"] == "MULTI_CPU"
        and config["distributed"]["num_processes"] == 2
    )
    assert (bench_dir / "synthetic.json").is_file() and (model_dir / "tiny_model.json").is_file()
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all(t.numel() > 0 for t in adapter.values())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("recipe", "stage", "processes"), [("sft", 2, 1), ("sft", 3, 1), ("grpo", 2, 1), ("grpo", 3, 2)]
)
def test_deepspeed_saves_a_real_adapter(
    recipe, stage, processes, warm_model: Path, bench: Path, tmp_path: Path
):
    out = tmp_path / f"{recipe}-zero{stage}"
    launcher = ["--use_deepspeed", "--zero_stage", str(stage), "--num_processes", str(processes)]
    config = launch(recipe, launcher, warm_model, bench, out)
    assert config["distributed"] == {
        "distributed_type": "DEEPSPEED", "num_processes": processes, "zero_stage": stage, "mixed_precision": "no",
    }  # fmt: skip
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all(t.numel() > 0 for t in adapter.values())
    base = AutoModelForImageTextToText.from_pretrained(warm_model)
    loaded = PeftModel.from_pretrained(base, out)
    loaded_lora, _ = split_lora(loaded.state_dict())
    assert len(loaded_lora) == len(adapter)
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 2


# --- the official train split -------------------------------------------------------------------------
# Each encoding of the card's unknowns at least once (data/official_train.py; tests/test_official_train.py).
SPLIT_ENCODINGS = [
    {"ground_truth": "text", "options": "with_actions", "prompt": "mcqa"},
    {"ground_truth": "letter", "options": "without_actions", "prompt": "mcqa"},
    {"ground_truth": "text", "options": "without_actions", "prompt": "question"},
    {"ground_truth": "letter", "options": "with_actions", "prompt": "question"},
]


@pytest.fixture
def datasets_cache(tmp_path: Path, monkeypatch) -> Path:
    """The recipe converts parquet into the datasets cache: keep it in the test's folder."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    return tmp_path / "hf-datasets"


def train_split_folder(bench: Path, folder: Path, **encoding: str) -> int:
    """A parquet folder of the card's schema made from the bench's QuickDraw / coco2014 episodes; its rows."""
    loaded = load_benchmark(bench, ["QuickDraw", "coco2014"])
    rows = card_rows(loaded["QuickDraw"].records + loaded["coco2014"].records, bench, **encoding)
    write_train_split(folder, rows, rows_per_file=16)
    return len(rows)


@pytest.mark.parametrize("encoding", SPLIT_ENCODINGS, ids=lambda e: "-".join(e.values()))
def test_grpo_trains_one_step_on_the_official_train_split(
    encoding, warm_model: Path, bench: Path, datasets_cache: Path, tmp_path: Path
):
    folder, out = tmp_path / "ProactiveBench", tmp_path / "grpo"
    rows = train_split_folder(bench, folder, **encoding)
    argv = recipe_argv("grpo", warm_model, bench, out, max_steps=1, train_source="official_train")
    trainer, _, _, base_changed = train_and_compare(GRPO, argv + ["--train_data", str(folder)])
    assert base_changed == set()
    assert trainer.train_dataset.features == GRPO_FEATURES and len(trainer.train_dataset) == rows
    assert list(datasets_cache.glob("parquet/*"))  # converted once into the (test's) datasets cache
    config = yaml.safe_load((out / "resolved_config.yaml").read_text())
    data = config["data"]
    assert data["train_source"] == "official_train" and data["train_rows"] == rows
    split = data["official_train"]
    assert split["source"] == str(folder) and split["rows"] == rows and split["encodings"] == encoding
    assert split["content_sha256"] == content_sha256(open_train_split(folder))
    # Trained on the split: every QuickDraw / coco2014 test episode is evaluated, none trained on.
    loaded = load_benchmark(bench, ["QuickDraw", "coco2014"])
    assert data["train_episodes"] == 0
    assert data["eval_episodes"] == len(loaded["QuickDraw"].records) + len(loaded["coco2014"].records)
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 1


def test_official_train_errors_are_one_line(warm_model: Path, bench: Path, datasets_cache, tmp_path, capsys):
    folder = tmp_path / "split"
    train_split_folder(bench, folder)
    broken = sorted((folder / "data").glob("train-*.parquet"))[0]
    table = pq.read_table(broken)
    pq.write_table(table.set_column(1, "ground_truth", pa.array(["zebra"] * len(table))), broken)
    argv = recipe_argv("grpo", warm_model, bench, tmp_path / "out", train_source="official_train")
    assert GRPO.main(argv + ["--train_data", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the datasets progress bars
    assert err.startswith(f"error: {folder}: row 0: column 'ground_truth': expected one of the categories")
    assert err.endswith("found 'zebra'")
    sft = recipe_argv("sft", warm_model, bench, tmp_path / "sft", train_source="official_train")
    assert SFT.main(sft) == 2
    assert "the official train split does not say which views are informative" in capsys.readouterr().err
    with pytest.raises(RecipeConfigError, match="official_train holds QuickDraw and coco2014 rows only"):
        parse_recipe_args(GRPOConfig, recipe_argv("grpo", warm_model, bench, tmp_path, train_source="official_train",
                                                  train_scenarios="rod", held_out_scenarios="qd"))  # fmt: skip
    with pytest.raises(
        RecipeConfigError, match="train_source 'test': expected one of benchmark, official_train"
    ):
        parse_recipe_args(GRPOConfig, recipe_argv("grpo", warm_model, bench, tmp_path, train_source="test"))
