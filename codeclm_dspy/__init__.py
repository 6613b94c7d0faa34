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

from codeclm_dspy.config import Config, load_config, parse_config  # noqa: E402
from codeclm_dspy.engine.routing import LMRoles, build_lms  # noqa: E402
from codeclm_dspy.engine.runtime import Runtime  # noqa: E402
from codeclm_dspy.errors import CodecLMError  # noqa: E402
from codeclm_dspy.generate import generate  # noqa: E402
from codeclm_dspy.pipeline.methods import apply_preset, make_program  # noqa: E402
from codeclm_dspy.pipeline.program import CodecLM  # noqa: E402
from codeclm_dspy.pipeline.records import Seed  # noqa: E402
from codeclm_dspy.seeds import load_seeds  # noqa: E402

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
