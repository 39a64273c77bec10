"""Regenerate the validation tables in docs/training-model.md from the planner's own validation code.

Usage: python docs/training_model.py           (rewrites the tables between the BEGIN/END markers)
       python docs/training_model.py --check   (exit 1 if docs/training-model.md is out of date)
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

from capacity.core.markers import regenerate, replace_blocks
from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips, load_runs, load_steady_runs
from capacity.data.steady_spec import SteadyRun, steady_model
from capacity.plans.validate import ErrorSummary, validate_runs
from capacity.plans.validate_steady import (
    SteadyCheck,
    SteadySummary,
    error_ratio,
    summarise,
    validate_steady,
)

DOC = Path(__file__).resolve().with_name("training-model.md")
SUMMARY_HEADER = (
    "| {first} | rows | skipped | median \\|err\\| published layout | bias | worst ratio | worst record | "
    "median \\|err\\| own layout | own slower | median \\|err\\| flat {flat} MFU |"
)


def pct(x: float | None, signed: bool = True) -> str:
    if x is None or math.isnan(x):
        return "–"
    return "0%" if round(x * 100) == 0 else f"{x:+.0%}" if signed else f"{x:.0%}"


def summary_row(label: str, s: SteadySummary, members: list[SteadyCheck]) -> str:
    skipped = sum(1 for c in members if c.skipped is not None)
    errors = {c.id: c.error for c in members if c.error is not None}
    worst = max(errors, key=lambda k: error_ratio(errors[k]))
    return (
        f"| {label} | {s.rows} | {skipped} | {pct(s.median_abs_error, False)} | {pct(s.bias)} | "
        f"{s.worst_ratio:.2f}× | {worst} ({pct(errors[worst])}) | {pct(s.own_median_abs_error, False)} | "
        f"{s.own_slower_than_published} | {pct(s.baseline_median_abs_error, False)} |"
    )


def steady_tables() -> tuple[list[str], list[str]]:
    """Per source group and pooled; then the same statistics over kinds of record, whatever their source."""
    eff = load_efficiency()
    steady = load_steady_runs()  # the loader's cached tuple: the CLI's report for it is reused in-process
    runs = {r.id: r for r in steady}
    report = validate_steady(steady, eff)
    checks, sets = report.checks, eff.steady_state_sets
    flat = f"{report.baseline_mfu:.0%}"

    groups = [SUMMARY_HEADER.format(first="source | role", flat=flat), "|---" * 11 + "|"]
    for s in report.groups:
        role = "fit" if s.group in sets.fitting else "held out"
        groups.append(summary_row(f"{s.group} | {role}", s, [c for c in checks if c.source_group == s.group]))
    pooled = (
        (report.fitting, [c for c in checks if c.in_fit]),
        (report.held_out, [c for c in checks if c.source_group in sets.held_out]),
    )
    groups += [summary_row(f"**{s.group}** | all", s, members) for s, members in pooled if s is not None]

    def moe(r: SteadyRun) -> bool:
        return steady_model(r).moe is not None

    kinds: dict[str, Callable[[SteadyRun], bool]] = {
        "dense, 16-bit": lambda r: not moe(r) and r.precision != "fp8",
        "dense, FP8": lambda r: not moe(r) and r.precision == "fp8",
        "MoE": moe,
        "A100": lambda r: r.chip.startswith("a100"),
        "sequences of 16k tokens and more": lambda r: r.seq_len >= 16_384,
        "1,024 GPUs and more": lambda r: r.chips >= 1024,
    }
    sliced = [SUMMARY_HEADER.format(first="kind of record (fit and held out together)", flat=flat)]
    sliced.append("|---" * 10 + "|")
    for label, keep in kinds.items():
        members = [c for c in checks if keep(runs[c.id])]
        if (summary := summarise(label, members)) is not None:
            sliced.append(summary_row(label, summary, members))
    return groups, sliced


def runs_table() -> list[str]:
    """End to end: GPU-hours of published runs, estimated from what a planner knows."""
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    flat = f"{report.baseline_mfu:.0%}"
    out = [
        f"| run | role | chip | GPUs | reported GPU-hours | estimated | error | flat {flat} MFU error | "
        "inside P10–P90 |",
        "|---" * 9 + "|",
    ]
    for c in report.checks:
        if c.skipped is None and c.reported_gpu_hours is not None and c.estimated_gpu_hours is not None:
            gpus = f"{c.chip_count:,}{'*' if c.chip_count_assumed else ''}"
            inside = {True: "yes", False: "no", None: "–"}[c.inside_p10_p90]
            out.append(
                f"| {c.run} | {'fit' if c.in_fit else 'held out'} | {c.chip} | {gpus} | "
                f"{c.reported_gpu_hours:,.0f} | {c.estimated_gpu_hours:,.0f} | {pct(c.gpu_hours_error)} | "
                f"{pct(c.baseline_gpu_hours_error)} | {inside} |"
            )

    def pooled(label: str, s: ErrorSummary) -> str:
        cover = "–" if s.interval_coverage is None else f"{s.interval_coverage:.0%}"
        return (
            f"| **{label}** ({s.runs} runs) | median | | | | | {pct(s.median_abs_error, False)} | "
            f"{pct(s.baseline_median_abs_error, False)} | {cover} |"
        )

    out += [pooled("fitting runs", report.fitted), pooled("held-out runs", report.held_out), ""]
    out.append(
        f"\\* chip count not published: solved for the median wall-clock time of the runs that publish one "
        f"({report.assumed_days_when_count_unknown:g} days). Not compared: "
        + "; ".join(f"{c.run} ({c.skipped})" for c in report.checks if c.skipped)
        + "."
    )
    return out


def render(doc: str) -> str:
    groups, sliced = steady_tables()
    blocks = {"steady-state table": groups, "steady-state slices": sliced}
    blocks["published-runs table"] = runs_table()
    return replace_blocks(doc, blocks, str(DOC))


def main(argv: list[str]) -> int:
    return regenerate(DOC, render, argv, "docs/training_model.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
