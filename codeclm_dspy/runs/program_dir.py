"""A compiled program directory, as ``codeclm compile`` writes it.

    program.json    the CodecLM program's DSPy JSON state: each predictor's
                    instructions and demos; no LM, endpoint or key
    manifest.json   optimizer per step, held-out scores before and after,
                    models, package versions, cost (no secrets)
    state.sqlite    the compile's call journal and finished steps (resume)
    optimizer-logs/ what optimizers that keep their own logs (GEPA) wrote
    .codeclm        the marker that says codeclm wrote it (see out_paths)

``load_program`` reads it back for ``generate``; the request cache and the
journal make a second load-and-generate cost nothing new.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codeclm_dspy.errors import ConfigError
from codeclm_dspy.files import parse_json, read_text
from codeclm_dspy.pipeline.program import CodecLM

PROGRAM = "program.json"


def load_program(path: str | Path) -> tuple[CodecLM, dict[str, Any]]:
    """The compiled ``CodecLM`` in ``path`` and its manifest.

    Raises:
        ConfigError: not a finished compile directory, or a state that does
            not fit this version's program.
    """
    path = Path(path)
    manifest_file, program_file = path / "manifest.json", path / PROGRAM
    if not program_file.is_file() or not manifest_file.is_file():
        raise ConfigError(
            f"{path} is not a compiled program directory (it needs {PROGRAM} and manifest.json; "
            "`codeclm compile` writes them once it completes)"
        )
    manifest = parse_json(
        read_text(manifest_file, "compiled program file", ConfigError), manifest_file, 1, ConfigError
    )
    state = parse_json(
        read_text(program_file, "compiled program file", ConfigError), program_file, 1, ConfigError
    )
    if not isinstance(manifest, dict) or not isinstance(state, dict):
        raise ConfigError(f"{path}: manifest.json and {PROGRAM} must each hold a JSON object")
    if manifest.get("status") != "complete":
        raise ConfigError(
            f"the compile in {path} did not complete (status {manifest.get('status')!r}); "
            "run the same `codeclm compile` command again to finish it"
        )
    program = CodecLM()
    try:
        program.load_state(state)
    except Exception as exc:  # a key DSPy cannot place: another version's program
        raise ConfigError(
            f"{program_file} does not fit this CodecLM program: {type(exc).__name__}: {exc}"
        ) from None
    return program, manifest


def compiled_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a generate manifest records about the program it ran with."""
    return {
        step: {
            "optimizer": s["optimizer"],
            "dev_before": s["before"]["mean"],
            "dev_after": s["after"]["mean"],
            "kept": s["kept"],
        }
        for step, s in manifest.get("steps", {}).items()
    }
