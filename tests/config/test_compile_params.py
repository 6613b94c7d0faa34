"""``compile.steps.<step>.params``: what a user may pass to an optimizer, checked when the config is read.

A bad value must fail here, naming the field, and not deep inside an optimizer
run after the before-scores (and their calls) have been paid for.
"""

import pytest

from codeclm_dspy.config import parse_config
from codeclm_dspy.errors import ConfigError

MODELS = {"strong": {"model": "openai/gpt-4o"}, "target": {"model": "openai/gpt-4o-mini"}}
RANDOM_SEARCH = "BootstrapFewShotWithRandomSearch"


def parse(optimizer: str, params: dict, step: str = "judge"):
    return parse_config(
        {"models": MODELS, "compile": {"steps": {step: {"optimizer": optimizer, "params": params}}}}
    )


def problem(optimizer: str, params: dict, step: str = "judge") -> str:
    with pytest.raises(ConfigError) as caught:
        parse(optimizer, params, step)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize(
    ("optimizer", "params", "says"),
    [
        # files written where the config says, and resumed from (GEPA)
        ("MIPROv2", {"log_dir": "/tmp/anywhere"}, "params.log_dir: cannot be set here: DSPy would write"),
        ("GEPA", {"log_dir": "/etc/x"}, "params.log_dir: cannot be set here"),
        # what the project controls elsewhere, and where to set it
        (
            RANDOM_SEARCH,
            {"num_threads": 64},
            "params.num_threads: cannot be set here: set compile.num_threads",
        ),
        (
            "MIPROv2",
            {"metric_threshold": 0.1},
            "params.metric_threshold: cannot be set here: set pass_mark, beside params",
        ),
        (RANDOM_SEARCH, {"max_errors": 1}, "params.max_errors: cannot be set here"),
        ("COPRO", {"prompt_model": "openai/gpt-4o"}, "params.prompt_model: cannot be set here"),
        ("MIPROv2", {"task_model": "x"}, "params.task_model: cannot be set here"),
        (RANDOM_SEARCH, {"teacher_settings": {"lm": "x"}}, "params.teacher_settings: cannot be set here"),
        ("COPRO", {"metric": "mine"}, "params.metric: cannot be set here"),
        ("GEPA", {"reflection_lm": "x"}, "params.reflection_lm: cannot be set here"),
        # outside services and a credential in the config
        ("GEPA", {"use_wandb": True}, "params.use_wandb: cannot be set here"),
        ("GEPA", {"wandb_api_key": "k"}, "params.wandb_api_key: cannot be set here"),
        ("GEPA", {"gepa_kwargs": {"x": 1}}, "params.gepa_kwargs: cannot be set here"),
        # MIPROv2's manual mode needs num_trials, which only its compile() takes
        ("MIPROv2", {"num_candidates": 10**9}, "params.num_candidates: cannot be set here"),
        ("MIPROv2", {"auto": None}, "params.auto: Input should be 'light', 'medium' or 'heavy'"),
        # counts out of bounds
        (
            RANDOM_SEARCH,
            {"max_bootstrapped_demos": -3},
            "params.max_bootstrapped_demos: Input should be greater",
        ),
        (
            RANDOM_SEARCH,
            {"num_candidate_programs": 10**9},
            "params.num_candidate_programs: Input should be less",
        ),
        ("COPRO", {"breadth": 1}, "params.breadth: Input should be greater than or equal to 2"),
        ("COPRO", {"depth": 0}, "params.depth: Input should be greater than or equal to 1"),
        ("LabeledFewShot", {"k": 0}, "params.k: Input should be greater than or equal to 1"),
        ("GEPA", {"max_metric_calls": 10**12}, "params.max_metric_calls: Input should be less"),
        ("MIPROv2", {"seed": -1}, "params.seed: Input should be greater than or equal to 0"),
        (
            "COPRO",
            {"init_temperature": 9.0},
            "params.init_temperature: Input should be less than or equal to 2",
        ),
        (
            "COPRO",
            {"init_temperature": float("nan")},
            "params.init_temperature: Input should be a finite number",
        ),
        # wrong types: no text for numbers, no booleans for counts, no fractional counts
        ("COPRO", {"breadth": "three"}, "params.breadth: Input should be a valid integer"),
        ("COPRO", {"depth": True}, "params.depth: Input should be a valid integer"),
        ("LabeledFewShot", {"k": 2.5}, "params.k: Input should be a valid integer"),
        ("MIPROv2", {"verbose": "yes"}, "params.verbose: Input should be a valid boolean"),
        ("MIPROv2", {"auto": "extreme"}, "params.auto: Input should be 'light', 'medium' or 'heavy'"),
        (
            "GEPA",
            {"candidate_selection_strategy": "best"},
            "params.candidate_selection_strategy: Input should be",
        ),
        # GEPA takes exactly one budget; two is DSPy's assertion at construction time
        (
            "GEPA",
            {"auto": "light", "max_metric_calls": 10},
            "params: give at most one of auto, max_full_evals",
        ),
    ],
)
def test_a_bad_param_fails_at_parse_time_naming_the_field(optimizer, params, says):
    assert f"compile.steps.judge.{says}" in problem(optimizer, params)


@pytest.mark.parametrize(
    ("optimizer", "typo", "takes"),
    [
        ("COPRO", "bredth", "breadth, depth, init_temperature"),
        (RANDOM_SEARCH, "num_candidates", "max_bootstrapped_demos, max_labeled_demos, max_rounds"),
        ("LabeledFewShot", "breadth", "it takes: k"),
        ("MIPROv2", "minibatch", "auto, init_temperature"),
    ],
)
def test_an_unknown_param_is_named_with_what_the_optimizer_takes(optimizer, typo, takes):
    message = problem(optimizer, {typo: 2}, step="encode")
    assert f"compile.steps.encode.params.{typo}: {optimizer} has no parameter {typo}" in message
    assert takes in message


def test_every_bad_param_of_a_step_is_reported_in_one_line():
    message = problem("COPRO", {"breadth": 0, "depth": "x"})
    assert "params.breadth" in message and "params.depth" in message


@pytest.mark.parametrize(
    ("optimizer", "params"),
    [
        ("LabeledFewShot", {"k": 4}),
        (RANDOM_SEARCH, {"num_candidate_programs": 0, "max_bootstrapped_demos": 2, "max_labeled_demos": 0}),
        (RANDOM_SEARCH, {"max_rounds": 2, "stop_at_score": 0.9}),
        ("COPRO", {"breadth": 4, "depth": 1, "init_temperature": 1}),  # an int is a fine temperature
        ("MIPROv2", {"auto": "medium", "max_bootstrapped_demos": 0, "seed": 3, "verbose": True}),
        ("GEPA", {"max_metric_calls": 200, "reflection_minibatch_size": 2, "use_merge": False}),
        (
            "GEPA",
            {
                "max_full_evals": 2,
                "component_selector": "all",
                "candidate_selection_strategy": "current_best",
            },
        ),
        ("GEPA", {}),
    ],
)
def test_good_params_parse_and_are_kept_as_written(optimizer, params):
    assert parse(optimizer, params).compile.steps["judge"].params == params


def test_every_registered_optimizer_has_an_allow_list():
    from codeclm_dspy.config.compile import OPTIMIZER_NAMES, OPTIMIZER_PARAMS

    assert set(OPTIMIZER_PARAMS) == set(OPTIMIZER_NAMES)
