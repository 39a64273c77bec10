"""``capacity validate``: the planner's error against published training runs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .errors import ExitCode, handles_errors
from .output import Cell, FormatOption, OutputFormat, emit_json, emit_rows

HEADERS = {
    "run": "run",
    "chip": "chip",
    "trust": "trust",
    "fit": "fit",
    "implied_mfu": "MFU got",
    "default_mfu": "MFU default",
    "reported_gpu_hours": "GPU-h reported",
    "estimated_gpu_hours": "GPU-h estimated",
    "gpu_hours_error": "GPU-h err",
    "days_error": "days err",
    "mwh_error": "MWh err",
    "skipped": "note",
}


def _pct(x: float | None) -> str | None:
    return None if x is None else f"{x:+.0%}"


@handles_errors
def validate(
    max_median_error: Annotated[
        float | None,
        typer.Option(
            help="Exit 1 if the median |GPU-hours error| of the fitted runs exceeds this (e.g. 0.35)."
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare default-efficiency estimates with published runs: GPU-hours, days and MWh.

    Runs marked 'fit' (trust A or B, comparable) set the whole-model factor, so their errors are in-sample.

    Examples:

    \b
      capacity validate
      capacity validate --format json
      capacity validate --max-median-error 0.35
    """
    from capacity.assumptions import (
        load_assumptions,
        load_efficiency,
    )  # not on the start-up path of other commands
    from capacity.catalog import load_chips, load_runs
    from capacity.validate import validate_runs

    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    if fmt is OutputFormat.json:
        emit_json(report.model_dump(mode="json"))
    else:
        human = fmt is not OutputFormat.csv
        rows: list[dict[str, Cell]] = []
        for c in report.checks:
            rows.append(
                {
                    "run": c.run,
                    "chip": c.chip,
                    "trust": c.trust,
                    "fit": c.in_fit,
                    "implied_mfu": None if c.implied_mfu is None else round(c.implied_mfu, 3),
                    "default_mfu": None if c.default_mfu is None else round(c.default_mfu, 3),
                    "reported_gpu_hours": c.reported_gpu_hours,
                    "estimated_gpu_hours": None
                    if c.estimated_gpu_hours is None
                    else round(c.estimated_gpu_hours),
                    "gpu_hours_error": _pct(c.gpu_hours_error) if human else c.gpu_hours_error,
                    "days_error": _pct(c.days_error) if human else c.days_error,
                    "mwh_error": _pct(c.mwh_error) if human else c.mwh_error,
                    "skipped": c.skipped,
                }
            )
        summary = (
            f"{report.compared} fitted runs compared: median |GPU-hours error| "
            f"{report.median_abs_gpu_hours_error:.0%}, worst {report.worst_abs_gpu_hours_error:.0%} "
            f"({report.worst_run}); median |MWh error| "
            f"{'n/a' if report.median_abs_mwh_error is None else f'{report.median_abs_mwh_error:.0%}'}. "
            f"Whole-model factor {report.whole_model_factor_used:g} (from the runs: "
            f"{report.whole_model_factor_from_runs:.3f})."
        )
        emit_rows(
            rows,
            fmt,
            title="Published runs vs default-efficiency estimates",
            caption=summary if human else None,
            headers=HEADERS,
        )
        if not human:
            sys.stderr.write(summary + "\n")
    if max_median_error is not None and report.median_abs_gpu_hours_error > max_median_error:
        sys.stderr.write(
            f"error: median |GPU-hours error| {report.median_abs_gpu_hours_error:.1%} exceeds "
            f"--max-median-error {max_median_error:.1%}\n"
        )
        raise typer.Exit(ExitCode.LIMIT_VIOLATED)
