"""``capacity validate``: the planner's error against published training runs and serving benchmarks."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from capacity.core.errors import InputError

from .errors import ExitCode, handles_errors
from .output import Cell, FormatOption, OutputFormat, emit_json, emit_rows, percent_cell

if TYPE_CHECKING:
    from capacity.plans.validate import ValidationReport
    from capacity.plans.validate_serving import ServingReport

TRAIN_HEADERS = {
    "run": "run", "chip": "chip", "trust": "trust", "role": "role", "gpus": "GPUs", "implied_mfu": "MFU got",
    "model_mfu": "MFU model", "reported_gpu_hours": "GPU-h reported",
    "estimated_gpu_hours": "GPU-h estimated", "gpu_hours_error": "GPU-h err",
    "baseline_gpu_hours_error": "flat 40% err", "inside_p10_p90": "in P10-P90", "days_error": "days err",
    "mwh_error": "MWh err", "skipped": "note",
}  # fmt: skip


def _round(x: float | None, digits: int | None = None) -> float | None:
    return None if x is None else round(x, digits)


def _training_rows(report: ValidationReport, human: bool) -> list[dict[str, Cell]]:
    return [
        {
            "run": c.run,
            "chip": c.chip,
            "trust": c.trust,
            "role": ("fit" if c.in_fit else "held out") if c.skipped is None else None,
            "gpus": (f"{c.chip_count}*" if c.chip_count_assumed else c.chip_count) if human else c.chip_count,
            "implied_mfu": _round(c.implied_mfu, 3),
            "model_mfu": _round(c.model_mfu, 3),
            "reported_gpu_hours": c.reported_gpu_hours,
            "estimated_gpu_hours": _round(c.estimated_gpu_hours),
            "gpu_hours_error": percent_cell(c.gpu_hours_error, human),
            "baseline_gpu_hours_error": percent_cell(c.baseline_gpu_hours_error, human),
            "inside_p10_p90": c.inside_p10_p90,
            "days_error": percent_cell(c.days_error, human),
            "mwh_error": percent_cell(c.mwh_error, human),
            "skipped": c.skipped,
        }
        for c in report.checks
    ]


def _serving_rows(report: ServingReport, human: bool) -> list[dict[str, Cell]]:
    return [
        {
            "engine": c.engine,
            "model": c.model,
            "chip": c.chip,
            "gpus": c.gpus,
            "input_output": f"{c.input_tokens}/{c.output_tokens}" if c.input_tokens else None,
            "reported_tokens_per_s": c.reported_tokens_per_s,
            "estimated_tokens_per_s": _round(c.estimated_tokens_per_s),
            "error": percent_cell(c.error, human),
            "skipped": c.skipped,
        }
        for c in report.checks
        if c.role == "fitting"
    ]


def _serving_source_rows(report: ServingReport, human: bool) -> list[dict[str, Cell]]:
    return [
        {
            "source": p.label,
            "rows": p.compared,
            "|err|": (f"{p.median_abs_error:.0%}" if human else p.median_abs_error)
            if p.median_abs_error is not None
            else None,
            "bias": percent_cell(p.bias, human),
            "worst": None if p.worst_ratio is None else round(p.worst_ratio, 2),
        }
        for p in [*report.by_source, report.held_out, report.ttft_under_load, report.tpot_under_load]
    ]


@handles_errors
def validate(
    max_median_error: Annotated[
        float | None,
        typer.Option(
            help="Exit 1 if the median |GPU-hours error| of the fitting or the held-out runs exceeds this."
        ),
    ] = None,
    max_serving_error: Annotated[
        float | None,
        typer.Option(help="Exit 1 if the serving median |throughput error| exceeds this (e.g. 0.2)."),
    ] = None,
    steady: Annotated[
        bool,
        typer.Option(
            "--steady", help="Steady-state throughput: published configurations vs the step-time model."
        ),
    ] = False,
    max_steady_error: Annotated[
        float | None,
        typer.Option(help="With --steady: exit 1 if the held-out median |tokens/s error| exceeds this."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare estimates with published runs (GPU-hours, days, MWh) and serving benchmarks (tokens/s).

    Runs marked 'fit' set only the spread of --uncertainty (specs/efficiency.yaml, fitting_runs); 'held
    out' runs were not used. Each is shown next to a flat 40% MFU, what peer tools assume. The
    TensorRT-LLM rows set the serving engine factor.

    Examples:

    \b
      capacity validate
      capacity validate --format json
      capacity validate --max-median-error 0.25 --max-serving-error 0.2
      capacity validate --steady
    """
    bounds = (("--max-median-error", max_median_error), ("--max-serving-error", max_serving_error),
              ("--max-steady-error", max_steady_error))  # fmt: skip
    for flag, bound in bounds:
        if bound is not None and not (math.isfinite(bound) and bound >= 0):
            raise InputError(f"{flag} {bound}: give a finite fraction, e.g. 0.3")
    if steady:
        from .validate_steady_cmd import run_steady

        run_steady(fmt, max_steady_error)
        return
    from capacity.data import assumptions as a
    from capacity.data.catalog import load_chips, load_models, load_runs
    from capacity.plans.validate import validate_runs
    from capacity.plans.validate_serving import validate_serving

    train = validate_runs(load_runs(), load_chips(), a.load_assumptions(), a.load_efficiency())
    serve = validate_serving(
        a.load_serving_benchmarks().benchmarks, load_chips(), load_models(), a.load_assumptions(),
        a.load_efficiency(), a.load_serving_defaults(),
    )  # fmt: skip
    train_summary = " ".join(
        f"Training, {label} ({part.runs} runs): median |GPU-hours error| {part.median_abs_error:.0%} "
        f"(flat {train.baseline_mfu:.0%} MFU: {part.baseline_median_abs_error:.0%}), worst "
        f"{part.worst_abs_error:.0%} ({part.worst_run}), {part.interval_coverage or 0:.0%} inside P10-P90."
        for label, part in (("fitting runs", train.fitted), ("held out", train.held_out))
    ) + (
        " Steady state from the step-time model, goodput from capacity/data/goodput.py (nothing fitted to "
        "these runs); * = chip count not published, assumed to take "
        f"{train.assumed_days_when_count_unknown:g} days."
    )
    held = serve.held_out
    skipped = sum(1 for c in serve.checks if c.role == "held-out" and c.skipped)
    serve_summary = (
        f"Serving: {serve.compared} fitting rows compared, median |throughput error| "
        f"{serve.median_abs_error or 0:.0%}, worst {serve.worst_abs_error or 0:.0%}. Engine factor "
        f"{serve.engine_factor_used:g} (from the fitting rows: {serve.engine_factor_from_rows or 0:.3f}). "
        f"Held out ({held.compared} rows of {len(serve.by_source)} other published tables, {skipped} "
        f"skipped): median {held.median_abs_error or 0:.0%}, bias {held.bias or 0:+.0%}, worst "
        f"{held.worst_ratio or 0:.2f}x. Under load ({serve.ttft_under_load.compared} rows of mean TTFT and "
        f"inter-token latency at a Poisson request rate, held out): TTFT median "
        f"{serve.ttft_under_load.median_abs_error or 0:.0%}, "
        f"TPOT {serve.tpot_under_load.median_abs_error or 0:.0%}."
    )
    if fmt is OutputFormat.json:
        emit_json({"training": train.model_dump(mode="json"), "serving": serve.model_dump(mode="json")})
    elif fmt is OutputFormat.csv:  # one CSV table: the training runs (the serving rows are in --format json)
        emit_rows(_training_rows(train, human=False), fmt)
    else:
        title = "Published training runs vs the step-time model (and a flat 40% MFU)"
        emit_rows(_training_rows(train, True), fmt, title=title, caption=train_summary, headers=TRAIN_HEADERS)
        title = "Serving: published maximum throughput vs estimate"
        emit_rows(_serving_rows(serve, True), fmt, title=title)
        title = "Serving, held out: published tables not used for fitting (rows in --format json)"
        emit_rows(_serving_source_rows(serve, True), fmt, title=title, caption=serve_summary)
    if fmt in (OutputFormat.json, OutputFormat.csv):
        sys.stderr.write(train_summary + "\n" + serve_summary + "\n")
    failed = []
    for label, part in (("fitting", train.fitted), ("held-out", train.held_out)):
        if max_median_error is not None and part.median_abs_error > max_median_error:
            err = part.median_abs_error
            failed.append(
                f"training median |GPU-hours error| of the {label} runs {err:.1%} > "
                f"--max-median-error {max_median_error:.1%}"
            )
    if max_serving_error is not None and (serve.median_abs_error or 0.0) > max_serving_error:
        err = serve.median_abs_error or 0.0
        failed.append(
            f"serving median |throughput error| {err:.1%} > --max-serving-error {max_serving_error:.1%}"
        )
    for line in failed:
        sys.stderr.write(f"error: {line}\n")
    if failed:
        raise typer.Exit(ExitCode.LIMIT_VIOLATED)
