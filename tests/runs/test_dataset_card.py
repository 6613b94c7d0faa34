"""The dataset a run saves and its card agree, and the card says what made the data.

What a user publishing RUN/dataset relies on: ``load_from_disk``, the
parquet copy (through the card's ``configs``) and the card's header all give
the same rows and features; the card names the method, each role's model and
the settings, for CodecLM, its ablations and the baselines alike; and it
carries no credential from the config.
"""

import json

import datasets
import pytest
import yaml
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard

import codeclm_dspy as cc
from codeclm_dspy.pipeline.methods import apply_preset
from codeclm_dspy.pipeline.records import Seed
from codeclm_dspy.runs.dataset_card import PARQUET_DIR, PARQUET_FILE, card_text, size_category
from codeclm_dspy.runs.manifest import models_of
from codeclm_dspy.runs.run_dir import kept_features, save_card
from tests import scripted
from tests.evals.test_baselines import script_baselines

SEEDS = [Seed(f"s{i}", f"Explain topic {i} to a newcomer, with one example.") for i in range(4)]
PIPELINE = {"num_instructions": 5, "metadata_pool_size": 4, "max_iterations": 2, "threshold": 2.5}


def prefer_strong(role, inputs, params):
    """The judge scores the strong model's answer 9 and the target's 3, in either order."""
    return {
        "score_1": 9 if inputs["answer_1"].startswith("STRONG") else 3,
        "score_2": 9 if inputs["answer_2"].startswith("STRONG") else 3,
    }


def run(tmp_path, method="codeclm", **sections):
    """A complete scripted run; returns its directory."""
    config = apply_preset(scripted.config(pipeline=PIPELINE, **sections), method)
    out = tmp_path / method
    cc.generate(config, SEEDS, out=out)
    return out


def header(card: str) -> dict:
    return yaml.safe_load(card.split("---\n")[1])


def encode(role, inputs, params):
    """Each seed its own use case, so decoding gives distinct instructions."""
    topic = inputs["instruction"].split()[2]
    return {"use_case": f"explaining topic {topic}", "skills": [f"skill {topic}", "teaching"]}


def decode(role, inputs, params):
    count = int(inputs["count"])
    return {
        "new_instructions": [
            f"Task {n} of {inputs['use_case']} using {inputs['skills']}" for n in range(count)
        ]
    }


@pytest.fixture
def codeclm_run(script, tmp_path):
    script.handlers.update(encode=encode, decode=decode, judge=prefer_strong)
    script.handlers["respond"] = lambda role, i, p: f"{role.upper()} answer to {i['instruction']}"
    return run(tmp_path, models={"judge": {"model": "scripted/judge", "temperature": 0.2}})


def test_load_from_disk_parquet_and_card_agree(codeclm_run, tmp_path):
    folder = codeclm_run / "dataset"
    saved = datasets.load_from_disk(str(folder))
    kept = [json.loads(line) for line in (codeclm_run / "kept.jsonl").open()]
    assert len(saved) == len(kept) == 5  # the quota was met: the card describes real rows

    card = DatasetCard.load(folder / "README.md")
    info = DatasetInfosDict.from_dataset_card_data(card.data)["default"]
    assert info.features == saved.features == kept_features()
    assert info.splits["train"].num_examples == len(saved)
    assert info.dataset_size == saved.data.nbytes  # the Arrow size, taken from the save's own record
    assert card.data.size_categories == ["n<1K"]
    assert card.data.license == "unknown" and "set it to a licence" in card.text

    # the parquet file the header's configs name (what the Hub serves) holds the same rows and types
    files = card.data.configs[0]["data_files"][0]["path"]
    parquet = datasets.load_dataset(
        "parquet", data_files=str(folder / files), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert parquet.features == saved.features
    assert parquet.to_list() == saved.to_list()
    assert [r["id"] for r in saved] == [r["id"] for r in kept]


def test_a_dataset_saved_without_its_size_gets_it_measured_on_the_card(codeclm_run, tmp_path):
    """A dataset saved another way (``save_to_disk`` of an in-memory one) may record no Arrow size."""
    folder = tmp_path / "older" / "dataset"
    rows = [json.loads(line) for line in (codeclm_run / "kept.jsonl").open()]
    older = datasets.Dataset.from_list(rows, features=kept_features())
    older.save_to_disk(str(folder))
    older.to_parquet(str(folder / PARQUET_DIR / PARQUET_FILE))
    data = datasets.load_from_disk(str(folder))
    assert data.info.dataset_size is None
    manifest = json.loads((codeclm_run / "manifest.json").read_text())

    save_card(folder, manifest, data)
    info = DatasetInfosDict.from_dataset_card_data(DatasetCard.load(folder / "README.md").data)["default"]
    assert info.dataset_size == data.data.nbytes > 0
    assert info.splits["train"].num_examples == len(rows)


def test_card_names_the_method_models_settings_funnel_and_paper(codeclm_run):
    card = (codeclm_run / "dataset" / "README.md").read_text()
    manifest = json.loads((codeclm_run / "manifest.json").read_text())
    assert "`codeclm` method" in card and "All of CodecLM" in card
    assert "| strong | `scripted/strong` | temperature 0.7, max_tokens 1024 |" in card
    assert "| target | `scripted/target` |" in card
    assert "| judge | `scripted/judge` | temperature 0.2, max_tokens 1024 |" in card
    settings = yaml.safe_load(card.split("```yaml\n")[1].split("```")[0])
    assert settings["pipeline"] == manifest["config"]["pipeline"]
    assert settings["pipeline"]["threshold"] == 2.5 and settings["quality"] == manifest["config"]["quality"]
    funnel = manifest["cost_funnel"]
    assert f"| seeds | {funnel['seeds']} |" in card and "| kept | 5 of 5 asked |" in card
    assert f"| **total** | {manifest['usage']['calls']} |" in card
    assert "arXiv:2404.05875" in card and "Findings of" in card and "NAACL 2024" in card
    assert "--method codeclm --random-seed 0" in card
    for column in kept_features():
        assert f"| `{column}` |" in card


def test_the_card_gives_the_sampling_each_role_was_sent_with(script, tmp_path):
    # a judge section without a temperature samples at 0, whatever the config's default reads
    script.handlers.update(encode=encode, decode=decode, judge=prefer_strong)
    folder = run(tmp_path, models={"judge": {"model": "scripted/judge"}})
    card = (folder / "dataset" / "README.md").read_text()
    assert "| judge | `scripted/judge` | temperature 0.0, max_tokens 1024 |" in card
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["models"]["judge"]["sampling"] == {"temperature": 0.0, "max_tokens": 1024}


@pytest.mark.parametrize("method", ["metadata-only", "self-rubrics", "evol-instruct", "wizardlm-plus"])
def test_ablations_and_baselines_get_a_card_of_their_own(script, monkeypatch, tmp_path, method):
    script_baselines(script, monkeypatch).handlers.update(encode=encode, decode=decode)
    out = run(tmp_path, method, evol_instruct={"rounds": 2})
    card = (out / "dataset" / "README.md").read_text()
    saved = datasets.load_from_disk(str(out / "dataset"))
    assert header(card)["dataset_info"]["splits"][0]["num_examples"] == len(saved) > 0
    assert f"`{method}` method" in card and f"--method {method} " in card
    assert ("evol_instruct:" in card) == (method in ("evol-instruct", "wizardlm-plus"))
    # a baseline that encodes nothing has no metadata stage, and says so by leaving the row out
    assert ("| metadata (pool) |" in card) == (method != "evol-instruct")


def test_size_categories_follow_the_hubs_buckets():
    assert [size_category(n) for n in (0, 999, 1000, 9999, 10_000, 250_000, 10**9)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "1K<n<10K",
        "10K<n<100K",
        "100K<n<1M",
        "n>1B",
    ]


def test_the_card_never_shows_endpoints_or_credentials():
    config = cc.parse_config(
        {
            "models": {
                "strong": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": "https://proxy-user:hunter2-secret@proxy.example/v1",
                    "api_key_env": "MY_PROVIDER_KEY_VAR",
                    "extra_params": {
                        "aws_secret_access_key": "sk-in-extra-params",
                        "extra_headers": {"X-Token": "tok-xyz"},
                    },
                },
                "target": {"model": "hosted_vllm/my-7b", "api_base": "http://10.1.2.3:8000/v1"},
            }
        }
    )
    manifest = {"method": "codeclm", "config": config.public_dict(), "models": models_of(config)}
    card = card_text(manifest, kept_features(), 0)
    assert "`openai/gpt-4o-mini`" in card and "`hosted_vllm/my-7b`" in card
    for secret in ("hunter2-secret", "proxy-user", "proxy.example", "10.1.2.3", "sk-in-extra-params"):
        assert secret not in card
    assert "tok-xyz" not in card and "MY_PROVIDER_KEY_VAR" not in card


def test_the_card_says_when_token_counts_are_estimates():
    from codeclm_dspy.runs.dataset_card import cost_table

    usage = {"calls": 40, "tokens": 9_000, "usd": None}
    assert "estimate" not in cost_table({}, {**usage, "estimated_calls": 0})
    said = cost_table({}, {**usage, "estimated_calls": 12})
    assert "12 of the 40 paid calls came back without usable token counts" in said
