#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian/Ubuntu machine, then run the whole suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k archi2vec`).
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium for the Space's browser test (Playwright drives the system browser; it cannot
# download its own here).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# [test] holds every extra (see pyproject.toml). timm and pytorchcv need torchvision, which installs only
# beside its own torch: torch 2.14.1 + torchvision 0.29.1 is the pair that installs here (the CUDA build
# of torch, run on the CPU). The core install (`pip install .`) needs no torch at all.
python3 -m venv .venv
.venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1 -e ".[test]"
.venv/bin/python -m pytest "$@"
