"""``capacity serve``: size a serving deployment — replicas, GPUs, latency, cost per query, power."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from capacity.core.errors import InputError

from .charts import png_path, pyplot, save_png
from .errors import ExitCode, handles_errors
from .image_cmds import image_model_of, serve_image
from .options import CHIP, ECONOMICS, IMAGE_SERVE, MODEL, SERVE, serving_request_of, with_options
from .output import FormatOption, OutputFormat, emit_estimate, emit_rows

if TYPE_CHECKING:
    from capacity.plans.serving_search import FrontierPoint

GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("work", [("flops_per_query", "FLOPs"), ("prefill_flops_per_query", "FLOPs in prefill"),
              ("weights_gb", "GB weights"), ("kv_bytes_per_token", "bytes KV per token"),
              ("compute_precision", "")]),
    ("replica", [("gpus_per_replica", ""), ("layout", "TP: tensor parallel; DEP: attention DP + experts"),
                 ("max_batch_for_memory", "sequences"), ("batch_size", "sequences"),
                 ("batch_limited_by", ""), ("compute_bound_batch", "batch where decode turns compute-bound"),
                 ("decode_regime", ""), ("ttft_ms", "ms, mean"), ("tpot_ms", "ms per token, mean"),
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
                 ("slo_met", ""), ("slo_detail", ""),
                 ("queueing", "")]),
    ("money", [("gpu_hour_usd", "USD per GPU-hour"), ("cost_usd_per_query", "USD"),
               ("cost_usd_per_million_output_tokens", "USD"), ("cost_usd_per_month", "USD"),
               ("cost_per_month", "")]),
    ("energy", [("facility_power_mw", "MW average"), ("energy_wh_per_query", "Wh")]),
]  # fmt: skip


@handles_errors
@with_options(MODEL, CHIP, SERVE, IMAGE_SERVE, ECONOMICS)
def serve(
    pareto: Annotated[
        bool, typer.Option("--pareto", help="Print the frontier of tokens/s per GPU vs tokens/s per user.")
    ] = False,
    optimize: Annotated[
        str | None,
        typer.Option(help="gpus: the layout and mode meeting the traffic and targets on fewest GPUs."),
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="With --pareto: also draw the frontier as a PNG.")] = None,
    fmt: FormatOption = OutputFormat.table,
    *,
    opts: dict[str, Any],
) -> None:
    """Size serving: per-query FLOPs, KV cache, batch, TTFT/TPOT, throughput, replicas, cost and power.

    Needs --model, --chip, --input-tokens and --output-tokens. With no traffic and no latency target it
    reports the maximum-throughput operating point of one replica. Exits 1 when no batch meets
    --ttft-ms / --tpot-ms. An image model (sd-1.5, sdxl, flux.1-dev, ...) takes --resolution, --steps and
    --images-per-day instead, and --max-batch as its batch.

    Examples:

    \b
      capacity serve --model llama3.1-70b --chip h100 --input-tokens 1000 --output-tokens 1000
      capacity serve --model llama3.1-70b --chip h20 --precision fp8 --input-tokens 2k \\
        --output-tokens 500 --qps 50 --tpot-ms 50
      capacity serve --model gpt3-175b --chip a100 --input-tokens 500 --output-tokens 500 \\
        --visits-per-month 616M --queries-per-visit 5
      capacity serve --model llama3.1-70b --chip h100 --precision fp8 --input-tokens 1000 \\
        --output-tokens 1000 --pareto
      capacity serve --model deepseek-v3 --chip h800 --precision fp8 --input-tokens 2000 \\
        --output-tokens 1000 --qps 50 --tpot-ms 50 --optimize gpus
      capacity serve --model sdxl --images-per-day 4e6 --steps 30 --resolution 1024 --chip h100
    """
    from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults

    image = image_model_of(opts)
    if image is not None:
        if pareto or optimize or plot:
            raise InputError("--pareto, --optimize and --plot are for language models")
        serve_image(image, opts, fmt)
        return
    if optimize not in (None, "gpus"):
        raise InputError(
            f"--optimize {optimize}: only 'gpus' (the fewest GPUs meeting the load) is supported"
        )
    if plot is not None and not pareto:
        raise InputError("--plot draws the --pareto frontier; add --pareto")
    if plot is not None:
        png_path(plot)  # before any work
    if pareto and optimize:
        raise InputError("give --pareto or --optimize, not both")
    request = serving_request_of(opts)
    args = (request, load_assumptions(), load_efficiency(), load_serving_defaults())
    if pareto:
        from capacity.plans.serving_search import frontier

        points = frontier(*args)
        rows = [p.model_dump() for p in points]
        title = f"Serving frontier: {request.model.id} on {request.chip.id} ({len(points)} points)"
        emit_rows(rows, fmt, title=title, headers=FRONTIER_HEADERS)
        if plot is not None:
            plot_frontier(points, plot, title)
        return
    if optimize == "gpus":
        from capacity.plans.serving_search import fewest_gpus

        choice = fewest_gpus(*args)
        est = choice.best
        sys.stderr.write(
            "candidates: "
            + "; ".join(
                f"{c['layout']} {c['mode']} {c['gpus']} GPUs{'' if c['slo_met'] else ' (misses)'}"
                for c in choice.candidates
            )
            + "\n"
        )
    else:
        from capacity.estimate.serve import estimate_serving

        est = estimate_serving(*args)
    for warning in est.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    title = f"Serving estimate: {est.model} on {est.chip}"
    emit_estimate(est.model_dump(mode="json"), GROUPS, fmt, title, converted="cost_per_month")
    if not est.slo_met:
        raise typer.Exit(ExitCode.LIMIT_VIOLATED)


FRONTIER_HEADERS = {
    "tokens_per_s_per_gpu": "tok/s/GPU", "tokens_per_s_per_user": "tok/s/user", "layout": "layout",
    "mode": "mode", "batch_size": "batch", "tpot_ms": "TPOT ms", "ttft_ms": "TTFT ms",
}  # fmt: skip


def plot_frontier(points: list[FrontierPoint], path: Path, title: str) -> None:
    """The frontier as a PNG: tokens/s per user across, tokens/s per GPU up, each point its layout."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot([p.tokens_per_s_per_user for p in points], [p.tokens_per_s_per_gpu for p in points], marker="o")
    for p in points:
        ax.annotate(f"{p.layout}{' D' if p.mode == 'disaggregated' else ''} b{p.batch_size}",
                    (p.tokens_per_s_per_user, p.tokens_per_s_per_gpu), fontsize=6)  # fmt: skip
    ax.set_xlabel("output tokens/s per user (1 / TPOT)")
    ax.set_ylabel("output tokens/s per GPU")
    ax.set_title(title)
    fig.tight_layout()
    save_png(fig, path, dpi=120)
