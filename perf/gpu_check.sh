#!/usr/bin/env bash
# usage: bash perf/gpu_check.sh [OUT_DIR]
# On the H200 machine (no network), from the repository root: installs the wheels in .whl/ (made here with
# `python perf/gpu_wheels.py`), then runs perf/gpu_check.py at the real sizes. OUT_DIR (default: $OUT, else
# outputs/gpu-check) receives gpu_check.json (rewritten after each phase), gpu_check.log and nvidia-smi.csv.
# One device call (carry: [".whl"], timeout_s: 480): bash perf/gpu_check.sh
set -euo pipefail
out="${1:-${OUT:-outputs/gpu-check}}"
mkdir -p "$out"
# The target's path must contain "site-packages": elsewhere datasets' fingerprinting (dill) pickles the carried
# modules by value and fails on a pyarrow class.
site=/tmp/gpu-check/site-packages
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
export PYTHONPATH="$site:$PWD" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv >"$out/nvidia-smi.csv" || true
python3 perf/gpu_check.py --size real --deadline 330 --out "$out/gpu_check.json" --work /tmp/gpu-check/work \
    2>&1 | tee "$out/gpu_check.log"
