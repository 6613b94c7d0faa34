"""One role served by several endpoints, balanced by LiteLLM's Router.

The strong role has two deployments, each a stub server of its own with the
same seed, so either answers a request alike; the target and judge roles sit
on a third server, out of the way when the strong ones die. Every count is
the servers' own (``/stats``).
"""

import asyncio
import math
import socket
import subprocess
import time

import litellm
import pytest

from benchmarks.stub_server import StubServer
from codeclm_dspy.engine import deployments
from codeclm_dspy.engine.deployments import RoleRouter
from codeclm_dspy.engine.event_loop import engine_loop
from tests.engine_helpers import (
    ForkedCLI,
    command,
    env,
    generate_args,
    manifest,
    rows,
    run_cli,
    stub_config,
    write_inputs,
)

KEY, KEY_B = "sk-stub-test", "sk-second-key-b"


def two_endpoints(strong: list[str], other: str, retries: int = 2, **deployment) -> dict:
    """The stub config, a smaller run, and the strong role on the ``strong`` endpoints."""
    config = stub_config(other, num_retries=retries)
    config["pipeline"]["num_instructions"] = 12
    role = config["models"]["strong"]
    del role["api_base"]
    role["deployments"] = [{"api_base": url, **deployment} for url in strong]
    return config


def strong_calls(*servers: StubServer) -> list[int]:
    return [server.stats()["by_model"].get("stub-strong", 0) for server in servers]


def reference(tmp) -> int:
    """The same run with every role on one server (in ``tmp/reference``); its strong calls."""
    with StubServer() as alone:
        config = stub_config(alone.url, num_retries=2)
        config["pipeline"]["num_instructions"] = 12
        config_path, seeds = write_inputs(tmp, config)
        done = run_cli(config_path, seeds, tmp / "reference", tmp)
        assert done.returncode == 0, done.stderr
        return strong_calls(alone)[0]


def same_dataset(out, ref) -> None:
    for name in ("kept.jsonl", "rejected.jsonl"):
        assert rows(out / name) == rows(ref / name), name
    assert manifest(out)["counts"] == manifest(ref)["counts"]


def free_port() -> int:
    """A port nothing listens on (bound, read and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_deployments_share_the_load_and_make_the_one_server_dataset(tmp_path):
    with StubServer() as other, StubServer(require_key=KEY) as a, StubServer(require_key=KEY_B) as b:
        ref_calls = reference(tmp_path)
        config = two_endpoints([a.url, b.url], other.url)
        config["models"]["strong"]["deployments"][1]["api_key_env"] = "STUB_KEY_B"  # one key each
        config, seeds = write_inputs(tmp_path, config)
        out = tmp_path / "run"
        environ = {**env(tmp_path), "STUB_KEY_B": KEY_B}
        done = ForkedCLI().run(generate_args(config, seeds, out), environ)
        assert done.returncode == 0, done.stderr
        on_a, on_b = strong_calls(a, b)
        assert a.stats()["unauthorized"] == b.stats()["unauthorized"] == 0
    assert on_a > 0 and on_b > 0, (on_a, on_b)  # both served
    assert on_a + on_b == ref_calls  # each request sent once: no failover, no retry
    same_dataset(out, tmp_path / "reference")
    state = manifest(out)
    assert state["status"] == "complete" and state["accounting"]["balanced"]
    shown = state["models"]["strong"]["deployments"]
    assert [d["api_base"] for d in shown] == [a.url, b.url]
    assert [d["api_key_env"] for d in shown] == ["STUB_API_KEY", "STUB_KEY_B"]
    written = "".join(p.read_text() for p in out.iterdir() if p.suffix in (".json", ".jsonl"))
    assert KEY not in written and KEY_B not in written


def test_a_deployments_rpm_holds_and_the_other_takes_the_rest(tmp_path):
    rpm = 3
    with StubServer() as other, StubServer() as a, StubServer() as b:
        config = two_endpoints([a.url, b.url], other.url)
        config["models"]["strong"]["deployments"][0]["rpm"] = rpm
        config, seeds = write_inputs(tmp_path, config)
        started = time.time()
        done = run_cli(config, seeds, tmp_path / "run", tmp_path)
        ended = time.time()
        assert done.returncode == 0, done.stderr
        on_a, on_b = strong_calls(a, b)
    # LiteLLM's Router counts per clock minute, and routes at most rpm - 1 there
    minutes = math.floor(ended / 60) - math.floor(started / 60) + 1
    assert 0 < on_a <= (rpm - 1) * minutes, (on_a, minutes)
    assert on_b > 5 * on_a
    assert manifest(tmp_path / "run")["status"] == "complete"


def kill_when(server: StubServer, *watched: StubServer, calls: int, proc: subprocess.Popen) -> int:
    """SIGKILL ``server`` once the ``watched`` servers took ``calls`` strong requests; how many they had."""
    while proc.poll() is None and (taken := sum(strong_calls(*watched))) < calls:
        time.sleep(0.01)
    server.kill()
    return taken


def test_a_replica_that_dies_mid_run_costs_nothing_while_the_other_answers(tmp_path):
    """No retries at all: only failover inside one attempt can save the run."""
    ref_calls = reference(tmp_path)
    with StubServer() as other, StubServer(delay_ms=5) as a, StubServer(delay_ms=5) as b:
        config, seeds = write_inputs(tmp_path, two_endpoints([a.url, b.url], other.url, retries=0))
        out = tmp_path / "run"
        argv, environ = command(config, seeds, out), env(tmp_path)
        proc = subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        at_kill = kill_when(b, a, b, calls=10, proc=proc)
        _, stderr = proc.communicate(timeout=300)
        on_a = strong_calls(a)[0]
    assert proc.returncode == 0, stderr
    assert at_kill < ref_calls // 2  # it died early: the survivor took the rest
    assert on_a >= ref_calls - at_kill - 8  # (8: the strong role's requests in flight at the kill)
    state = manifest(out)
    assert state["status"] == "complete" and state["accounting"]["balanced"]
    assert [r for r in rows(out / "rejected.jsonl") if r["outcome"] == "failed"] == []
    same_dataset(out, tmp_path / "reference")


def test_a_replica_that_hangs_costs_no_item_and_does_not_stop_the_run(tmp_path):
    """A replica that takes every request and answers none: each request that
    meets it goes on to the other within the same attempt, so the run neither
    fails items nor stops as a hung provider."""
    ref_calls = reference(tmp_path)
    with (
        StubServer() as other,
        StubServer() as a,
        StubServer(fault_rate=1.0, faults=("timeout",), hang_s=30.0) as hung,
    ):
        config = two_endpoints([hung.url, a.url], other.url, retries=0)
        config["models"]["strong"]["timeout"] = 1.0
        config, seeds = write_inputs(tmp_path, config)
        done = run_cli(config, seeds, tmp_path / "run", tmp_path)
        on_a, on_hung = strong_calls(a, hung)
    assert done.returncode == 0, done.stderr
    assert on_hung >= 1 and on_a == ref_calls, (on_a, on_hung)
    state = manifest(tmp_path / "run")
    assert state["status"] == "complete" and state["accounting"]["balanced"]
    assert [r for r in rows(tmp_path / "run" / "rejected.jsonl") if r["outcome"] == "failed"] == []
    same_dataset(tmp_path / "run", tmp_path / "reference")


def test_a_dead_replica_at_start_is_named_and_the_run_goes_on(tmp_path):
    dead = free_port()
    with StubServer() as other, StubServer() as a:
        config = two_endpoints([a.url, f"http://127.0.0.1:{dead}/v1"], other.url, retries=0)
        config, seeds = write_inputs(tmp_path, config)
        done = run_cli(config, seeds, tmp_path / "run", tmp_path)
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if f"127.0.0.1:{dead}" in line]
    assert len(warning) == 1 and "models.strong: cannot reach deployment" in warning[0], done.stderr
    assert manifest(tmp_path / "run")["status"] == "complete"


def test_every_replica_dead_mid_run_stops_it_naming_them_all(tmp_path):
    with StubServer() as other, StubServer(delay_ms=5) as a, StubServer(delay_ms=5) as b:
        config, seeds = write_inputs(tmp_path, two_endpoints([a.url, b.url], other.url, retries=1))
        out = tmp_path / "run"
        argv, environ = command(config, seeds, out), env(tmp_path)
        proc = subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        kill_when(a, a, b, calls=10, proc=proc)
        b.kill()
        _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 4, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert f"127.0.0.1:{a.port}, 127.0.0.1:{b.port}" in lines[0] and "connection refused" in lines[0]
    assert "any deployment of the strong model" in lines[0] and KEY not in stderr
    state = manifest(out)
    assert state["status"] == "stopped"
    assert [r for r in rows(out / "rejected.jsonl") if r["outcome"] == "failed"] == []


def test_every_replica_dead_at_start_is_one_line_naming_them(tmp_path):
    ports = [free_port(), free_port()]
    config = two_endpoints([f"http://127.0.0.1:{p}/v1" for p in ports], "http://127.0.0.1:9/v1")
    config, seeds = write_inputs(tmp_path, config)
    done = run_cli(config, seeds, tmp_path / "run", tmp_path)
    assert done.returncode == 3
    assert (
        done.stderr.count("\n") == 1 and "models.strong: cannot reach any of its deployments" in done.stderr
    )
    assert all(f"127.0.0.1:{p}" in done.stderr for p in ports)
    assert not (tmp_path / "run").exists()


def test_bad_deployments_are_one_line_before_anything_runs(tmp_path):
    urls = ["http://127.0.0.1:9/v1", "http://127.0.0.1:11/v1"]
    cases = {
        "duplicate": (two_endpoints([urls[0], urls[0] + "/"], urls[0]), 2, "deployments.0 and deployments.1"),
        "both": (two_endpoints(urls, urls[0]), 2, "not beside deployments"),
        "no key": (two_endpoints(urls, urls[0]), 3, "deployments.1: the environment variable NOT_SET"),
    }
    cases["both"][0]["models"]["strong"]["api_base"] = urls[0]
    cases["no key"][0]["models"]["strong"]["deployments"][1]["api_key_env"] = "NOT_SET"
    for name, (config, code, says) in cases.items():
        config_path, seeds = write_inputs(tmp_path, config)
        done = run_cli(config_path, seeds, tmp_path / name, tmp_path)
        assert done.returncode == code, (name, done.stderr)
        assert done.stderr.count("\n") == 1 and says in done.stderr, (name, done.stderr)


def test_the_first_deployment_names_the_answers_so_a_one_server_cache_serves_them(tmp_path):
    """Adding a replica keeps the request cache (and a resume's journal) valid."""
    with StubServer() as a, StubServer() as b:
        config = stub_config(a.url, cache=True)
        config["pipeline"]["num_instructions"] = 12
        config_path, seeds = write_inputs(tmp_path, config)
        assert run_cli(config_path, seeds, tmp_path / "one", tmp_path).returncode == 0
        before = strong_calls(a, b)
        config = two_endpoints([a.url, b.url], a.url)
        config["engine"]["cache"] = True
        config_path, seeds = write_inputs(tmp_path, config)
        done = run_cli(config_path, seeds, tmp_path / "two", tmp_path)
        assert done.returncode == 0, done.stderr
        assert strong_calls(a, b) == before  # every strong answer came from the cache
    same_dataset(tmp_path / "two", tmp_path / "one")


def router_on(*urls: str, **limits) -> RoleRouter:
    return RoleRouter(
        "strong", [{"model": "openai/stub-strong", "api_base": u, "api_key": KEY, **limits} for u in urls]
    )


def built(router: RoleRouter):
    """The role's LiteLLM Router, built on the engine's loop as a first request would build it."""

    async def build():
        return router._router or router._build()

    return engine_loop().run(build())


def ask(router: RoleRouter, text: str, wait_s: float = 30.0):
    request = router.send(
        messages=[{"role": "user", "content": text}], model="openai/stub-strong", timeout=10
    )
    return engine_loop().run(asyncio.wait_for(request, wait_s))


def test_a_deployment_at_its_rpm_makes_the_request_wait_not_fail():
    if time.time() % 60 > 56:  # the Router counts per clock minute: start in a fresh one
        time.sleep(60.5 - time.time() % 60)
    with StubServer() as server:
        router = router_on(server.url, rpm=2)
        try:
            assert ask(router, "first").choices[0].message.content
            with pytest.raises(TimeoutError):  # no 429, no error: it waits for the next minute
                ask(router, "second", wait_s=2.0)
            assert strong_calls(server) == [1]
        finally:
            router.close()


def test_a_prompt_over_every_deployments_tpm_fails_at_once_and_close_unhooks_the_router():
    with StubServer() as a, StubServer() as b:
        router = router_on(a.url, b.url, tpm=5)
        with pytest.raises(litellm.BadRequestError, match="exceed the tpm of every deployment"):
            ask(router, "a prompt that is longer than five tokens, by some margin")
        assert strong_calls(a, b) == [0, 0]
    hooked = router._router
    assert hooked.deployment_callback_on_success in litellm._async_success_callback
    router.close()
    engine_loop().run(asyncio.sleep(0))  # close runs on the loop
    assert hooked.deployment_callback_on_success not in litellm._async_success_callback
    assert hooked.lowesttpm_logger_v2 not in litellm.callbacks


def test_a_struck_deployment_gets_one_trial_request_at_a_time(monkeypatch):
    """After its cooldown a replica that failed takes one request alone: were it
    simply back, the Router would send it every request (its usage is the
    lowest) and a hung one would hold each for a timeout."""
    monkeypatch.setattr(deployments, "COOLDOWN_S", 0.5)
    timeout = 1.0
    with StubServer() as good, StubServer(fault_rate=1.0, faults=("timeout",), hang_s=30.0) as hung:
        router = router_on(hung.url, good.url)

        async def waves(count: int) -> list:
            answers = []
            for n in range(count):
                wave = [
                    router.send(messages=[{"role": "user", "content": f"request {n}-{i}"}], timeout=timeout)
                    for i in range(8)
                ]
                answers += await asyncio.gather(*wave)
            return answers

        try:
            ask(router, "warm-up")  # the Router is built before the clock starts
            started = time.monotonic()
            answers = engine_loop().run(asyncio.wait_for(waves(6), 120))
            elapsed = time.monotonic() - started
            on_hung, on_good = strong_calls(hung, good)
        finally:
            router.close()
    assert all(a.choices[0].message.content for a in answers)  # every request answered
    assert on_good == len(answers) + 1 == 49
    # a first wave can all meet it; after that one trial per cooldown and timeout (without
    # the trial rule: every request of the wave after each cooldown, 20 in 3 s here)
    trials = elapsed / (deployments.COOLDOWN_S + timeout) + 1
    assert 1 <= on_hung <= 8 + trials, (on_hung, elapsed)


def test_a_trial_a_deployment_refuses_at_its_rpm_goes_to_the_others():
    if time.time() % 60 > 50:  # the Router counts per clock minute: start in a fresh one
        time.sleep(60.5 - time.time() % 60)
    with StubServer() as a, StubServer() as b:
        router = router_on(a.url, b.url, rpm=2)
        try:
            r = built(router)
            for text in ("one", "two"):  # deployment 0 uses its rpm for this minute
                engine_loop().run(
                    r.acompletion(model="strong-0", messages=[{"role": "user", "content": text}])
                )
            router._struck["strong-0"] = 1  # then fails: its trial is due at once
            assert ask(router, "the trial").choices[0].message.content
            assert strong_calls(a, b) == [2, 1]
        finally:
            router.close()


def test_with_every_deployment_cooling_the_least_failed_is_tried_first():
    """One slow answer (a read timeout) cools a healthy replica like a hung one;
    the hung one, which failed more since it last answered, goes last."""
    with StubServer(fault_rate=1.0, faults=("timeout",), hang_s=30.0) as hung, StubServer() as good:
        router = router_on(hung.url, good.url)
        try:
            r = built(router)
            router._struck.update({"strong-0": 5, "strong-1": 1})
            for id_ in router.ids:
                router._cool_down(r, id_, None, 30.0)
            started = time.monotonic()
            assert ask(router, "while both cool down").choices[0].message.content
            assert time.monotonic() - started < 5  # not a timeout (10 s) on the hung one first
            assert strong_calls(hung, good) == [0, 1]
        finally:
            router.close()


def test_a_struck_deployment_that_answers_its_trial_is_back_at_once(monkeypatch):
    monkeypatch.setattr(deployments, "COOLDOWN_S", 0.3)
    with StubServer() as a, StubServer() as b:
        router = router_on(a.url, b.url)
        try:
            router._struck["strong-0"] = 1  # as if it had failed once
            assert ask(router, "the trial").choices[0].message.content
            assert strong_calls(a, b) == [1, 0] and not router._struck  # the trial went to it alone
            time.sleep(0.05)  # what is left of its cooldown: 10 ms
            cooling = engine_loop().run(deployments._cooling(router._router))
            assert "strong-0" not in cooling  # not held out for the trial's timeout (10 s here)
        finally:
            router.close()
