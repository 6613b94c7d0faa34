"""The dataset card: RUN/dataset/README.md, the Hub's README with its YAML header.

A saved dataset without a card says nothing about where it came from; one
pushed to the Hub like that has no description, licence, provenance or
settings. ``card_text`` writes that card from what the run already knows
(the manifest: method, models, config, funnel, cost; the dataset's
features and row count), for CodecLM (Wang et al., NAACL 2024 Findings,
§4), its Table 3 ablations and the baselines alike. It is pure: text in,
text out; ``run_dir`` writes it and ``hub`` pushes it. The YAML header is
written with datasets' and huggingface_hub's own card classes, so the
Hub reads back the same features, split size and data files.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from codeclm_dspy.runs import card_words as words
from codeclm_dspy.secrets import scrub

PARQUET_DIR = "data"
PARQUET_FILE = "train-00000-of-00001.parquet"  # the layout datasets' push_to_hub writes
# the Hub's size buckets, by upper bound
SIZES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
]


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` value for ``rows`` rows."""
    return next((name for bound, name in SIZES if rows < bound), "n>1B")


def header(features, rows: int, num_bytes: int, parquet_bytes: int, pretty_name: str) -> str:
    """The YAML header: licence placeholder, language, task, size, features, data files."""
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    data = DatasetCardData(
        license="unknown",  # a Hub licence id: the user must choose the real one (the body says so)
        language=["en"],
        task_categories=["text-generation"],
        size_categories=[size_category(rows)],
        pretty_name=pretty_name,
        tags=["synthetic", "codeclm", "instruction-tuning"],
    )
    info = DatasetInfo(
        features=features, splits=SplitDict(), dataset_size=num_bytes, download_size=parquet_bytes
    )
    info.splits.add(SplitInfo(name="train", num_bytes=num_bytes, num_examples=rows))
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    files = [{"split": "train", "path": f"{PARQUET_DIR}/train-*"}]
    MetadataConfigs({"default": {"data_files": files}}).to_dataset_card_data(data)
    return f"---\n{data.to_yaml()}\n---\n"


def type_name(feature) -> str:
    """A short, readable type of one feature: string, int32, list of string, struct."""
    from datasets import List, Sequence, Value

    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, List | Sequence):
        return f"list of {type_name(feature.feature)}"
    if isinstance(feature, dict):
        return "struct {" + ", ".join(f"{k}: {type_name(v)}" for k, v in feature.items()) + "}"
    return type(feature).__name__


def table(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    """A Markdown table; ``|`` in a cell is escaped so it cannot split the row."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def models_table(manifest: dict[str, Any]) -> str:
    """Each role's model string(s) and sampling: no api_base, no key, no key's variable."""
    roles = (manifest.get("config") or {}).get("models") or {}
    rows = []
    for role, used in (manifest.get("models") or {}).items():
        models = [d["model"] for d in used.get("deployments") or ()] or [used["model"]]
        section = used.get("sampling") or roles.get(role)  # a manifest before "sampling": the config's
        if section:
            sampling = ", ".join(
                f"{k} {section[k]}"
                for k in ("temperature", "max_tokens", "top_p")
                if section.get(k) is not None
            )
        else:
            sampling = words.UNSET_ROLE.get(role, "")
        rows.append((role, ", ".join(f"`{m}`" for m in dict.fromkeys(models)), sampling))
    return table(("role", "model", "sampling"), rows)


def settings(manifest: dict[str, Any]) -> str:
    """The config sections that decide this method's output, as YAML (no models: see above)."""
    config = manifest.get("config") or {}
    method = config.get("method", "codeclm")
    keep = ["method", *words.SECTIONS.get(method, ("pipeline",)), "quality", "seeds", "random_seed"]
    chosen = {k: config[k] for k in keep if k in config}
    return yaml.safe_dump(chosen, sort_keys=False, allow_unicode=True, width=100).rstrip()


def funnel_table(funnel: dict[str, Any]) -> str:
    """Seeds -> metadata -> instructions -> each iteration -> kept, dropped, failed."""
    rows: list[tuple[Any, ...]] = [("seeds", funnel.get("seeds"))]
    if funnel.get("metadata") is not None:
        rows.append(("metadata (pool)", funnel["metadata"]))
    rows.append(("basic instructions", funnel.get("basic_instructions")))
    for it in funnel.get("iterations") or ():
        parts = [f"{k.replace('_', ' ')} {it[k]}" for k in words.ITERATION_FIELDS if it.get(k)]
        rows.append((f"iteration {it['iteration']}", ", ".join(parts) or "nothing judged"))
    asked = funnel.get("asked")
    rows.append(("kept", f"{funnel.get('kept')}" + (f" of {asked} asked" if asked is not None else "")))
    if funnel.get("shortfall"):
        rows.append(("shortfall", f"{funnel['shortfall']} ({funnel.get('shortfall_reason')})"))
    rows += [("dropped", funnel.get("dropped")), ("failed", funnel.get("failed"))]
    for reason, n in (funnel.get("not_kept_by_reason") or {}).items():
        rows.append((f"not kept: {reason}", n))
    return table(("stage", "items"), rows)


def money(usd: float | None) -> str:
    return "unknown" if usd is None else f"${usd:.4f}"


def cost_table(funnel: dict[str, Any], usage: dict[str, Any]) -> str:
    """Calls, tokens and USD per stage, in total and per kept pair."""
    rows = [
        (stage, row["calls"], f"{row['tokens']:,}", money(row["usd"]))
        for stage, row in (funnel.get("stages") or {}).items()
    ]
    if usage:
        rows.append(("**total**", usage.get("calls"), f"{usage.get('tokens', 0):,}", money(usage.get("usd"))))
    per = funnel.get("per_kept_pair")
    if per:
        rows.append(("per kept pair", f"{per['calls']:.1f}", f"{per['tokens']:,.0f}", money(per["usd"])))
    text = table(("stage", "calls", "tokens", "USD"), rows)
    if estimated := usage.get("estimated_calls"):
        text += (
            f"\n\n{estimated:,} of the {usage.get('calls', 0):,} paid calls came back without usable token "
            "counts: their tokens, and so their USD, are LiteLLM's tokenizer's estimate, not the bill."
        )
    return text


def features_table(features) -> str:
    return table(
        ("column", "type", "what it holds"),
        [(f"`{name}`", type_name(f), words.COLUMNS.get(name, "")) for name, f in features.items()],
    )


def card_text(
    manifest: dict[str, Any],
    features,
    rows: int,
    *,
    num_bytes: int = 0,
    parquet_bytes: int = 0,
    repo_id: str | None = None,
) -> str:
    """The dataset card (README.md) of one run's dataset.

    Args:
        manifest: the run's manifest (as written to manifest.json, or the
            fields it is about to be written with): method, config, models,
            packages, cost_funnel, usage.
        features: the saved dataset's ``datasets.Features``.
        rows: its row count.
        num_bytes: its size in Arrow (the header's ``dataset_size``).
        parquet_bytes: the size of its parquet file (``download_size``).
        repo_id: the Hub repository it is pushed to, if it is (how to load it).

    Returns:
        Markdown with the Hub's YAML header, every secret ``scrub`` knows masked.
    """
    method = manifest.get("method") or (manifest.get("config") or {}).get("method", "codeclm")
    versions = manifest.get("packages") or {}
    funnel = manifest.get("cost_funnel") or {}
    seed = manifest.get("random_seed", (manifest.get("config") or {}).get("random_seed", 0))
    compiled = (manifest.get("program") or {}).get("compiled_from")
    body = words.BODY.format(
        method=method,
        rows=rows,
        version=versions.get("codeclm-dspy") or "unknown",
        about_method=words.METHODS.get(method, words.OTHER_METHOD.format(method=method)),
        models=models_table(manifest),
        settings=settings(manifest),
        program=words.COMPILED if compiled else words.DEFAULT_PROGRAM,
        funnel=funnel_table(funnel),
        cost=cost_table(funnel, manifest.get("usage") or {}),
        features=features_table(features),
        command=words.command(method, seed, compiled is not None),
        packages=", ".join(f"{k} {v}" for k, v in versions.items() if v),
        accounting=json.dumps((manifest.get("accounting") or {}).get("balanced")),
        loading=words.loading(repo_id),
        citation=words.CITATION,
    )
    pretty = f"CodecLM synthetic instructions ({method})"
    return scrub(header(features, rows, num_bytes, parquet_bytes, pretty) + "\n" + body)
