"""`proactive release`: the released folder loads with PEFT, the merged weights answer like base + adapter,
the model card parses and holds the eval table, no local path leaves the machine, --out never reaches
into its inputs, and an offline push fails with one clear line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from peft import LoraConfig, PeftModel, get_peft_model
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText, AutoProcessor

from data.environment import make_episode
from data.records import load_scenario
from eval.backends import HFGenerator
from eval.cli import main as eval_main
from eval.rollout import conversation
from eval.view.page import read_index
from proactive.release import (
    MERGED_DIR,
    ReleaseError,
    TrainingRun,
    main,
    read_training_run,
    release,
)
from proactive.training import LANGUAGE_MODEL_ATTENTION

REPO = Path(__file__).resolve().parents[1]
BASE_ID = "me/tiny-base"  # the Hub id a release names for the local tiny base
SCENARIOS = ["QuickDraw", "coco2014", "Realistic-Occlusion-Dataset", "ImageNet-C", "ChangeIt"]


def resolved_config(bench: Path, tiny_model: Path) -> dict:
    """A GRPO run's resolved_config.yaml, shaped as proactive.training.resolved_config writes it."""
    return {
        "script_args": {
            "benchmark_dir": str(bench),
            "synthetic_per_scenario": 0,
            "train_scenarios": ["QuickDraw", "coco2014"],
            "held_out_scenarios": ["Realistic-Occlusion-Dataset", "MVP-N"],
            "id_filter": "auto",
            "filter_threshold": 0.25,
            "eval_fraction": 0.2,
            "split_seed": 0,
            "reward_preset": "paper_rp0.75",
            "reward_kwargs": {},
        },
        "training_args": {
            "learning_rate": 3.0e-5,
            "num_generations": 4,
            "per_device_train_batch_size": 8,
            "gradient_accumulation_steps": 2,
            "max_steps": 7,
            "seed": 0,
        },
        "model_args": {
            "model_name_or_path": str(tiny_model),
            "dtype": "float32",
            "lora_r": 8,
            "lora_alpha": 16,
        },
        "data": {"train_episodes": 3, "eval_episodes": 1, "held_out_episodes": 4, "train_rows": 9},
        "distributed": {"distributed_type": "NO", "num_processes": 2, "zero_stage": None},
        "versions": {"python": "3.11", "peft": "0.21.2"},
    }


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, bench: Path) -> Path:
    """A LoRA adapter made directly with PEFT, random (non-zero) B weights, saved as a recipe saves it."""
    out = tmp_path_factory.mktemp("release_adapter")
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model, dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=LANGUAGE_MODEL_ATTENTION, init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(out)
    AutoProcessor.from_pretrained(tiny_model).save_pretrained(out)
    (out / "resolved_config.yaml").write_text(yaml.safe_dump(resolved_config(bench, tiny_model)))
    (out / "train_results.json").write_text(json.dumps({"train_loss": 0.25, "train_runtime": 1.5}))
    return out


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory: pytest.TempPathFactory, bench: Path) -> Path:
    out = tmp_path_factory.mktemp("release_eval") / "oracle"
    argv = ["--policy", "oracle", "--data", str(bench), "--out", str(out), "--no-progress"]
    assert eval_main([*argv, "--scenarios", *SCENARIOS]) == 0
    return out


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, adapter: Path, eval_run: Path) -> Path:
    out = tmp_path_factory.mktemp("release_out") / "tiny-proactive"
    return release(
        adapter, out, eval_dirs=[str(eval_run)], merge=True, repo_id="me/tiny-proactive", base_model=BASE_ID
    )


def read_card(folder: Path) -> tuple[dict, str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def test_release_folder_layout(released: Path, adapter: Path) -> None:
    for name in ("adapter_model.safetensors", "train_results.json"):
        assert (released / name).read_bytes() == (adapter / name).read_bytes(), name
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert json.loads((released / "adapter_config.json").read_text()) == {
        **config,
        "base_model_name_or_path": BASE_ID,
    }
    assert (released / "processor_config.json").is_file()
    assert (released / "tokenizer.json").is_file()
    assert (released / MERGED_DIR / "model.safetensors").is_file()
    assert (released / MERGED_DIR / "config.json").is_file()
    assert (released / MERGED_DIR / "tokenizer.json").is_file()
    for plot in ("acc.png", "psr.png"):
        with Image.open(released / "eval" / "oracle" / plot) as image:
            image.verify()
            assert image.format == "PNG"


def test_release_holds_the_episodes_page_of_its_eval(released: Path, eval_run: Path) -> None:
    page = released / "eval" / "oracle" / "episodes" / "index.html"
    lines = (eval_run / "episodes.jsonl").read_text(encoding="utf-8").splitlines()
    index = read_index(page)
    assert len(index["items"]) == len(lines) and index["runs"] == ["oracle"]
    assert index["counts"]["oracle"] == {"correct": len(lines)}
    _, body = read_card(released)
    assert "[`eval/oracle/episodes/index.html`](eval/oracle/episodes/index.html)" in body


def test_model_card_front_matter_and_sections(released: Path, tiny_model: Path, eval_run: Path) -> None:
    meta, body = read_card(released)
    assert meta["base_model"] == BASE_ID
    assert meta["library_name"] == "peft"
    assert {"proactive", "proactivebench", "grpo", "lora"} <= set(meta["tags"])
    assert meta["datasets"] == []  # a synthetic benchmark has no Hub dataset id
    assert meta["license"] == "other"
    # Reward: the preset and its resolved weights.
    assert "Preset `paper_rp0.75`" in body
    assert "| useful_intervention | 0.75 |" in body
    # Hyperparameters from resolved_config.yaml, and the effective batch 8 x 2 x 2 processes.
    assert "| learning_rate | 3e-05 |" in body
    assert "| effective batch (per device x accumulation x processes) | 32 |" in body
    assert "| train scenarios | QuickDraw, coco2014 |" in body
    # The eval table: every scenario's acc and psr as in summary.json, and the plots linked.
    summary = json.loads((eval_run / "summary.json").read_text())
    acc_row = next(line for line in body.splitlines() if line.startswith("| oracle |") and "[100.0" in line)
    psr_row = [line for line in body.splitlines() if line.startswith("| oracle |")][1]
    psr = summary["average"]["psr"]
    lo, hi = summary["average"]["psr_ci"]
    assert psr_row.endswith(f"| {psr:.2f} [{lo:.2f}, {hi:.2f}] |")
    assert acc_row.count("100.0 [") == len(SCENARIOS) + 1
    assert "![acc](eval/oracle/acc.png)" in body
    # The metadata parses back with huggingface_hub and holds acc and psr of every scenario.
    card = ModelCard.load(released / "README.md")
    assert card.data.base_model == BASE_ID and card.data.model_name == "me/tiny-proactive"
    results = {(r.dataset_config, r.metric_type): r for r in card.data.eval_results}
    assert set(results) == {(s, m) for s in SCENARIOS for m in ("acc", "psr")}
    for scenario in SCENARIOS:
        assert results[(scenario, "acc")].metric_value == summary["scenarios"][scenario]["acc"]
        assert results[(scenario, "psr")].metric_value == summary["scenarios"][scenario]["psr"]
    qd = results[("QuickDraw", "acc")]
    assert (qd.dataset_type, qd.dataset_split, qd.task_type) == (
        "synthetic-proactivebench",
        "oracle",
        "image-text-to-text",
    )
    assert 'snapshot_download("me/tiny-proactive", allow_patterns=["merged/*"])' in body


def prompts(bench: Path) -> list:
    """The first turn of two episodes of each scenario, with their images."""
    out = []
    for scenario in SCENARIOS:
        for record in load_scenario(bench, scenario).records[:2]:
            episode = make_episode(record)
            out.append(conversation(episode, episode.state(), bench, history=False))
    return out


@torch.inference_mode()
def last_logits(generator: HFGenerator, batch: list) -> torch.Tensor:
    inputs = generator.encode(batch)
    return generator.model(**inputs).logits[:, -1]


def test_released_adapter_and_merged_weights_answer_alike(
    released: Path, tiny_model: Path, bench: Path
) -> None:
    processor = AutoProcessor.from_pretrained(released)
    base = AutoModelForImageTextToText.from_pretrained(tiny_model, dtype=torch.float32)
    base_logits = last_logits(HFGenerator(base, processor), prompts(bench))
    unmerged = PeftModel.from_pretrained(base, released)
    assert any("lora_B" in name for name in load_file(released / "adapter_model.safetensors"))
    merged = AutoModelForImageTextToText.from_pretrained(released / MERGED_DIR, dtype=torch.float32)
    batch = prompts(bench)
    with_adapter, with_merged = HFGenerator(unmerged, processor, 12), HFGenerator(merged, processor, 12)
    adapter_logits, merged_logits = last_logits(with_adapter, batch), last_logits(with_merged, batch)
    assert not torch.allclose(adapter_logits, base_logits, atol=1e-3)  # the adapter changes the model
    torch.testing.assert_close(merged_logits, adapter_logits, atol=1e-4, rtol=1e-4)
    answers = with_adapter.generate(batch)
    assert answers == with_merged.generate(batch)
    assert len(answers) == 2 * len(SCENARIOS)


def test_method_is_read_from_the_trainer_arguments(adapter: Path) -> None:
    run = read_training_run(adapter)
    assert run.method == "grpo"
    sft = TrainingRun(adapter, {}, {"training_args": {"packing": False}}, {})
    assert sft.method == "sft"


def test_bad_inputs_fail_with_the_path(tmp_path: Path, adapter: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path}: not a PEFT adapter folder (missing adapter_config.json" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    assert main([str(adapter), "--out", str(busy), "--base-model", BASE_ID]) == 2
    assert f"{busy}: exists and is not empty" in capsys.readouterr().err
    argv = [str(adapter), "--out", str(tmp_path / "o2"), "--eval", str(tmp_path), "--base-model", BASE_ID]
    assert main(argv) == 2
    assert f"{tmp_path / 'summary.json'}: not found" in capsys.readouterr().err


def one_error(capsys: pytest.CaptureFixture) -> str:
    """The single line a refused release printed."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("proactive release: "), lines
    return lines[0]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_out_never_reaches_into_the_inputs(
    tmp_path: Path, adapter: Path, eval_run: Path, capsys: pytest.CaptureFixture
) -> None:
    """An --out that is, holds or lies inside the adapter, an eval run or its benchmark is refused, --force
    or not, and nothing is deleted (once, --out PARENT --force deleted the adapter and reported success)."""
    runs = tmp_path / "runs"
    shutil.copytree(adapter, runs / "adapter")
    shutil.copytree(eval_run, runs / "eval")
    (runs / "sibling.txt").write_text("keep me")
    before = tree(runs)
    cases = {
        runs: "holds",
        runs / "adapter": "is",
        runs / "adapter" / "release": "lies inside",
        runs / "eval": "is",
        runs / "eval" / "release": "lies inside",
    }
    inputs = [str(runs / "adapter"), "--eval", str(runs / "eval"), "--base-model", BASE_ID, "--force"]
    for out, where in cases.items():
        assert main([*inputs, "--out", str(out)]) == 2
        assert f"--out {where} the input folder" in one_error(capsys)
        assert tree(runs) == before
    bench = Path(json.loads((eval_run / "config.json").read_text())["data"])
    argv = [str(runs / "adapter"), "--out", str(bench / "release"), "--eval", str(runs / "eval"), "--force"]
    assert main([*argv, "--base-model", BASE_ID]) == 2
    assert f"--out lies inside the input folder {bench}" in one_error(capsys)
    assert not (bench / "release").exists()


def test_force_replaces_only_an_earlier_release(
    tmp_path: Path, adapter: Path, capsys: pytest.CaptureFixture
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("not a release")
    argv = [str(adapter), "--base-model", BASE_ID, "--force", "--out"]
    assert main([*argv, str(mine)]) == 2
    assert "not written by 'proactive release' (no .proactive-release)" in one_error(capsys)
    assert (mine / "notes.txt").read_text() == "not a release"
    out = tmp_path / "release"
    assert main([*argv, str(out)]) == 0
    (out / "stale.txt").write_text("from an earlier release")
    capsys.readouterr()
    assert main([*argv, str(out)]) == 0  # an earlier release is replaced whole
    assert not (out / "stale.txt").exists() and (out / "adapter_model.safetensors").is_file()


def test_unusable_out_is_refused(tmp_path: Path, adapter: Path) -> None:
    """The command refuses such an --out while parsing (tests/test_out_folders.py); release() itself too."""
    taken = tmp_path / "taken"
    taken.write_text("a file")
    with pytest.raises(ReleaseError, match="exists and is not a folder"):
        release(adapter, taken, base_model=BASE_ID, force=True)
    with pytest.raises(ReleaseError, match=f"cannot be created, {taken} is a file"):
        release(adapter, taken / "release", base_model=BASE_ID, force=True)
    assert taken.read_text() == "a file"


def test_a_local_base_needs_its_hub_id(tmp_path: Path, adapter: Path, capsys: pytest.CaptureFixture) -> None:
    """The run's base is a local folder: the card would name a path of this machine, so --base-model is
    required, and must be a Hub id."""
    assert main([str(adapter), "--out", str(tmp_path / "a")]) == 2
    assert "is a local folder; a release names its base by Hub id: pass --base-model" in one_error(capsys)
    assert main([str(adapter), "--out", str(tmp_path / "b"), "--base-model", str(tmp_path)]) == 2
    assert "not a Hub model id" in one_error(capsys)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_no_local_path_leaves_the_machine(
    released: Path, tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, bench: Path
) -> None:
    """Every file of the release (card, configs, eval summaries, episodes page, merged weights) is free of
    the machine's paths: the base is named by its Hub id, other paths by their last component; the adapter
    folder keeps its full resolved_config.yaml."""
    root = str(tmp_path_factory.getbasetemp()).encode()
    leaks = [name for name, data in tree(released).items() if root in data]
    assert leaks == []
    config = yaml.safe_load((released / "resolved_config.yaml").read_text())
    assert config["model_args"]["model_name_or_path"] == BASE_ID
    assert config["script_args"]["benchmark_dir"] == bench.name
    summary = json.loads((released / "eval" / "oracle" / "summary.json").read_text())
    assert summary["config"]["data"] == bench.name and summary["config"]["out"] == "oracle"
    _, body = read_card(released)
    assert f"`{bench.name}`" in body and f'from_pretrained("{BASE_ID}")' in body


@pytest.mark.slow
@pytest.mark.parametrize(
    "env",
    [
        {"HF_HUB_OFFLINE": "1"},
        {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "hf_x"},
    ],
    ids=["offline", "closed-port"],
)
def test_push_without_network_fails_with_one_line(tmp_path: Path, adapter: Path, env: dict[str, str]) -> None:
    out = tmp_path / "release"
    command = [
        sys.executable,
        "-m",
        "proactive.cli",
        "release",
        str(adapter),
        "--out",
        str(out),
        "--push",
        "me/x",
        "--base-model",
        BASE_ID,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **env}, cwd=REPO, timeout=120
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("proactive release:")]
    assert len(ours) == 1 and "could not push" in ours[0] and "me/x" in ours[0]
    assert (out / "README.md").is_file() and (out / "adapter_model.safetensors").is_file()
