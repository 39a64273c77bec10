"""``capacity run``, ``capacity check`` and ``capacity schema``: capacity plans as YAML files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from capacity.core.errors import CapacityError, SpecFileError

from .errors import ExitCode, capped, handles_errors
from .output import Cell, FormatOption, OutputFormat, cell_text, emit_json, emit_rows, write_stdout

if TYPE_CHECKING:
    from capacity.plans.scenario import Scenario
    from capacity.plans.scenario_run import ScenarioResult
    from capacity.plans.sweep import TrainGrid

FilesArg = Annotated[list[Path], typer.Argument(help="Scenario YAML files.", show_default=False)]
SUMMARY_COLUMNS = [
    "chip", "gpus", "wall_clock_days", "tpot_ms", "cost_usd", "cost_usd_per_month",
    "cost_usd_per_million_output_tokens", "seconds_per_image", "cost_usd_per_image", "energy_mwh",
    "facility_power_mw",
]  # fmt: skip
SUMMARY_ROWS = 200


def point_label(point: dict[str, Any]) -> str:
    """``chip=h100 gpus=512 tokens=2e+12`` for a sweep point (last path segment, compact numbers)."""
    parts = []
    for key, value in point.items():
        text = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{key.split('.')[-1]}={text}")
    return " ".join(parts)


class Evaluated:
    """Per-point results, vectorised sweep grids, and one error line per file that could not be evaluated."""

    def __init__(self) -> None:
        self.results: list[ScenarioResult] = []
        self.grids: list[tuple[Scenario, TrainGrid, str]] = []
        self.errors: list[str] = []

    def rows(self, human: bool) -> list[dict[str, Cell]]:
        """Summary rows of every result; columns are the union, in order of first appearance."""
        from capacity.plans.sweep import grid_rows

        rows: list[dict[str, Cell]] = []
        for r in self.results:
            shown = {k: v for k, v in r.point.items() if not (human and k.split(".")[-1] in SUMMARY_COLUMNS)}
            row: dict[str, Cell] = {"file": r.file, "scenario": r.scenario, "point": point_label(shown)}
            row.update({k: r.result.get(k) for k in SUMMARY_COLUMNS})
            if r.error is not None:
                row["status"] = f"error: {r.error}"
            else:
                row["status"] = "ok" if not r.violations else "; ".join(v.message for v in r.violations)
                if r.result.get("price_assumed"):
                    row["status"] = f"{row['status']} (price assumed: no dated price for this chip)"
            rows.append(row)
        for sc, grid, file in self.grids:
            header, body = grid_rows(sc, grid, file)
            rows += [
                dict(zip(header, (None if v != v else v for v in values), strict=True)) for values in body
            ]
        columns = list(dict.fromkeys(k for row in rows for k in row))
        if human:  # drop columns no row uses (train vs serve), and the file name
            columns = [
                c for c in columns if c != "file" and any(row.get(c) not in (None, "") for row in rows)
            ]
        return [{c: row.get(c) for c in columns} for row in rows]

    def point_errors(self) -> list[str]:
        """Points that could not be evaluated: per-point errors, and grid chips that could not run."""
        out = [f"{r.file}: {r.scenario}" + (f" [{point_label(r.point)}]" if r.point else "") + f": {r.error}"
               for r in self.results if r.error is not None]  # fmt: skip
        for sc, grid, file in self.grids:
            for chip_id, note in zip(grid.chip_ids, grid.notes, strict=True):
                if note is not None:
                    out.append(f"{file}: {sc.name} [chip={chip_id}]: {note}")
        return out

    def violations(self) -> list[str]:
        from capacity.plans.sweep import grid_violations

        out = []
        for r in self.results:
            point = f" [{point_label(r.point)}]" if r.point else ""
            out += [f"{r.file}: {r.scenario}{point}: {v.message}" for v in r.violations]
        for sc, grid, file in self.grids:
            bad = grid_violations(sc, grid)
            if bad.any():
                i = int(bad.argmax())
                first = (
                    f"chip={grid.chip_ids[grid.chip[i]]} gpus={int(grid.gpus[i])} tokens={grid.tokens[i]:g}"
                )
                out.append(
                    f"{file}: {sc.name}: {int(bad.sum())} of {bad.size} sweep points over a limit, not "
                    f"fitting in memory or not evaluable (first: {first})"
                )
        return out


def _evaluate(files: list[Path], max_work: float) -> Evaluated:
    from capacity.data.assumptions import load_assumptions, load_efficiency
    from capacity.plans.scenario import load_scenarios
    from capacity.plans.scenario_run import evaluate
    from capacity.plans.sweep import train_grid, use_grid
    from capacity.plans.work_budget import check_work

    out = Evaluated()
    for path in files:
        try:
            scenarios = load_scenarios(path)
            check_work(scenarios, path, max_work)
            for sc in scenarios:
                if use_grid(sc):
                    grid = train_grid(sc, load_assumptions(), load_efficiency(), path.parent)
                    out.grids.append((sc, grid, str(path)))
                else:
                    out.results += evaluate(sc, str(path))
        except SpecFileError as exc:
            out.errors += capped(exc.problems)
        except CapacityError as exc:
            out.errors.append(str(exc))
        except ValueError as exc:  # a last guard: never a traceback for a user's file
            message = str(exc).splitlines()[0]
            if isinstance(exc, ValidationError):  # the reason, not "1 validation error for TrainRequest"
                message = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            out.errors.append(f"{path}: {message}")
    out.errors += capped(out.point_errors())  # a sweep repeating one error prints ten lines and a count
    return out


def _emit(ev: Evaluated, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.csv and ev.grids and not ev.results:
        _grids_csv(ev)
        return
    if fmt is OutputFormat.json:
        per_point = [r.model_dump(mode="json") for r in ev.results]
        emit_json(
            per_point + [row for row in ev.rows(human=False) if "point" not in row or row["point"] is None]
        )
        return
    rows = ev.rows(fmt is not OutputFormat.csv)
    if not rows:
        return
    title = _plural(len(rows), "scenario result")
    names = {row.get("scenario") for row in rows}
    if fmt is not OutputFormat.csv and len(names) == 1:  # one scenario: its name once, in the title
        title = f"{names.pop()}: {_plural(len(rows), 'result')}"
        rows = [{k: v for k, v in row.items() if k != "scenario"} for row in rows]
    emit_rows(rows, fmt, title=title)


def _grids_csv(ev: Evaluated) -> None:
    """Sweep grids straight to CSV: one header, rows written from the column arrays (no dict per row)."""
    import csv
    import io

    from capacity.plans.sweep import grid_rows

    for i, (sc, grid, file) in enumerate(ev.grids):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        header, body = grid_rows(sc, grid, file)
        if i == 0:
            writer.writerow(header)
        writer.writerows(body)
        write_stdout(buf.getvalue())


# estimator runs a file may ask for by default: about 5 s here (docs/scenarios.md, Work budget)
MAX_WORK = 500.0
MaxWork = Annotated[
    float,
    typer.Option(help="Estimator runs one file may ask for (scenarios x sweep points; about 100 a second).",
                 min=1),
]  # fmt: skip


@handles_errors
def run(
    files: FilesArg,
    fmt: FormatOption = OutputFormat.table,
    max_work: MaxWork = MAX_WORK,
    plot: Annotated[
        Path | None,
        typer.Option(help="Draw the first sweep: each metric against its numeric axis, as a PNG."),
    ] = None,
) -> None:
    """Evaluate scenario files (sweeps expanded) and print the results.

    Training sweeps over hardware.chip, hardware.gpus and tokens are evaluated as numpy arrays.

    Examples:

    \b
      capacity run specs/scenarios/gpt3-10k-v100.yaml
      capacity run plans/*.yaml --format csv > results.csv
      capacity run specs/scenarios/sweep-cluster-size.yaml --plot sweep.png
    """
    if plot is not None:
        from .charts import png_path

        png_path(plot)  # before any work
    ev = _evaluate(files, max_work)
    _emit(ev, fmt)
    if plot is not None and not ev.errors:
        _plot_first_sweep(ev, plot)
    for line in ev.errors:
        sys.stderr.write(f"error: {line}\n")
    if ev.errors:
        raise typer.Exit(ExitCode.BAD_INPUT)


def _plot_first_sweep(ev: Evaluated, path: Path) -> None:
    """The first swept scenario's points as records (swept fields by their last name, then the estimate)."""
    from capacity.core.errors import InputError
    from capacity.plans.sweep import grid_rows

    from .charts import SWEPT, plot_sweep

    for sc, grid, file in ev.grids:
        header, body = grid_rows(sc, grid, file)
        records = [dict(zip(header, values, strict=True)) for values in body]
        for record in records:  # the swept values apart from the results, whose names they may share
            record.update({SWEPT + p.split(".")[-1]: record[p.split(".")[-1]] for p in sc.sweep})
        plot_sweep(sc.name, records, [SWEPT + p.split(".")[-1] for p in sc.sweep], path)
        return
    swept = [r for r in ev.results if r.point and r.error is None]
    if not swept:
        raise InputError("--plot draws a sweep: none of the files sweeps a field")
    first = [r for r in swept if (r.file, r.scenario) == (swept[0].file, swept[0].scenario)]
    records = [{**r.result, **{SWEPT + k.split(".")[-1]: v for k, v in r.point.items()}} for r in first]
    plot_sweep(first[0].scenario, records, [SWEPT + k.split(".")[-1] for k in first[0].point], path)


@handles_errors
def check(
    files: FilesArg,
    fmt: FormatOption = OutputFormat.table,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Report violations but exit 0.")] = False,
    max_work: MaxWork = MAX_WORK,
) -> None:
    """Evaluate scenario files and fail when a limit is violated.

    Exit 0 when every limit holds, 1 when any is violated (each listed with by how much), 2 when a file
    cannot be evaluated. With GITHUB_STEP_SUMMARY set, a markdown summary is appended there.

    Examples:

    \b
      capacity check plans/*.yaml
      capacity check specs/scenarios/ci-plan-with-limits.yaml --format json
    """
    ev = _evaluate(files, max_work)
    _emit(ev, fmt)
    violated = ev.violations()
    for line in violated:
        sys.stderr.write(f"limit: {line}\n")
    for line in ev.errors:
        sys.stderr.write(f"error: {line}\n")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:  # a CI convenience: a problem writing it is a warning, never a changed exit code
        try:
            target = Path(summary_path)
            if target.exists() and not target.is_file():  # a FIFO would block, a device would swallow it
                raise IsADirectoryError(0, "not a regular file")
            with open(summary_path, "a", encoding="utf-8") as out:
                out.write(_markdown_summary(ev, violated))
        except OSError as exc:
            sys.stderr.write(f"warning: GITHUB_STEP_SUMMARY {summary_path}: not written ({exc.strerror})\n")
    if violated and not exit_zero:
        raise typer.Exit(ExitCode.LIMIT_VIOLATED)
    if ev.errors:
        raise typer.Exit(ExitCode.BAD_INPUT)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _markdown_cell(text: str) -> str:
    """Text as one markdown table cell: pipes, markup and HTML characters escaped, on one line."""
    for ch in "\\`*_[]<>|#":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())


def _markdown_summary(ev: Evaluated, violated: list[str]) -> str:
    if violated:
        status = "❌ limits violated"
    else:
        status = "⚠️ files could not be evaluated" if ev.errors else "✅ all limits hold"
    rows = ev.rows(human=True)
    lines = [f"## capacity check: {status}", ""]
    lines += [
        f"{_plural(len(rows), 'result')}, {len(violated)} over a limit, {_plural(len(ev.errors), 'error')}.",
        "",
    ]
    by_scenario: dict[str, list[dict[str, Cell]]] = {}
    for row in rows[:SUMMARY_ROWS]:
        by_scenario.setdefault(str(row.get("scenario")), []).append(row)
    for name, group in by_scenario.items():  # one table per scenario, only the columns it uses
        columns = [c for c in group[0] if c != "scenario" and any(r.get(c) not in (None, "") for r in group)]
        lines += [f"### {_markdown_cell(name)}", "", "| " + " | ".join(columns) + " |"]
        lines.append("|" + "---|" * len(columns))
        lines += [
            "| " + " | ".join(_markdown_cell(cell_text(r.get(c))) for c in columns) + " |" for r in group
        ]
        lines.append("")
    if len(rows) > SUMMARY_ROWS:
        lines.append(f"({len(rows) - SUMMARY_ROWS} more rows not shown)")
    if violated:
        lines += [
            "",
            "<details><summary>Limits</summary>",
            "",
            *[f"- {_markdown_cell(v)}" for v in violated],
            "",
            "</details>",
        ]
    if ev.errors:
        lines += [
            "",
            "<details><summary>Errors</summary>",
            "",
            *[f"- {_markdown_cell(e)}" for e in ev.errors],
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
    from capacity.plans.scenario_schema import scenario_json_schema

    write_stdout(json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n")
