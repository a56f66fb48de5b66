"""The real-model recipe YAMLs (recipes/<model>/) and the accelerate configs (accelerate_configs/).

Every recipe parses with the real TrlParser and dataclasses, holds the values its header documents (launch
line, effective batch, the paper's GRPO hyperparameters) and puts LoRA on the language model only. Every
accelerate config loads with accelerate's own classes and resolves to the launcher and plugin settings it
describes. No training; the slow tests launch real (tiny) processes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from unittest import mock

import pytest
import yaml
from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils import DeepSpeedPlugin, DistributedType, FullyShardedDataParallelPlugin
from accelerate.utils.launch import (
    prepare_deepspeed_cmd_env,
    prepare_multi_gpu_env,
    prepare_simple_launcher_cmd_env,
)
from peft.tuners.tuners_utils import check_target_module_exists
from trl import GRPOConfig, ModelConfig, SFTConfig, get_peft_config, get_quantization_config

from data.scenarios import SCENARIO_NAMES
from proactive.recipe_args import parse_recipe_args
from reward import PRESETS

REPO = Path(__file__).resolve().parents[1]
# The real-model recipes: recipes/<model>/*.yaml (tiny CPU recipes, the quickstart and study configs excluded).
RECIPES = sorted(
    p for p in (REPO / "recipes").glob("*/*.yaml") if p.parent.name not in ("tiny", "studies", "quickstart")
)
GRPO_RECIPES = [p for p in RECIPES if p.name.startswith("grpo")]
SFT_RECIPES = [p for p in RECIPES if p.name == "sft.yaml"]
ACCELERATE_DIR = REPO / "accelerate_configs"
PAPER_BATCH = 512  # completions per optimizer step (64 prompts x 8 rollouts)
SFT_BATCH = 32
TRAIN = ["QuickDraw", "coco2014"]


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


# --- module names of each family in transformers 5.24 (layer 0 stands for every layer) --------------------
def _language_model(prefix: str) -> dict[str, str]:
    attn = {f"{prefix}.layers.0.self_attn.{n}": n for n in ("q_proj", "k_proj", "v_proj", "o_proj")}
    mlp = {f"{prefix}.layers.0.mlp.{n}": n for n in ("gate_proj", "up_proj", "down_proj")}
    return attn | mlp


def _clip_like(prefix: str, attention: str = "self_attn", out: str = "out_proj") -> list[str]:
    names = [f"{prefix}.encoder.layers.0.{attention}.{n}" for n in ("q_proj", "k_proj", "v_proj", out)]
    return names + [f"{prefix}.encoder.layers.0.mlp.fc1", f"{prefix}.encoder.layers.0.mlp.fc2"]


QWEN_VISION = ["model.visual.blocks.0.attn.qkv", "model.visual.blocks.0.attn.proj"]
LLAVA_VISION = _clip_like("model.vision_tower") + [
    "model.multi_modal_projector.linear_1",
    "model.multi_modal_projector.linear_2",
]
# name -> (language-model linear layers {module: kind}, every other linear layer)
FAMILIES: dict[str, tuple[dict[str, str], list[str]]] = {
    "qwen2.5-vl": (
        _language_model("model.language_model"),
        QWEN_VISION
        + [f"model.visual.blocks.0.mlp.{n}" for n in ("gate_proj", "up_proj", "down_proj")]
        + ["model.visual.merger.mlp.0", "model.visual.merger.mlp.2", "lm_head"],
    ),
    "qwen3-vl": (
        _language_model("model.language_model"),
        QWEN_VISION
        + ["model.visual.blocks.0.mlp.linear_fc1", "model.visual.blocks.0.mlp.linear_fc2"]
        + ["model.visual.merger.linear_fc1", "model.visual.deepstack_merger_list.0.linear_fc2", "lm_head"],
    ),
    "llava": (_language_model("model.language_model"), LLAVA_VISION + ["lm_head"]),
    "internvl": (
        _language_model("model.language_model"),
        [
            "model.vision_tower.encoder.layer.0.attention.q_proj",
            "model.vision_tower.encoder.layer.0.attention.k_proj",
            "model.vision_tower.encoder.layer.0.attention.v_proj",
            "model.vision_tower.encoder.layer.0.attention.projection_layer",
            "model.vision_tower.encoder.layer.0.mlp.fc1",
            "model.multi_modal_projector.linear_1",
            "lm_head",
        ],
    ),
    "smolvlm": (
        _language_model("model.text_model"),
        _clip_like("model.vision_model") + ["model.connector.modality_projection.proj", "lm_head"],
    ),
}
# Every hub id the recipes use, with its family (proactive.tiny_models.TINY_TWINS should cover them all).
MODEL_FAMILIES = {
    "Qwen/Qwen2.5-VL-3B-Instruct": "qwen2.5-vl",
    "Qwen/Qwen2.5-VL-7B-Instruct": "qwen2.5-vl",
    "Qwen/Qwen3-VL-4B-Instruct": "qwen3-vl",
    "Qwen/Qwen3-VL-8B-Instruct": "qwen3-vl",
    "llava-hf/llava-v1.6-mistral-7b-hf": "llava",
    "llava-hf/llava-onevision-qwen2-0.5b-ov-hf": "llava",
    "llava-hf/llava-onevision-qwen2-7b-ov-hf": "llava",
    "OpenGVLab/InternVL3-2B-hf": "internvl",
    "HuggingFaceTB/SmolVLM2-2.2B-Instruct": "smolvlm",
}


# --- reading the recipes -------------------------------------------------------------------------------
@cache
def parsed(path: Path, world_size: int = 1) -> tuple:
    """(script args, SFTConfig | GRPOConfig, ModelConfig) of a recipe, as TRL sees it with ``world_size``."""
    config_class = SFTConfig if path.name == "sft.yaml" else GRPOConfig
    # Tests run without a GPU: use_cpu lets bf16: true pass TrainingArguments' device check, as in TRL's own tests.
    argv = ["--config", str(path), "--use_cpu", "true"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no deprecated argument (e.g. gradient_checkpointing)
        # GRPOConfig checks its generation batch against the world size; stand in the documented one.
        with mock.patch.object(config_class, "world_size", property(lambda self: world_size)):
            return parse_recipe_args(config_class, argv)


@dataclass(frozen=True)
class Launch:
    accelerate_config: str
    num_processes: int
    script: str
    config: str


def header(path: Path) -> str:
    """The leading comment block, one line, with continuation backslashes removed."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines).replace("\\ ", "")


def launch_line(path: Path) -> Launch:
    usage = re.search(
        r"usage: accelerate launch --config_file (\S+) --num_processes (\d+)\s+(\S+) --config (\S+)",
        header(path),
    )
    assert usage, f"{rel(path)}: no 'usage: accelerate launch --config_file ... --num_processes N' line"
    return Launch(usage[1], int(usage[2]), usage[3], usage[4])


def documented_batch(path: Path) -> tuple[int, int, int]:
    """(per device, accumulation, processes) as the recipe's comments state its effective batch."""
    comments = " ".join(
        line.lstrip("#").strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    )
    stated = re.search(
        r"per_device_train_batch_size (\d+) x gradient_accumulation_steps (\d+) x (\d+) process", comments
    )
    assert stated, f"{rel(path)}: no comment stating the effective batch"
    return int(stated[1]), int(stated[2]), int(stated[3])


def model_size_billions(path: Path) -> float:
    size = re.search(r"-(\d+(?:\.\d+)?)b$", path.parent.name)
    assert size, f"{rel(path.parent)}: folder name should end with the size, e.g. -7b"
    return float(size[1])


def test_there_are_recipes_for_every_family_the_task_names():
    folders = {p.parent.name for p in RECIPES}
    assert {
        "qwen2.5-vl-3b",
        "qwen2.5-vl-7b",
        "llava-next-mistral-7b",
        "internvl3-2b",
        "smolvlm2-2.2b",
    } <= folders
    assert any(f.startswith("llava-onevision-") for f in folders)
    assert any(f.startswith("qwen3-vl-") for f in folders)
    for folder in folders:
        assert (REPO / "recipes" / folder / "sft.yaml").is_file(), folder
        assert (REPO / "recipes" / folder / "grpo.yaml").is_file(), folder


@pytest.mark.parametrize("path", RECIPES, ids=rel)
def test_recipe_parses_with_the_real_trl_parser(path):
    script, training, model = parsed(path)
    assert model.model_name_or_path in MODEL_FAMILIES, (
        f"{rel(path)}: add the model's family to MODEL_FAMILIES"
    )
    assert not (REPO / model.model_name_or_path).exists()  # a hub id, not a local folder
    assert model.dtype == "bfloat16" and training.bf16 is True
    assert training.activation_checkpointing is True
    assert model.use_peft is True
    assert script.benchmark_dir == "ProactiveBench/test" and script.synthetic_per_scenario == 0
    assert script.train_scenarios == TRAIN
    assert sorted(script.held_out_scenarios) == sorted(set(SCENARIO_NAMES) - set(TRAIN))
    assert script.id_filter == "official"
    assert training.output_dir.startswith(f"outputs/{path.parent.name}-")


def test_recipes_write_to_distinct_output_dirs():
    output_dirs = [parsed(path)[1].output_dir for path in RECIPES]
    assert len(set(output_dirs)) == len(output_dirs)


@pytest.mark.parametrize("path", RECIPES, ids=rel)
def test_usage_line_names_existing_files_and_this_recipe(path):
    launch = launch_line(path)
    assert launch.config == rel(path)
    assert launch.script == ("recipes/sft.py" if path.name == "sft.yaml" else "recipes/grpo.py")
    assert (REPO / launch.script).is_file()
    assert (REPO / launch.accelerate_config).is_file()
    if launch.accelerate_config.endswith("single_gpu.yaml"):
        assert launch.num_processes == 1
    else:
        assert launch.num_processes >= 2


@pytest.mark.parametrize("path", GRPO_RECIPES, ids=rel)
def test_grpo_effective_batch_is_the_papers_512_on_the_documented_processes(path):
    processes = launch_line(path).num_processes
    _, training, _ = parsed(path, processes)  # GRPOConfig validates its generation batch for this world size
    assert (
        training.per_device_train_batch_size * training.gradient_accumulation_steps * processes == PAPER_BATCH
    )
    assert training.generation_batch_size % training.num_generations == 0
    assert (
        training.gradient_accumulation_steps % training.steps_per_generation == 0
    )  # whole generations per step
    assert documented_batch(path) == (
        training.per_device_train_batch_size,
        training.gradient_accumulation_steps,
        processes,
    )


@pytest.mark.parametrize("path", GRPO_RECIPES, ids=rel)
def test_grpo_recipes_keep_the_papers_hyperparameters(path):
    script, training, model = parsed(path)
    assert training.num_generations == 8
    assert training.learning_rate == 2e-5
    assert training.weight_decay == 0.0
    assert training.lr_scheduler_type == "cosine"
    assert training.warmup_steps == 0
    assert training.num_train_epochs == 1
    assert training.optim.value.startswith("adamw")
    assert (model.lora_r, model.lora_alpha, model.lora_dropout) == (16, 16, 0.1)
    assert training.beta == 0.0
    if script.rollout == "single_turn":
        assert script.reward_preset == "paper_rp0.5" and script.reward_kwargs == {}
    else:  # whole episodes: the episode reward (reward/episode.py) with a cost per intervention
        assert script.reward_preset in PRESETS and script.reward_kwargs == {"intervention_cost": 0.05}


@pytest.mark.parametrize(
    ("path", "processes", "per_device", "accumulation"),
    [("recipes/qwen2.5-vl-3b/grpo.yaml", 4, 8, 16), ("recipes/llava-next-mistral-7b/grpo.yaml", 16, 4, 8)],
)
def test_paper_recipes_match_the_paper_setup(path, processes, per_device, accumulation):
    launch = launch_line(REPO / path)
    assert launch.accelerate_config == "accelerate_configs/deepspeed_zero3.yaml"
    assert launch.num_processes == processes
    _, training, model = parsed(REPO / path, processes)
    assert (training.per_device_train_batch_size, training.gradient_accumulation_steps) == (
        per_device,
        accumulation,
    )
    assert training.generation_batch_size == 512  # one generation per optimizer step, as in plain GRPO
    assert training.steps_per_generation == accumulation
    assert model.load_in_4bit is False
    assert f"--num_processes {processes}" in header(REPO / path)


# The paper's models: their GRPO recipes train on the paper's train split (the others on the benchmark).
PAPER_GRPO = {"recipes/qwen2.5-vl-3b/grpo.yaml", "recipes/llava-next-mistral-7b/grpo.yaml"}
PAPER_GRPO |= {"recipes/llava-next-mistral-7b/grpo_qlora.yaml"}


@pytest.mark.parametrize("path", RECIPES, ids=rel)
def test_paper_grpo_recipes_train_on_the_official_train_split(path):
    script, _, _ = parsed(path)
    if rel(path) in PAPER_GRPO:
        assert (script.train_source, script.train_data) == ("official_train", "tdemin16/ProactiveBench")
        assert "eval_fraction" not in yaml.safe_load(path.read_text())  # every test episode is evaluated
    else:
        assert script.train_source == "benchmark"


@pytest.mark.parametrize("path", RECIPES, ids=rel)
def test_lora_reaches_the_language_model_only(path):
    _, _, model = parsed(path)
    language_model, others = FAMILIES[MODEL_FAMILIES[model.model_name_or_path]]
    lora = get_peft_config(model)
    targeted = {name for name in language_model if check_target_module_exists(lora, name)}
    wanted_kinds = {"q_proj", "k_proj"} if path.name.startswith("grpo") else set(language_model.values())
    assert {language_model[name] for name in targeted} == wanted_kinds
    assert [name for name in others if check_target_module_exists(lora, name)] == []


@pytest.mark.parametrize("path", [p for p in RECIPES if model_size_billions(p) >= 7], ids=rel)
def test_every_model_of_7b_or_more_has_a_qlora_grpo_recipe(path):
    assert (path.parent / "grpo_qlora.yaml").is_file()


@pytest.mark.parametrize("path", [p for p in GRPO_RECIPES if p.name == "grpo_qlora.yaml"], ids=rel)
def test_qlora_recipes_load_4bit_nf4_on_one_process_per_gpu(path):
    _, _, model = parsed(path)
    quantization = get_quantization_config(model)
    assert quantization.load_in_4bit and quantization.bnb_4bit_quant_type == "nf4"
    assert quantization.bnb_4bit_use_double_quant is True
    assert str(quantization.bnb_4bit_compute_dtype) == "torch.bfloat16"
    # 4-bit weights are placed on each process's own GPU: not under ZeRO-3 / FSDP sharding.
    assert launch_line(path).accelerate_config in (
        "accelerate_configs/single_gpu.yaml",
        "accelerate_configs/multi_gpu.yaml",
    )


@pytest.mark.parametrize("path", [p for p in GRPO_RECIPES if p.name == "grpo.yaml"], ids=rel)
def test_bf16_grpo_recipes_do_not_quantize(path):
    _, _, model = parsed(path)
    assert get_quantization_config(model) is None


@pytest.mark.parametrize("path", SFT_RECIPES, ids=rel)
def test_sft_recipes_keep_images_whole(path):
    script, training, _ = parsed(path)
    assert training.max_length is None
    assert training.packing is False and training.padding_free is False
    assert script.answer_format == "text" and script.sft_turns == "single"
    processes = launch_line(path).num_processes
    assert (
        training.per_device_train_batch_size * training.gradient_accumulation_steps * processes == SFT_BATCH
    )
    assert documented_batch(path) == (
        training.per_device_train_batch_size,
        training.gradient_accumulation_steps,
        processes,
    )


def test_model_config_fields_are_what_the_recipes_use():
    """The YAMLs rely on ModelConfig spelling the dtype `dtype` (not torch_dtype) and on 4-bit fields."""
    fields = set(ModelConfig.__dataclass_fields__)
    assert {"dtype", "load_in_4bit", "bnb_4bit_quant_type", "use_bnb_nested_quant"} <= fields
    assert "torch_dtype" not in fields


# --- accelerate configs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expected:
    distributed_type: DistributedType
    launcher: str  # which `accelerate launch` path the file selects
    num_processes: int
    use_cpu: bool = False


ACCELERATE_CONFIGS = {
    "single_gpu.yaml": Expected(DistributedType.NO, "simple", 1),
    "multi_gpu.yaml": Expected(DistributedType.MULTI_GPU, "multi_gpu", 4),
    "deepspeed_zero2.yaml": Expected(DistributedType.DEEPSPEED, "deepspeed", 4),
    "deepspeed_zero3.yaml": Expected(DistributedType.DEEPSPEED, "deepspeed", 4),
    "fsdp2.yaml": Expected(DistributedType.FSDP, "fsdp", 4),
    "cpu.yaml": Expected(DistributedType.NO, "simple", 1, use_cpu=True),
    "multi_cpu.yaml": Expected(DistributedType.MULTI_GPU, "multi_gpu", 2, use_cpu=True),
}


def test_every_accelerate_config_is_listed():
    assert sorted(p.name for p in ACCELERATE_DIR.glob("*.yaml")) == sorted(ACCELERATE_CONFIGS)


def resolved_launch_args(name: str):
    """`accelerate launch --config_file <name> train.py`, after accelerate merged the file into the arguments."""
    args = launch_command_parser().parse_args(["--config_file", str(ACCELERATE_DIR / name), "train.py"])
    args, defaults, _ = _validate_launch_command(args)
    return args, defaults


def launch_environment(name: str) -> dict[str, str]:
    """The ACCELERATE_* / FSDP_* variables `accelerate launch` would hand to the training processes."""
    args, defaults = resolved_launch_args(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "port 29500 is already in use": nothing listens here
        if args.use_deepspeed:
            args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
            _, env = prepare_deepspeed_cmd_env(args)
        elif args.use_fsdp or args.multi_gpu:
            env = prepare_multi_gpu_env(args)
        else:
            _, env = prepare_simple_launcher_cmd_env(args)
    return {k: v for k, v in env.items() if k.startswith(("ACCELERATE_", "FSDP_"))}


@pytest.mark.parametrize("name", sorted(ACCELERATE_CONFIGS))
def test_accelerate_config_loads_with_accelerates_classes(name):
    path = ACCELERATE_DIR / name
    config = load_config_from_file(str(path))
    expected = ACCELERATE_CONFIGS[name]
    assert isinstance(config, ClusterConfig)
    assert config.distributed_type == expected.distributed_type
    assert config.num_processes == expected.num_processes
    assert config.use_cpu is expected.use_cpu
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ")  # a header saying when to use it
    assert f"usage: accelerate launch --config_file accelerate_configs/{name}" in header(path)


@pytest.mark.parametrize("name", sorted(ACCELERATE_CONFIGS))
def test_plugin_keys_are_real_launch_options(name):
    """accelerate copies deepspeed_config / fsdp_config keys onto its arguments without checking them: a typo
    would be silently ignored, so each key must be an `accelerate launch` option."""
    options = {action.dest for action in launch_command_parser()._actions}
    config = yaml.safe_load((ACCELERATE_DIR / name).read_text(encoding="utf-8"))
    for key in config.get("deepspeed_config", {}):
        assert key in options, f"{name}: deepspeed_config.{key}"
    for key in config.get("fsdp_config", {}):
        assert (key if key.startswith("fsdp_") else f"fsdp_{key}") in options, f"{name}: fsdp_config.{key}"


@pytest.mark.parametrize("name", sorted(ACCELERATE_CONFIGS))
def test_accelerate_launch_picks_the_documented_launcher(name):
    args, _ = resolved_launch_args(name)
    flags = {"deepspeed": args.use_deepspeed, "fsdp": args.use_fsdp, "multi_gpu": args.multi_gpu}
    launcher = next((kind for kind, on in flags.items() if on), "simple")
    assert launcher == ACCELERATE_CONFIGS[name].launcher
    assert args.num_processes == ACCELERATE_CONFIGS[name].num_processes


def test_zero3_shards_everything_and_saves_gathered_16bit_weights(monkeypatch):
    for key, value in launch_environment("deepspeed_zero3.yaml").items():
        monkeypatch.setenv(key, value)
    plugin = DeepSpeedPlugin()
    zero = plugin.deepspeed_config["zero_optimization"]
    assert zero["stage"] == 3
    assert zero["stage3_gather_16bit_weights_on_model_save"] is True  # PEFT adapters saved non-empty
    assert plugin.zero3_init_flag is True
    assert zero["offload_optimizer"]["device"] == "none" and zero["offload_param"]["device"] == "none"
    # Batch sizes, accumulation and clipping are left to the recipe's TrainingArguments.
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping"):
        assert plugin.deepspeed_config[key] == "auto"


def test_zero2_shards_optimizer_state_and_gradients_only(monkeypatch):
    for key, value in launch_environment("deepspeed_zero2.yaml").items():
        monkeypatch.setenv(key, value)
    plugin = DeepSpeedPlugin()
    assert plugin.deepspeed_config["zero_optimization"]["stage"] == 2
    assert plugin.zero3_init_flag is False
    assert plugin.deepspeed_config["gradient_accumulation_steps"] == "auto"


def test_fsdp2_wraps_transformer_blocks_and_saves_full_state_dicts(monkeypatch):
    for key, value in launch_environment("fsdp2.yaml").items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2
    assert plugin.auto_wrap_policy.__name__ == "transformer_auto_wrap_policy"
    assert plugin.transformer_cls_names_to_wrap is None  # taken from the model's _no_split_modules
    assert "FULL_STATE_DICT" in str(plugin.state_dict_type)
    assert plugin.cpu_ram_efficient_loading is True
    assert plugin.reshard_after_forward is True
    # The recipes use activation_checkpointing; transformers refuses it together with FSDP's own.
    assert plugin.activation_checkpointing is False


@pytest.mark.parametrize(
    "name", ["single_gpu.yaml", "deepspeed_zero2.yaml", "deepspeed_zero3.yaml", "fsdp2.yaml"]
)
def test_gpu_configs_use_bf16_like_the_recipes(name):
    assert launch_environment(name)["ACCELERATE_MIXED_PRECISION"] == "bf16"


# --- real launches on the CPU ------------------------------------------------------------------------------
# TrainingArguments(use_cpu=True) sets up its processes with exactly this call (PartialState(cpu=True)); the
# probe makes it directly to spare each worker the transformers import.
WORLD_PROBE = textwrap.dedent(
    """
    import json
    from accelerate import PartialState
    state = PartialState(cpu=True)
    world = {"rank": state.process_index, "world": state.num_processes, "backend": state.backend}
    with open(f"world-{state.process_index}.json", "w") as handle:  # one file each: stdout interleaves
        json.dump(world, handle)
    """
)


def launched_worlds(tmp_path: Path, *launch_args: str) -> list[dict]:
    script = tmp_path / "probe.py"
    script.write_text(WORLD_PROBE, encoding="utf-8")
    command = [sys.executable, "-m", "accelerate.commands.launch", *launch_args, str(script)]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    worlds = [json.loads(path.read_text()) for path in tmp_path.glob("world-*.json")]
    return sorted(worlds, key=lambda w: w["rank"])


@pytest.mark.slow
def test_cpu_config_runs_one_process(tmp_path):
    worlds = launched_worlds(tmp_path, "--config_file", str(ACCELERATE_DIR / "cpu.yaml"))
    assert worlds == [{"rank": 0, "world": 1, "backend": None}]


@pytest.mark.slow
def test_multi_cpu_config_runs_two_gloo_processes(tmp_path):
    worlds = launched_worlds(tmp_path, "--config_file", str(ACCELERATE_DIR / "multi_cpu.yaml"))
    assert worlds == [{"rank": 0, "world": 2, "backend": "gloo"}, {"rank": 1, "world": 2, "backend": "gloo"}]


@pytest.mark.slow
def test_cpu_flag_with_two_processes_silently_runs_one(tmp_path):
    """The pitfall cpu.yaml documents: `--cpu --num_processes 2` starts a single process."""
    worlds = launched_worlds(tmp_path, "--cpu", "--num_processes", "2", "--num_machines", "1")
    assert worlds == [{"rank": 0, "world": 1, "backend": None}]
