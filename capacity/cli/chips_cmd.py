"""``capacity chips``: browse the accelerator catalogue."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from capacity.cli.errors import handles_errors
from capacity.cli.output import Cell, FormatOption, OutputFormat, emit_json, emit_rows, emit_sources
from capacity.core.errors import InputError
from capacity.data.catalog import load_chips
from capacity.records.chip import DTYPES, Chip, Dtype

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)

UNKNOWN_MARK, UNSUPPORTED_MARK = "?", "n/s"
LEGEND = (
    f"Dense peaks (no 2:4 sparsity), TFLOPS (INT8: TOPS). '{UNKNOWN_MARK}' = unknown (no source), "
    f"'{UNSUPPORTED_MARK}' = not supported."
)


LIST_HEADERS = {
    "id": "id",
    "fp16": "FP16",
    "bf16": "BF16",
    "fp8": "FP8",
    "memory_gb": "mem GB",
    "memory_bandwidth_gb_s": "mem GB/s",
    "intra_node_gb_s": "link GB/s",
    "tdp_w": "TDP W",
    "us_licence_for_china": "US licence (CN)",
}
# what a buyer reads in --format markdown: also the price (with its date) and the power a facility provisions
BUYER_HEADERS = {
    **{k: v for k, v in LIST_HEADERS.items() if k != "us_licence_for_china"},
    "usd_per_gpu_hour": "USD/GPU-h (date)",
    "server_w_per_chip": "server W/chip",
    "us_licence_for_china": "US licence (CN)",
}


def price_cell(chip: Chip) -> str | None:
    """The default price per GPU-hour with the newest quote's date, e.g. ``3.81 (2026-11-09)``."""
    from capacity.data.provenance import default_price  # only for the markdown listing

    found = default_price(chip)
    return None if found is None else f"{found[0]:.2f} ({found[1]})"


def server_watts(chip: Chip) -> float | None:
    """The reference server's maximum power per accelerator (what --power-basis facility uses)."""
    return None if chip.system is None else round(chip.system.watts_per_accelerator)


def peak_cell(chip: Chip, dtype: Dtype, fmt: OutputFormat) -> Cell:
    status = chip.dtype_status(dtype)
    if not isinstance(status, str):
        return status
    if fmt is OutputFormat.csv:
        return "" if status == "unknown" else "unsupported"
    return UNKNOWN_MARK if status == "unknown" else UNSUPPORTED_MARK


def summary_row(chip: Chip, fmt: OutputFormat) -> dict[str, Cell]:
    row: dict[str, Cell] = {
        "id": chip.id,
        "vendor": chip.vendor,
        "year": chip.year,
        "fp16": peak_cell(chip, "fp16", fmt),
        "bf16": peak_cell(chip, "bf16", fmt),
        "fp8": peak_cell(chip, "fp8", fmt),
        "memory_gb": chip.memory_gb,
        "memory_bandwidth_gb_s": chip.memory_bandwidth_gb_s,
        "intra_node_gb_s": chip.intra_node.bandwidth_gb_s,
        "tdp_w": chip.tdp_w,
        "us_licence_for_china": chip.export_control.us_licence_for_china,
        "confidence": chip.confidence,
        "usd_per_gpu_hour": price_cell(chip),
        "server_w_per_chip": server_watts(chip),
    }
    if fmt is OutputFormat.csv:
        return row
    return {k: UNKNOWN_MARK if v is None else v for k, v in row.items()}


def chip_json(chip: Chip) -> dict[str, Any]:
    """The full record as JSON, plus ``dtype_status`` so 'unknown' and 'not supported' stay apart."""
    data = chip.model_dump(mode="json")
    data["dtype_status"] = {d: chip.dtype_status(d) for d in DTYPES}
    return data


@app.callback()
@handles_errors
def list_chips(
    ctx: typer.Context,
    vendor: Annotated[
        str | None, typer.Option(help="Only this vendor (case-insensitive), e.g. nvidia, huawei.")
    ] = None,
    domestic: Annotated[
        bool, typer.Option("--domestic", help="Only chips designed in mainland China.")
    ] = False,
    min_memory_gb: Annotated[
        float | None, typer.Option(help="Only chips with at least this much memory (GB).")
    ] = None,
    supports: Annotated[
        str | None,
        typer.Option(help="Only chips with a known dense peak for this dtype: fp32 tf32 bf16 fp16 fp8 int8."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List accelerators with dense peaks, memory, bandwidth, power and export status.

    Examples:

    \b
      capacity chips
      capacity chips --domestic --format markdown
      capacity chips --vendor nvidia --min-memory-gb 80 --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    dtype = _dtype(supports)
    if min_memory_gb is not None and not 0 <= min_memory_gb < math.inf:  # nan too (it matched nothing)
        raise InputError(f"--min-memory-gb: must be a number >= 0, got {min_memory_gb:g}")
    chips = [
        c
        for c in load_chips()
        if (vendor is None or c.vendor.casefold() == vendor.casefold())
        and (not domestic or c.domestic_china)
        and (min_memory_gb is None or (c.memory_gb or 0) >= min_memory_gb)
        and (dtype is None or c.dense_peak(dtype) is not None)
    ]
    if not chips and vendor is not None:
        vendors = sorted({c.vendor for c in load_chips()})
        if vendor.casefold() not in {v.casefold() for v in vendors}:
            raise InputError(f"--vendor: no vendor {vendor!r}; known: {', '.join(vendors)}")
    emit_rows(
        [summary_row(c, fmt) for c in chips],
        fmt,
        title=f"{len(chips)} accelerators",
        caption=LEGEND,
        json_data=[chip_json(c) for c in chips],
        headers=BUYER_HEADERS if fmt is OutputFormat.markdown else LIST_HEADERS,
    )


def _dtype(name: str | None) -> Dtype | None:
    for dtype in DTYPES:
        if name == dtype:
            return dtype
    if name is None:
        return None
    raise InputError(f"--supports: unknown dtype {name!r}; use one of {', '.join(DTYPES)}")


@app.command("show")
@handles_errors
def show_chip(
    name: Annotated[str, typer.Argument(help="Chip id or alias, e.g. h100, 昇腾910B, a100-sxm4-40gb.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show every field of one accelerator with the sources behind it.

    Examples:

    \b
      capacity chips show h100
      capacity chips show 昇腾910B --format json
    """
    chip = load_chips().get(name)
    if fmt is OutputFormat.json:
        emit_json(chip_json(chip))
        return
    rows = [_field_row(chip, field, value, fmt) for field, value in _flat_fields(chip)]
    emit_rows(rows, fmt, title=f"{chip.name} ({chip.id})", caption=LEGEND)
    if fmt is not OutputFormat.csv:
        emit_sources(chip.sources, fmt)


def _flat_fields(chip: Chip) -> list[tuple[str, Any]]:
    """(field, value) pairs for display, nested records flattened with dots; sources are listed apart."""
    out: list[tuple[str, Any]] = []
    for field, value in chip.model_dump(mode="json", exclude={"sources"}).items():
        if isinstance(value, dict) and field != "conflicts":
            out += [(f"{field}.{k}", v) for k, v in value.items() if v is not None]
        elif field == "conflicts":
            out += [(f"conflicts.{k}", v) for k, v in value.items()]
        elif field == "cloud_prices":
            out += [
                (
                    f"cloud_prices.{i}",
                    f"{p['usd_per_gpu_hour']} USD/GPU-h, {p['provider']}, {p['date']} ({p['source']})",
                )
                for i, p in enumerate(value)
            ]
        elif isinstance(value, list):
            out.append((field, ", ".join(map(str, value)) or "(none)"))
        else:
            out.append((field, value))
    return out


def _field_row(chip: Chip, field: str, value: Any, fmt: OutputFormat) -> dict[str, Cell]:
    top = field.split(".")[0]
    if top.endswith(("_tflops", "_tops")) and value is None:
        dtype = top.split("_")[0]
        value = peak_cell(chip, dtype, fmt) if dtype in DTYPES else value
    elif value is None:
        value = UNKNOWN_MARK if fmt is not OutputFormat.csv else ""
    if top in {"launch_price", "cloud_prices"}:
        cited = "own source"
    elif top in {"id", "name", "aliases", "conflicts", "notes", "confidence"}:
        cited = ""
    else:
        cited = ",".join(map(str, chip.sources_for(top)))
    return {
        "field": field,
        "value": value if isinstance(value, int | float | str) else str(value),
        "sources": cited,
    }
