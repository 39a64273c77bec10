"""``capacity train``: a training what-if, from FLOPs to days, chips, money and megawatt-hours."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer

from capacity.core.errors import InputError
from capacity.core.units import MEMORY_BYTES_PER_GB
from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_runs
from capacity.data.efficiency import implied_mfu
from capacity.estimate.train import TrainEstimate, TrainRequest, estimate_training
from capacity.records.chip import Chip, Dtype

from .errors import ExitCode, handles_errors
from .image_cmds import image_model_of, train_image
from .options import CHIP, ECONOMICS, IMAGE_TRAIN, MODEL, TRAIN, training_request_of, with_options
from .output import Cell, FormatOption, OutputFormat, emit_estimate, emit_explanation, emit_json, emit_rows

GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("compute", [("training_flops", "FLOPs"), ("flops_convention", ""), ("pf_days", "PF-days"),
                 ("hardware_flops", "FLOPs incl. recompute"), ("active_params", "params per token")]),
    ("time", [("cluster", ""), ("chip", ""), ("precision", ""), ("gpus", ""),
              ("gpus_used", "of them with work"), ("layout", "parallel layout"),
              ("aggregate_peak_pflops", "PFLOPS dense peak"),
              ("mfu", "model FLOPs utilisation"), ("hfu", "hardware FLOPs utilisation"),
              ("steady_state_mfu", "MFU at steady state"), ("goodput", "share of wall time making progress"),
              ("tokens_per_s_per_gpu", "steady state"), ("step_time_s", "seconds per step"),
              ("wall_clock_days", "days"), ("gpu_hours", "GPU-hours"), ("gpu_days", "GPU-days"),
              ("data_centre_days_at_peak", "data-centre days at nameplate")]),
    ("memory", [("model_state_gb", "GB weights+grads+Adam"), ("activation_gb", "GB per sequence"),
                ("min_gpus_for_memory", "chips to hold it"), ("memory_fits", "")]),
    ("money", [("gpu_hour_usd", "USD per GPU-hour"), ("capex_usd", "USD hardware"), ("cost_usd", "USD"),
               ("cost", "")]),
    ("procurement", [("capex_given_usd", "USD stated"), ("it_capex_share", "of it IT"),
                     ("implied_usd_per_gpu", "USD per chip, IT share"),
                     ("capex_usd_per_pflops", "USD per dense PFLOPS"),
                     ("it_capex_usd_per_pflops", "IT USD per dense PFLOPS"),
                     ("reference_capex_usd_per_pflops", "catalogue price x server, network"),
                     ("capex_vs_reference", "IT per PFLOPS / reference")]),
    ("energy", [("facility_power_mw", "MW average"), ("energy_mwh", "MWh"), ("co2e_t", "tCO2e"), ("pue", ""),
                ("grid_kgco2e_per_kwh", "kgCO2e/kWh")]),
    ("range", [("wall_clock_days_p10", "days"), ("wall_clock_days_p50", "days"),
               ("wall_clock_days_p90", "days"), ("gpu_hours_p10", "GPU-hours"),
               ("gpu_hours_p50", "GPU-hours"), ("gpu_hours_p90", "GPU-hours"),
               ("cost_usd_p10", "USD"), ("cost_usd_p50", "USD"), ("cost_usd_p90", "USD"),
               ("energy_mwh_p10", "MWh"), ("energy_mwh_p50", "MWh"), ("energy_mwh_p90", "MWh")]),
]  # fmt: skip


def published_on_chip(chip: Chip | None) -> list[tuple[str, float, Dtype]]:
    """(run id, implied MFU, precision) of published runs on this chip, for context."""
    if chip is None:
        return []
    out = []
    for run in load_runs():
        if run.chip == chip.id and run.accelerator_hours and run.tokens and run.comparable:
            out.append((run.id, implied_mfu(run, chip), run.precision))
    return out


def render(est: TrainEstimate, fmt: OutputFormat) -> None:
    """Print one estimate: grouped table, JSON object, one-row CSV, or markdown."""
    data = est.model_dump(mode="json")
    if fmt not in (OutputFormat.json, OutputFormat.csv) and est.parallel is not None:
        data["layout"] = est.parallel.describe()  # the grid and sharding; micro-batches are in --explain
    emit_estimate(data, GROUPS, fmt, "Training estimate", converted="cost")
    if fmt in (OutputFormat.json, OutputFormat.csv):
        return
    if est.layouts:
        rows: list[dict[str, Cell]] = [
            {
                "layout": o.parallel.describe(),
                "s/step": round(o.step_time_s, 2),
                "GB/GPU": round(o.memory_per_gpu_gb, 1),
                "fits": o.fits,
                "limited by": o.limiting_term,
            }
            for o in est.layouts
        ]
        emit_rows(rows, fmt, title="Best layouts: step time, memory per GPU and the term that limits each")
    if est.published_runs_on_chip:
        emit_rows(
            [r.model_dump() for r in est.published_runs_on_chip],
            fmt,
            title=f"Published runs on {est.chip}, for comparison",
        )


@handles_errors
@with_options(MODEL, CHIP, TRAIN, IMAGE_TRAIN, ECONOMICS)
def train(
    layouts: Annotated[
        int, typer.Option(help="List the N best layouts with step time, memory and limiting term.")
    ] = 1,
    uncertainty: Annotated[
        bool, typer.Option("--uncertainty", help="Add P10/P50/P90 for days, GPU-hours, cost and energy.")
    ] = False,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show each factor of the chain, its source and how much it moves."),
    ] = False,
    fmt: FormatOption = OutputFormat.table,
    *,
    opts: dict[str, Any],
) -> None:
    """Estimate a training run: FLOPs, PF-days, GPUs, days, memory floor, cost, energy, power and CO2e.

    Examples:

    \b
      capacity train --model gpt3-175b --tokens 300B --chip v100 --gpus 10000
      capacity train --params 70B --tokens 2T --chip h800 --days 30
      capacity train --model gpt3-175b --tokens 300B --capacity-pflops 500
      capacity train --model llama2-70b --tokens 2T --chip 910B --gpus 2048 --currency CNY --format json
      capacity train --model sd-1.5 --images 2.3B --resolution 512 --chip a100 --gpus 256
    """
    image = image_model_of(opts)
    if image is not None:
        if layouts != 1 or uncertainty:
            raise InputError("--layouts and --uncertainty are for language models")
        train_image(image, opts, fmt, explain)
        return
    request = training_request_of(opts, layouts=layouts, uncertainty=uncertainty)
    est = estimate_training(request, load_assumptions(), load_efficiency(), published_on_chip(request.chip))
    for warning in est.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if not explain:
        render(est, fmt)
        _check_pinned_memory(request, est)
        return
    from capacity.data.uncertainty import load_spreads
    from capacity.estimate.explain import explain_training

    factors = explain_training(request, est, load_assumptions(), load_efficiency(), load_spreads())
    if fmt is OutputFormat.json:
        emit_json({**est.model_dump(mode="json"), "explanation": [f.model_dump() for f in factors]})
    else:
        render(est, fmt)
        emit_explanation([f.model_dump() for f in factors], fmt)
    _check_pinned_memory(request, est)  # a plan that does not fit exits 1 here too


def _check_pinned_memory(request: TrainRequest, est: TrainEstimate) -> None:
    """A layout the user pinned that does not fit in memory: exit 1 with the per-GPU breakdown, the usable
    memory it was held against, and only the remedies the pins leave open."""
    pins = request.parallel
    if est.memory_fits is not False:
        return
    parts = est.memory_per_gpu_gb
    if not pins.pinned() or not parts:
        _refuse_unfit(est)
    chip = request.chip
    usable = ""
    if chip is not None and chip.memory_gb:
        fraction = load_assumptions().memory_usable_fraction.value
        usable = (
            f" of {chip.memory_gb * MEMORY_BYTES_PER_GB * fraction / 1e9:.1f} GB usable "
            f"({fraction:.0%} of {chip.memory_gb:g} GiB)"
        )
    detail = ", ".join(f"{k} {v:.1f}" for k, v in parts.items() if k != "total")
    remedies = ["pin fewer fields"]
    remedies += [f"raise --{k}" for k in ("pp", "tp") if getattr(pins, k) is None]
    remedies += ["--sharding zero3"] if pins.sharding != "zero3" else []
    already_full = request.recompute_pin == "full" or est.recompute == "full"
    remedies += [] if already_full else ["--recompute full"]
    pinned = ", ".join(f"{k} {getattr(pins, k)}" for k in pins.pinned())
    fixes = " or ".join(filter(None, (", ".join(remedies[:-1]), remedies[-1])))
    sys.stderr.write(
        f"error: the layout with your pins ({pinned}: {est.layout}) needs {parts['total']:.1f} GB per GPU"
        f"{usable}: {detail} GB; {fixes}\n"
    )
    raise typer.Exit(ExitCode.LIMIT_VIOLATED)


def _refuse_unfit(est: TrainEstimate) -> NoReturn:
    """No layout of the requested chips holds the job: exit 1, saying how much one GPU would need and the
    fewest chips the memory floor allows (a floor: the layout search may need more)."""
    parts = est.memory_per_gpu_gb or {}
    detail = ", ".join(f"{k} {v:.1f}" for k, v in parts.items() if k != "total")
    need = f" needs {parts['total']:.1f} GB per GPU ({detail} GB)" if parts else ""
    chips = f"{est.gpus:,} x {est.chip}" if est.gpus is not None else f"{est.chip}"
    if est.gpus is None and est.gpus_used is not None:  # --capacity-pflops: the data centre's peak in chips
        chips = f"the --capacity-pflops data centre ({est.gpus_used:,} x {est.chip})"
    sys.stderr.write(
        f"error: {chips} cannot hold the job"
        + (f": the closest layout ({est.layout}){need}; " if est.layout else "; ")
        + f"use at least {est.min_gpus_for_memory:,} chips, or a chip with more memory\n"
    )
    raise typer.Exit(ExitCode.LIMIT_VIOLATED)


def _explain_command() -> Callable[..., None]:
    """``capacity explain``: ``capacity train`` with ``--explain`` always on, taking the same options."""
    signature = inspect.signature(train, eval_str=True)

    @functools.wraps(train)
    def explain(**kwargs: Any) -> None:
        train(**kwargs, explain=True)

    explain.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name != "explain"]
    )
    explain.__doc__ = (
        "Explain one training estimate: each factor of the chain, its value, its source and how much it "
        "moves the answer (the same options as `capacity train`).\n\n"
        "Examples:\n\n\b\n  capacity explain --params 175B --tokens 300B --chip a100 --gpus 1024\n"
        "  capacity explain --model llama2-70b --tokens 2T --chip h800 --days 30 -f json"
    )
    return explain


explain = _explain_command()
