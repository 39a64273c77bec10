"""``capacity serve``: size a serving deployment — replicas, GPUs, latency, cost per query, power."""

from __future__ import annotations

import sys
from typing import Any

import typer

from .errors import ExitCode, handles_errors
from .options import CHIP, ECONOMICS, MODEL, SERVE, serving_request_of, with_options
from .output import FormatOption, OutputFormat, emit_estimate

GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("work", [("flops_per_query", "FLOPs"), ("prefill_flops_per_query", "FLOPs in prefill"),
              ("weights_gb", "GB weights"), ("kv_bytes_per_token", "bytes KV per token"),
              ("compute_precision", "")]),
    ("replica", [("gpus_per_replica", ""), ("layout", "TP: tensor parallel; DEP: attention DP + experts"),
                 ("max_batch_for_memory", "sequences"), ("batch_size", "sequences"),
                 ("batch_limited_by", ""), ("compute_bound_batch", "batch where decode turns compute-bound"),
                 ("decode_regime", ""), ("ttft_ms", "ms, no queueing"), ("tpot_ms", "ms per token, mean"),
                 ("output_tokens_per_s_per_replica", "tokens/s"), ("queries_per_s_per_replica", "queries/s"),
                 ("stack_efficiency", "")]),
    ("fleet", [("queries_per_s_average", "queries/s"), ("queries_per_s_peak", "queries/s"), ("replicas", ""),
               ("gpus", ""), ("utilisation", ""), ("aggregate_peak_pflops", "PFLOPS dense peak")]),
    ("pools", [("mode", ""), ("prefill_instances", ""), ("prefill_gpus", ""), ("decode_instances", ""),
               ("decode_gpus", ""), ("prefill_input_tokens_per_s_per_gpu", "tokens/s, cached included"),
               ("decode_output_tokens_per_s_per_gpu", "tokens/s"), ("kv_transfer_ms", "ms per query"),
               ("aggregated_gpus", "GPUs aggregated serving needs")]),
    ("latency", [("ttft_ms_p50", "ms"), ("ttft_ms_p90", "ms"), ("ttft_ms_p99", "ms"), ("tpot_ms_p50", "ms"),
                 ("tpot_ms_p90", "ms"), ("tpot_ms_p99", "ms"), ("slo_percentile", "targets hold at"),
                 ("queueing", "")]),
    ("money", [("gpu_hour_usd", "USD per GPU-hour"), ("cost_usd_per_query", "USD"),
               ("cost_usd_per_million_output_tokens", "USD"), ("cost_usd_per_month", "USD"),
               ("cost_per_month", "")]),
    ("energy", [("facility_power_mw", "MW average"), ("energy_wh_per_query", "Wh")]),
]  # fmt: skip


@handles_errors
@with_options(MODEL, CHIP, SERVE, ECONOMICS)
def serve(fmt: FormatOption = OutputFormat.table, *, opts: dict[str, Any]) -> None:
    """Size serving: per-query FLOPs, KV cache, batch, TTFT/TPOT, throughput, replicas, cost and power.

    Needs --model, --chip, --input-tokens and --output-tokens. With no traffic and no latency target it
    reports the maximum-throughput operating point of one replica. Exits 1 when no batch meets
    --ttft-ms / --tpot-ms.

    Examples:

    \b
      capacity serve --model llama3.1-70b --chip h100 --input-tokens 1000 --output-tokens 1000
      capacity serve --model llama3.1-70b --chip h20 --precision fp8 --input-tokens 2k \\
        --output-tokens 500 --qps 50 --tpot-ms 50
      capacity serve --model gpt3-175b --chip a100 --input-tokens 500 --output-tokens 500 \\
        --visits-per-month 616M --queries-per-visit 5
    """
    from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults
    from capacity.estimate.serve import estimate_serving

    request = serving_request_of(opts)
    est = estimate_serving(request, load_assumptions(), load_efficiency(), load_serving_defaults())
    for warning in est.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    title = f"Serving estimate: {est.model} on {est.chip}"
    emit_estimate(est.model_dump(mode="json"), GROUPS, fmt, title, converted="cost_per_month")
    if not est.slo_met:
        raise typer.Exit(ExitCode.LIMIT_VIOLATED)
