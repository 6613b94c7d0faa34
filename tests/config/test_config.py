"""Config defaults, validation and secret hygiene."""

from pathlib import Path

import numpy as np
import optuna
import pytest

import codeclm_dspy as cc
from codeclm_dspy.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "configs"
MODELS = {"strong": {"model": "openai/gpt-4o"}, "target": {"model": "embedded/gemma3-270m"}}


def test_defaults_are_the_papers():
    p = cc.parse_config({"models": MODELS}).pipeline
    assert (p.metadata_pool_size, p.num_rubrics, p.max_iterations, p.threshold) == (200, 4, 4, 3.0)


def test_judge_defaults_to_strong_at_temperature_zero():
    models = cc.parse_config({"models": MODELS}).models
    roles = models.roles()
    # the strong model's model and endpoint, but not its sampling temperature:
    # a gap moves in 0.5 steps, so sampling noise would sit right at the threshold
    assert roles["judge"] == roles["strong"].model_copy(update={"temperature": 0.0})
    assert roles["strong"].temperature == 0.7 and models.self_judged()
    # a judge section of its own keeps its temperature when it sets one, else 0
    own = cc.parse_config({"models": {**MODELS, "judge": {"model": "openai/gpt-4o-mini"}}}).models
    assert own.roles()["judge"].temperature == 0.0 and not own.self_judged()
    hot = cc.parse_config({"models": {**MODELS, "judge": {"model": "openai/o", "temperature": 0.8}}}).models
    assert hot.roles()["judge"].temperature == 0.8


def test_a_dumped_config_judges_as_the_config_it_came_from():
    # what a manifest records, `sweep best` exports and a resumed run's identity compares
    own = {"models": {**MODELS, "judge": {"model": "openai/gpt-4o-mini"}}}
    dumped = cc.parse_config(own).public_dict()
    assert dumped["models"]["judge"]["temperature"] == 0.0
    assert cc.parse_config(dumped).models.judge_role().temperature == 0.0
    # so an unset judge temperature and an explicit 0.7 are two configs, not one
    hot = {"models": {**MODELS, "judge": {"model": "openai/gpt-4o-mini", "temperature": 0.7}}}
    assert cc.parse_config(own).result_dict() != cc.parse_config(hot).result_dict()


@pytest.mark.parametrize("name", ["embedded", "hosted", "local_server"])
def test_example_configs_validate(name):
    assert cc.load_config(EXAMPLES / f"{name}.yaml").models.strong.model


def test_unknown_nested_key_is_named():
    with pytest.raises(ConfigError, match=r"models\.strong\.temprature: unknown key"):
        cc.parse_config({"models": {**MODELS, "strong": {"model": "x/y", "temprature": 1}}})


@pytest.mark.parametrize(
    ("seed", "says"), [(-1, "greater than or equal to 0"), (2**32, "less than or equal to")]
)
def test_a_random_seed_numpy_and_optuna_refuse_is_refused_when_read(seed, says):
    # unchecked, it got as far as MIPROv2's Optuna search, after the paid bootstrapping and
    # proposals, and failed the compile there; the bound is Optuna's (and NumPy's) own
    with pytest.raises(ConfigError, match=f"random_seed: Input should be {says}"):
        cc.parse_config({"models": MODELS, "random_seed": seed})
    with pytest.raises(ValueError, match="Seed must be between 0 and 2\\*\\*32 - 1"):
        optuna.samplers.TPESampler(seed=seed)


@pytest.mark.parametrize("seed", [0, 2**32 - 1])
def test_every_random_seed_the_config_takes_seeds_numpy_and_optuna(seed):
    taken = cc.parse_config({"models": MODELS, "random_seed": seed}).random_seed
    assert taken == seed
    np.random.RandomState(taken)  # what Optuna's samplers seed; raises past the bounds
    optuna.samplers.TPESampler(seed=taken)


def test_public_dict_masks_credential_like_params():
    cfg = cc.parse_config(
        {
            "models": {
                **MODELS,
                "target": {
                    "model": "openai/x",
                    "api_key_env": "K",
                    "extra_params": {"aws_secret_access_key": "sk-live-123"},
                },
            }
        }
    )
    dumped = str(cfg.public_dict())
    assert "sk-live-123" not in dumped and "'api_key_env': 'K'" in dumped


def test_public_config_masks_credentials_but_not_token_counts():
    from codeclm_dspy.config import redact

    masked = redact(
        {
            "max_tokens": 256,
            "tpm": 1000,
            "token": "t",
            "hf_token": "h",
            "api_key": "k",
            "extra_params": {"access_token": "a", "top_k": 5},
        }
    )
    assert masked == {
        "max_tokens": 256,
        "tpm": 1000,
        "token": "***",
        "hf_token": "***",
        "api_key": "***",
        "extra_params": {"access_token": "***", "top_k": 5},
    }
