"""Rendering shared by every command: one ``--format`` option, data to stdout, messages to stderr."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer

Cell = str | int | float | bool | None


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Output format: table, json, csv or markdown.", case_sensitive=False),
]


def percent_cell(x: float | None, human: bool) -> Cell:
    """A signed ratio as ``+12%`` in human formats; the number itself in json/csv."""
    return x if not human or x is None else f"{x:+.0%}"


def cell_text(value: Cell) -> str:
    """A cell as the tables print it: thousands separators, four significant digits, yes/no."""
    return _text(value)


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 1e12:
            return f"{value:.4g}"
        if value.is_integer():
            return f"{int(value):,}"
        if abs(value) >= 100:
            return f"{value:,.1f}"
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def emit_json(data: Any) -> None:
    """Write JSON to stdout (not through rich, so nothing is wrapped or coloured). JSON has no NaN or
    Infinity: a non-finite number is written as null, as CSV leaves it empty."""
    write_stdout(json.dumps(_finite(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def emit_rows(
    rows: Sequence[dict[str, Cell]],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    caption: str | None = None,
    json_data: Any = None,
    headers: dict[str, str] | None = None,
    highlight: dict[str, int] | None = None,
) -> None:
    """Render a list of rows (same keys in each) in the chosen format.

    ``json_data`` replaces the rows for ``--format json`` when the full records should be emitted.
    ``headers`` picks and names the columns of the human views (table, markdown); CSV keeps every key.
    ``highlight`` marks one row per column as the best (bold in markdown, bold green in the table).
    """
    best = highlight or {}
    if fmt is OutputFormat.json:
        emit_json(rows if json_data is None else json_data)
        return
    columns = list(rows[0]) if rows else []
    if fmt is OutputFormat.csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row[c] is None else row[c] for c in columns])
        write_stdout(buf.getvalue())
        return
    names = headers or {c: c for c in columns}
    columns = [c for c in columns if c in names]
    if fmt is OutputFormat.markdown:
        lines = []
        if title:
            lines += [f"### {title}", ""]
        lines.append("| " + " | ".join(names[c] for c in columns) + " |")
        lines.append("|" + "|".join("---" for _ in columns) + "|")
        for i, row in enumerate(rows):
            cells = [_text(row[c]).replace("|", "\\|") for c in columns]
            cells = [f"**{t}**" if best.get(c) == i and t else t for c, t in zip(columns, cells, strict=True)]
            lines.append("| " + " | ".join(cells) + " |")
        if caption:
            lines += ["", caption]
        write_stdout("\n".join(lines) + "\n")
        return
    from rich.console import Console  # imported here: JSON/CSV output never pays for rich

    console = Console(width=table_width())
    console.on_broken_pipe = _quiet_broken_pipe  # type: ignore[method-assign]  # rich would exit 1
    groups = _column_groups(rows, columns, names, console.width)
    for n, group in enumerate(groups):
        table = _rich_table(rows, group, names, best, title=title if n == 0 else None, caption=None,
                            width=console.width)  # fmt: skip
        console.print(table)
    if caption:  # under every table at the terminal's width, not squeezed into the last table's
        from rich.text import Text

        console.print(Text(caption, justify="center"), style="dim" if len(groups) > 1 else None)


PIPED_WIDTH = 120  # a CI log or a file: wide enough that most tables fit whole, narrow enough to read


def table_width() -> int | None:
    """Columns a table may use: ``$COLUMNS`` when set, the terminal's width on a terminal (``None``: rich
    asks it), else a fixed :data:`PIPED_WIDTH`, so output redirected to a file or a CI log does not get a
    default 80-column layout."""
    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return None
    return PIPED_WIDTH


def _quiet_broken_pipe() -> None:
    """A reader that stopped early (``capacity check ... | head``) is not an error: the rest of the data goes
    nowhere and the command carries on, so its messages and exit code (a violated limit: 1) stand."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def write_stdout(text: str) -> None:
    """Data to stdout; a closed reader (``| head``) discards the rest instead of stopping the command."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()


HEADER_LINE = 12  # a header may wrap onto lines this wide; numbers never wrap
TEXT_MIN = 16  # a text column (notes, ids) may fold down to this width


def _numeric(rows: Sequence[dict[str, Cell]], c: str) -> bool:
    """Every value of the column is a number (a mixed column is text: it folds, its numbers fit TEXT_MIN)."""
    values = [r[c] for r in rows if r[c] is not None and r[c] != ""]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _width(rows: Sequence[dict[str, Cell]], c: str, name: str) -> int:
    """Columns a cell needs, plus the border: a number column (and its header) whole; a text column
    folded to TEXT_MIN, its header to HEADER_LINE."""
    cells = max((len(_text(r[c])) for r in rows), default=0)
    if _numeric(rows, c):
        return max(cells, len(name)) + 3
    return max(min(cells, TEXT_MIN), min(len(name), HEADER_LINE)) + 3


def _column_groups(
    rows: Sequence[dict[str, Cell]], columns: list[str], names: dict[str, str], width: int
) -> list[list[str]]:
    """Columns split into tables that each fit ``width`` (the first column repeated in each), so a
    narrow terminal gets several readable tables instead of numbers broken across lines."""
    if not columns:
        return [columns]
    key, rest = columns[0], columns[1:]
    key_width = min(max((len(_text(r[key])) for r in rows), default=0), key_cap(width))
    budget = width - 1 - (key_width + 3)  # the key folds only past half the width
    groups: list[list[str]] = [[key]]
    used = 0
    for c in rest:
        need = _width(rows, c, names[c])
        if used + need > budget and len(groups[-1]) > 1:
            groups.append([key])
            used = 0
        groups[-1].append(c)
        used += need
    return groups


def key_cap(width: int) -> int:
    """The widest the first (key) column gets before it folds: half the table, so the others keep room."""
    return max(HEADER_LINE, width // 2 - 3)


def _rich_table(
    rows: Sequence[dict[str, Cell]], columns: list[str], names: dict[str, str], best: dict[str, int],
    *, title: str | None, caption: str | None, width: int,
) -> Any:  # fmt: skip
    from rich.table import Table
    from rich.text import Text

    table = Table(  # plain text: a name like "FLUX.1 [dev]" is not rich markup
        title=None if title is None else Text(title, style="italic"),
        caption=None if caption is None else Text(caption, style="dim"),
        show_lines=False, header_style="bold",
    )  # fmt: skip
    for i, c in enumerate(columns):
        numeric = _numeric(rows, c)
        widest = max((len(_text(r[c])) for r in rows), default=0)
        numbers = 2 * sum(isinstance(r[c], int | float) and not isinstance(r[c], bool) for r in rows) > len(
            rows
        )
        folded_key = i == 0 and not numeric and widest > key_cap(width)
        fixed = numeric or (i == 0 and not folded_key)
        table.add_column(  # a folded key gets a set width: rich would not shrink the others around it
            names[c], justify="right" if numbers else "left", overflow="fold", no_wrap=fixed,
            width=key_cap(width) if folded_key else None,
            min_width=None if folded_key else widest if fixed else min(widest, TEXT_MIN),
        )  # fmt: skip
    for i, row in enumerate(rows):
        table.add_row(*(Text(_text(row[c]), style="bold green" if best.get(c) == i else "") for c in columns))
    return table


def warn(message: str) -> None:
    """A message for the person, on stderr."""
    sys.stderr.write(f"warning: {message}\n")


def emit_sources(sources: Sequence[Any], fmt: OutputFormat) -> None:
    """The numbered source list that the ``sources`` column of a ``show`` table refers to."""
    rows: list[dict[str, Cell]] = [
        {"#": i, "source": s.title, "url": s.url or "", "supports": ", ".join(s.fields) or "whole record"}
        for i, s in enumerate(sources, 1)
    ]
    emit_rows(rows, fmt, title="Sources")


Groups = Sequence[tuple[str, Sequence[tuple[str, str]]]]


def emit_estimate(
    data: dict[str, Any], groups: Groups, fmt: OutputFormat, title: str, converted: str
) -> None:
    """One estimate: a grouped quantity/value/unit table and its assumptions; JSON object; one-row CSV.

    ``converted`` names the cost field in the chosen currency, shown only when that is not USD.
    """
    if fmt is OutputFormat.json:
        emit_json(data)
        return
    if fmt is OutputFormat.csv:
        emit_rows([{k: v for k, v in data.items() if not isinstance(v, list | dict)}], fmt)
        return
    rows: list[dict[str, Cell]] = []
    for group, fields in groups:
        for key, unit in fields:
            if data[key] is None or (key == converted and data["currency"] == "USD"):
                continue
            rows.append({"group": group, "quantity": key, "value": data[key],
                         "unit": data["currency"] if key == converted else unit})  # fmt: skip
    emit_rows(rows, fmt, title=title)
    if data["assumptions"]:
        emit_rows(
            [{"assumed": a["name"], "value": a["value"], "source": a["source"]} for a in data["assumptions"]],
            fmt,
            title="Assumptions (not given on the command line)",
        )


def footnoted(rows: list[dict[str, Any]], column: str) -> tuple[list[dict[str, Any]], list[dict[str, Cell]]]:
    """Long texts of ``column`` moved to numbered notes ([1], [2], ... one per distinct text), so a table
    keeps its numbers readable at 80 columns."""
    numbers: dict[str, int] = {}
    out = []
    for row in rows:
        text = str(row.get(column) or "")
        mark = f"[{numbers.setdefault(text, len(numbers) + 1)}]" if text else ""
        out.append({**row, column: mark})
    return out, [{"#": f"[{n}]", column: text} for text, n in numbers.items()]


def emit_explanation(factors: list[dict[str, Any]], fmt: OutputFormat) -> None:
    """The chain of factors behind an estimate (``--explain``), its long sources as numbered notes; CSV
    holds one table per run, so it leaves them out."""
    if fmt is OutputFormat.csv:
        return
    rows, notes = footnoted(factors, "source")
    emit_rows(rows, fmt, title="Why: the chain of factors (elasticity = d ln answer / d ln factor)")
    emit_rows(notes, fmt, title="Sources of the factors")
