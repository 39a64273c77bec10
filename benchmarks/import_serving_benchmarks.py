"""Select published serving throughputs for ``specs/serving_heldout/`` (one file per source group).

Reads a transcription of published engine tables (one YAML list of rows: engine, model preset, chip id,
GPUs, precisions, input/output tokens, output tokens/s, source_group, source, url, revision, parallelism,
and a note quoting the table cell) and keeps the rows the serving model can be checked against:

* maximum-throughput rows, and rows of mean TTFT and inter-token latency at a finite Poisson request rate
  (TensorRT-LLM's online-serving table); rows at a fixed concurrency (closed-loop clients) are left out;
* output tokens/s, input and output lengths, a catalogue chip and a preset model all given;
* weights in a format the model runs (FP4 rows are left out: not modelled);
* not one of the fitting rows already in ``specs/serving_benchmarks.yaml``;
* one row per configuration (engine, chip, model, GPUs, precision, lengths, layout): the newest revision of
  NVIDIA's TensorRT-LLM performance overview where several revisions publish it.

Every kept row is a held-out row: the engine factor is fitted on ``serving_benchmarks.yaml`` alone.

Usage: python benchmarks/import_serving_benchmarks.py TRANSCRIPTION_YAML [OUT_DIR]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from capacity.data.assumptions import ServingBenchmarkFile
from capacity.data.catalog import load_chips, load_models

ROOT = Path(__file__).resolve().parents[1]
# TensorRT-LLM performance-overview revisions, oldest first (the transcription's source_group suffixes)
REVISIONS = ("v0.10", "v0.11", "v0.12", "v0.13", "v0.14", "v0.15", "v0.17", "v0.20-first", "v0.20-cudagraph",
             "v0.21", "pytorch-unlabelled", "v1.0", "devguide-per-gpu", "per-gpu")  # fmt: skip
MODELLED = ("bf16", "fp16", "fp8", "int8", "int4")
KEPT = ("engine", "model", "model_name", "chip", "gpus", "weight_precision", "kv_precision",
        "input_tokens", "output_tokens", "output_tokens_per_s", "verify", "source", "url", "note",
        "source_group", "revision", "parallelism", "metric", "request_rate_qps", "ttft_ms",
        "itl_ms")  # fmt: skip


def revision_rank(group: str) -> int:
    return next((i for i, r in enumerate(REVISIONS) if group.endswith(r)), -1)


def why_dropped(row: dict[str, Any], chips: set[str], models: set[str]) -> str | None:
    if row.get("concurrency") is not None:
        return "latency at a fixed concurrency (closed loop)"
    rate = row.get("request_rate_qps")
    if rate is not None and not (isinstance(rate, int | float) and row.get("ttft_ms") and row.get("itl_ms")):
        return "latency at an unbounded or unpublished request rate"
    if not (row.get("output_tokens_per_s") and row.get("input_tokens") and row.get("output_tokens")):
        return "no output tokens/s or lengths"
    if row.get("chip") not in chips or row.get("model") not in models or row.get("comparable") is False:
        return "chip or model not in the catalogue"
    if row.get("weight_precision") not in MODELLED:
        return f"{row.get('weight_precision')} weights not modelled"
    if row.get("already_in_serving_benchmarks"):
        return "a fitting row"
    return None


def select(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Counter[str]]:
    chips = {c.id for c in load_chips()}
    models = {m.id for m in load_models()}
    dropped: Counter[str] = Counter()
    newest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        reason = why_dropped(row, chips, models)
        if reason:
            dropped[reason] += 1
            continue
        fields = ("engine", "chip", "model", "gpus", "weight_precision", "input_tokens", "output_tokens",
                  "parallelism", "request_rate_qps")  # fmt: skip
        key = tuple(row.get(k) for k in fields)
        if key in newest:
            dropped["an older revision of the same configuration"] += 1
            if revision_rank(row["source_group"]) <= revision_rank(newest[key]["source_group"]):
                continue
        newest[key] = row
    kept = [
        {k: row[k] for k in KEPT if row.get(k) is not None} | {"role": "held-out"} for row in newest.values()
    ]
    kept.sort(key=lambda r: (r["source_group"], r["chip"], r["model"], r["gpus"], r["input_tokens"]))
    return kept, dropped


def main(argv: list[str]) -> None:
    source = Path(argv[1])
    out = Path(argv[2]) if len(argv) > 2 else ROOT / "specs" / "serving_heldout"
    rows = YAML(typ="safe").load(source.read_text())
    kept, dropped = select(rows)
    out.mkdir(exist_ok=True)
    for old in out.glob("*.yaml"):
        old.unlink()
    yaml = YAML()
    yaml.width = 4096
    for group in sorted({r["source_group"] for r in kept}):
        rows_of = [
            {k: v for k, v in r.items() if k != "source_group"} for r in kept if r["source_group"] == group
        ]
        record = {"source_group": group, "benchmarks": rows_of}
        ServingBenchmarkFile(**record)  # validate before writing
        with (out / f"{group}.yaml").open("w") as f:
            f.write(HEADER)
            yaml.dump(record, f)
    print(f"kept {len(kept)} rows; dropped: " + ", ".join(f"{n} {why}" for why, n in dropped.most_common()))


HEADER = (
    "# Held-out published serving throughputs (maximum load) of one document, selected by\n"
    "# benchmarks/import_serving_benchmarks.py from a transcription of it (each row: source, url, revision;\n"
    "# note quotes the table cell). Not used to fit anything.\n"
)


if __name__ == "__main__":
    main(sys.argv)
