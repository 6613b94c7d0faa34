"""Config values a fuzz found taken at face value (issue 13): numbers, bounds and strings.

YAML's ``true`` used to be the number 1 (``rpm: true`` then waits a minute
per request; ``budget.max_calls: true`` stops after one call), ``1.0e30`` was
a count (a run that never ends), and NaN or infinity passed for most floats.
Every such config is now refused by ``codeclm generate`` with one line naming
the file and the key.
"""

import pytest
import yaml
from typer.testing import CliRunner

import codeclm_dspy as cc
from codeclm_dspy.cli import app

MODELS = {"strong": {"model": "embedded/smollm2-135m-instruct"}, "target": {"model": "embedded/gemma3-270m"}}
NAN, INF = float("nan"), float("inf")


def with_value(dotted: str, value) -> dict:
    """A good config with ``dotted`` (``engine.budget.max_calls``) set to ``value``."""
    data = {"models": {role: dict(section) for role, section in MODELS.items()}}
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return data


def refused(tmp_path, data: dict, key: str) -> str:
    """``codeclm generate`` must exit 2 with one line naming the config file and ``key``."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "seeds.jsonl").write_text('{"instruction": "Say hi."}\n')
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--config",
            str(tmp_path / "config.yaml"),
            "--seeds",
            str(tmp_path / "seeds.jsonl"),
            "--out",
            str(tmp_path / "out"),
            "-q",
        ],
    )
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert len(lines) == 1 and "config.yaml" in lines[0] and f"{key}:" in lines[0], result.output
    assert not (tmp_path / "out").exists()
    return lines[0]


NUMBERS = [
    "engine.workers",
    "engine.max_in_flight",
    "engine.senders",
    "engine.parse_retries",
    "engine.budget.max_calls",
    "engine.budget.max_tokens",
    "engine.budget.max_usd",
    "models.strong.temperature",
    "models.strong.max_tokens",
    "models.strong.top_p",
    "models.strong.timeout",
    "models.strong.num_retries",
    "models.strong.concurrency",
    "models.strong.rpm",
    "models.strong.tpm",
    "pipeline.metadata_pool_size",
    "pipeline.max_skills_per_metadata",
    "pipeline.num_instructions",
    "pipeline.num_rubrics",
    "pipeline.max_iterations",
    "pipeline.threshold",
    "pipeline.max_decode_rounds",
    "pipeline.max_overdraw",
    "pipeline.max_pool_rounds",
    "self_instruct.demos_per_prompt",
    "self_instruct.max_rouge_l",
    "self_instruct.max_calls",
    "evol_instruct.rounds",
    "quality.leak_words",
    "quality.max_use_case_chars",
    "compile.dev_fraction",
    "compile.max_train",
    "compile.decode_count",
    "compile.num_threads",
    "compile.budget.max_calls",
    "random_seed",
]


@pytest.mark.parametrize("field", NUMBERS)
def test_true_is_not_a_number(tmp_path, field):
    assert "valid" in refused(tmp_path, with_value(field, True), field)


FLOATS = [
    "models.strong.temperature",
    "models.strong.top_p",
    "models.strong.timeout",
    "engine.budget.max_usd",
    "pipeline.threshold",
    "pipeline.max_overdraw",
    "self_instruct.max_rouge_l",
    "compile.dev_fraction",
    "compile.budget.max_usd",
]


@pytest.mark.parametrize("value", [NAN, INF, -INF])
@pytest.mark.parametrize("field", FLOATS)
def test_nan_and_infinity_are_refused(tmp_path, field, value):
    refused(tmp_path, with_value(field, value), field)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("pipeline.metadata_pool_size", 1e30, "valid integer"),  # a float is not a count
        ("pipeline.max_iterations", 1e30, "valid integer"),
        ("pipeline.metadata_pool_size", 100_001, "less than or equal to 100000"),
        ("pipeline.max_iterations", 101, "less than or equal to 100"),
        ("pipeline.num_instructions", 10_000_001, "less than or equal to 10000000"),
        ("engine.workers", 1025, "less than or equal to 1024"),
        ("engine.senders", 65, "less than or equal to 64"),
        ("models.strong.concurrency", 1025, "less than or equal to 1024"),
        ("models.strong.rpm", 1_000_001, "less than or equal to 1000000"),
        ("models.strong.tpm", 10**12, "less than or equal to 1000000000"),
        ("models.strong.timeout", 86_401, "less than or equal to 86400"),
        ("engine.workers", "8", "valid integer"),  # a quoted number is text
    ],
)
def test_counts_have_bounds_that_cannot_hang(tmp_path, field, value, says):
    assert says in refused(tmp_path, with_value(field, value), field)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("models.strong.model", "openai/gpt-4o\x07", "holds a control character (U+0007)"),
        ("models.strong.model", "openai/\ud800", "holds a lone surrogate (U+D800)"),
        ("models.strong.api_base", "http://localhost:8000/v1\x1b[2J", "holds a control character (U+001B)"),
        ("models.strong.api_key_env", "OPENAI_API_KEY\n", "NAME of an environment variable"),
        ("models.strong.extra_params", {"stop\x00": 1}, "a key holds a control character (U+0000)"),
    ],
)
def test_strings_with_control_characters_are_refused(tmp_path, field, value, says):
    assert says in refused(tmp_path, with_value(field, value), field)


@pytest.mark.parametrize(
    ("param", "says"),
    [
        ("stream", "the engine needs each answer whole"),
        ("n", "one answer per request"),
        ("model", "models.<role>.model"),
        ("api_key", "NAME of an environment variable in models.<role>.api_key_env"),
        ("temperature", "give models.<role>.temperature"),
        ("timeout", "give models.<role>.timeout"),
    ],
)
def test_extra_params_cannot_set_what_the_engine_owns(tmp_path, param, says):
    """Passed through, ``stream`` failed every item with an error about the answer's
    shape, ``model`` sent requests to another model under the role's journal keys,
    and ``temperature`` silently beat the role's own field."""
    message = refused(
        tmp_path, with_value("models.strong.extra_params", {"seed": 1, param: 1}), "extra_params"
    )
    assert f"extra_params cannot set '{param}'" in message and says in message


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        # YAML's !!binary: pydantic kept the bytes, and writing the manifest raised UnicodeDecodeError
        ("models.strong.extra_params", {"seed": b"\xff"}, "extra_params.seed is a bytes"),
        ("models.strong.extra_params", {"frequency_penalty": float("nan")}, "NaN and infinity"),
        ("models.strong.extra_params", {"logit_bias": {"50256": float("-inf")}}, "logit_bias.50256 is -inf"),
        ("models.strong.extra_params", {"max_completion_tokens": 1}, "give models.<role>.max_tokens"),
        ("models.strong.api_key_env", "PATH", "holds no API key"),
    ],
)
def test_what_would_reach_the_provider_wrongly_is_refused(tmp_path, field, value, says):
    assert says in refused(tmp_path, with_value(field, value), field)


def test_ints_are_still_floats_and_aliases_still_work(tmp_path):
    """Strictness refuses bools and floats-as-counts, not a plain YAML config with anchors."""
    (tmp_path / "config.yaml").write_text(
        "models:\n"
        "  strong: &role {model: embedded/gemma3-270m, temperature: 1, timeout: 30}\n"
        "  target: *role\n"
        "  judge: {<<: *role, model: embedded/smollm2-135m-instruct}\n"
        "pipeline: {threshold: 2, max_overdraw: 2}\n"
        "engine: {budget: {max_usd: 5}}\n"
    )
    cfg = cc.load_config(tmp_path / "config.yaml")
    assert (cfg.models.target.temperature, cfg.models.judge.timeout, cfg.models.judge.model) == (
        1.0,
        30.0,
        "embedded/smollm2-135m-instruct",
    )
    assert (cfg.pipeline.threshold, cfg.engine.budget.max_usd) == (2.0, 5.0)


def test_search_space_bounds_are_strict(tmp_path):
    from codeclm_dspy.errors import ConfigError
    from optimizers.space import load_space

    for knob, says in [
        ("{low: true, high: 3}", "params.pipeline.threshold.low"),
        ("{low: 0.5, high: .inf}", "params.pipeline.threshold.high"),
        ("{low: 0.5, high: .nan}", "params.pipeline.threshold.high"),
    ]:
        (tmp_path / "space.yaml").write_text(f"params:\n  pipeline.threshold: {knob}\n")
        with pytest.raises(ConfigError, match=f"space.yaml: {says}"):
            load_space(tmp_path / "space.yaml")
    (tmp_path / "space.yaml").write_text(
        "pruning: {probe_instructions: 1.0e+30}\nparams:\n  x: {choices: [1]}\n"
    )
    with pytest.raises(ConfigError, match=r"pruning\.probe_instructions"):
        load_space(tmp_path / "space.yaml")
