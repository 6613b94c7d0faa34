"""Publishing a run's dataset on the Hugging Face Hub (``codeclm generate --push-to-hub REPO``).

The rows go through datasets' own ``Dataset.push_to_hub`` (parquet under
``data/``, the layout the card's ``configs`` name), then the run's card
(``dataset_card``) replaces the minimal README that push_to_hub writes. The
token is whatever datasets and huggingface_hub find themselves (``HF_TOKEN``
or ``hf auth login``); this module never reads it into a message or a file,
and registers it with ``secrets`` so no error text can carry it either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import CodecLMError, ConfigError, RunDirError
from codeclm_dspy.runs.run_dir import DATASET, MANIFEST, save_card
from codeclm_dspy.secrets import register, scrub


class PushFailed(CodecLMError):
    """The run finished and is saved, but the Hub refused or could not be reached."""


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` if the Hub would take it as a dataset repository's name.

    Checked before the run starts (huggingface_hub's own rule), so a typo
    costs nothing; the Hub's message is replaced by one that says the form.

    Raises:
        ConfigError: naming the value and the form it must have.
    """
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise ConfigError(
            f"--push-to-hub {repo_id!r} is not a Hub repository id: give NAME or NAMESPACE/NAME (letters, "
            "digits, '-', '_' and '.', at most 96 characters each, no '--' or '..', not starting or ending "
            "with '-' or '.'), e.g. my-org/support-instructions"
        ) from None
    return repo_id


def push_to_hub(data, repo_id: str, card: str) -> None:
    """Push ``data`` with datasets' ``push_to_hub``, then upload ``card`` as its README.md."""
    from huggingface_hub import DatasetCard

    data.push_to_hub(repo_id, commit_message="codeclm-dspy: the kept instruction-response pairs")
    DatasetCard(card).push_to_hub(
        repo_id, repo_type="dataset", commit_message="codeclm-dspy: the dataset card"
    )


def push_run(out: str | Path, repo_id: str, *, push: Callable[[Any, str, str], None] | None = None) -> str:
    """Push a complete run's dataset and its card to the Hub repository ``repo_id``.

    The card is written again first, naming the repository (how to load it),
    so the copy in ``RUN/dataset/README.md`` is the one on the Hub.

    Args:
        out: the run directory (``codeclm generate --out``).
        repo_id: ``NAME`` or ``NAMESPACE/NAME``; created if missing.
        push: what sends (dataset, repo_id, card text); ``push_to_hub`` if None.

    Returns:
        The repository's URL.

    Raises:
        ConfigError: a bad ``repo_id``.
        RunDirError: the run is not complete (nothing final to publish).
        PushFailed: the Hub refused or could not be reached; one line, no token.
    """
    import datasets
    from huggingface_hub import get_token

    check_repo_id(repo_id)
    out = Path(out)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("status") != "complete":
        raise RunDirError(
            f"{out} is not a complete run (status {manifest.get('status')!r}); resume it, then push"
        )
    folder = out / DATASET
    data = datasets.load_from_disk(str(folder))
    card = save_card(folder, manifest, data, repo_id)
    token = get_token()
    register(token)  # masked wherever scrub runs, should the Hub quote it back
    try:
        (push or push_to_hub)(data, repo_id, card)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or ["no message"])[0]
        raise PushFailed(
            scrub(
                f"pushing {folder} to the Hub dataset {repo_id} failed ({type(exc).__name__}: {first}); "
                f"the run is complete and saved: {_remedy(exc, first, token)} and run the same "
                "command again to push it without new calls"
            )
        ) from None
    return f"https://huggingface.co/datasets/{repo_id}"


def _remedy(exc: Exception, first: str, token: str | None) -> str:
    """What to do before pushing again: log in only when the Hub said who, not when it was not reached."""
    import httpx

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if token is None or status in (401, 403) or re.search(r"\b40[13]\b", first):
        return "log in (hf auth login, or set HF_TOKEN)"
    if isinstance(exc, OSError | httpx.TransportError):
        return "check the connection to the Hub (or HF_ENDPOINT)"
    return "fix the cause above"
