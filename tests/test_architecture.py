"""The house plan holds: imports flow one way, and no module imports itself in a circle.

Floors, from the bottom (docs/architecture.md):

    base      errors, secrets, key_index, files, progress, out_paths, steps   (and signatures)
    config    codeclm_dspy/config/
    engine    codeclm_dspy/engine/     how calls run; knows no CodecLM step
    pipeline  codeclm_dspy/pipeline/   the method
    runs      codeclm_dspy/runs/       durable runs
    top       generate, seeds, cli, cli_errors, the package's __init__

A module imports its own floor or lower ones. ``evals`` and ``optimizers``
sit above all of ``codeclm_dspy`` and are never imported by it (they plug in
through entry points). Every import counts, including ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ("base", "config", "engine", "pipeline", "runs", "top", "plugins")
BASE = {"errors", "secrets", "key_index", "files", "progress", "out_paths", "steps"}


def floor(module: str) -> str | None:
    """The floor of one of our modules (None: not ours, e.g. dspy)."""
    parts = module.split(".")
    if parts[0] == "signatures":
        return "base"
    if parts[0] in ("evals", "optimizers"):
        return "plugins"
    if parts[0] != "codeclm_dspy":
        return None
    if len(parts) == 1:
        return "top"
    if parts[1] in BASE:
        return "base"
    if parts[1] in ("config", "engine", "pipeline", "runs"):
        return parts[1]
    return "top"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every module ``source`` imports, with its line (``from x import y`` counts y when y is a module)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            modules = [f"{base}.{a.name}" for a in node.names if _exists(f"{base}.{a.name}")]
            found += [(node.lineno, m) for m in modules]
            if len(modules) < len(node.names):  # some names come from the module itself
                found.append((node.lineno, base))
    return found


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Upward imports in one module's source."""
    mine = floor(module)
    bad = []
    for line, target in imports(source, module, is_package):
        theirs = floor(target)
        if theirs is not None and FLOORS.index(theirs) > FLOORS.index(mine):
            bad.append(f"{module}:{line} ({mine}) imports {target} ({theirs})")
    return bad


def our_modules() -> dict[str, Path]:
    paths = [*ROOT.joinpath("codeclm_dspy").rglob("*.py"), *ROOT.joinpath("signatures").rglob("*.py")]
    return {module_name(p): p for p in paths}


def test_imports_flow_one_way():
    bad = []
    for module, path in our_modules().items():
        bad += violations(path.read_text(), module, path.name == "__init__.py")
    assert not bad, "\n".join(bad)


def test_an_upward_import_is_caught():
    # the engine importing a pipeline step, and the core importing the evals plugin
    assert violations("from codeclm_dspy.pipeline.records import Seed\n", "codeclm_dspy.engine.calls")
    assert violations("def f():\n    from evals.baselines import Baseline\n", "codeclm_dspy.pipeline.methods")
    assert violations("from codeclm_dspy.runs.run_dir import RunDir\n", "codeclm_dspy.config.roles")
    # downward and sideways imports are fine
    assert not violations(
        "from codeclm_dspy.engine.runtime import Runtime\n", "codeclm_dspy.pipeline.decoder"
    )
    assert not violations("from codeclm_dspy.errors import ConfigError\n", "codeclm_dspy.config")


def test_no_import_cycles():
    modules = our_modules()
    graph = {
        m: {t for _, t in imports(p.read_text(), m, p.name == "__init__.py") if t in modules and t != m}
        for m, p in modules.items()
    }
    # a package's __init__ may re-export its modules; that is not a cycle
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_no_file_over_300_lines_outside_tests():
    long = [
        f"{p.relative_to(ROOT)}: {n}"
        for folder in ("codeclm_dspy", "signatures", "evals", "optimizers", "benchmarks")
        for p in ROOT.joinpath(folder).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 300
    ]
    assert not long, long
