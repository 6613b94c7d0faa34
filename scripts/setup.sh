#!/usr/bin/env bash
# Create .venv and install the locked, hash-checked dependencies. Idempotent:
# a second run with an unchanged requirements.lock does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
stamp=.venv/.installed-lock
if [ ! -f "$stamp" ] || ! cmp -s requirements.lock "$stamp"; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # llama-cpp-python builds from source; a native (-march=native) build
  # segfaults on these machines, so build for a generic x86-64 CPU.
  CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/python -m pip install --quiet \
    --require-hashes --no-deps -r requirements.lock
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  cp requirements.lock "$stamp"
fi
