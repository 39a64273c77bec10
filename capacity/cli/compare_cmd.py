"""``capacity compare``: one train or serve workload on several chips, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from capacity.core.errors import InputError

from .charts import png_path
from .errors import handles_errors
from .image_cmds import image_model_of, image_serving_kwargs, image_training_kwargs
from .inputs import build, choice
from .options import (
    ECONOMICS,
    IMAGE_COMPARE,
    MODEL,
    SERVE,
    TRAIN,
    serving_kwargs,
    training_kwargs,
    with_options,
)
from .output import Cell, FormatOption, OutputFormat, emit_json, emit_rows

if TYPE_CHECKING:
    from capacity.plans.compare import ComparisonRow
    from capacity.records.chip import Chip
    from capacity.records.image_model import ImageModelPreset

COLUMNS = {
    "train": [
        "gpus", "wall_clock_days", "gpu_hours", "min_gpus_for_memory", "memory_fits", "gpu_hour_usd",
        "cost_usd", "energy_mwh", "facility_power_mw",
    ],
    "serve": [
        "gpus_per_replica", "batch_size", "ttft_ms", "tpot_ms", "output_tokens_per_s_per_replica", "replicas",
        "gpus", "gpu_hour_usd", "cost_usd_per_million_output_tokens", "facility_power_mw",
    ],
    "image-train": [
        "gpus", "mfu", "images_per_s_per_gpu", "wall_clock_days", "gpu_hours", "memory_fits", "gpu_hour_usd",
        "cost_usd", "energy_mwh", "facility_power_mw",
    ],
    "image-serve": [
        "precision", "seconds_per_image", "images_per_s_per_gpu", "gpus", "memory_fits", "gpu_hour_usd",
        "cost_usd_per_image", "energy_wh_per_image", "facility_power_mw",
    ],
}  # fmt: skip
HIGHER_IS_BETTER = {
    "tokens_per_usd", "tokens_per_kwh", "images_per_usd", "images_per_kwh", "output_tokens_per_s_per_replica",
    "batch_size", "images_per_s_per_gpu",
}  # fmt: skip
BAR_WIDTH = 16


def _chips(chips: str | None, vendor: str | None, domestic: bool, every: bool) -> list[Chip]:
    from capacity.data.catalog import load_chips

    catalogue = load_chips()
    chosen = [flag for flag, on in (("--chips", chips is not None), ("--vendor", vendor is not None),
                                    ("--domestic", domestic), ("--all", every)) if on]  # fmt: skip
    if len(chosen) > 1 and not (set(chosen) == {"--vendor", "--domestic"}):
        raise InputError(f"{' and '.join(chosen)}: choose the chips one way")
    if chips is not None:
        names = [name.strip() for name in chips.split(",") if name.strip()]
        if not names:
            raise InputError(f"--chips {chips!r}: no chip ids; give e.g. --chips h100,h20,910b")
        return [catalogue.get(name) for name in names]
    if not (vendor or domestic or every):
        raise InputError("choose chips: --chips a,b,c, --vendor NAME, --domestic or --all")
    picked = [
        c
        for c in catalogue
        if (vendor is None or c.vendor.casefold() == vendor.casefold()) and (not domestic or c.domestic_china)
    ]
    if not picked:
        raise InputError(f"--vendor: no chips from {vendor!r}")
    return picked


def _rows(compared: list[ComparisonRow], sort_field: str, fmt: OutputFormat) -> list[dict[str, Cell]]:
    kind = compared[0].kind
    top = max((r.result.get(sort_field) or 0 for r in compared), default=0) or 1
    rows: list[dict[str, Cell]] = []
    for r in compared:
        row: dict[str, Cell] = {"chip": r.chip}
        row.update({k: r.result.get(k) for k in COLUMNS[kind]})
        unit = "images" if kind.startswith("image") else "tokens"
        row[f"{unit}_per_usd"] = r.tokens_per_usd
        row[f"{unit}_per_kwh"] = r.tokens_per_kwh
        row["us_licence_for_china"] = r.us_licence_for_china
        if fmt is not OutputFormat.csv:
            value = r.result.get(sort_field)
            row["bar"] = "█" * max(1, round(BAR_WIDTH * value / top)) if value else ""
        row["note"] = "; ".join(x for x in (r.error, r.note) if x) or None
        rows.append(row)
    return rows


@handles_errors
@with_options(MODEL, TRAIN, SERVE, IMAGE_COMPARE, ECONOMICS)
def compare(
    chips: Annotated[str | None, typer.Option(help="Comma-separated chip ids or aliases.")] = None,
    vendor: Annotated[str | None, typer.Option(help="Every chip of this vendor.")] = None,
    domestic: Annotated[
        bool, typer.Option("--domestic", help="Every chip designed in mainland China.")
    ] = False,
    every: Annotated[bool, typer.Option("--all", help="Every chip in the catalogue.")] = False,
    scenario: Annotated[Path | None, typer.Option(help="Take the workload from a scenario file.")] = None,
    sort: Annotated[str, typer.Option(help="Order by cost, time, energy or gpus.")] = "cost",
    plot: Annotated[Path | None, typer.Option(help="Also draw the comparison as a PNG chart.")] = None,
    optimize: Annotated[
        str | None, typer.Option(help="Serving, gpus: each chip in its own fewest-GPU layout and mode.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    *,
    opts: dict[str, Any],
) -> None:
    """Compare chip options side by side for one training or serving workload.

    Every workload flag of `capacity train` and `capacity serve` applies to each chip.

    Training when --tokens is given, serving when --input-tokens/--output-tokens are, or from --scenario.
    Best value in each column highlighted; a bar column shows the ranking.

    Examples:

    \b
      capacity compare --chips a100,h800,h20,910B,mlu370 --model glm-130b --tokens 400B \\
        --days 60 --precision fp16
      capacity compare --domestic --model llama3.1-70b --input-tokens 2000 --output-tokens 500 \\
        --precision fp16
      capacity compare --all --scenario specs/scenarios/ci-plan-with-limits.yaml --sort time
    """
    from capacity.plans.compare import SORT_FIELDS, best_index, is_money
    from capacity.plans.compare import compare as run_compare

    if plot is not None:
        png_path(plot)  # before any work
    sort_key = choice(sort, ("cost", "time", "energy", "gpus"), "--sort")
    picked = _chips(chips, vendor, domestic, every)
    if optimize not in (None, "gpus"):
        raise InputError(
            f"--optimize {optimize}: only 'gpus' (the fewest GPUs meeting the load) is supported"
        )
    kind, estimate = _workload(scenario, opts, optimize)
    if optimize and kind != "serve":
        raise InputError("--optimize gpus applies to serving workloads (--input-tokens/--output-tokens)")
    compared = run_compare(picked, kind, estimate, sort_key)
    field = SORT_FIELDS[kind][sort_key]
    if fmt is OutputFormat.json:
        emit_json([_json_row(r) for r in compared])
    else:
        rows = _rows(compared, field, fmt)
        skip = ("chip", "memory_fits", "min_gpus_for_memory", "gpus_per_replica")
        assumed = {i for i, r in enumerate(compared) if r.price_assumed}
        best = {}
        for c in rows[0]:
            # a placeholder price is never the best value of a money column
            i = best_index(rows, c, c in HIGHER_IS_BETTER, assumed if is_money(c) else ())
            if i is not None and c not in skip:
                best[c] = i
        unit = (
            "images (trained or generated)"
            if kind.startswith("image")
            else "training tokens (serving: output)"
        )
        caption = (
            f"Best value in each column in bold. _per_usd and _per_kwh: {unit} per dollar and per kWh. By "
            "cost, rows whose price is assumed (a placeholder, see note) come after those with a dated price."
        )
        emit_rows(
            rows, fmt, title=f"{kind} on {len(rows)} chips, by {field}", highlight=best, caption=caption
        )
    if plot is not None:
        from .charts import plot_comparison

        plot_comparison(compared, plot)


def _json_row(r: ComparisonRow) -> dict[str, Any]:
    unit = "images" if r.kind.startswith("image") else "tokens"
    extra = {f"{unit}_per_usd": r.tokens_per_usd, f"{unit}_per_kwh": r.tokens_per_kwh}
    return {
        "chip": r.chip,
        **r.result,
        **extra,
        "us_licence_for_china": r.us_licence_for_china,
        "error": r.error,
        "note": r.note,
    }


def _flags(keys: list[str]) -> str:
    return ", ".join("--" + k.replace("_", "-") for k in keys)


def _one_workload(opts: dict[str, Any]) -> None:
    """Training and serving flags together: say which would be ignored instead of ignoring them."""
    train = [o.name for o in TRAIN if o.default is None and opts[o.name] is not None]
    serve = [o.name for o in SERVE if o.default is None and opts[o.name] is not None]
    if train and serve:
        raise InputError(
            f"compare one workload at a time: training flags ({_flags(train)}) and serving flags "
            f"({_flags(serve)}) were both given"
        )


TRAINING_ONLY = ("gpus", "days", "mfu", "cluster")  # image flags that mean nothing to the other workload
SERVING_ONLY = ("steps", "images_per_day", "max_batch", "stack_efficiency", "peak_to_average")


def _image_workload(image: ImageModelPreset, opts: dict[str, Any], optimize: str | None) -> tuple[Any, Any]:
    """An image model's training (with --images) or serving workload on each chip."""
    from capacity.data.assumptions import load_assumptions, load_serving_defaults
    from capacity.data.diffusion_data import load_diffusion_defaults
    from capacity.estimate.image_serve import estimate_image_serving
    from capacity.estimate.image_train import estimate_image_training
    from capacity.estimate.requests import image_serving_request, image_training_request

    if optimize:
        raise InputError("--optimize is for language-model serving")
    unused = SERVING_ONLY if opts["images"] is not None else TRAINING_ONLY
    given = [k for k in unused if opts.get(k) is not None]
    if given:
        what = "training (--images)" if opts["images"] is not None else "serving (no --images)"
        raise InputError(f"--{given[0].replace('_', '-')} does not apply to image {what}")
    if opts["images"] is not None:
        if opts["gpus"] is None and opts["days"] is None:
            raise InputError("training comparison: give --gpus N or --days T")
        kw = image_training_kwargs(image, opts)

        def train_one(chip: Chip) -> dict[str, Any]:
            req = build(image_training_request, **{**kw, "chip": chip})
            return estimate_image_training(req, load_assumptions(), load_diffusion_defaults()).model_dump(
                mode="json"
            )

        return "image-train", train_one
    skw = image_serving_kwargs(image, opts)

    def serve_one(chip: Chip) -> dict[str, Any]:
        req = build(image_serving_request, **{**skw, "chip": chip})
        args = (req, load_assumptions(), load_diffusion_defaults(), load_serving_defaults())
        return estimate_image_serving(*args).model_dump(mode="json")

    return "image-serve", serve_one


def _workload(scenario: Path | None, opts: dict[str, Any], optimize: str | None = None) -> tuple[Any, Any]:
    """(kind, chip -> estimate dict) from the scenario file or the flags."""
    from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults
    from capacity.estimate.requests import serving_request, training_request

    if scenario is not None:
        from capacity.plans.scenario import load_scenarios
        from capacity.plans.scenario_run import evaluate_one

        sc = load_scenarios(scenario)[0]

        def from_scenario(chip: Chip) -> dict[str, Any]:
            hardware = sc.hardware.model_copy(update={"chip": chip.id})
            return evaluate_one(sc.model_copy(update={"hardware": hardware, "sweep": {}}), scenario.parent)

        return (f"image-{sc.kind}" if sc.is_image else sc.kind), from_scenario
    image = image_model_of(opts)
    if image is not None:
        return _image_workload(image, opts, optimize)
    _one_workload(opts)
    if opts["tokens"] is not None:
        from capacity.estimate.train import estimate_training

        if opts["gpus"] is None and opts["days"] is None:
            raise InputError("training comparison: give --gpus N or --days T")
        train_kw = training_kwargs(opts)  # every flag checked once, not once per chip

        def train_one(chip: Chip) -> dict[str, Any]:
            req = build(training_request, **{**train_kw, "chip": chip})
            return estimate_training(req, load_assumptions(), load_efficiency()).model_dump(mode="json")

        return "train", train_one
    if opts["input_tokens"] is not None and opts["output_tokens"] is not None:
        from capacity.estimate.serve import estimate_serving

        serve_kw = serving_kwargs(opts, chip_elsewhere=True)

        def serve_one(chip: Chip) -> dict[str, Any]:
            req = build(serving_request, **{**serve_kw, "chip": chip})
            args = (req, load_assumptions(), load_efficiency(), load_serving_defaults())
            if optimize == "gpus":
                from capacity.plans.serving_search import fewest_gpus

                return fewest_gpus(*args).best.model_dump(mode="json")
            return estimate_serving(*args).model_dump(mode="json")

        return "serve", serve_one
    raise InputError(
        "give a workload: --tokens (training), --input-tokens and --output-tokens (serving), "
        "or --scenario FILE"
    )
