"""``capacity validate --steady``: the step-time model against published steady-state throughputs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from .errors import ExitCode
from .output import Cell, OutputFormat, emit_json, emit_rows, percent_cell

if TYPE_CHECKING:
    from capacity.plans.validate_steady import SteadyReport, SteadySummary

ROW_HEADERS = {  # the table view: what fits in 80 columns; csv, json and markdown have every field
    "id": "record", "chips": "GPUs", "measured": "tok/s/GPU", "error": "pub", "own_error": "own",
    "baseline_error": "flat",
}  # fmt: skip
GROUP_HEADERS = {
    "group": "source", "role": "role", "rows": "rows", "median_abs_error": "|err|",
    "worst_ratio": "worst", "bias": "bias", "own_median_abs_error": "own",
    "own_slower_than_published": "slower", "baseline_median_abs_error": "flat",
}  # fmt: skip


def _abs(x: float, human: bool) -> Cell:
    return x if not human else f"{x:.0%}"


def report_rows(report: SteadyReport, human: bool) -> list[dict[str, Cell]]:
    return [
        {
            "id": c.id,
            "role": "fit" if c.in_fit else "held out",
            "chip": c.chip,
            "chips": str(c.chips) if human else c.chips,
            "model": c.model,
            "precision": c.precision,
            "measured": round(c.measured),
            "error": percent_cell(c.error, human),
            "own_error": percent_cell(c.own_error, human),
            "baseline_error": percent_cell(c.baseline_error, human),
            "limiting_term": c.limiting_term,
            "skipped": c.skipped,
        }
        for c in report.checks
    ]


def _narrow(rows: list[dict[str, Cell]]) -> list[dict[str, Cell]]:
    """The columns of ROW_HEADERS only, skipped records marked in the error column."""
    return [
        {
            k: (r[k] if r["skipped"] is None or k not in ("error", "own_error") else "skip")
            for k in ROW_HEADERS
        }
        for r in rows
    ]


def group_rows(report: SteadyReport, fit: set[str], human: bool) -> list[dict[str, Cell]]:
    def row(s: SteadySummary, role: str) -> dict[str, Cell]:
        return {
            "group": s.group, "role": role, "rows": s.rows,
            "median_abs_error": _abs(s.median_abs_error, human),
            "worst_ratio": round(s.worst_ratio, 2), "bias": percent_cell(s.bias, human),
            "own_median_abs_error": _abs(s.own_median_abs_error, human),
            "own_slower_than_published": s.own_slower_than_published,
            "baseline_median_abs_error": _abs(s.baseline_median_abs_error, human),
        }  # fmt: skip

    rows = [row(s, "fit" if s.group in fit else "held") for s in report.groups]
    rows += [row(s, "all") for s in (report.fitting, report.held_out) if s is not None]
    return rows


def run_steady(fmt: OutputFormat, max_error: float | None) -> None:
    """Evaluate and render; exit 1 if the held-out median |error| exceeds ``max_error``."""
    from capacity.data.assumptions import load_efficiency
    from capacity.data.catalog import load_steady_runs
    from capacity.plans.validate_steady import validate_steady

    eff = load_efficiency()
    report = validate_steady(load_steady_runs(), eff)
    fit = set(eff.steady_state_sets.fitting)
    held = report.held_out
    summary = (
        f"Held-out sources: {held.rows} records, median |tokens/s error| {held.median_abs_error:.0%} with "
        f"the published layout (worst {held.worst_ratio:.2f}x), {held.own_median_abs_error:.0%} with the "
        f"planner's own; flat {report.baseline_mfu:.0%} MFU: {held.baseline_median_abs_error:.0%}."
        if held
        else "No held-out record could be compared."
    )
    if fmt is OutputFormat.json:
        emit_json(report.model_dump(mode="json"))
    elif fmt is OutputFormat.csv:
        emit_rows(report_rows(report, human=False), fmt)
    else:
        emit_rows(
            _narrow(report_rows(report, True)) if fmt is OutputFormat.table else report_rows(report, True),
            fmt,
            headers=ROW_HEADERS,
            title="Steady state: measured tokens/s per GPU vs the step-time model",
        )  # fmt: skip
        emit_rows(
            group_rows(report, fit, True), fmt, title="By source (error = predicted / measured - 1)",
            caption=summary, headers=GROUP_HEADERS,
        )  # fmt: skip
    if fmt in (OutputFormat.json, OutputFormat.csv):  # the human views carry it as the caption
        sys.stderr.write(summary + "\n")
    if max_error is not None and held is not None and held.median_abs_error > max_error:
        sys.stderr.write(
            f"error: held-out median |tokens/s error| {held.median_abs_error:.1%} > --max-steady-error "
            f"{max_error:.1%}\n"
        )
        raise typer.Exit(ExitCode.LIMIT_VIOLATED)
