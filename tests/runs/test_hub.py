"""``codeclm generate --push-to-hub REPO``, without the network.

The real push is datasets' own ``push_to_hub`` plus huggingface_hub's
``DatasetCard.push_to_hub``; tests have no network, so what is checked is
what a user relies on around it: a bad repository id is refused before the
run starts, a complete run hands the pushing callable its dataset, the repo
id and a card naming that repo (the same card left in RUN/dataset/), and a
failed push is one line that names the repo and how to retry, never a token.
"""

import datasets
import huggingface_hub
import pytest
from typer.testing import CliRunner

import codeclm_dspy.runs.hub as hub
from codeclm_dspy.cli import app
from codeclm_dspy.errors import ConfigError, RunDirError
from tests.runs.test_dataset_card import decode, encode, prefer_strong

CONFIG = """\
models:
  strong: {model: scripted/strong}
  target: {model: scripted/target}
pipeline: {metadata_pool_size: 4, num_instructions: 3, max_iterations: 2}
engine: {workers: 2, cache: false}
"""
TOKEN = "hf_PLANTEDtoken0123456789abcdefABCDEF"


@pytest.fixture
def files(script, tmp_path):
    script.handlers.update(encode=encode, decode=decode, judge=prefer_strong)
    (tmp_path / "config.yaml").write_text(CONFIG)
    seeds = [f'{{"id": "s{i}", "instruction": "Explain topic {i} to a newcomer."}}' for i in range(3)]
    (tmp_path / "seeds.jsonl").write_text("\n".join(seeds) + "\n")
    return tmp_path


def generate(files, repo):
    args = ["generate", "--config", str(files / "config.yaml"), "--seeds", str(files / "seeds.jsonl")]
    return CliRunner().invoke(app, [*args, "--out", str(files / "run"), "-q", "--push-to-hub", repo])


@pytest.mark.parametrize("repo", ["a/b/c", "my org/data", "org/-data", "org/da--ta", "x" * 97, ""])
def test_a_bad_repo_id_is_refused_before_the_run_starts(files, script, repo):
    result = generate(files, repo)
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith(f"codeclm: error: --push-to-hub {repo!r} is not")
    assert "NAMESPACE/NAME" in lines[0]
    assert not (files / "run").exists() and script.calls == []


def test_good_repo_ids_pass():
    for repo in ("codeclm-data", "my-org/support_instructions.v2", "a/b"):
        assert hub.check_repo_id(repo) == repo
    with pytest.raises(ConfigError):
        hub.check_repo_id("https://huggingface.co/datasets/me/data")


def test_a_complete_run_is_pushed_with_its_dataset_and_card(files, monkeypatch):
    pushed = []
    monkeypatch.setattr(hub, "push_to_hub", lambda data, repo, card: pushed.append((data, repo, card)))
    result = generate(files, "my-org/support-data")
    assert result.exit_code == 0, result.output
    assert (
        "pushed" in result.output and "https://huggingface.co/datasets/my-org/support-data" in result.output
    )
    [(data, repo, card)] = pushed
    assert repo == "my-org/support-data"
    saved = datasets.load_from_disk(str(files / "run" / "dataset"))
    assert data.to_list() == saved.to_list() and len(data) == 3 and data.features == saved.features
    assert card == (files / "run" / "dataset" / "README.md").read_text()
    assert 'load_dataset("my-org/support-data", split="train")' in card


def test_a_failed_push_is_one_line_without_the_token(files, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    def refused(data, repo, card):
        raise RuntimeError(f"401 Client Error: Unauthorized: token {TOKEN} is not valid\nmore detail")

    monkeypatch.setattr(hub, "push_to_hub", refused)
    result = generate(files, "me/data")
    assert result.exit_code == 1 and "Traceback" not in result.output and TOKEN not in result.output
    error = [line for line in result.output.splitlines() if line.startswith("codeclm: error:")]
    assert len(error) == 1 and "me/data" in error[0] and "401 Client Error" in error[0]
    assert "token *** is not valid" in error[0] and "run the same command again" in error[0]
    assert (files / "run" / "manifest.json").exists()  # the run itself is complete and saved


@pytest.mark.parametrize(
    ("token", "failure", "says"),
    [
        (TOKEN, OSError("[Errno -2] Name or service not known"), "check the connection to the Hub"),
        (TOKEN, RuntimeError("403 Forbidden: you cannot write to me/data"), "log in"),
        (None, RuntimeError("repository not found"), "log in"),
        (TOKEN, ValueError("the card is too long"), "fix the cause above"),
    ],
)
def test_a_failed_push_says_what_to_fix(files, monkeypatch, token, failure, says):
    # a push that never reached the Hub is not a login problem
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: token)

    def fails(data, repo, card):
        raise failure

    monkeypatch.setattr(hub, "push_to_hub", fails)
    result = generate(files, "me/data")
    [error] = [line for line in result.output.splitlines() if line.startswith("codeclm: error:")]
    assert result.exit_code == 1 and says in error and ("log in" in error) == (says == "log in")


def test_an_unfinished_run_is_not_pushed(files, tmp_path):
    (tmp_path / "stopped").mkdir()
    (tmp_path / "stopped" / "manifest.json").write_text('{"status": "stopped"}')
    with pytest.raises(RunDirError, match="not a complete run"):
        hub.push_run(tmp_path / "stopped", "me/data", push=lambda *a: pytest.fail("pushed"))


def test_the_real_push_uses_datasets_push_to_hub_then_uploads_the_card(monkeypatch):
    """What ``push_to_hub`` hands the two libraries (their network calls replaced)."""
    import huggingface_hub

    calls = []

    class Rows:
        def push_to_hub(self, repo_id, **kw):
            calls.append(("rows", repo_id, kw))

    def card_push(card, repo_id, **kw):
        calls.append(("card", repo_id, kw, card.text))

    monkeypatch.setattr(huggingface_hub.DatasetCard, "push_to_hub", card_push)
    hub.push_to_hub(Rows(), "me/data", "---\nlicense: unknown\n---\n\n# the card\n")
    assert [c[:2] for c in calls] == [("rows", "me/data"), ("card", "me/data")]
    assert "token" not in calls[0][2] and "token" not in calls[1][2]  # datasets and the hub find it
    assert calls[1][2]["repo_type"] == "dataset" and calls[1][3].strip() == "# the card"
