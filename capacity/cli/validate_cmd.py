"""``capacity validate``: the planner's error against published training runs and serving benchmarks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from .errors import ExitCode, handles_errors
from .output import Cell, FormatOption, OutputFormat, emit_json, emit_rows

if TYPE_CHECKING:
    from capacity.validate import ValidationReport
    from capacity.validate_serving import ServingReport

TRAIN_HEADERS = {
    "run": "run", "chip": "chip", "trust": "trust", "fit": "fit", "implied_mfu": "MFU got",
    "default_mfu": "MFU default", "reported_gpu_hours": "GPU-h reported",
    "estimated_gpu_hours": "GPU-h estimated",
    "gpu_hours_error": "GPU-h err", "days_error": "days err", "mwh_error": "MWh err", "skipped": "note",
}  # fmt: skip


def _pct(x: float | None, human: bool) -> str | float | None:
    return x if not human or x is None else f"{x:+.0%}"


def _round(x: float | None, digits: int | None = None) -> float | None:
    return None if x is None else round(x, digits)


def _training_rows(report: ValidationReport, human: bool) -> list[dict[str, Cell]]:
    return [
        {
            "run": c.run,
            "chip": c.chip,
            "trust": c.trust,
            "fit": c.in_fit,
            "implied_mfu": _round(c.implied_mfu, 3),
            "default_mfu": _round(c.default_mfu, 3),
            "reported_gpu_hours": c.reported_gpu_hours,
            "estimated_gpu_hours": _round(c.estimated_gpu_hours),
            "gpu_hours_error": _pct(c.gpu_hours_error, human),
            "days_error": _pct(c.days_error, human),
            "mwh_error": _pct(c.mwh_error, human),
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
            "error": _pct(c.error, human),
            "skipped": c.skipped,
        }
        for c in report.checks
    ]


@handles_errors
def validate(
    max_median_error: Annotated[
        float | None,
        typer.Option(
            help="Exit 1 if the median |GPU-hours error| of the fitted runs exceeds this (e.g. 0.25)."
        ),
    ] = None,
    max_serving_error: Annotated[
        float | None,
        typer.Option(help="Exit 1 if the serving median |throughput error| exceeds this (e.g. 0.2)."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare estimates with published runs (GPU-hours, days, MWh) and serving benchmarks (tokens/s).

    Runs marked 'fit' (trust A or B, comparable) set the whole-model factor, and the TensorRT-LLM rows set
    the serving engine factor, so those errors are in-sample.

    Examples:

    \b
      capacity validate
      capacity validate --format json
      capacity validate --max-median-error 0.25 --max-serving-error 0.2
    """
    from capacity import assumptions as a
    from capacity.catalog import load_chips, load_models, load_runs
    from capacity.validate import validate_runs
    from capacity.validate_serving import validate_serving

    train = validate_runs(load_runs(), load_chips(), a.load_assumptions(), a.load_efficiency())
    serve = validate_serving(
        a.load_serving_benchmarks().benchmarks, load_chips(), load_models(), a.load_assumptions(),
        a.load_efficiency(), a.load_serving_defaults(),
    )  # fmt: skip
    train_summary = (
        f"Training: {train.compared} fitted runs compared, median |GPU-hours error| "
        f"{train.median_abs_gpu_hours_error:.0%}, worst {train.worst_abs_gpu_hours_error:.0%} "
        f"({train.worst_run}); "
        f"median |MWh error| {train.median_abs_mwh_error or 0:.0%}; "
        f"{train.interval_coverage or 0:.0%} of runs inside their P10-P90. Whole-model factor "
        f"{train.whole_model_factor_used:g} (from the runs: {train.whole_model_factor_from_runs:.3f})."
    )
    serve_summary = (
        f"Serving: {serve.compared} rows compared, median |throughput error| "
        f"{serve.median_abs_error or 0:.0%}, "
        f"worst {serve.worst_abs_error or 0:.0%}. Engine factor {serve.engine_factor_used:g} "
        f"(from the rows: {serve.engine_factor_from_rows or 0:.3f})."
    )
    if fmt is OutputFormat.json:
        emit_json({"training": train.model_dump(mode="json"), "serving": serve.model_dump(mode="json")})
    elif fmt is OutputFormat.csv:  # one CSV table: the training runs (the serving rows are in --format json)
        emit_rows(_training_rows(train, human=False), fmt)
    else:
        title = "Published training runs vs default-efficiency estimates"
        emit_rows(_training_rows(train, True), fmt, title=title, caption=train_summary, headers=TRAIN_HEADERS)
        title = "Serving: published maximum throughput vs estimate"
        emit_rows(_serving_rows(serve, True), fmt, title=title, caption=serve_summary)
    if fmt in (OutputFormat.json, OutputFormat.csv):
        sys.stderr.write(train_summary + "\n" + serve_summary + "\n")
    failed = []
    if max_median_error is not None and train.median_abs_gpu_hours_error > max_median_error:
        err = train.median_abs_gpu_hours_error
        failed.append(
            f"training median |GPU-hours error| {err:.1%} > --max-median-error {max_median_error:.1%}"
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
