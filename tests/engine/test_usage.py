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
    assert "estimated" not in whole["usage"]  # the provider's own counts
    for usage in (None, {"prompt_tokens": 0, "completion_tokens": 0}, {"prompt_tokens": -259}):
        counted = answer(usage)
        assert count_missing("gpt-4o-mini", messages, counted), usage
        prompt, completion = counted["usage"]["prompt_tokens"], counted["usage"]["completion_tokens"]
        assert prompt > 5 and completion > 0 and counted["usage"]["estimated"] is True
        assert usd_of("gpt-4o-mini", prompt, completion) > 0  # a priced model costs what it was asked


def test_the_manifest_counts_the_paid_calls_whose_tokens_are_estimates(tmp_path):
    from codeclm_dspy.engine.calls import CURRENT_STEP, CallEngine
    from codeclm_dspy.engine.limits import RoleLimiter
    from codeclm_dspy.engine.usage import usage_report
    from codeclm_dspy.runs.run_state import RunState
    from tests.engine.usage_server import usage_server

    counted = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    state = RunState(tmp_path / "state.sqlite")
    for role, usage in (("strong", None), ("target", counted)):  # a server that sends no usage; one that does
        with usage_server(usage) as (url, _):
            connection = {"model": "aiohttp_openai/m", "api_base": url, "api_key": "k", "timeout": 10}
            engine = CallEngine({role: connection}, {role: RoleLimiter(4)}, {role: 0}, state=state)
            step = CURRENT_STEP.set(role)
            for n in range(3):
                engine.complete(role, [{"role": "user", "content": f"Name river {n} of Peru."}], {})
            CURRENT_STEP.reset(step)
            engine.close()
    state.close()

    # read back from the journal, as a resumed run's manifest is: every session's calls
    report = usage_report(RunState(tmp_path / "state.sqlite").usage_rows())
    assert report["calls"] == 6 and report["estimated_calls"] == 3
    assert (
        report["steps"]["strong"]["estimated_calls"] == 3
        and report["steps"]["target"]["estimated_calls"] == 0
    )
