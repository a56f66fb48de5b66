"""perf/gpu_check.py at tiny size on CPU: every phase the H200 run measures, through the same code."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import datasets
import pytest
import torch
import transformers

REPO = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "perf" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


GPU_CHECK = load_script()


@pytest.mark.parametrize(
    ("name", "parameters"), [("qwen2.5-vl-3b", 3_754_622_976), ("qwen2.5-vl-7b", 8_292_166_656)]
)
def test_real_twins_have_the_real_parameter_counts(name: str, parameters: int) -> None:
    """The published sizes of Qwen2.5-VL-3B / 7B-Instruct, counted on the meta device (no memory)."""
    config, processor, _ = GPU_CHECK.twin_config(name, real=True, tokenizer_kind="bpe")
    with torch.device("meta"):
        model = transformers.Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert processor.image_processor.size["longest_edge"] == 12845056


def test_every_phase_runs_at_tiny_size(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    out = tmp_path / "gpu_check.json"
    argv = ["--size", "tiny", "--out", str(out), "--work", str(tmp_path / "work")]
    assert GPU_CHECK.main(argv) == 0
    report = json.loads(out.read_text())
    phases = report["phases"]
    assert list(phases) == ["grpo_3b", "eval_3b", "qlora_7b", "sft_3b"]
    rows = report["data"]["train_split_rows"]
    for name in ("grpo_3b", "qlora_7b"):  # GRPO on the official train split's rows, one step timed
        grpo = phases[name]
        assert grpo["rows"] == rows and len(grpo["step_seconds"]) == 1
        assert 0 < grpo["generation_seconds"][0] < grpo["step_seconds"][0]
        assert grpo["generation_share"][0] == round(
            grpo["generation_seconds"][0] / grpo["step_seconds"][0], 3
        )
    assert phases["grpo_3b"]["per_device_batch"] * phases["grpo_3b"]["gradient_accumulation_steps"] == 8
    assert phases["qlora_7b"]["twin"]["parameters"] == report["twin_3b"]["parameters"] > 0
    assert len(phases["sft_3b"]["step_seconds"]) == 1 and "generation_share" not in phases["sft_3b"]
    evaluation = phases["eval_3b"]
    assert evaluation["batch_32"]["batch"] == 32 and evaluation["batch_32"]["episodes"] == 16
    assert (
        evaluation["auto"]["episodes"] == evaluation["auto"]["turns"] == 24
    )  # random weights: one turn each
    assert evaluation["auto"]["batch"] >= 1 and evaluation["speedup"] > 0
    assert report["total_seconds"] > 0 and not (tmp_path / "work" / "models").exists()


def test_real_size_needs_a_gpu(tmp_path: Path, capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit):
        GPU_CHECK.main(["--size", "real", "--out", str(tmp_path / "x.json"), "--work", str(tmp_path)])
    assert "--size real needs a GPU; --size tiny runs the same code on CPU" in capsys.readouterr().err
