"""``compile_program``: tune CodecLM's step prompts on the user's seeds.

For each step named in ``compile.steps`` (in pipeline order, so decode and
improve examples come from the freshly compiled encoder): build its train and
dev examples, score the step on dev, compile it on train with its optimizer,
score it on dev again, and copy the compiled predictor into the program.

The program directory is a run directory: every call is journaled in
state.sqlite and every finished step is recorded, so an interrupted or
budget-stopped compile resumes by running the same command; finished steps
are not redone and the calls of the unfinished one are answered from the
journal for as long as the optimizer asks the same questions.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import dspy
from dspy.utils.saving import get_dependency_versions

from codeclm_dspy.config import Config
from codeclm_dspy.config.compile import STEPS
from codeclm_dspy.engine.calls import step as calls_for
from codeclm_dspy.engine.runtime import ADAPTER
from codeclm_dspy.errors import CodecLMError, ConfigError, first_line
from codeclm_dspy.out_paths import atomic_write, no_room
from codeclm_dspy.pipeline.decoder import Decoder
from codeclm_dspy.pipeline.program import CodecLM
from codeclm_dspy.progress import NullProgress, Progress
from codeclm_dspy.runs.program_dir import PROGRAM
from codeclm_dspy.runs.run_dir import saving
from codeclm_dspy.runs.session import RunSession
from codeclm_dspy.secrets import scrub
from optimizers import registry
from optimizers.examples import encode_examples, judge_examples, load_records, split_records
from optimizers.metadata_examples import decode_and_improve_examples
from optimizers.metrics import decode_metric, encode_metric, improve_metric, judge_metric
from optimizers.scoring import score_examples
from optimizers.students import STUDENTS, adopt, step_predictor


def compile_program(
    config: Config, seeds: str | Path, out: str | Path, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Compile the steps ``config.compile.steps`` names; write PROGRAM_DIR; return its manifest.

    Raises:
        CodecLMError: bad config, seeds or directory (before any call);
            ``RunStopped`` when the budget or provider stopped it, or
            ``OutputWriteFailed`` when a file of PROGRAM_DIR cannot be
            written (a full disk); each is resumable and leaves a manifest
            that says "stopped", never "complete".
    """
    spec = config.compile
    if config.method != "codeclm":
        raise ConfigError(f"compile tunes CodecLM's steps; the config's method is '{config.method}'")
    if not spec.steps:
        raise ConfigError("compile.steps names no step; add e.g. `encode: {optimizer: COPRO}` under it")
    records = load_records(seeds, config.seeds.instruction_field, config.seeds.id_field, spec.reference_field)
    train, dev = split_records(records, spec.dev_fraction, config.random_seed, spec.max_train, spec.max_dev)
    if "judge" in spec.steps and not (any(r.reference for r in train) and any(r.reference for r in dev)):
        raise ConfigError(
            f"compiling the judge needs seeds with a '{spec.reference_field}' answer on both sides of the "
            f"split; {sum(bool(r.reference) for r in records)} of {len(records)} seeds have one"
        )
    labelled = all(r.use_case and r.skills for r in train)
    for step, how in spec.steps.items():
        if how.optimizer in ("MIPROv2", "GEPA") and len(train) < 2:
            raise ConfigError(
                f"{how.optimizer} needs at least two training seeds; the split left {len(train)}"
            )
        if how.optimizer == "LabeledFewShot" and not (step == "encode" and labelled):
            raise ConfigError(
                f"LabeledFewShot needs labelled examples; {step} has none"
                + (" (give every training seed 'use_case' and 'skills' fields)" if step == "encode" else "")
                + "; choose an optimizer that bootstraps, such as BootstrapFewShotWithRandomSearch"
            )
    threads = spec.num_threads or config.engine.workers
    budgeted = config.model_copy(update={"engine": config.engine.model_copy(update={"budget": spec.budget})})
    seed_blob = json.dumps(
        [[r.id, r.instruction, r.reference, r.use_case, r.skills] for r in records], ensure_ascii=False
    )
    # how much to spend and on how many threads may change on resume; what to compile may not
    what = spec.model_dump(mode="json", exclude={"budget", "num_threads"})
    identity = {
        "config": {**config.result_dict(), "compile": what},
        "seeds": hashlib.sha256(seed_blob.encode()).hexdigest(),
    }
    out = Path(out)
    base = {
        "kind": "compiled-program",
        "steps": {},
        "seeds": {
            "file": str(seeds),
            "total": len(records),
            "train": [r.id for r in train],
            "dev": [r.id for r in dev],
        },
    }
    with RunSession(
        config,
        out,
        identity,
        kind="program",
        manifest=base,
        lm_config=budgeted,
        workers=threads,
        keep_trace=True,
        closing=lambda s: {"parse_failures": s.meter.parse_report()},
    ) as session:
        rt, state, manifest = session.rt, session.state, session.manifest
        progress = progress or NullProgress()
        if hasattr(progress, "status"):
            progress.status = session.meter.status
        program = CodecLM()
        program.configure(config)
        embed = None
        for step in (s for s in STEPS if s in spec.steps):  # pipeline order
            done = state.get_meta(f"step:{step}")
            if done is None:
                if step in ("encode", "decode") and embed is None:
                    embed = _embedder(spec.embedder)
                done = _compile_step(step, config, rt, program, train, dev, embed, threads, out, progress)
                state.set_meta(f"step:{step}", done)
            step_predictor(program, step).load_state(done.pop("state"))
            manifest["steps"][step] = done
        _save_program(program, out / PROGRAM)  # before "complete": no manifest claims a program not there
        return session.end("complete")


def _compile_step(step, config, rt, program, train, dev, embed, threads, out, progress) -> dict[str, Any]:
    how = config.compile.steps[step]
    if step == "encode":
        train_ex, dev_ex = encode_examples(train), encode_examples(dev)
        metric = encode_metric(rt, embed, Decoder().decode)  # the prompts generate starts from
    elif step == "judge":
        train_ex, dev_ex = (
            judge_examples(train, config.random_seed),
            judge_examples(dev, config.random_seed + 1),
        )
        metric = judge_metric()
    else:
        rng = random.Random(f"compile:{step}:{config.random_seed}")
        train_ex, dev_ex, unusable = decode_and_improve_examples(step, rt, program, train, dev, config, rng)
        metric = decode_metric(rt, embed) if step == "decode" else improve_metric(rt)
        if not (train_ex and dev_ex):
            raise CompileFailed(
                f"no usable {step} examples on the {'train' if not train_ex else 'dev'} side: every seed there "
                f"failed to encode ({'; '.join(u['error'] for u in unusable[:3])})"
            )
    student = STUDENTS[step](rt, program)
    with progress.stage(f"{step}: score before", len(dev_ex)) as tick:
        before = score_examples(student, dev_ex, metric, threads, tick)
    clock = time.monotonic()
    log_file = out / "optimizer-logs" / f"{step}.log"
    # optimizers print their trials; that goes to a log file, not over the progress display
    # A parse failure is the step's failure (it scores 0), never a reason for the
    # optimizer to give up, as DSPy does after 10 errors by default.
    settings = {"lm": rt.lms.strong, "adapter": ADAPTER, "max_errors": 10**9}
    # the log is output too: a full disk while making, writing or closing it stops the compile
    # (exit 4, resumable); what the optimizer itself raises is caught below first
    with saving(log_file):
        log_file.parent.mkdir(exist_ok=True)
        with (
            progress.stage(f"{step}: compile", None) as tick,
            dspy.context(**settings),
            calls_for(f"optimize:{step}"),
            open(log_file, "a", encoding="utf-8") as log,
            redirect_stdout(log),
            redirect_stderr(log),
        ):
            optimizer = registry.build(
                how.optimizer,
                how.params,
                metric=_ticking(metric, tick),
                pass_mark=how.pass_mark,
                prompt_lm=rt.lms.strong,
                threads=threads,
                seed=config.random_seed,
            )
            try:
                compiled = registry.run(how.optimizer, optimizer, student.deepcopy(), train_ex, threads)
            except Exception as exc:
                if no_room(exc):  # its own printing into the log met a full disk: a stop, not its failure
                    raise
                if rt.lms.engine.stopped is None:
                    log.write(scrub(traceback.format_exc()))
                    raise CompileFailed(
                        f"{how.optimizer} failed compiling {step} on {len(train_ex)} training examples "
                        f"({scrub(first_line(exc))}); the traceback is in {log_file}"
                    ) from None
    if rt.lms.engine.stopped is not None:
        raise rt.lms.engine.stopped  # the optimizer swallowed it as a failed example, or died of it
    seconds = round(time.monotonic() - clock, 1)
    with progress.stage(f"{step}: score after", len(dev_ex)) as tick:
        after = score_examples(compiled, dev_ex, metric, threads, tick)
    reverted = config.compile.revert_if_worse and after["mean"] < before["mean"]
    if not reverted:
        adopt(program, compiled, step)
    kept = step_predictor(program, step)
    return {
        "optimizer": how.optimizer,
        "params": how.params,
        "pass_mark": how.pass_mark,
        "examples": {
            "train": len(train_ex),
            "dev": len(dev_ex),
            **({"unusable_seeds": unusable} if step in ("decode", "improve") else {}),
        },  # id, side, error
        "before": before,
        "after": after,
        "delta": round(after["mean"] - before["mean"], 4),
        "kept": "original" if reverted else "compiled",
        "compile_seconds": seconds,
        # demos the adapter shows: an optimizer may add unlabelled examples, which it drops
        "demos": sum(any(k in d for k in kept.signature.output_fields) for d in kept.demos),
        "instructions": kept.signature.instructions,
        "state": step_predictor(program, step).dump_state() | {"lm": None},
    }


def _save_program(program: CodecLM, path: Path) -> None:
    """Write ``program``'s state to ``path`` as DSPy's ``save`` does, through a temp file.

    Not ``program.save``: DSPy turns a full disk into a ``RuntimeError``,
    which ``saving`` cannot tell from a bug, so the compile ended in a
    traceback; and it writes in place, so a failed save over a finished
    compile's program.json would leave it half written. Here the earlier
    file stays whole until the new one is on disk, and a failed write is
    ``OutputWriteFailed``: exit 4, one line, resumable (every step is in the
    journal already).
    """
    state = program.dump_state() | {"metadata": {"dependency_versions": get_dependency_versions()}}
    text = json.dumps(state, indent=2, ensure_ascii=False) + "\n"
    with saving(path), atomic_write(path) as handle:
        handle.write(text)


def _ticking(metric, tick):
    """The metric, ticking the progress bar once per example the optimizer scores."""

    def ticked(*args, **kwargs):
        tick()
        return metric(*args, **kwargs)

    return ticked


class CompileFailed(CodecLMError):
    """An optimizer gave up on a step (too few examples for its settings, say)."""


def _embedder(name: str):
    """The embedder's ``encode``, loaded now: a missing model or extra must stop the
    compile here, not turn every scored example into a failure."""
    from evals.embeddings import Embedder

    embedder = Embedder(name)
    embedder.encode(["load the model"])
    return embedder.encode
