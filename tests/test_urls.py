"""A malformed ``api_base`` is one clear line before anything runs.

Out-of-range and non-numeric ports used to escape as Python's own
``ValueError`` from deep inside the reachability check, and a NUL byte or
other control character was accepted. Every case goes through the CLI: a
non-zero exit, one line naming the role and what is wrong, no traceback, no
run directory.
"""

import contextlib
import socket
import threading

import pytest
import yaml
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from codeclm_dspy.config import parse_config
from codeclm_dspy.engine.routing import build_lms
from codeclm_dspy.errors import ProviderError


@pytest.fixture(scope="module")
def listening():
    """A port that accepts connections, so the good roles pass the up-front check."""

    def accept(server):
        with contextlib.suppress(OSError):
            while True:
                server.accept()[0].close()

    with socket.create_server(("127.0.0.1", 0)) as server:
        threading.Thread(target=accept, args=(server,), daemon=True).start()
        yield f"http://127.0.0.1:{server.getsockname()[1]}/v1"


def config_with(good: str, role: str, api_base: str) -> dict:
    models = {name: {"model": f"openai/{name}", "api_base": good} for name in ("strong", "target", "judge")}
    models[role]["api_base"] = api_base
    return {"models": models, "pipeline": {"metadata_pool_size": 2, "num_instructions": 2}}


def generate(tmp_path, config: dict) -> str:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "seeds.jsonl").write_text('{"instruction": "Say hi."}\n')
    args = ["generate", "--config", str(tmp_path / "config.yaml"), "--seeds", str(tmp_path / "seeds.jsonl")]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and result.exc_info[0] is SystemExit, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("codeclm: error: models."), result.output
    assert not (tmp_path / "out").exists()
    return lines[0]


@pytest.mark.parametrize(
    ("role", "api_base", "says"),
    [
        ("strong", "http://127.0.0.1:99999/v1", "has port 99999, outside 1-65535"),
        ("target", "http://127.0.0.1:0/v1", "has port 0, outside 1-65535"),
        ("judge", "http://127.0.0.1:80a/v1", "has a port that is not a number ('80a')"),
        ("target", "http://127.0.0.1:/v1", "has a port that is not a number ('')"),
        ("target", "http://127.0.0.1:-80/v1", "has a port that is not a number ('-80')"),
        ("strong", "http://127.0.0.1:\uff18\uff10/v1", "has a port that is not a number"),  # fullwidth 80
        ("target", "http://127.0.0.1:8000/\nv1", "holds a control character or space ('\\n' at position 22)"),
        ("judge", "http://127.0.0.1 :8000/v1", "holds a control character or space (' ' at position 16)"),
        ("strong", "http://127.0.0.1:8000/v1\u200b", "holds a control character or space ('\\u200b'"),
        ("target", "ftp://127.0.0.1:8000/v1", "is not an http(s) URL"),
        ("target", "127.0.0.1:8000/v1", "is not an http(s) URL"),
        ("target", "", "is not an http(s) URL"),
        ("judge", "http://:8000/v1", "names no host"),
        ("strong", "http://[::1/v1", "is not a URL: Invalid IPv6 URL"),
    ],
)
def test_a_malformed_api_base_is_one_line_naming_the_role(tmp_path, listening, role, api_base, says):
    line = generate(tmp_path, config_with(listening, role, api_base))
    assert line.startswith(f"codeclm: error: models.{role}.api_base "), line
    assert says in line, line


def test_a_nul_byte_in_api_base_is_refused_with_the_config(tmp_path, listening):
    # the config refuses control characters in every string before any role is checked
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(config_with(listening, "target", "http://127.0.0.1:8000/v1\x00"))
    )
    (tmp_path / "seeds.jsonl").write_text('{"instruction": "Say hi."}\n')
    args = ["generate", "--config", str(tmp_path / "config.yaml"), "--seeds", str(tmp_path / "seeds.jsonl")]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "models.target.api_base: holds a control character (U+0000)" in result.output
    assert not (tmp_path / "out").exists()


def test_a_password_in_a_bad_api_base_is_not_echoed(tmp_path, listening):
    line = generate(tmp_path, config_with(listening, "target", "http://me:hunter2@127.0.0.1:70000/v1"))
    assert "hunter2" not in line and "me:***@" in line and "outside 1-65535" in line


def test_well_formed_urls_pass_to_the_reachability_check(tmp_path, listening):
    """IPv6, a default port and user info are fine; the next check speaks."""
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        free = spare.getsockname()[1]
    line = generate(tmp_path, config_with(listening, "target", f"http://127.0.0.1:{free}/v1"))
    assert line.startswith("codeclm: error: models.target: cannot reach api_base"), line
    line = generate(tmp_path, config_with(listening, "judge", "http://[::1]:1/v1"))
    assert line.startswith("codeclm: error: models.judge: cannot reach api_base http://[::1]:1/v1"), line


def test_the_python_api_checks_urls_even_without_the_up_front_check(listening):
    config = parse_config(config_with(listening, "judge", "http://127.0.0.1:65536/v1"))
    with pytest.raises(ProviderError, match=r"models\.judge\.api_base .* outside 1-65535"):
        build_lms(config, check=False)
