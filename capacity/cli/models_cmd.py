"""``capacity models``: browse the model presets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from capacity.cli.errors import handles_errors
from capacity.cli.output import Cell, FormatOption, OutputFormat, emit_json, emit_rows, emit_sources
from capacity.data.catalog import load_models
from capacity.formulas.params import active_params, total_params
from capacity.records.model_spec import ModelPreset

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)


def model_json(m: ModelPreset) -> dict[str, Any]:
    """The full preset, plus the parameter counts computed from its architecture."""
    data = m.model_dump(mode="json")
    data["computed_params"] = total_params(m)
    data["computed_active_params"] = active_params(m)
    return data


def _row(m: ModelPreset) -> dict[str, Cell]:
    return {
        "id": m.id,
        "organisation": m.organisation,
        "year": m.year,
        "params_b": round(m.params / 1e9, 2),
        "active_params_b": None if m.active_params is None else round(m.active_params / 1e9, 2),
        "computed_params_b": round(total_params(m) / 1e9, 2),
        "layers": m.layers,
        "hidden_size": m.hidden_size,
        "heads": m.heads,
        "kv_heads": m.kv_heads,
        "ffn_size": m.ffn_size if m.moe is None else m.moe.expert_ffn_size,
        "moe": None if m.moe is None else f"{m.moe.experts}x top-{m.moe.top_k}",
        "vocab_size": m.vocab_size,
        "context_length": m.context_length,
    }


@app.callback()
@handles_errors
def list_models(
    ctx: typer.Context,
    family: Annotated[str | None, typer.Option(help="Only this family, e.g. llama2, gpt3.")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List model presets with their stated and computed parameter counts.

    Examples:

    \b
      capacity models
      capacity models --family gpt3 --format csv
    """
    if ctx.invoked_subcommand is not None:
        return
    models = [m for m in load_models() if family is None or m.family.casefold() == family.casefold()]
    emit_rows(
        [_row(m) for m in models],
        fmt,
        title=f"{len(models)} model presets",
        caption="params_b: as stated by the authors; computed_params_b: from the architecture.",
        json_data=[model_json(m) for m in models],
    )


@app.command("show")
@handles_errors
def show_model(
    name: Annotated[str, typer.Argument(help="Preset id or alias, e.g. gpt3-175b, llama2-70b.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one model preset: architecture, parameter counts and sources.

    Examples:

    \b
      capacity models show gpt3-175b
      capacity models show deepseek-v3 --format json
    """
    m = load_models().get(name)
    data = model_json(m)
    if fmt is OutputFormat.json:
        emit_json(data)
        return
    rows: list[dict[str, Cell]] = []
    for field, value in data.items():
        if field == "sources":
            continue
        if isinstance(value, dict):
            rows += [{"field": f"{field}.{k}", "value": v} for k, v in value.items() if v is not None]
        elif value is not None:
            rows.append({"field": field, "value": ", ".join(value) if isinstance(value, list) else value})
    emit_rows(rows, fmt, title=f"{m.name} ({m.id})")
    if fmt is not OutputFormat.csv:
        emit_sources(m.sources, fmt)
