"""``run_sweep``: an Optuna study over the pipeline's knobs, quality against cost.

Each trial samples the knobs of a search space (``space.py``) into a copy of
the base config, compiles the steps that copy names under ``compile.steps``
(if any), generates a dataset from the seeds, and scores it against a
held-out split with the evals metrics. It returns two objectives, quality
(maximised) and cost per kept pair (minimised), so the study keeps a Pareto
front rather than one winner.

Every trial keeps its directory, ``trials/<number>/`` (config.yaml, run/,
program/), and its full config in the study's storage, so ``codeclm sweep
best`` works from the storage alone. The storage is SQLite by default and
any database URL Optuna's RDB storage takes (PostgreSQL for many workers on
many machines); Optuna hands each worker its own trial numbers. A trial that
was running when its worker died is failed once its heartbeat goes stale and
retried with the same knobs, in the same directory, so its run resumes from
its journal instead of paying again.
"""

from __future__ import annotations

import os
import socket
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from codeclm_dspy.config import Config, parse_config
from codeclm_dspy.errors import BudgetExhausted, CodecLMError, RunStopped
from codeclm_dspy.out_paths import check_dir, claim_dir
from optimizers.space import SearchSpace, apply
from optimizers.sweep_storage import check_storage, check_study_name, open_study, retry_callback

STUDY = "codeclm-sweep"


def run_sweep(
    base: dict[str, Any],
    space: SearchSpace,
    seeds: str | Path,
    heldout: str | Path,
    out: str | Path,
    *,
    trials: int,
    storage: str | None = None,
    study_name: str = STUDY,
    embedder=None,
    on_trial=None,
):
    """Run trials until the study holds ``trials`` finished ones; return the study.

    Args:
        base: the raw base config (as read from YAML); every trial is a copy
            with the sampled knobs set.
        embedder: anything with ``encode(texts)`` (default: MiniLM).
        on_trial: called with each finished ``FrozenTrial`` (progress lines).

    Raises:
        ConfigError: the base config, with the space's first choices, is
            invalid, or the study name or storage URL is.
        RunDirError: ``out`` is not a sweep directory (see ``out_paths``).
        RunStopped: the provider stopped answering, or a file could not be
            written (a full disk); the sweep is resumable. Only a trial's own
            budget prunes the trial instead.
    """
    import optuna
    import sqlalchemy.engine

    out = Path(out)
    check_study_name(study_name)
    if storage:
        check_storage(storage)
    check_dir(out, "sweep", what="sweep directory")
    base_config = _check(base, space, seeds, heldout)
    claim_dir(out, "sweep", what="sweep directory")
    storage = storage or f"sqlite:///{out.resolve() / 'study.db'}"
    database = sqlalchemy.engine.make_url(storage)
    if database.get_backend_name() == "sqlite":  # SQLite makes the file, not the directories above it
        Path(database.database).parent.mkdir(parents=True, exist_ok=True)
    # workers (on other machines, or in containers where every pid is 1) must not sample alike
    seed = hash((base_config.random_seed, socket.gethostname(), os.getpid(), time.time_ns())) % 2**32
    study = open_study(storage, study_name, seed=seed)
    trial_dir = (
        (lambda n: out / "trials" / f"{n:04d}")
        if study_name == STUDY
        else (lambda n: out / "trials" / f"{study_name}-{n:04d}")
    )
    if embedder is None:
        from evals.embeddings import Embedder

        embedder = Embedder(base_config.compile.embedder)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        values = {path: knob.sample(trial, path) for path, knob in space.params.items()}
        # a retried trial reuses the directory of the one whose worker died
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
        retried = retry_callback().retried_trial_number(frozen)
        number = trial.user_attrs.get("resumes", trial.number if retried is None else retried)
        home = trial_dir(number)
        trial.set_user_attr("dir", str(home))
        try:
            config = parse_config(apply(base, {**space.fixed, **values}), source=f"trial {trial.number}")
            trial.set_user_attr("config", config.public_dict())
            return _measure(trial, config, space, seeds, heldout, home, embedder)
        except BudgetExhausted as exc:  # its compile's budget: this trial's outcome, not the sweep's end
            trial.set_user_attr("outcome", f"{type(exc).__name__}: {exc}")
            raise
        except (RunStopped, KeyboardInterrupt) as exc:
            # the provider, the disk or a sender process stopped: every trial after it would stop
            # the same way, so the sweep stops; this trial fails, but its knobs wait for the next
            # session, which resumes its directory
            trial.set_user_attr("requeued", True)
            study.enqueue_trial(trial.params, user_attrs={"resumes": number}, skip_if_exists=False)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise _Stop(exc) from None  # not a CodecLMError: Optuna must not catch it as a failed trial
        except (CodecLMError, optuna.TrialPruned) as exc:
            trial.set_user_attr("outcome", f"{type(exc).__name__}: {exc}")
            raise

    def enough(study_, trial_) -> None:
        if finished(study_) >= trials:
            study_.stop()

    optuna.storages.fail_stale_trials(study)  # a dead worker's trial, if its heartbeat is old enough
    if finished(study) < trials:
        try:
            study.optimize(
                objective,
                n_trials=trials - finished(study),
                catch=(CodecLMError,),
                callbacks=[enough, *([lambda _, t: on_trial(t)] if on_trial else [])],
            )
        except _Stop as stop:
            raise stop.args[0] from None
    return study


def finished(study) -> int:
    """Trials that count towards ``--trials``: complete, pruned, or failed for good.

    A failed trial whose knobs were queued again (its worker died or was
    stopped) does not count: its retry will.
    """
    import optuna

    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    retried = {retry_callback().retried_trial_number(t) for t in trials} | {
        t.user_attrs.get("resumes") for t in trials
    }
    return sum(
        t.state in (state.COMPLETE, state.PRUNED)
        or (t.state == state.FAIL and t.number not in retried and not t.user_attrs.get("requeued"))
        for t in trials
    )


def _check(base: dict[str, Any], space: SearchSpace, seeds, heldout) -> Config:
    """Everything every trial needs, checked once: a bad file or key would fail them all.

    A misspelt path or a value the config refuses (a float bound on an
    integer knob) fails here too, with both ends of each range tried.
    """
    from codeclm_dspy.engine.routing import check_role
    from codeclm_dspy.seeds import load_seeds
    from evals.benchmarks import load_benchmark

    config = parse_config(base, source="the base config")
    for end in (0, -1):
        probe = {p: k.choices[end] if k.choices else (k.low, k.high)[end] for p, k in space.params.items()}
        parse_config(
            apply(base, {**space.fixed, **probe}),
            source="the base config with the space's " + ("first" if end == 0 else "last") + " values",
        )
    load_seeds(seeds, config.seeds.instruction_field, config.seeds.id_field)
    load_benchmark(heldout)
    for name, role in config.models.roles().items():
        check_role(name, role)
    return config


class _Stop(Exception):
    """Carries a provider stop through Optuna, which fails trials on CodecLMError."""


def _measure(
    trial, config: Config, space: SearchSpace, seeds, heldout, home: Path, embedder
) -> tuple[float, float]:
    """Compile (if the trial names steps), probe (if pruning is on), generate, and score one trial."""
    import optuna

    from codeclm_dspy.generate import generate
    from codeclm_dspy.runs.program_dir import load_program
    from optimizers.compile import compile_program

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(yaml.safe_dump(config.public_dict(), sort_keys=False), encoding="utf-8")
    program = None
    if config.compile.steps:
        compile_program(config, seeds, home / "program")
        program, _ = load_program(home / "program")

    def run(cfg: Config, where: Path) -> dict[str, Any]:
        try:
            generate(cfg, seeds, where, program=program)
        except BudgetExhausted as exc:
            raise optuna.TrialPruned(f"stopped by the trial's budget: {exc}") from None
        return _score(where, heldout, embedder)

    probe = space.pruning.probe_instructions
    if probe:
        small = config.pipeline.model_copy(update={"num_instructions": probe})
        early = run(config.model_copy(update={"pipeline": small}), home / "probe")[space.objectives.quality]
        trial.set_user_attr("probe_quality", early)
        peers = [
            t.user_attrs["probe_quality"]
            for t in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if t.user_attrs.get("probe_quality") is not None
        ]
        if early is None:
            raise optuna.TrialPruned(f"its probe of {probe} instructions kept no pair")
        if len(peers) >= space.pruning.min_trials and early < statistics.median(peers):
            raise optuna.TrialPruned(
                f"probe quality {early:.4f} is below the median {statistics.median(peers):.4f} of {len(peers)} trials"
            )
    row = run(config, home / "run")
    trial.set_user_attr("metrics", row)
    quality, cost = row[space.objectives.quality], row[space.objectives.cost]
    if quality is None or cost is None:
        why = "it kept no pair" if not row["kept"] else f"{space.objectives.cost} is unknown (no price)"
        raise optuna.TrialPruned(f"nothing to score: {why}")
    return float(quality), float(cost)


def _score(run_dir: Path, heldout, embedder) -> dict[str, Any]:
    """The evals metrics of a run's kept data against the held-out split."""
    from evals.compare import compare

    row = compare([run_dir], heldout, embedder=embedder).rows[0]
    keep = (
        "kept",
        "coverage",
        "precision",
        "mean_nn_similarity",
        "distinct_2",
        "mean_pairwise_distance",
        "calls_per_kept",
        "tokens_per_kept",
        "usd_per_kept",
    )
    return {k: row.get(k) for k in keep}
