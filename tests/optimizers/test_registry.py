"""The optimizers' allow-lists against the installed DSPy: every name is real, every DSPy
parameter is either allowed or refused with a reason, and what a config sets reaches DSPy."""

import inspect

import dspy
import pytest

from codeclm_dspy.config.compile import OPTIMIZER_PARAMS, WHY
from codeclm_dspy.errors import ConfigError
from optimizers import registry

# every allowed parameter of each optimizer, set to a valid value other than its default
EVERY_PARAM = {
    "LabeledFewShot": {"k": 3},
    "BootstrapFewShotWithRandomSearch": {
        "max_bootstrapped_demos": 3,
        "max_labeled_demos": 1,
        "max_rounds": 2,
        "num_candidate_programs": 5,
        "stop_at_score": 0.9,
    },
    "COPRO": {"breadth": 5, "depth": 4, "init_temperature": 0.5},
    "MIPROv2": {
        "max_bootstrapped_demos": 1,
        "max_labeled_demos": 0,
        "auto": "medium",
        "seed": 11,
        "init_temperature": 0.3,
        "verbose": True,
    },
    "GEPA": {
        "max_metric_calls": 40,
        "reflection_minibatch_size": 2,
        "candidate_selection_strategy": "current_best",
        "skip_perfect_score": False,
        "add_format_failure_as_feedback": True,
        "component_selector": "all",
        "use_merge": False,
        "max_merge_invocations": 2,
        "warn_on_score_mismatch": False,
        "seed": 12,
    },
}
# where DSPy keeps a constructor argument, when not under its own name
STORED_AS = {
    ("BootstrapFewShotWithRandomSearch", "max_bootstrapped_demos"): "max_num_samples",
    ("BootstrapFewShotWithRandomSearch", "num_candidate_programs"): "num_candidate_sets",
}


def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    return 0.0


def build(name, params, seed=7):
    lm = dspy.LM("openai/never-called")
    return registry.build(name, params, metric=metric, pass_mark=0.5, prompt_lm=lm, threads=3, seed=seed)


def dspy_params(name: str, method: str = "__init__") -> set[str]:
    signature = inspect.signature(getattr(getattr(dspy, name), method))
    return {
        p.name
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


@pytest.mark.parametrize("name", sorted(OPTIMIZER_PARAMS))
def test_the_allow_list_and_the_refusals_are_exactly_dspys_parameters(name):
    model = OPTIMIZER_PARAMS[name]
    allowed, refused = set(model.model_fields), set(model.REFUSED)
    assert allowed <= dspy_params(name), "an allowed name DSPy's constructor does not take"
    assert refused <= dspy_params(name) | dspy_params(name, "compile")
    assert not allowed & refused and all(WHY.get(n) for n in refused)
    # a DSPy upgrade that adds a parameter fails here until someone decides which side it is on
    assert dspy_params(name) <= allowed | refused


@pytest.mark.parametrize("name", sorted(OPTIMIZER_PARAMS))
def test_every_allowed_param_reaches_dspys_constructor(name):
    unset = set(OPTIMIZER_PARAMS[name].model_fields) - set(EVERY_PARAM[name])
    assert unset == ({"auto", "max_full_evals"} if name == "GEPA" else set())  # GEPA: one budget at a time
    optimizer = build(name, EVERY_PARAM[name])
    for param, value in EVERY_PARAM[name].items():
        assert getattr(optimizer, STORED_AS.get((name, param), param)) == value, param


def test_the_projects_defaults_and_owned_settings_reach_dspy():
    copro = build("COPRO", {})
    assert (copro.breadth, copro.depth, copro.init_temperature) == (3, 2, 1.0)
    search = build("BootstrapFewShotWithRandomSearch", {"max_labeled_demos": 0})
    assert (search.num_candidate_sets, search.max_num_samples, search.max_labeled_demos) == (4, 2, 0)
    assert (search.num_threads, search.metric_threshold) == (3, 0.5)
    mipro = build("MIPROv2", {}, seed=7)
    assert (mipro.auto, mipro.seed, mipro.num_threads, mipro.verbose) == ("light", 7, 3, False)
    assert mipro.init_temperature == 1.0  # left to DSPy's default
    # GEPA takes exactly one budget: light unless params give one
    assert (build("GEPA", {}).auto, build("GEPA", {}).seed) == ("light", 7)
    by_evals = build("GEPA", {"max_full_evals": 2})
    assert (by_evals.auto, by_evals.max_full_evals) == (None, 2)
    assert build("LabeledFewShot", {}).k == 4


@pytest.mark.parametrize(
    ("name", "params", "says"),
    [
        ("LabeledFewShot", {"breadth": 3}, "breadth: LabeledFewShot has no parameter breadth"),
        ("COPRO", {"breadth": 1}, "breadth: Input should be greater than or equal to 2"),
        ("GEPA", {"log_dir": "/tmp/x"}, "log_dir: cannot be set here"),
    ],
)
def test_build_refuses_params_that_skipped_the_parser(name, params, says):
    # e.g. a step whose optimizer was swapped in code after its params were checked
    with pytest.raises(ConfigError, match=f"compile: {name} params: {says}"):
        build(name, params)
