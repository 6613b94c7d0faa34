# The two commands a newcomer needs (both set everything up first):
#   make demo   run CodecLM on the embedded models and write runs/demo-<time>/
#   make test   lint, then the whole test suite (real llama.cpp tests included)
.PHONY: setup demo test lint format bench

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/codeclm generate --config examples/configs/embedded.yaml \
		--seeds examples/seeds.jsonl --out runs/demo-$$(date +%Y%m%d-%H%M%S)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# pytest exits 5 when it collects no test: not a failure of the suite
test: lint
	.venv/bin/pytest || [ $$? -eq 5 ]

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# The run-engine benchmark (about 15 minutes): prints a table, writes benchmarks/results/engine.json
bench: setup
	.venv/bin/python -m benchmarks.engine
