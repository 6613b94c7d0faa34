"""codeclm-dspy: CodecLM (Wang et al., NAACL 2024 Findings) as a DSPy program.

    import codeclm_dspy as cc

    config = cc.load_config("examples/configs/embedded.yaml")
    kept = cc.generate(config, "examples/seeds.jsonl", out="runs/demo")

Everything a user needs is importable from here.
"""

import os

# LiteLLM must never fetch its price table at run time (offline machines,
# reproducible costs); this has to be set before litellm is first imported.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from codeclm_dspy.config import Config, load_config, parse_config
from codeclm_dspy.engine.routing import LMRoles, build_lms
from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.errors import CodecLMError
from codeclm_dspy.generate import generate
from codeclm_dspy.pipeline.methods import apply_preset, make_program
from codeclm_dspy.pipeline.program import CodecLM
from codeclm_dspy.pipeline.records import Seed
from codeclm_dspy.seeds import load_seeds

__version__ = "0.1.0"

__all__ = [
    "CodecLM",
    "CodecLMError",
    "Config",
    "LMRoles",
    "Runtime",
    "Seed",
    "apply_preset",
    "build_lms",
    "generate",
    "load_config",
    "load_seeds",
    "make_program",
    "parse_config",
]
