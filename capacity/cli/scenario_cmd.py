"""``capacity run``, ``capacity check`` and ``capacity schema``: capacity plans as YAML files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from capacity.errors import CapacityError, SpecFileError

from .errors import ExitCode, handles_errors
from .output import Cell, FormatOption, OutputFormat, emit_json, emit_rows

if TYPE_CHECKING:
    from capacity.scenario_run import ScenarioResult

FilesArg = Annotated[list[Path], typer.Argument(help="Scenario YAML files.", show_default=False)]
SUMMARY_COLUMNS = [
    "chip", "gpus", "wall_clock_days", "tpot_ms", "cost_usd", "cost_usd_per_month",
    "cost_usd_per_million_output_tokens", "energy_mwh", "facility_power_mw",
]  # fmt: skip


def _evaluate(files: list[Path]) -> tuple[list[ScenarioResult], list[str]]:
    """Results of every readable file, and one error line per file that could not be evaluated."""
    from capacity.scenario import load_scenarios
    from capacity.scenario_run import evaluate

    results, errors = [], []
    for path in files:
        try:
            for sc in load_scenarios(path):
                results += evaluate(sc, str(path))
        except SpecFileError as exc:
            errors += exc.problems
        except CapacityError as exc:
            errors.append(str(exc))
    return results, errors


def point_label(point: dict[str, Any]) -> str:
    """``chip=h100 gpus=512 tokens=2e+12`` for a sweep point (last path segment, compact numbers)."""
    return " ".join(f"{k.split('.')[-1]}={v:g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                    for k, v in point.items())  # fmt: skip


def _rows(results: list[ScenarioResult], human: bool) -> list[dict[str, Cell]]:
    rows: list[dict[str, Cell]] = []
    for r in results:
        row: dict[str, Cell] = {"scenario": r.scenario, "point": point_label(r.point)}
        row.update({k: r.result.get(k) for k in SUMMARY_COLUMNS})
        row["status"] = "ok" if not r.violations else "; ".join(v.message for v in r.violations)
        rows.append(row)
    if human:  # drop columns no row uses (train vs serve)
        used = [k for k in rows[0] if any(row[k] not in (None, "") for row in rows)] if rows else []
        rows = [{k: row[k] for k in used} for row in rows]
    return rows


def _emit(results: list[ScenarioResult], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        emit_json([r.model_dump(mode="json") for r in results])
    elif results:
        emit_rows(_rows(results, fmt is not OutputFormat.csv), fmt, title=f"{len(results)} scenario results")


@handles_errors
def run(files: FilesArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Evaluate scenario files (sweeps expanded) and print the results.

    Examples:

    \b
      capacity run specs/scenarios/gpt3-10k-v100.yaml
      capacity run plans/*.yaml --format csv > results.csv
    """
    results, errors = _evaluate(files)
    _emit(results, fmt)
    for line in errors:
        sys.stderr.write(f"error: {line}\n")
    if errors:
        raise typer.Exit(ExitCode.BAD_INPUT)


@handles_errors
def check(
    files: FilesArg,
    fmt: FormatOption = OutputFormat.table,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Report violations but exit 0.")] = False,
) -> None:
    """Evaluate scenario files and fail when a limit is violated.

    Exit 0 when every limit holds, 1 when any is violated (each listed with by how much), 2 when a file
    cannot be evaluated. With GITHUB_STEP_SUMMARY set, a markdown summary is appended there.

    Examples:

    \b
      capacity check plans/*.yaml
      capacity check specs/scenarios/ci-plan-with-limits.yaml --format json
    """
    results, errors = _evaluate(files)
    _emit(results, fmt)
    violated = [r for r in results if r.violations]
    for r in violated:
        point = f" [{point_label(r.point)}]" if r.point else ""
        for v in r.violations:
            sys.stderr.write(f"limit: {r.file}: {r.scenario}{point}: {v.message}\n")
    for line in errors:
        sys.stderr.write(f"error: {line}\n")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with open(summary_path, "a", encoding="utf-8") as out:
            out.write(_markdown_summary(results, violated, errors))
    if violated and not exit_zero:
        raise typer.Exit(ExitCode.LIMIT_VIOLATED)
    if errors:
        raise typer.Exit(ExitCode.BAD_INPUT)


def _markdown_summary(results: list[ScenarioResult], violated: list[Any], errors: list[str]) -> str:
    status = (
        "❌ limits violated"
        if violated
        else ("⚠️ files could not be evaluated" if errors else "✅ all limits hold")
    )
    lines = [f"## capacity check: {status}", "",
             f"{len(results)} results, {len(violated)} over a limit, {len(errors)} errors.", ""]  # fmt: skip
    rows = _rows(results, human=True)
    if rows:
        lines.append("| " + " | ".join(rows[0]) + " |")
        lines.append("|" + "---|" * len(rows[0]))
        lines += ["| " + " | ".join("" if v is None else str(v) for v in row.values()) + " |" for row in rows]
    if errors:
        lines += [
            "",
            "<details><summary>Errors</summary>",
            "",
            *[f"- `{e}`" for e in errors],
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n\n"


def schema() -> None:
    """Print the JSON Schema (draft-07) of scenario files, for editors' YAML extensions.

    Examples:

    \b
      capacity schema > schema/scenario.schema.json
    """
    from capacity.scenario_schema import scenario_json_schema

    sys.stdout.write(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n")
