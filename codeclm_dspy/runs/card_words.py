"""The dataset card's prose: what each method does, each column holds, the paper's citation.

Kept apart from ``dataset_card`` (which assembles the card) so the wording
can be read and changed in one place. The method descriptions follow CodecLM
§4 (the method), §5.2 (the baselines) and Table 3 (the ablations).
"""

from __future__ import annotations

from codeclm_dspy.pipeline.methods import PRESETS

# the config sections that decide each generator's output (keyed by config.method)
SECTIONS = {
    "codeclm": ("pipeline",),
    "self-instruct": ("self_instruct", "pipeline"),
    "evol-instruct": ("evol_instruct", "pipeline"),
    "wizardlm-plus": ("pipeline", "evol_instruct"),
}

ITERATION_FIELDS = ("judged", "kept_strong", "kept_target", "sent_back", "dropped", "rejected", "failed")

# a role the config leaves out takes another's settings (config.models.judge_role)
UNSET_ROLE = {"judge": "the strong role's, at temperature 0"}

METHODS = {
    "codeclm": "All of CodecLM: encode, metadata pool, decode, Self-Rubrics and Contrastive Filtering.",
    "codeclm (no self-rubrics)": (
        "CodecLM without Self-Rubrics: each decoded instruction goes to Contrastive Filtering once, "
        "as decoded, and is kept only if the gap exceeds θ."
    ),
    "self-rubrics": (
        "An ablation of the paper's Table 3: metadata and Self-Rubrics without Contrastive Filtering. "
        "Every instruction gets all its Self-Rubrics rewrites and is kept with the strong model's answer; "
        "no judge scores it, so `gap` and the scores are empty."
    ),
    "metadata-only": (
        "An ablation of the paper's Table 3: instructions decoded from the metadata and answered by the "
        "strong model, with neither Self-Rubrics nor Contrastive Filtering; `gap` and the scores are empty."
    ),
    "self-instruct": (
        "The Self-Instruct baseline (Wang et al., 2023), which CodecLM is compared with: the strong model "
        "writes new tasks from seed and generated examples, near-duplicates (ROUGE-L) and unusable tasks are "
        "filtered out, and the strong model answers the rest. No metadata, no judge: `use_case`, `skills`, "
        "`gap` and the scores are empty."
    ),
    "evol-instruct": (
        "The Evol-Instruct baseline (Xu et al., WizardLM, 2023): the strong model evolves the seeds through "
        "rounds of in-depth and in-breadth rewrites, failed evolutions are eliminated, and the strong model "
        "answers the survivors. No metadata, no judge: `use_case`, `skills`, `gap` and the scores are empty."
    ),
    "wizardlm-plus": (
        "The WizardLM+ baseline, the paper's strongest (§5.2): CodecLM's encode, metadata pool and decode, "
        "then Evol-Instruct's generic rewrites instead of Self-Rubrics, kept without Contrastive Filtering."
    ),
}
OTHER_METHOD = "A generator registered as `{method}` (a plug-in); see its own documentation."

DEFAULT_PROGRAM = "Prompts: codeclm-dspy's own signatures, not compiled."
COMPILED = (
    "Prompts: compiled with `codeclm compile` (DSPy optimizers); the run's manifest.json names the "
    "program and the steps it changed."
)

COLUMNS = {
    "id": "the pair's id, stable when a run is resumed",
    "instruction": "the instruction, after every rewrite",
    "response": "the kept answer: the strong model's, or the target's when it won",
    "messages": "the pair as a user/assistant chat (TRL's SFTTrainer takes it as is)",
    "source": "whose answer `response` is: `strong` or `target`",
    "iteration": "the round of Self-Rubrics and Contrastive Filtering that kept it (1: as decoded)",
    "gap": "strong score minus target score, both orders averaged; kept when |gap| > θ",
    "strong_score": "the judge's score of the strong model's answer (1-10), both orders averaged",
    "target_score": "the judge's score of the target model's answer (1-10), both orders averaged",
    "judge_scores": "the judge's raw scores with the strong answer shown first, and shown second",
    "use_case": "the metadata's use case (the intended task)",
    "skills": "the metadata's skills (what answering it needs)",
    "actions": "the Self-Rubrics actions applied, in order",
    "basic_instruction": "the instruction as decoded from the metadata, before any rewrite",
    "metadata_id": "the metadata it was decoded from",
    "seed_ids": "the seeds that metadata was encoded from",
}

CITATION = """@inproceedings{wang2024codeclm,
  title     = {{CodecLM}: Aligning Language Models with Tailored Synthetic Data},
  author    = {Wang, Zifeng and Li, Chun-Liang and Perot, Vincent and Le, Long T. and Miao, Jin and
               Zhang, Zizhao and Lee, Chen-Yu and Pfister, Tomas},
  booktitle = {Findings of the Association for Computational Linguistics: NAACL 2024},
  pages     = {3712--3729},
  year      = {2024},
  url       = {https://arxiv.org/abs/2404.05875}
}"""


def command(method: str, random_seed: int, compiled: bool) -> str:
    """The ``codeclm generate`` command line that makes such a dataset (inputs named generically)."""
    parts = ["codeclm generate --config config.yaml --seeds seeds.jsonl"]
    if method in PRESETS:  # otherwise the config's own settings name it
        parts.append(f"--method {method}")
    parts.append(f"--random-seed {random_seed}")
    if compiled:
        parts.append("--program PROGRAM_DIR")
    return " ".join([*parts, "--out RUN"])


def loading(repo_id: str | None) -> str:
    """How to load it: from the Hub when it was pushed there, and from the run directory."""
    lines = ["from datasets import load_dataset, load_from_disk", ""]
    if repo_id:
        lines.append(f'data = load_dataset("{repo_id}", split="train")  # from the Hub')
    lines += [
        'data = load_from_disk("RUN/dataset")  # the run directory\'s saved dataset (Arrow)',
        'data = load_dataset("parquet", data_files="RUN/dataset/data/*.parquet", split="train")  # its parquet copy',
    ]
    return "\n".join(lines)


BODY = """# CodecLM synthetic instructions ({method})

{rows} instruction-response pairs generated by codeclm-dspy {version} with the `{method}` method.

**Licence: not chosen yet.** The header says `license: unknown`: before publishing, set it to a \
licence your sources allow. Both bear on it: the licence of the seed instructions, and the terms of use \
of the models below (some providers restrict training other models on their outputs). The header also \
says `language: en`, the language of codeclm-dspy's prompts; change it if your seeds are in another \
language.

## CodecLM

CodecLM (Wang et al., "CodecLM: Aligning Language Models with Tailored Synthetic Data", Findings of \
NAACL 2024, [arXiv:2404.05875](https://arxiv.org/abs/2404.05875)) makes instruction data tailored to a \
target model and to the instructions it will see. A strong model encodes each seed instruction into \
metadata (its use case and the skills it needs); use cases and skills are mixed and matched into a \
pool; the strong model decodes each metadata into new basic instructions. Self-Rubrics then makes an \
instruction harder, along rubrics and actions written for its metadata, and Contrastive Filtering has \
the strong and the target model both answer it and a judge score both answers, in both orders: the \
pair is kept when the score gap exceeds a threshold θ, otherwise the instruction goes back for \
another rewrite. What is kept is what the target model cannot yet do well.

## How this dataset was made

**Method `{method}`.** {about_method}

### Models

{models}

{program}

### Settings

```yaml
{settings}
```

### Funnel

What became of every item; these counts add up (the run's accounting check: {accounting}).

{funnel}

### Cost

Calls, tokens and USD as LiteLLM priced them (`unknown` where it has no price for a model).

{cost}

### Command

```bash
{command}
```

with {packages}. The run directory also holds kept.jsonl, rejected.jsonl (every item not kept, \
with its reason), manifest.json (the whole config without secrets, the cost of every step) and \
state.sqlite (the call journal).

## Columns

{features}

## Loading

```python
{loading}
```

## Citation

```bibtex
{citation}
```
"""
