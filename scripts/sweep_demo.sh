#!/usr/bin/env bash
# An Optuna sweep on the embedded models (`make sweep-demo`):
#   1. split Vicuna 20/80 (seeds / held out), seeded;
#   2. `codeclm sweep` into OUT/sweep: TRIALS trials over
#      examples/sweep/space.yaml (θ, T, K, the strong model's temperature),
#      each a generate run from the seeds scored against the held-out 80%
#      (quality) and per kept pair (cost);
#   3. `codeclm sweep best`: the highest-quality Pareto trial's config as YAML,
#      and a generate run with it as it is.
# Resumes: run it again with the same OUT (and TRIALS) to finish a stopped sweep.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/sweep-demo}
TRIALS=${TRIALS:-10}
CONFIG=${CONFIG:-examples/configs/embedded.yaml}
SPACE=${SPACE:-examples/sweep/space.yaml}
BENCHMARK=${BENCHMARK:-../shared/data/vicuna/vicuna.jsonl}
codeclm=.venv/bin/codeclm

[ -f "$OUT/split/seeds.jsonl" ] || $codeclm eval split --benchmark "$BENCHMARK" --out "$OUT/split"
# the sweep directory holds only what a sweep writes (study.db, trials/, plots/): its own folder
$codeclm sweep --config "$CONFIG" --space "$SPACE" --seeds "$OUT/split/seeds.jsonl" \
  --heldout "$OUT/split/heldout.jsonl" --trials "$TRIALS" --out "$OUT/sweep"
$codeclm sweep best --sweep-dir "$OUT/sweep" --out "$OUT/best.yaml"
[ -f "$OUT/best-run/manifest.json" ] && grep -q '"status": "complete"' "$OUT/best-run/manifest.json" ||
  $codeclm generate --config "$OUT/best.yaml" --seeds "$OUT/split/seeds.jsonl" --out "$OUT/best-run" --quiet
