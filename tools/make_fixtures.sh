#!/usr/bin/env bash
# Regenerates the model-reference fixtures (tests/LLaDA.Tests/Fixtures/reference/) with the independent float64
# PyTorch implementation in tools/llada_reference.py. Needs Debian's python3-torch (CPU); installs it with apt when
# missing. The tests only read the committed fixtures: torch is never needed to run them.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's torch is built for Debian's interpreter, which a pyenv or venv python3 on PATH may shadow.
py=/usr/bin/python3
if ! "$py" -c 'import torch' 2>/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends python3-torch python3-numpy
fi
"$py" tools/llada_reference.py tests/LLaDA.Tests/Fixtures/reference
