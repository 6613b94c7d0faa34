"""Which generator a run uses: CodecLM, one of its ablations, or a baseline.

Every generator is a ``dspy.Module`` with the same small surface, so
``generate`` runs, journals, budgets and resumes them all alike and they all
write the same run directory:

- ``configure(config)``: take its knobs from a validated ``Config``;
- ``run(rt, seeds, sink, *, random_seed, workers, progress) -> Counts``:
  hand every item to the sink once (kept, rejected or failed) and return
  its typed counts (``codeclm_dspy.pipeline.counts``), whose
  ``accounting(n_seeds)`` checks that they add up and whose
  ``to_manifest()`` is the manifest's ``counts``;
- ``STAGES``: stage name -> the steps (LM call labels) it spends on.

The baselines live in ``evals/baselines``: they exist to be compared with.
WizardLM+ is the paper's strongest: Evol-Instruct on CodecLM's metadata-only
instructions.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from codeclm_dspy.config import Config
from codeclm_dspy.errors import ConfigError

# --method presets: the paper's Table 3 ablation is cumulative (metadata,
# + Self-Rubrics, + Contrastive Filtering); the baselines are its comparisons.
PRESETS: dict[str, dict[str, Any]] = {
    "codeclm": {"method": "codeclm", "pipeline": {"self_rubrics": True, "contrastive_filtering": True}},
    "self-rubrics": {"method": "codeclm", "pipeline": {"self_rubrics": True, "contrastive_filtering": False}},
    "metadata-only": {
        "method": "codeclm",
        "pipeline": {"self_rubrics": False, "contrastive_filtering": False},
    },
    "self-instruct": {"method": "self-instruct"},
    "evol-instruct": {"method": "evol-instruct"},
    "wizardlm-plus": {"method": "wizardlm-plus"},
}


def apply_preset(config: Config, name: str) -> Config:
    """A copy of ``config`` set up for the method or ablation ``name``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown method '{name}'; choose one of: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    pipeline = config.pipeline.model_copy(update=preset.get("pipeline", {}))
    return config.model_copy(update={"method": preset["method"], "pipeline": pipeline})


def method_name(config: Config) -> str:
    """The preset name that describes ``config`` (the row label in comparisons)."""
    if config.method != "codeclm":
        return config.method
    p = config.pipeline
    if p.contrastive_filtering:
        return "codeclm" if p.self_rubrics else "codeclm (no self-rubrics)"
    return "self-rubrics" if p.self_rubrics else "metadata-only"


def generator_class(method: str):
    """The generator class registered for ``method``.

    CodecLM is the core's own; the baselines are plug-ins in ``evals``,
    found under the ``codeclm_dspy.generators`` entry-point group (see
    pyproject.toml), so the core never imports the package that measures it.
    """
    if method == "codeclm":
        from codeclm_dspy.pipeline.program import CodecLM

        return CodecLM
    found = [e for e in entry_points(group="codeclm_dspy.generators") if e.name == method]
    if not found:
        raise ConfigError(
            f"no generator is installed for method '{method}' (the baselines come with the evals package; "
            "reinstall with `bash scripts/setup.sh`)"
        )
    return found[0].load()


def check_program(config: Config, program) -> None:
    """Refuse a program that is not the generator ``config.method`` names.

    The manifest's method label comes from the config, so a mismatch would
    label one generator's data as another's in every comparison.
    """
    expected = generator_class(config.method)
    if type(program) is not expected:
        raise ConfigError(
            f"the program is a {type(program).__name__} but the config's method is '{config.method}'; "
            "set method (or --method) to match"
        )


def make_program(config: Config):
    """A fresh generator for ``config.method``, configured."""
    program = generator_class(config.method)()
    program.configure(config)
    return program
