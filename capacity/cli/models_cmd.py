"""``capacity models``: browse the model presets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from capacity.cli.errors import handles_errors
from capacity.cli.output import Cell, FormatOption, OutputFormat, emit_json, emit_rows, emit_sources
from capacity.core.errors import InputError
from capacity.data.catalog import load_image_models, load_models
from capacity.data.model_source import image_model_of, resolve_model
from capacity.formulas.params import active_params, total_params
from capacity.records.model_spec import ModelPreset

if TYPE_CHECKING:
    from capacity.records.image_model import ImageModelPreset

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


def image_json(m: ImageModelPreset) -> dict[str, Any]:
    """The full image preset, plus the denoiser's parameters and FLOPs counted from its architecture."""
    from capacity.formulas.diffusion import denoiser_tally, image_flops

    data = m.model_dump(mode="json")
    parts = image_flops(m, m.resolution)
    data["computed_denoiser_params"] = denoiser_tally(m, m.resolution).params
    data["flops_per_step_at_native_resolution"] = m.guidance_passes * parts.denoiser_step
    data["flops_per_image_at_defaults"] = parts.inference(m.steps, m.guidance_passes)
    return data


def _image_row(m: ImageModelPreset) -> dict[str, Cell]:
    data = image_json(m)
    return {
        "id": m.id,
        "organisation": m.organisation,
        "year": m.year,
        "denoiser": m.denoiser.type,
        "denoiser_params_b": round(m.denoiser.params / 1e9, 3),
        "computed_b": round(data["computed_denoiser_params"] / 1e9, 3),
        "total_params_b": round(m.params / 1e9, 2),
        "resolution": m.resolution,
        "steps": m.steps,
        "passes": m.guidance_passes,
        "tflops_per_image": round(data["flops_per_image_at_defaults"] / 1e12, 1),
    }


@app.callback()
@handles_errors
def list_models(
    ctx: typer.Context,
    family: Annotated[str | None, typer.Option(help="Only this family, e.g. llama2, gpt3.")] = None,
    kind: Annotated[str, typer.Option(help="language (LLMs) or image (diffusion models).")] = "language",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List model presets with their stated and computed parameter counts.

    Examples:

    \b
      capacity models
      capacity models --family gpt3 --format csv
      capacity models --kind image
    """
    if ctx.invoked_subcommand is not None:
        return
    if kind not in ("language", "image"):
        raise InputError(f"--kind: {kind!r} is not one of language, image")
    if kind == "image":
        if family is not None:
            raise InputError("--family is for language models")
        images = list(load_image_models())
        emit_rows(
            [_image_row(m) for m in images],
            fmt,
            title=f"{len(images)} image-model presets",
            caption="computed_b: the denoiser counted from its architecture; tflops_per_image: at the "
            "default resolution and steps (capacity/formulas/diffusion.py).",
            json_data=[image_json(m) for m in images],
        )
        return
    models = [m for m in load_models() if family is None or m.family.casefold() == family.casefold()]
    emit_rows(
        [_row(m) for m in models],
        fmt,
        title=f"{len(models)} model presets",
        caption="params_b: as stated by the authors; computed_params_b: from the architecture. "
        "Image models: capacity models --kind image.",
        json_data=[model_json(m) for m in models],
    )


def _item(value: Any) -> str:
    """A list entry as text: a record (an image model's text encoder) as its fields."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
    return str(value)


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
    image = image_model_of(name)
    m: ModelPreset | ImageModelPreset = image if image is not None else resolve_model(name)
    data = model_json(m) if isinstance(m, ModelPreset) else image_json(m)
    if fmt is OutputFormat.json:
        emit_json(data)
        return
    rows: list[dict[str, Cell]] = []
    for field, value in data.items():
        if field == "sources":
            continue
        if isinstance(value, dict):
            rows += [{"field": f"{field}.{k}", "value": v} for k, v in value.items() if v is not None]
        elif isinstance(value, list):
            rows.append({"field": field, "value": "; ".join(_item(v) for v in value)})
        elif value is not None:
            rows.append({"field": field, "value": value})
    emit_rows(rows, fmt, title=f"{m.name} ({m.id})")
    if fmt is not OutputFormat.csv:
        emit_sources(m.sources, fmt)
