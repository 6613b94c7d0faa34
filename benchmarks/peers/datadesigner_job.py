"""NVIDIA NeMo Data Designer's side of the peers benchmark: ``n`` rows of one LLM text column.

Run by ``benchmarks/peers.py`` with Data Designer's own venv. The job is the one a Data Designer
user writes: a model provider for the stub server's OpenAI-compatible endpoint, a model config
whose ``max_parallel_requests`` is the scenario's concurrency, a seed dataset holding the
requests and an LLM text column whose prompt template renders each row's request, generated
with ``DataDesigner.create`` (its async engine, health check and dataset profile included, as
a user gets them). Data Designer keeps no response cache; its telemetry is turned off.
"""

from __future__ import annotations

import os

os.environ["NEMO_TELEMETRY_ENABLED"] = "false"
os.environ["BENCH_STUB_KEY"] = "bench"

# Imported after the environment above: the tool reads it at import time.
import data_designer.config as dd
import jobkit
import pandas as pd
from data_designer.interface import DataDesigner


def main() -> None:
    """Run the job the orchestrator describes and write its result file."""
    args = jobkit.arguments()
    seeds = pd.DataFrame({"request": jobkit.prompts(args["n"])})

    def job() -> object:
        provider = dd.ModelProvider(name="stub", endpoint=args["url"], api_key="BENCH_STUB_KEY")
        params = dd.ChatCompletionInferenceParams(max_parallel_requests=args["concurrency"])
        model = dd.ModelConfig(
            alias="writer", model="bench-peer", provider="stub", inference_parameters=params
        )
        builder = dd.DataDesignerConfigBuilder(model_configs=[model])
        builder.with_seed_dataset(dd.DataFrameSeedSource(df=seeds))
        builder.add_column(
            dd.LLMTextColumnConfig(name="answer", prompt="{{ request }}", model_alias="writer")
        )
        designer = DataDesigner(artifact_path=args["workdir"], model_providers=[provider])
        return designer.create(builder, num_records=args["n"], dataset_name="peers")

    jobkit.measure(args, job, lambda results: len(results.load_dataset()), "data-designer")


if __name__ == "__main__":
    main()
