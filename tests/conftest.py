"""Fixtures shared by the test files: one torch thread, the small synthetic benchmark, the tiny models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from data.synth import generate_benchmark
from proactive.tiny_models import build_tiny_model


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> None:
    """One torch thread per test process: the tests share a few cores with other work."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic benchmark (6 kept records per scenario, 56 px); tests read it, never write it."""
    path = tmp_path_factory.mktemp("bench")
    generate_benchmark(path, 6, seed=0, size=56)
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``tiny_models(arch)``: the tiny random-weight twin of ``arch`` (default build), built once a session."""
    root = tmp_path_factory.mktemp("tiny_models")
    return lambda arch: build_tiny_model(arch, root / arch)


@pytest.fixture(scope="session")
def tiny_model(tiny_models: Callable[[str], Path]) -> Path:
    """The tiny Qwen2-VL twin, the tests' default model."""
    return tiny_models("qwen2_vl")
