#!/usr/bin/env bash
# Compile CodecLM's prompts on the embedded models, then generate with them
# (`make compile-demo`):
#   1. `codeclm compile`: the steps and optimizers in the config's `compile:`
#      section (examples/configs/embedded.yaml: the encoder and the judge),
#      trained and scored on a seeded train/dev split of one benchmark whose
#      items carry reference answers (the judge's known-better answers);
#   2. `codeclm generate --program`: a CodecLM run with the compiled prompts.
# Both resume: run it again with the same OUT to finish a stopped run.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/compile-demo}
CONFIG=${CONFIG:-examples/configs/embedded.yaml}
BENCHMARK=${BENCHMARK:-../shared/data/self_instruct_user_oriented/self_instruct_user_oriented.jsonl}
SEEDS=${SEEDS:-examples/seeds.jsonl}
codeclm=.venv/bin/codeclm

echo "== compile"
$codeclm compile --config "$CONFIG" --seeds "$BENCHMARK" --out "$OUT/program" --quiet
echo "== generate with the compiled program"
$codeclm generate --config "$CONFIG" --seeds "$SEEDS" --program "$OUT/program" --out "$OUT/generate" --quiet
