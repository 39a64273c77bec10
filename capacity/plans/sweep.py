"""Vectorised training sweeps: chips × GPU counts × token counts as numpy arrays, no Python loop per point.

The same chain as :func:`capacity.estimate.train.estimate_training` (6·N·D convention, cloud pricing), with
the per-chip inputs — dense peak, TDP, price, memory floor — computed once per chip and broadcast over the
grid. The modelled MFU and the layout search's memory fit are computed once per chip and GPU count at a
few token counts (see :func:`_modelled`). A scenario
is vectorisable when it trains, uses the 6nd convention and cloud pricing, gives a GPU count (not a
deadline or a data-centre capacity) and sweeps only ``hardware.chip``, ``hardware.gpus`` and ``tokens``;
other sweeps are evaluated point by point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from capacity.core.counts import parse_count
from capacity.core.errors import InputError
from capacity.core.parallel import ordered_map
from capacity.core.units import SECONDS_PER_DAY, TERA
from capacity.data.assumptions import Assumptions, Efficiency
from capacity.data.calibration import Calibration
from capacity.data.catalog import load_chips
from capacity.data.efficiency import peak_tflops
from capacity.data.model_source import InlineModel, resolve_model
from capacity.data.provenance import Provenance
from capacity.estimate.train_step import modelled_step, training_seq_len
from capacity.formulas import memory, shape
from capacity.plans.scenario import Limits, Scenario
from capacity.plans.scenario_run import scenario_calibration, sweep_points, train_request
from capacity.records.chip import Chip
from capacity.records.choices import sixteen_bit

SWEEPABLE = {"hardware.chip", "hardware.gpus", "tokens"}
TOKEN_ANCHORS = 3  # token counts per (chip, GPU count) at which the step-time model is evaluated
Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrainGrid:
    """Flat arrays, one entry per point, in chip-major order; ``chip`` holds indices into ``chip_ids``."""

    chip_ids: list[str]
    notes: list[str | None]  # per chip: why it could not run, or None
    chip: npt.NDArray[np.int64]
    gpus: Array
    tokens: Array
    columns: dict[str, Array]
    fits: npt.NDArray[np.bool_]  # per point: the layout search fits the job in memory (as a single run's)


PER_POINT_UP_TO = 500  # sweeps this small run the estimator point by point: a single run's schema per row


def use_grid(sc: Scenario) -> bool:
    """Whether ``capacity run`` evaluates this sweep as numpy arrays (flat rows of the money, time and
    energy columns) rather than point by point with the full estimate per row: only when it is
    :func:`vectorisable` and has more than :data:`PER_POINT_UP_TO` points."""
    return vectorisable(sc) and sweep_points(sc) > PER_POINT_UP_TO


def vectorisable(sc: Scenario) -> bool:
    hw = sc.hardware
    return (
        sc.kind == "train"
        and not sc.is_image
        and hw.cluster is None
        and sc.procurement.capex_usd is None
        and bool(sc.sweep)
        and set(sc.sweep) <= SWEEPABLE
        and sc.efficiency.flops_convention == "6nd"
        and sc.economics.pricing == "cloud"
        and hw.deadline_days is None
        and hw.capacity_pflops is None
        and (hw.gpus is not None or "hardware.gpus" in sc.sweep)
        and sc.economics.currency == "USD"
    )


def _chip_constants(
    chip: Chip, sc: Scenario, n_total: float, act_bytes: float, a: Assumptions, eff: Efficiency,
    cal: Calibration | None,
) -> tuple[float, float, float, float, float]:  # fmt: skip
    """(peak FLOP/s, MFU if given, facility W per chip, USD per GPU-hour, min chips for memory); NaN where
    unknown or, for the MFU, modelled per point by :func:`_modelled`."""
    prov = Provenance(a)
    econ = sc.economics
    precision = sc.hardware.precision or sixteen_bit(chip)
    if precision in ("int8", "int4"):
        raise InputError(f"hardware.precision {precision}: integer training is not modelled")
    peak = peak_tflops(chip, precision) * TERA  # type: ignore[arg-type]
    mfu = sc.efficiency.mfu or np.nan
    per_chip = prov.chip_watts(chip, econ)
    watts = np.nan if per_chip is None else per_chip * prov.pick(econ.pue, "pue")
    price = prov.cloud_price(chip, econ.gpu_hour_usd)
    floor = np.nan
    if chip.memory_gb is not None:
        state = memory.least_state_bytes(n_total, prov.pick(None, "optimizer_bytes_per_param"))
        floor = memory.min_chips(state + act_bytes, chip.memory_gb, prov.pick(None, "memory_usable_fraction"))
    return peak, mfu, watts, price, float(floor)


def _modelled(
    sc: Scenario, chip: Chip, gpus: Array, tokens: Array, a: Assumptions, eff: Efficiency,
    cal: Calibration | None,
) -> tuple[Array, npt.NDArray[np.bool_]]:  # fmt: skip
    """MFU of the step-time model, and whether its layout search fits the job in memory, per (GPU count,
    token count) for one chip.

    The token count moves both only through the global batch (B ∝ C^0.33), so the model is evaluated at up
    to :data:`TOKEN_ANCHORS` token counts (every one when there are that few, else log-spaced from the
    smallest to the largest); the MFU is interpolated in log(tokens) between them (tests/test_sweep.py
    bounds the error against the per-point path) and a point fits where both anchors around it fit. The
    fit is the search's, as a single run's is, with or without a given MFU.
    """
    distinct = np.unique(tokens)
    anchors = (
        distinct if distinct.size <= TOKEN_ANCHORS else np.geomspace(distinct[0], distinct[-1], TOKEN_ANCHORS)
    )
    at = np.empty((gpus.size, anchors.size))
    fit = np.empty((gpus.size, anchors.size), dtype=bool)
    hardware = sc.hardware.model_copy(update={"chip": chip.id, "gpus": int(gpus[0])})
    point = sc.model_copy(update={"sweep": {}, "tokens": float(anchors[0]), "hardware": hardware})
    req = train_request(point, cal)
    for j, g in enumerate(gpus):
        for k, d in enumerate(anchors):
            at_point = req.model_copy(update={"gpus": int(g), "tokens": float(d)})
            step = modelled_step(at_point, a, eff, int(g))
            at[j, k], fit[j, k] = step.mfu, step.memory_fits
    log_anchors, log_tokens = np.log(anchors), np.log(tokens)
    mfu: Array = np.stack([np.interp(log_tokens, log_anchors, row) for row in at])
    below = np.clip(np.searchsorted(anchors, tokens, side="right") - 1, 0, anchors.size - 1)
    above = np.clip(np.searchsorted(anchors, tokens, side="left"), 0, anchors.size - 1)
    return mfu, fit[:, below] & fit[:, above]


def _number(value: Any) -> float:
    """A swept value as a number: counts written as text (``300B``) read as the command line reads them."""
    return parse_count(value, "sweep value") if isinstance(value, str) else float(value)


def train_grid(sc: Scenario, a: Assumptions, eff: Efficiency, base_dir: Path | None = None) -> TrainGrid:
    """Evaluate every point of a vectorisable training sweep at once."""
    cal = scenario_calibration(sc, base_dir)
    chip_names = [str(c) for c in sc.sweep.get("hardware.chip", [sc.hardware.chip])]
    chips = [load_chips().get(name) for name in chip_names]
    gpus = np.asarray(
        [_number(v) for v in sc.sweep.get("hardware.gpus", [sc.hardware.gpus])], dtype=np.float64
    )
    tokens = np.asarray([_number(v) for v in sc.sweep.get("tokens", [sc.tokens])], dtype=np.float64)
    if np.any(gpus < 1) or np.any(tokens <= 0) or not np.all(np.isfinite(tokens)):
        raise InputError(f"scenario {sc.name!r}: swept gpus must be >= 1 and tokens > 0")
    n_total, n_active, act_bytes = _model_sizes(sc)
    notes: list[str | None] = []
    consts = np.full((len(chips), 5), np.nan)
    for i, chip in enumerate(chips):
        try:
            consts[i] = _chip_constants(
                chip, sc, n_total, act_bytes, a, eff, cal if cal and cal.chip == chip.id else None
            )
            notes.append(None)
        except InputError as exc:
            notes.append(str(exc))
    peak, given_mfu, watts, price, floor = (consts[:, k][:, None, None] for k in range(5))
    mfu = np.broadcast_to(given_mfu, (len(chips), len(gpus), len(tokens))).copy()
    fits = np.ones((len(chips), len(gpus), len(tokens)), dtype=bool)
    searched = [
        i for i, chip in enumerate(chips)
        if notes[i] is None and (sc.efficiency.mfu is None or chip.memory_gb is not None)
    ]  # fmt: skip

    def model(i: int) -> tuple[Array, npt.NDArray[np.bool_]]:
        chip = chips[i]
        return _modelled(sc, chip, gpus, tokens, a, eff, cal if cal and cal.chip == chip.id else None)

    for i, (modelled, fit) in zip(searched, ordered_map(model, searched), strict=True):
        fits[i] = fit
        if sc.efficiency.mfu is None:
            mfu[i] = modelled
    g = gpus[None, :, None]
    d = tokens[None, None, :]
    shape = (len(chips), len(gpus), len(tokens))
    flops = np.broadcast_to(6.0 * n_active * d, shape)
    days = flops / (g * peak * mfu) / SECONDS_PER_DAY
    gpu_hours = days * 24.0 * g
    power_mw = np.broadcast_to(g * watts / 1e6, shape)
    energy = power_mw * days * 24.0
    grid_kg = sc.economics.grid_kgco2e_per_kwh
    grid = a.grid_kgco2e_per_kwh.value if grid_kg is None else grid_kg
    columns = {
        "training_flops": flops,
        "wall_clock_days": days,
        "gpu_hours": gpu_hours,
        "cost_usd": gpu_hours * price,
        "energy_mwh": energy,
        "co2e_t": energy * grid,
        "facility_power_mw": power_mw,
        "min_gpus_for_memory": np.broadcast_to(floor, shape),
        "gpus": np.broadcast_to(g, shape),
    }
    idx = np.indices(shape)
    return TrainGrid(
        chip_ids=[c.id for c in chips],
        notes=notes,
        chip=idx[0].ravel(),
        gpus=gpus[idx[1].ravel()],
        tokens=tokens[idx[2].ravel()],
        columns={k: np.ascontiguousarray(v, dtype=np.float64).ravel() for k, v in columns.items()},
        fits=fits.ravel()
        & (np.broadcast_to(g, shape) >= np.nan_to_num(np.broadcast_to(floor, shape))).ravel(),
    )


def _model_sizes(sc: Scenario) -> tuple[float, float, float]:
    """(N total, N active, activation bytes of one sequence) for the scenario's model."""
    if isinstance(sc.model, InlineModel):
        n = sc.model.params
        return n, sc.model.active_params or n, 0.0
    m = resolve_model(sc.model)
    seq = sc.efficiency.seq_len or training_seq_len(m)
    act = memory.activation_bytes(
        shape.from_preset(m, seq), sc.efficiency.recompute or "full", sc.hardware.precision
    )  # the floor: least recompute allowed, as train
    return m.params, m.n_active, act


def cannot_run(grid: TrainGrid) -> npt.NDArray[np.bool_]:
    """Per point: True where the chip could not run the workload (see ``grid.notes``)."""
    return np.asarray([n is not None for n in grid.notes], dtype=bool)[grid.chip]


def grid_violations(sc: Scenario, grid: TrainGrid) -> npt.NDArray[np.bool_]:
    """Per point that ran: True where a limit is exceeded or its quantity could not be evaluated, or where
    the job does not fit in the chips' memory (as a single run's check fails it)."""
    bad = ~grid.fits
    for limit, allowed in sc.limits.model_dump(exclude_none=True).items():
        values = grid.columns[Limits.metric(limit)]
        bad |= np.isnan(values) | (values > allowed)
    return bad & ~cannot_run(grid)


def grid_rows(sc: Scenario, grid: TrainGrid, file: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """CSV-ready header and rows (plain Python values, ``None`` where unknown) for every point."""
    metrics = [k for k in grid.columns if k != "gpus"]
    header = ["file", "scenario", "chip", "gpus", "tokens", *metrics, "memory_fits", "status"]
    note = np.asarray([n or "" for n in grid.notes], dtype=object)[grid.chip]
    over = np.where(grid_violations(sc, grid), "over a limit", "ok")
    unfit = np.where(grid.fits, over, "the job does not fit in the chips' memory")  # as a single run says
    status = np.where(note != "", note, unfit)
    chip_names = np.asarray(grid.chip_ids, dtype=object)[grid.chip]
    n = grid.chip.size
    columns = [
        np.full(n, file, dtype=object),
        np.full(n, sc.name, dtype=object),
        chip_names,
        grid.gpus.astype(np.int64),
        grid.tokens,
        *(_nan_to_none(grid.columns[k]) for k in metrics),
        grid.fits,
        status,
    ]
    return header, list(zip(*(c.tolist() for c in columns), strict=True))


def _nan_to_none(values: Array) -> npt.NDArray[np.object_]:
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out
