"""Checks before a run: a USD cap the run's calls cannot count toward is said, or refused."""

import logging

import pytest

from benchmarks.stub_server import StubServer
from codeclm_dspy.config import RoleConfig
from codeclm_dspy.engine.preflight import check_usd_cap
from codeclm_dspy.errors import ConfigError
from tests.engine_helpers import manifest, run_cli, stub_config, write_inputs

SELF_HOSTED = RoleConfig(model="openai/stub-unpriced", api_base="http://127.0.0.1:9/v1")
PRICED = RoleConfig(model="openai/gpt-4o-mini")
EMBEDDED = RoleConfig(model="embedded/smollm2-135m-instruct")


def test_a_usd_cap_no_role_counts_toward_is_refused():
    roles = {"strong": SELF_HOSTED, "target": SELF_HOSTED, "judge": SELF_HOSTED}
    with pytest.raises(ConfigError, match="max_usd can never be reached") as refused:
        check_usd_cap(5.0, roles)
    assert "strong (openai/stub-unpriced)" in str(refused.value) and "max_calls" in str(refused.value)
    check_usd_cap(None, roles)  # no USD cap: nothing to say


def test_roles_a_usd_cap_cannot_see_are_named_and_the_run_goes_on(caplog):
    with caplog.at_level(logging.WARNING):
        check_usd_cap(5.0, {"strong": PRICED, "target": SELF_HOSTED, "judge": PRICED})
    assert "target (openai/stub-unpriced)" in caplog.text and "strong" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # an embedded model is free, not unpriced
        check_usd_cap(5.0, {"strong": EMBEDDED, "target": EMBEDDED, "judge": PRICED})
    assert caplog.text == ""


@pytest.fixture(scope="module")
def server():
    with StubServer() as stub:
        yield stub


def test_a_run_whose_usd_cap_cannot_count_stops_before_its_first_call(server, tmp_path):
    config, seeds = write_inputs(tmp_path, stub_config(server.url, budget={"max_usd": 0.000001}))
    before = server.stats()["requests"]
    refused = run_cli(config, seeds, tmp_path / "out", tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "max_usd can never be reached" in refused.stderr
    assert not (tmp_path / "out").exists() and server.stats()["requests"] == before


def test_an_unpriced_role_leaves_the_spend_unknown_not_zero(server, tmp_path):
    config = stub_config(server.url, budget={"max_usd": 100.0})
    config["pipeline"]["num_instructions"] = 2
    config["models"]["strong"]["model"] = "openai/gpt-4o-mini"  # priced; the stub answers any name
    config, seeds = write_inputs(tmp_path, config)
    done = run_cli(config, seeds, tmp_path / "out", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "max_usd counts only priced calls" in done.stderr and "target (openai/stub-target)" in done.stderr
    written = manifest(tmp_path / "out")
    assert written["usage"]["usd"] is None and written["this_session"]["usd"] is None
    assert written["usage"]["steps"]["encode"]["usd"] > 0  # the strong model's own calls are priced
