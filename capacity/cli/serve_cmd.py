"""``capacity serve``: size a serving deployment — replicas, GPUs, latency, cost per query, power."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from capacity.calibration import load_calibration
from capacity.errors import InputError

from .errors import ExitCode, handles_errors
from .inputs import (
    CalibrationOpt,
    CnyPerUsdOpt,
    CurrencyOpt,
    ElectricityOpt,
    GpuHourUsdOpt,
    GpuPriceUsdOpt,
    PricingOpt,
    PueOpt,
    ServerPowerOpt,
    build,
    choice,
    count,
    economics,
    whole,
)
from .output import FormatOption, OutputFormat, emit_estimate

GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("work", [("flops_per_query", "FLOPs"), ("prefill_flops_per_query", "FLOPs in prefill"),
              ("weights_gb", "GB weights"), ("kv_bytes_per_token", "bytes KV per token"),
              ("compute_precision", "")]),
    ("replica", [("gpus_per_replica", ""), ("max_batch_for_memory", "sequences"), ("batch_size", "sequences"),
                 ("batch_limited_by", ""), ("compute_bound_batch", "batch where decode turns compute-bound"),
                 ("decode_regime", ""), ("ttft_ms", "ms"), ("tpot_ms", "ms per token"),
                 ("output_tokens_per_s_per_replica", "tokens/s"), ("queries_per_s_per_replica", "queries/s"),
                 ("stack_efficiency", "")]),
    ("fleet", [("queries_per_s_average", "queries/s"), ("queries_per_s_peak", "queries/s"), ("replicas", ""),
               ("gpus", ""), ("utilisation", ""), ("aggregate_peak_pflops", "PFLOPS dense peak")]),
    ("money", [("gpu_hour_usd", "USD per GPU-hour"), ("cost_usd_per_query", "USD"),
               ("cost_usd_per_million_output_tokens", "USD"), ("cost_usd_per_month", "USD"),
               ("cost_per_month", "")]),
    ("energy", [("facility_power_mw", "MW average"), ("energy_wh_per_query", "Wh")]),
]  # fmt: skip


@handles_errors
def serve(
    model: Annotated[
        str,
        typer.Option(
            help="Preset id or alias, a Hugging Face config.json, or a model YAML (sizes the KV cache)."
        ),
    ],
    chip: Annotated[str, typer.Option(help="Chip id or alias.")],
    input_tokens: Annotated[str, typer.Option(help="Prompt tokens per query, e.g. 1000, 2k.")],
    output_tokens: Annotated[str, typer.Option(help="Generated tokens per query.")],
    params: Annotated[str | None, typer.Option(help="Override the preset's parameter count.")] = None,
    gpus_per_replica: Annotated[
        int | None, typer.Option(help="Tensor-parallel size (default: smallest that fits).")
    ] = None,
    precision: Annotated[str, typer.Option(help="Weights: bf16, fp16, fp8, int8 or int4.")] = "bf16",
    kv_precision: Annotated[
        str | None, typer.Option(help="KV cache: bf16, fp16, fp8 or int8 (default 16-bit).")
    ] = None,
    qps: Annotated[float | None, typer.Option(help="Average queries per second.")] = None,
    queries_per_day: Annotated[str | None, typer.Option(help="Average queries per day, e.g. 20M.")] = None,
    visits_per_month: Annotated[str | None, typer.Option(help="Visits per month, e.g. 616M.")] = None,
    queries_per_visit: Annotated[
        float, typer.Option(help="Queries per visit (with --visits-per-month).")
    ] = 1.0,
    peak_to_average: Annotated[float | None, typer.Option(help="Peak / average traffic (default 1).")] = None,
    ttft_ms: Annotated[float | None, typer.Option(help="Time-to-first-token target, ms.")] = None,
    tpot_ms: Annotated[float | None, typer.Option(help="Time-per-output-token target, ms.")] = None,
    max_batch: Annotated[
        int | None, typer.Option(help="Engine cap on concurrent sequences (default 256).")
    ] = None,
    stack: Annotated[
        str | None, typer.Option(help="Software-stack preset: tensorrt-llm (default) or ideal.")
    ] = None,
    stack_efficiency: Annotated[
        float | None, typer.Option(help="Software-stack factor 0-1, instead of a preset.")
    ] = None,
    pricing: PricingOpt = "cloud",
    gpu_hour_usd: GpuHourUsdOpt = None,
    gpu_price_usd: GpuPriceUsdOpt = None,
    pue: PueOpt = None,
    electricity_usd_per_kwh: ElectricityOpt = None,
    server_power_factor: ServerPowerOpt = None,
    currency: CurrencyOpt = "USD",
    cny_per_usd: CnyPerUsdOpt = None,
    calibration: CalibrationOpt = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Size serving: per-query FLOPs, KV cache, batch, TTFT/TPOT, throughput, replicas, cost and power.

    With no traffic and no latency target it reports the maximum-throughput operating point of one replica.
    Exits 1 when no batch meets --ttft-ms / --tpot-ms.

    Examples:

    \b
      capacity serve --model llama3.1-70b --chip h100 --input-tokens 1000 --output-tokens 1000
      capacity serve --model llama3.1-70b --chip h20 --precision fp8 --input-tokens 2k \\
        --output-tokens 500 --qps 50 --tpot-ms 50
      capacity serve --model gpt3-175b --chip a100 --input-tokens 500 --output-tokens 500 \\
        --visits-per-month 616M --queries-per-visit 5
    """
    from capacity.assumptions import load_assumptions, load_efficiency, load_serving_defaults
    from capacity.catalog import load_chips
    from capacity.model_source import resolve_model
    from capacity.serve import ServeRequest, Traffic, estimate_serving

    traffic = None
    if qps is not None or queries_per_day is not None or visits_per_month is not None:
        traffic = build(
            Traffic,
            qps=qps,
            queries_per_day=count(queries_per_day, "--queries-per-day"),
            visits_per_month=count(visits_per_month, "--visits-per-month"),
            queries_per_visit=queries_per_visit,
            peak_to_average=peak_to_average,
        )
    elif peak_to_average is not None:
        raise InputError(
            "--peak-to-average needs traffic: give --qps, --queries-per-day or --visits-per-month"
        )
    request = build(
        ServeRequest,
        calibration=load_calibration(calibration) if calibration else None,
        model=resolve_model(model),
        chip=load_chips().get(chip),
        input_tokens=_tokens(input_tokens, "--input-tokens"),
        output_tokens=_tokens(output_tokens, "--output-tokens"),
        params=count(params, "--params"),
        gpus_per_replica=gpus_per_replica,
        weight_precision=choice(precision, ("bf16", "fp16", "fp8", "int8", "int4"), "--precision"),
        kv_precision=choice(kv_precision, ("bf16", "fp16", "fp8", "int8"), "--kv-precision"),
        traffic=traffic,
        ttft_ms=ttft_ms,
        tpot_ms=tpot_ms,
        max_batch=max_batch,
        stack=stack,
        stack_efficiency=stack_efficiency,
        economics=economics(
            pricing,
            gpu_hour_usd,
            gpu_price_usd,
            pue,
            None,
            electricity_usd_per_kwh,
            server_power_factor,
            currency,
            cny_per_usd,
        ),
    )
    est = estimate_serving(request, load_assumptions(), load_efficiency(), load_serving_defaults())
    for warning in est.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    title = f"Serving estimate: {est.model} on {est.chip}"
    emit_estimate(est.model_dump(mode="json"), GROUPS, fmt, title, converted="cost_per_month")
    if not est.slo_met:
        raise typer.Exit(ExitCode.LIMIT_VIOLATED)


def _tokens(text: str, flag: str) -> int:
    value = whole(text, flag)
    assert value is not None
    return value
