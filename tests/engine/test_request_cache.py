"""The request cache is shared across runs, keyed on the endpoint as well as
the model and the request, and can be switched off."""

from benchmarks.stub_server import StubServer
from tests.engine_helpers import manifest, rows, run_cli, stub_config, write_inputs


def test_cache_is_shared_across_runs_keyed_on_endpoint_and_switchable(tmp_path):
    with StubServer(seed=1) as one, StubServer(seed=2) as two:  # same model names, different answers
        config, seeds = write_inputs(tmp_path, stub_config(one.url, cache=True))
        first = run_cli(config, seeds, tmp_path / "first", tmp_path)
        assert first.returncode == 0, first.stderr
        made = one.stats()["requests"]
        assert made == manifest(tmp_path / "first")["usage"]["calls"] > 0

        # A new run with the same config: every answer comes from the cache.
        second = run_cli(config, seeds, tmp_path / "second", tmp_path)
        assert second.returncode == 0, second.stderr
        assert one.stats()["requests"] == made
        assert manifest(tmp_path / "second")["usage"]["cache_hits"] == made
        # Paid nothing, but a comparison of methods still sees what it cost.
        first_usage, second_usage = (
            manifest(tmp_path / "first")["usage"],
            manifest(tmp_path / "second")["usage"],
        )
        assert second_usage["calls"] == second_usage["tokens"] == 0
        assert second_usage["standalone"] == first_usage["standalone"]
        assert first_usage["standalone"]["calls"] == made
        assert rows(tmp_path / "second" / "kept.jsonl") == rows(tmp_path / "first" / "kept.jsonl")

        # Another server under the same model names is never answered from that cache.
        config, seeds = write_inputs(tmp_path, stub_config(two.url, cache=True))
        other = run_cli(config, seeds, tmp_path / "other", tmp_path)
        assert other.returncode == 0, other.stderr
        assert two.stats()["requests"] > 0
        assert manifest(tmp_path / "other")["usage"]["cache_hits"] == 0

        # Switched off: the same config as the first run calls the server again.
        config, seeds = write_inputs(tmp_path, stub_config(one.url, cache=False))
        uncached = run_cli(config, seeds, tmp_path / "uncached", tmp_path)
        assert uncached.returncode == 0, uncached.stderr
        assert one.stats()["requests"] == 2 * made
