"""The same pipeline pointed, by config alone, at llama.cpp's OpenAI-compatible
server (``python -m llama_cpp.server``) on 127.0.0.1: proof that swapping a
provider needs no code. Slow; deselect with -m "not server"."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from codeclm_dspy.engine import embedded
from tests.one_cpu import one_cpu
from tests.test_embedded import check_run, generate, small_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """llama-cpp-python's server with both embedded GGUF files, one alias each."""
    with one_cpu():  # the server and its thread count, like the test (tests/one_cpu.py)
        base, proc = start_server(tmp_path_factory)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_server(tmp_path_factory) -> tuple[str, subprocess.Popen]:
    port = free_port()
    config = tmp_path_factory.mktemp("llama") / "server.json"
    models = [
        {
            "model": str(embedded.model_file(name)),
            "model_alias": alias,
            "n_ctx": 4096,
            "n_threads": embedded.default_threads(),  # as in-process (the server's default: half the CPUs)
            "verbose": False,
        }
        for name, alias in (("smollm2-135m-instruct", "smollm2"), ("gemma3-270m", "gemma3"))
    ]
    config.write_text(json.dumps({"host": "127.0.0.1", "port": port, "models": models}))
    log = (config.parent / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config)], stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama_cpp.server did not start: {(config.parent / 'server.log').read_text()}")
            time.sleep(0.5)
    return base, proc


@pytest.mark.server
def test_same_pipeline_on_llama_cpp_server_by_config_only(tmp_path, llama_server, monkeypatch):
    monkeypatch.setenv("LLAMA_SERVER_KEY", "unused-by-llama-cpp")  # the OpenAI client wants some key
    role = {
        "api_base": llama_server,
        "api_key_env": "LLAMA_SERVER_KEY",
        "structured_output": "json_object_schema",  # the schema form llama-cpp-python's server takes
    }
    manifest = check_run(
        generate(
            tmp_path,
            small_config(
                {
                    "strong": {"model": "openai/smollm2", "max_tokens": 256, **role},
                    "target": {"model": "openai/gemma3", "max_tokens": 96, **role},
                    "judge": {"model": "openai/smollm2", "temperature": 0.8, "max_tokens": 32, **role},
                }
            ),
        ),
    )
    assert manifest["models"]["strong"] == {
        "model": "openai/smollm2",
        "api_base": llama_server,
        "sampling": {"temperature": 0.7, "max_tokens": 256},
    }
    assert "unused-by-llama-cpp" not in json.dumps(manifest)
    assert os.environ["LLAMA_SERVER_KEY"] not in (tmp_path / "run" / "kept.jsonl").read_text()
