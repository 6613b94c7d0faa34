#!/usr/bin/env bash
# Create .venv and install the locked, hash-checked dependencies. Idempotent:
# a second run with an unchanged requirements.lock does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
# The stamp is the lock plus pyproject.toml: a change to either reinstalls
# (pyproject lists the packages the editable install exposes).
stamp=.venv/.installed-lock
if [ ! -f "$stamp" ] || ! cat requirements.lock pyproject.toml | cmp -s - "$stamp"; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # llama-cpp-python builds from source; a native (-march=native) build
  # segfaults on these machines, so build for a generic x86-64 CPU.
  CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/python -m pip install --quiet \
    --require-hashes --no-deps -r requirements.lock
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  cat requirements.lock pyproject.toml > "$stamp"
fi
