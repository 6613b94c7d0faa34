"""The batch client (engine/batches.py) against the stub's batch API, and what it sends and prices."""

import asyncio
import json

import pytest

from benchmarks.stub_server import StubServer
from codeclm_dspy.engine.batch_wait import AwaitingBatch, BatchHold, BatchRequestFailed, WaitingRequest
from codeclm_dspy.engine.batches import BatchClient, batch_provider, batch_usd, jsonl, split
from codeclm_dspy.engine.usage import usd_of
from codeclm_dspy.errors import ConfigError


def request(n: int, text: str = "hello") -> WaitingRequest:
    body = {
        "model": "stub-strong",
        "messages": [{"role": "user", "content": f"{text} {n}"}],
        "max_tokens": 50,
    }
    return WaitingRequest(f"{n:064x}", "strong", "respond_strong", "openai/stub-strong", body)


def test_a_waiting_call_is_held_once_and_its_body_is_what_litellm_sends_online():
    hold = BatchHold({"strong"})
    messages = [{"role": "user", "content": "hi"}]
    for _ in range(2):  # the same request from two items: one line
        with pytest.raises(AwaitingBatch):
            hold.hold("k", "strong", "encode", "openai/gpt-4o-mini", messages, {"temperature": 0.0})
    (waiting,) = hold.take()
    assert waiting.body == {"model": "gpt-4o-mini", "messages": messages, "temperature": 0.0}
    assert hold.take() == []
    failed = BatchHold({"strong"}, failed={"k": "batch line failed (500): boom"}, online={"o"})
    with pytest.raises(BatchRequestFailed, match="boom"):
        failed.hold("k", "strong", "encode", "openai/gpt-4o-mini", messages, {})
    assert failed.hold("o", "strong", "encode", "openai/gpt-4o-mini", messages, {}) is None  # goes online


def test_waiting_requests_are_split_by_the_providers_limits():
    requests = [request(n) for n in range(10)]
    assert [len(c) for c in split(requests, 4, 10**9)] == [4, 4, 2]
    line = len(jsonl(requests[:1]))
    assert [len(c) for c in split(requests, 100, 3 * line + 1)] == [3, 3, 3, 1]
    assert [r for c in split(requests, 4, 3 * line) for r in c] == requests  # nothing lost or reordered


def test_batch_prices_come_from_litellms_cost_map():
    online = usd_of("openai/gpt-4o-mini", 1_000_000, 1_000_000)
    assert batch_usd("openai/gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(online / 2)
    assert batch_usd("openai/no-such-model-xyz", 10, 10) is None  # unknown, never free


def test_only_providers_with_a_batch_api_are_accepted():
    assert batch_provider("strong", "openai/gpt-4o-mini") == "openai"
    with pytest.raises(ConfigError, match=r"models.target: batch needs a provider with a batch API"):
        batch_provider("target", "hosted_vllm/qwen")


def test_a_batch_round_trip_answers_each_line_as_the_chat_endpoint_would():
    async def go(url):
        client = BatchClient({"api_base": url, "api_key": "k"}, "openai")
        requests = [request(n) for n in range(5)]
        file_id = await client.upload(jsonl(requests))
        batch_id = await client.create(file_id, "run-r001-strong-0", "24h")
        assert await client.find("run-r001-strong-0") == batch_id
        assert await client.find("run-r001-strong-9") is None
        batch = await client.status(batch_id)
        while batch.status == "in_progress":
            await asyncio.sleep(0.05)
            batch = await client.status(batch_id)
        return requests, await client.outcome(batch)

    with StubServer(batch_delay_s=0.3) as stub:
        requests, outcome = asyncio.run(go(stub.url))
        assert outcome.status == "completed" and not outcome.errors
        assert stub.stats()["batch"]["created"] == 1
        import litellm

        for r in requests:  # the same answer online
            online = litellm.completion(api_base=stub.url, api_key="k", **{**r.body, "model": r.model})
            assert outcome.answers[r.key]["content"] == online.choices[0].message.content
            assert outcome.answers[r.key]["usage"]["prompt_tokens"] == online.usage.prompt_tokens


def test_failed_lines_and_expired_batches_say_why_each_request_has_no_answer():
    async def go(url):
        client = BatchClient({"api_base": url, "api_key": "k"}, "openai")
        requests = [request(n, "fail me") for n in range(40)]
        batch = await client.status(await client.create(await client.upload(jsonl(requests)), "x", "24h"))
        return requests, await client.outcome(batch)

    with StubServer(batch_fail_rate=0.3, batch_expire=1) as stub:
        requests, outcome = asyncio.run(go(stub.url))
        assert outcome.status == "expired"
        assert set(outcome.answers) | set(outcome.errors) - {"*"} == {r.key for r in requests}
        assert not set(outcome.answers) & set(outcome.errors)
        reasons = json.dumps(sorted(outcome.errors.values()))
        assert "batch_expired" in reasons and "(500): internal server error" in reasons
        assert stub.stats()["batch"]["lines_failed"] > 0
