# The two commands a newcomer needs (both set everything up first):
#   make demo   run CodecLM on the embedded models and write runs/demo-<time>/ (core install)
#   make test   lint, then the whole test suite (real llama.cpp and MiniLM embedding tests
#               included, so it also installs the evals extra: CPU torch, sentence-transformers)
.PHONY: setup setup-evals demo eval-demo compile-demo sweep-demo test lint format bench bench-peers

setup:
	bash scripts/setup.sh

# core + the evals extra (dataset metrics: embeddings, charts, ROUGE-L)
setup-evals:
	bash scripts/setup.sh evals

demo: setup
	.venv/bin/codeclm generate --config examples/configs/embedded.yaml \
		--seeds examples/seeds.jsonl --out runs/demo-$$(date +%Y%m%d-%H%M%S)

# The paper's protocol on the embedded models (about 25 minutes): split Vicuna
# 20/80, generate with CodecLM, its ablations and both baselines, compare them
# against the 80%, and CRR on a subset; see scripts/eval_vicuna.sh
eval-demo: setup-evals
	bash scripts/eval_vicuna.sh

# Compile the encoder's and the judge's prompts on the embedded models, score them
# before and after on held-out seeds, then generate with them; see scripts/compile_demo.sh
compile-demo: setup-evals
	bash scripts/compile_demo.sh

# An Optuna sweep of about 10 trials on the embedded models, then its best config
# run with generate; see scripts/sweep_demo.sh
sweep-demo: setup-evals
	bash scripts/sweep_demo.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# On one pytest-xdist worker per CPU, a test file at a time per worker, the files with the
# llama.cpp tests first (the longest; each pinned to its worker's CPU: tests/one_cpu.py).
# On 2 cores: 1,169 s against 1,718 s on one worker. pytest exits 5 when it collects no
# test: not a failure of the suite
test: setup-evals lint
	.venv/bin/pytest -n auto --dist loadfile --no-loadscope-reorder || [ $$? -eq 5 ]

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# The run-engine benchmark (20-26 minutes on 2 cores; aiohttp_openai/ models, engine.senders: 2, the fastest
# configuration): prints a table, writes benchmarks/results/engine.json
# and its summary into README.md
bench: setup
	.venv/bin/python -m benchmarks.engine --readme --provider aiohttp_openai --senders 2

# codeclm beside curator and Data Designer (15-41 minutes on 2 cores; installs them into .peers-venvs from
# PyPI once): prints a table, writes benchmarks/results/peers.json and the table into README.md
bench-peers: setup
	.venv/bin/python -m benchmarks.peers --readme
