#!/usr/bin/env bash
# usage: bash install.sh
# Installs proactive-recipes (editable) with its test tools into the current Python environment.
# torch/torchvision are pinned to the builds this machine kind serves from local disk; deepspeed is an
# sdist that must build against the installed torch, hence --no-build-isolation.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if [ "$(uname -m)" = "aarch64" ]; then
  "$PYTHON" -m pip install "torch==2.9.1" "torchvision==0.24.1"
else
  "$PYTHON" -m pip install "torch==2.14.1" "torchvision==0.29.1"
fi
"$PYTHON" -m pip install --no-build-isolation -e ".[dev]"
