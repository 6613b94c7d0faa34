"""Pricing: our own USD per call, and the zero entry that spares LiteLLM's second lookup."""

from __future__ import annotations

import litellm

from codeclm_dspy.config import parse_config
from codeclm_dspy.engine.routing import build_lms
from codeclm_dspy.engine.usage import spare_litellm_pricing, usd_of


def test_a_self_hosted_model_stays_unpriced_for_us_while_litellm_gets_a_direct_entry():
    model = "hosted_vllm/usage-test-self-hosted"
    assert model not in litellm.model_cost
    spare_litellm_pricing(model)
    assert litellm.model_cost[model]["input_cost_per_token"] == 0.0
    # unknown, never free: manifests and budgets must not report $0 for it
    assert usd_of(model, 1000, 1000) is None


def test_a_model_litellm_can_price_is_left_alone():
    before = dict(litellm.model_cost["gpt-4o-mini"])
    spare_litellm_pricing("gpt-4o-mini")
    assert litellm.model_cost["gpt-4o-mini"] == before
    assert usd_of("gpt-4o-mini", 1_000_000, 0) > 0


def test_only_roles_served_from_their_own_api_base_get_the_entry(monkeypatch):
    monkeypatch.setenv("USAGE_TEST_KEY", "not-a-real-key")
    config = parse_config(
        {
            "models": {
                "strong": {"model": "openai/usage-test-hosted", "api_key_env": "USAGE_TEST_KEY"},
                "target": {"model": "openai/usage-test-served", "api_base": "http://127.0.0.1:9/v1"},
                "judge": {"model": "openai/usage-test-served", "api_base": "http://127.0.0.1:9/v1"},
            }
        }
    )
    lms = build_lms(config, check=False)
    try:
        assert "openai/usage-test-served" in litellm.model_cost
        # a hosted model LiteLLM cannot price still costs money: a user's own
        # LiteLLM callbacks must not be told it is free
        assert "openai/usage-test-hosted" not in litellm.model_cost
    finally:
        lms.engine.close()


def test_a_provider_that_reports_no_usage_or_a_broken_one_is_never_free_nor_negative():
    from codeclm_dspy.engine.send import plain
    from codeclm_dspy.engine.usage import count_missing

    messages = [{"role": "user", "content": "Explain how a roux thickens a sauce, step by step."}]

    def answer(usage):
        raw = litellm.ModelResponse(
            choices=[
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Flour."}}
            ]
        )
        if usage is not None:
            raw.usage = litellm.Usage(**usage)
        return plain(raw)

    whole = answer({"prompt_tokens": 17, "completion_tokens": 3, "total_tokens": 20})
    assert not count_missing("gpt-4o-mini", messages, whole) and whole["usage"]["prompt_tokens"] == 17
    for usage in (None, {"prompt_tokens": 0, "completion_tokens": 0}, {"prompt_tokens": -259}):
        counted = answer(usage)
        assert count_missing("gpt-4o-mini", messages, counted), usage
        assert counted["usage"]["prompt_tokens"] > 5 and counted["usage"]["completion_tokens"] > 0
        assert usd_of("gpt-4o-mini", **counted["usage"]) > 0  # a priced model costs what it was asked
