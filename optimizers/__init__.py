"""Compiling CodecLM's step prompts for a domain and a pair of models.

    from optimizers import compile_program, load_program

- which optimizer compiles which step: ``codeclm_dspy/config/compile.py``
  (the ``compile:`` section of a config); how each is driven: ``registry.py``
- the metric of each step: ``metrics.py``; its data: ``examples.py`` and
  ``metadata_examples.py``; each step as a compilable module: ``students.py``
- the before/after scores on held-out seeds: ``scoring.py``
- the whole compile, resumable, into a program directory: ``compile.py``,
  read back by ``program_dir.py``
- sweeps over the config's knobs (Optuna, quality against cost): the search
  space ``space.py``, the study ``sweep.py``, its export ``sweep_best.py`` and
  charts ``sweep_plots.py``
"""

from codeclm_dspy.runs.program_dir import load_program
from optimizers.compile import compile_program
from optimizers.metrics import (
    Assessment,
    batch_diversity,
    decode_metric,
    encode_format,
    encode_metric,
    improve_metric,
    judge_agreement,
    judge_metric,
)
from optimizers.space import SearchSpace, load_space
from optimizers.sweep import run_sweep

__all__ = [
    "Assessment",
    "SearchSpace",
    "batch_diversity",
    "compile_program",
    "decode_metric",
    "encode_format",
    "encode_metric",
    "improve_metric",
    "judge_agreement",
    "judge_metric",
    "load_program",
    "load_space",
    "run_sweep",
]
