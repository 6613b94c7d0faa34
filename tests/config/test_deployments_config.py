"""A role's ``deployments:``: what is accepted, what each mistake says, what the answers are keyed on."""

import pytest

import codeclm_dspy as cc
from codeclm_dspy.errors import ConfigError
from codeclm_dspy.runs.manifest import models_of

A, B = "http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1"


def config(**strong) -> cc.Config:
    role = {"model": "hosted_vllm/qwen", "api_key_env": "VLLM_KEY", **strong}
    return cc.parse_config({"models": {"strong": role, "target": {"model": "openai/gpt-4o-mini"}}})


def test_deployments_take_the_roles_model_and_key_unless_they_name_their_own():
    role = config(
        deployments=[{"api_base": A, "rpm": 60}, {"api_base": B, "api_key_env": "KEY_B"}]
    ).models.strong
    (first, second) = role.endpoints()
    assert (first.model, first.api_key_env, first.rpm) == ("hosted_vllm/qwen", "VLLM_KEY", 60)
    assert (second.model, second.api_key_env, second.rpm) == ("hosted_vllm/qwen", "KEY_B", None)


def test_the_first_deployment_stands_for_the_roles_answers():
    models = config(deployments=[{"api_base": A}, {"api_base": B}]).models
    assert models.strong.primary_api_base() == A
    # a judge on the strong model's first server is the strong model judging itself
    judged = cc.parse_config(
        {
            "models": {
                "strong": {"model": "hosted_vllm/qwen", "deployments": [{"api_base": A}, {"api_base": B}]},
                "target": {"model": "openai/gpt-4o-mini"},
                "judge": {"model": "hosted_vllm/qwen", "api_base": A},
            }
        }
    ).models
    assert judged.self_judged()


def test_the_manifest_shows_each_endpoint_and_key_variable_never_a_key(monkeypatch):
    monkeypatch.setenv("VLLM_KEY", "sk-very-secret-value")
    shown = models_of(config(deployments=[{"api_base": A}, {"api_base": B, "rpm": 30}]))["strong"]
    assert shown["api_base"] is None
    assert [(d["api_base"], d["api_key_env"], d["rpm"]) for d in shown["deployments"]] == [
        (A, "VLLM_KEY", None),
        (B, "VLLM_KEY", 30),
    ]
    assert "sk-very-secret-value" not in repr(shown)


@pytest.mark.parametrize(
    ("strong", "says"),
    [
        ({"deployments": []}, r"models\.strong: deployments is empty"),
        ({"api_base": A, "deployments": [{"api_base": B}]}, "give api_base in each deployment, not beside"),
        (
            {"deployments": [{"api_base": A}, {"api_base": A + "/"}]},
            "deployments.0 and deployments.1 name the same",
        ),
        (
            {"deployments": [{"api_base": A, "api_key_env": "sk-abc123"}]},
            r"deployments\.0\.api_key_env: .*NAME",
        ),
        ({"deployments": [{"api_base": A, "rpm": 1}]}, r"deployments\.0\.rpm: .*give 2 or more"),
        ({"deployments": [{"api_base": A, "tpm": 0}]}, r"deployments\.0\.tpm: .*greater than or equal to 1"),
        ({"deployments": [{"api_base": A, "weight": 2}]}, r"deployments\.0\.weight: unknown key"),
        (
            {"model": "embedded/smollm2-135m-instruct", "deployments": [{}]},
            "embedded model runs in this process",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_where(strong, says):
    with pytest.raises(ConfigError, match=says) as error:
        config(**strong)
    assert "\n" not in str(error.value)


def test_the_same_endpoint_under_two_keys_is_two_deployments():
    role = config(deployments=[{"api_base": A}, {"api_base": A, "api_key_env": "OTHER_KEY"}]).models.strong
    assert len(role.endpoints()) == 2


def test_a_judge_is_known_as_the_strong_or_target_model_however_it_is_spelled():
    def judged_as(strong: dict, judge: dict):
        target = {"model": "openai/gpt-4o-mini"}
        return cc.parse_config({"models": {"strong": strong, "target": target, "judge": judge}}).models

    vllm = {"model": "hosted_vllm/Qwen/Qwen2.5-7B", "api_base": "http://127.0.0.1:8000/v1"}
    for judge in (
        {**vllm, "api_base": "http://127.0.0.1:8000/v1/"},  # a trailing slash
        {**vllm, "api_base": "http://localhost:8000/v1"},  # another name for the same host
        {"model": "openai/qwen2.5-7b", "api_base": "http://localhost:8000"},  # provider, case, path
        {"model": "openai/Qwen2.5-7B", "deployments": [{"api_base": "http://127.0.0.1:8000/v1"}]},
    ):
        assert judged_as(vllm, judge).self_judged_role() == "strong", judge
    assert judged_as(vllm, {"model": "azure/gpt-4o-mini"}).self_judged_role() == "target"
    for judge in (
        {**vllm, "api_base": "http://127.0.0.1:8001/v1"},  # another server
        {"model": "hosted_vllm/Qwen/Qwen2.5-72B", "api_base": vllm["api_base"]},  # another model
        {"model": "openai/gpt-4o"},
    ):
        assert judged_as(vllm, judge).self_judged_role() is None, judge
