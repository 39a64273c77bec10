"""Training planner: FLOPs → time → cluster size → memory floor → money → energy, power and carbon.

One call, :func:`estimate_training`, takes a :class:`TrainRequest` and returns a :class:`TrainEstimate`.
Time: T = C / (n · peak · MFU), C model FLOPs (see :mod:`capacity.formulas.flops`), peak the dense per-chip
FLOP/s for the precision, MFU model-FLOPs utilisation (the user's, or :mod:`capacity.estimate.step_model`'s).
Three ways to give the hardware: ``gpus`` (forward), ``deadline_days`` (solve for the GPU count, rounded
up to whole nodes), or ``capacity_pflops`` (a data centre's peak, reported in data-centre days).
"""

from __future__ import annotations

import math

from capacity.core.errors import InputError
from capacity.core.units import SECONDS_PER_DAY, TERA
from capacity.data.assumptions import Assumptions, Efficiency
from capacity.data.calibration import applies_to
from capacity.data.efficiency import peak_tflops
from capacity.data.provenance import Provenance
from capacity.estimate.deadline import fewest_that_fit, solve_gpus
from capacity.estimate.procurement import procurement
from capacity.estimate.train_io import PublishedComparison, TrainEstimate, TrainRequest
from capacity.estimate.train_step import ChipCounts, architecture
from capacity.formulas import cost, energy, flops, memory
from capacity.formulas.shape import Shape
from capacity.records.chip import Chip, Dtype
from capacity.records.choices import Economics, sixteen_bit
from capacity.records.cluster import Cluster

__all__ = ["PublishedComparison", "TrainEstimate", "TrainRequest", "estimate_training"]


def _workload(req: TrainRequest, n_active: float, sh: Shape, warnings: list[str]) -> tuple[float, float]:
    """Workload stage: the model FLOPs on the request's convention (6·N·D, or PaLM's with attention) and
    attention's forward FLOPs per token that recomputation repeats (0 under 6·N·D),
    :mod:`capacity.formulas.flops`."""
    layers, width, seq = sh.layers, sh.attention_width, sh.seq_len
    if req.flops_convention == "palm":
        if req.model is None:
            raise InputError("--flops palm needs the architecture: use --model PRESET")
        attention_fwd = flops.attention_flops_per_token(layers, width, seq) / 3.0
        return flops.training_flops_palm(n_active, req.tokens, layers, width, seq), attention_fwd
    if req.model is not None:
        share = flops.attention_flops_per_token(layers, width, seq) / (6.0 * n_active)
        if share > 0.1:
            warnings.append(
                f"at {seq} tokens of context attention adds {share:.0%} to 6·N·D, which leaves it out; "
                "use --flops palm for the fuller count"
            )
    return flops.training_flops_6nd(n_active, req.tokens), 0.0


def estimate_training(
    req: TrainRequest,
    assumptions: Assumptions,
    efficiency: Efficiency,
    published: list[tuple[str, float, Dtype]] | None = None,
) -> TrainEstimate:
    """Carry a training job from FLOPs to days, chips, bytes, dollars, megawatt-hours and tonnes CO2e.

    ``published`` lists (run id, implied MFU, the run's precision) of published runs on the same chip.
    """
    econ = req.economics
    prov = Provenance(assumptions)
    pick, assumed, warnings = prov.pick, prov.assumed, prov.warnings

    n_total, n_active, sh = architecture(req, prov)
    if req.tokens_from_preset and req.model is not None:
        prov.note("tokens", req.tokens, f"{req.model.id}'s recorded training tokens (its preset's sources)")
    if n_active > n_total:
        raise InputError(
            f"--active-params ({n_active:.3g}) cannot exceed the total parameters ({n_total:.3g})"
        )
    if req.precision == "int8":
        raise InputError(
            "--precision int8: integer training is not modelled; use bf16, fp16, fp8, tf32 or fp32"
        )

    model_flops, attention_fwd = _workload(req, n_active, sh, warnings)
    recompute = req.recompute_pin or "selective"  # the step model may fall back to full below

    def hardware_flops(rc: flops.Recompute) -> float:
        return model_flops + flops.recompute_flops(rc, n_active, req.tokens, attention_fwd)

    hw_flops = hardware_flops(recompute)

    # memory (hardware-independent part)
    state_bytes = memory.model_state_bytes(n_total, pick(None, "optimizer_bytes_per_param"))
    floor_act = None  # the floor: the least activation memory the job may use (full unless pinned)
    if req.model is not None:
        floor_act = memory.activation_bytes(sh, req.recompute_pin or "full", req.precision)
    chip, gpus, precision = req.chip, req.gpus, req.precision
    peak, mfu, step = None, req.mfu, None
    mfu_source = "given by the user (--mfu)" if req.mfu is not None else None
    if chip is not None:
        if precision is None:
            precision = sixteen_bit(chip)
            prov.note("precision", precision, "bf16 where the chip has a known peak, else fp16")
        peak = peak_tflops(chip, precision)
    if req.mfu is not None and req.mfu * hw_flops / model_flops > 1.0:
        raise InputError(
            f"--mfu {req.mfu:g} with --recompute {recompute} means hardware FLOPs utilisation "
            f"{req.mfu * hw_flops / model_flops:.2f} > 1; lower --mfu or use less recomputation"
        )

    min_gpus, searched_count = None, False  # searched: the count is the search's, not the floor
    search_fits: bool | None = None  # with a given MFU: whether the layout search fits the job
    if chip is not None and chip.memory_gb is not None:
        usable = pick(None, "memory_usable_fraction")
        least = memory.least_state_bytes(n_total, pick(None, "optimizer_bytes_per_param"))
        min_gpus = memory.min_chips(least + (floor_act or 0.0), chip.memory_gb, usable)
    elif chip is not None:
        warnings.append(f"{chip.id} has no published memory size: the memory floor is not estimated")

    node = req.node_size or int(pick(None, "node_size"))
    sized = gpus  # the chips the plan runs on: given, solved, or a data centre's peak in chips
    if chip is not None and precision is not None and peak is not None:
        applies_to(req.calibration, chip, warnings)  # says why a calibration is not used
        convention = model_flops / (6.0 * n_active * req.tokens)  # MFU on the request's FLOPs convention

        counts = ChipCounts(req, assumptions, efficiency, model_flops, peak, convention)
        days_at, fit_days = counts.days_at, counts.fit_days
        if req.deadline_days is not None:
            try:
                gpus = solve_gpus(days_at, req.deadline_days, node, max(node, min_gpus or 0), counts.used_at)
            except InputError as exc:
                pins = req.parallel
                if req.mfu is None and pins.dp:  # the pins, not the batch, fix the chips with work
                    raise InputError(
                        f"--days {req.deadline_days:g}: not met: --dp {pins.dp} pins the data-parallel "
                        "width, so more chips do not shorten the run; unpin --dp or allow more days"
                    ) from exc
                raise
            if req.mfu is not None and min_gpus is not None and math.isinf(fit_days(gpus)):
                gpus = fewest_that_fit(fit_days, node, gpus, gpus)  # the deadline's count cannot hold it
        sized = gpus
        if req.capacity_pflops is not None:  # the data centre's chips, for the model only
            sized = max(1, round(req.capacity_pflops * 1000.0 / peak))
        if req.mfu is not None:
            mfu = req.mfu
            if req.parallel.pinned():
                warnings.append(
                    "--mfu is given, so the layout is not modelled: the pinned layout is ignored (whether "
                    "the job fits is the layout search's)"
                )
            if sized is not None and min_gpus is not None and req.capacity_pflops is None:
                # the MFU is given, the memory is not: the same layout search decides the fit (and the
                # fewest chips that fit) as without --mfu, so the floor and the fit cannot disagree
                search_fits = not math.isinf(fit_days(sized))
                if not search_fits:
                    min_gpus = fewest_that_fit(fit_days, node, max(sized + 1, min_gpus), min_gpus)
                    searched_count = True
        elif sized is not None:
            step = counts.modelled(sized, req.layouts)
            mfu = step.mfu * convention
            recompute = step.parallel.recompute
            hw_flops = hardware_flops(recompute)
            where = (
                "; calibrated on this machine" if step.matmul_source.startswith("measured on this") else ""
            )
            mfu_source = (
                f"modelled (step-time model): {step.layout}; GEMM fraction {step.matmul_fraction:.3f}{where}"
            )
            prov.note(
                "mfu", round(mfu, 4), "step-time model (capacity/estimate/step_model.py); see --explain"
            )
            prov.note("matmul_fraction", round(step.matmul_fraction, 4), step.matmul_source)
            warnings.extend(step.notes)
            if not step.memory_fits and req.parallel.dp is None and min_gpus is not None:
                min_gpus = fewest_that_fit(days_at, node, max(sized + 1, min_gpus), min_gpus)
                searched_count = True

    wall_days = gpu_hours = gpu_days = agg_pflops = dc_days = None
    if chip is not None and peak is not None and mfu is not None and gpus is not None:
        agg_pflops = gpus * peak / 1000.0
        wall_days = model_flops / (gpus * peak * TERA * mfu) / SECONDS_PER_DAY
        gpu_days = wall_days * gpus
        gpu_hours = gpu_days * 24.0
    if req.capacity_pflops is not None:
        dc_days = flops.pf_days(model_flops) / req.capacity_pflops
        if mfu is not None:
            wall_days = dc_days / mfu

    act_bytes = None if req.model is None else memory.activation_bytes(sh, recompute, req.precision)
    fits = None
    if min_gpus is not None and sized is not None and chip is not None and chip.memory_gb is not None:
        fits = step.memory_fits if step is not None else search_fits  # a real layout, when searched
        if fits is None:
            fits = sized >= min_gpus
        if not fits and sized < min_gpus:
            warnings.append(
                f"{sized} x {chip.id} cannot hold the job: it needs at least {min_gpus} (model states and "
                f"activations take at least {(least + (floor_act or 0)) / 1e9:,.0f} GB, at "
                f"{pick(None, 'memory_usable_fraction'):.0%} of {chip.memory_gb:g} GiB each"
                + ("; the fewest whole nodes on which a layout fits" if searched_count else "")
                + ")"
            )

    if req.capacity_pflops is not None:
        warnings.append(_nameplate_warning(req.capacity_pflops, chip, precision, sized))
    if req.cluster is not None:
        warnings.extend(cluster_notes(req.cluster))
    power_mw = energy_mwh = co2 = pue = grid = None
    powered = gpus if gpus is not None else sized if req.capacity_pflops is not None else None
    if chip is not None and powered is not None and wall_days is not None:
        pue, grid = pick(econ.pue, "pue"), pick(econ.grid_kgco2e_per_kwh, "grid_kgco2e_per_kwh")
        power_mw, energy_mwh, co2 = energy_stage(chip, powered, wall_days, pue, grid, econ, prov, warnings)
    price_hour = cost_usd = capex = None
    if chip is not None and gpu_hours is not None and wall_days is not None and gpus is not None:
        price_hour, cost_usd, capex = money_stage(chip, gpus, gpu_hours, wall_days, energy_mwh, econ, prov)
    rate = 1.0 if econ.currency == "USD" else pick(econ.cny_per_usd, "cny_per_usd")
    bought = None
    if req.capex_usd is not None:
        bought = procurement(req.capex_usd, req.it_capex_share, sized, chip, peak, req.capacity_pflops, prov)

    est = TrainEstimate(
        model=req.model.id if req.model else None,
        params=n_total,
        active_params=n_active,
        tokens=req.tokens,
        flops_convention=req.flops_convention,
        training_flops=model_flops,
        hardware_flops=hw_flops,
        recompute=recompute,
        pf_days=flops.pf_days(model_flops),
        chip=chip.id if chip else None,
        precision=precision,
        peak_tflops_per_gpu=peak,
        gpus=gpus,
        aggregate_peak_pflops=agg_pflops,
        mfu=mfu,
        hfu=None if mfu is None else mfu * hw_flops / model_flops,
        mfu_source=mfu_source,
        steady_state_mfu=None if step is None else step.steady_state_mfu * convention,
        goodput=None if step is None else step.goodput.goodput,
        layout=None if step is None else step.layout,
        parallel=None if step is None else step.parallel,
        tokens_per_s_per_gpu=None if step is None else step.tokens_per_s_per_gpu,
        step_time_s=None if step is None else step.step_time_s,
        model_tflops_per_gpu=None if step is None else step.tokens_per_s_per_gpu * 6.0 * n_active / TERA,
        memory_per_gpu_gb=None if step is None else step.memory_per_gpu_gb,
        layouts=None if step is None or req.layouts <= 1 else step.layouts,
        gpus_used=None if step is None else step.gpus_used,
        microbatches=None if step is None else step.microbatches,
        global_batch_tokens=None if step is None else step.global_batch_tokens,
        time_shares=None if step is None else step.time_shares,
        gpu_hours=gpu_hours,
        gpu_days=gpu_days,
        wall_clock_days=wall_days,
        data_centre_days_at_peak=dc_days,
        cluster=None if req.cluster is None else req.cluster.id,
        **({} if bought is None else bought.model_dump()),
        model_state_gb=state_bytes / 1e9,
        activation_gb=None if act_bytes is None else act_bytes / 1e9,
        min_gpus_for_memory=min_gpus,
        memory_fits=fits,
        pricing=econ.pricing,
        gpu_hour_usd=price_hour,
        cost_usd=cost_usd,
        cost=None if cost_usd is None else cost_usd * rate,
        currency=econ.currency,
        capex_usd=capex,
        **(prov.price.model_dump() if prov.price is not None else {}),
        facility_power_mw=power_mw,
        energy_mwh=energy_mwh,
        co2e_t=co2,
        pue=pue,
        grid_kgco2e_per_kwh=grid,
        assumptions=assumed,
        warnings=warnings,
        published_runs_on_chip=[
            PublishedComparison(
                run=run_id,
                implied_mfu=run_mfu,
                wall_clock_days_at_that_mfu=(
                    model_flops / (gpus * peak_tflops(chip, run_precision) * TERA * run_mfu) / SECONDS_PER_DAY
                    if chip is not None and gpus
                    else None
                ),
            )
            for run_id, run_mfu, run_precision in (published or [])
        ],
    )
    if not req.uncertainty or gpu_hours is None:
        return est
    from capacity.data.uncertainty import load_spreads, training_percentiles

    given = {
        "mfu": req.mfu, "gpu_hour_usd": econ.gpu_hour_usd, "gpu_price_usd": econ.gpu_price_usd,
        "server_power_factor": econ.server_power_factor, "pue": econ.pue,
    }  # fmt: skip
    return est.model_copy(update=training_percentiles(est.model_dump(), given, assumptions, load_spreads()))


def _nameplate_warning(pflops: float, chip: Chip | None, precision: str | None, chips: int | None) -> str:
    """What a data centre's stated PFLOPS is taken to mean, said every time (seed-facts.md S-9)."""
    meaning = (
        f"read as {chips:,} x {chip.id} at their dense {precision} peak" if chip is not None and chips else
        "read as dense 16-bit PFLOPS; give --chip to say which chips they are"
    )  # fmt: skip
    return (
        f"--capacity-pflops {pflops:,g} is a nameplate figure whose precision and sparsity the source may "
        f"not state, {meaning}; data-centre days assume all of it works on this job (nameplate, not "
        "utilisation)"
    )


def cluster_notes(c: Cluster) -> list[str]:
    """What a named cluster brings to an estimate's warnings: its name, and an assumed chip when it is one."""
    notes = [f"cluster {c.id}: {c.name} ({c.organisation})"]
    if not c.chip_stated:
        notes.append(f"cluster {c.id}: the source gives only a card count; {c.chip} is an assumption")
    return notes


def energy_stage(
    chip: Chip, gpus: int, wall_days: float, pue: float, grid: float, econ: Economics, prov: Provenance,
    warnings: list[str],
) -> tuple[float | None, float | None, float | None]:  # fmt: skip
    """Energy stage: (facility MW, MWh, tCO2e) of ``gpus`` chips over ``wall_days`` (formulas/energy.py),
    at the power per chip :meth:`Provenance.chip_watts` chooses (``power_basis``)."""
    watts = prov.chip_watts(chip, econ)
    if watts is None:
        warnings.append(
            f"{chip.id} has no published TDP or server power: no power figure, so power, energy, carbon"
            + (" and the electricity cost" if econ.pricing == "owned" else "")
            + " are not estimated"
        )
        return None, None, None
    power_w = energy.facility_power_w(gpus, watts, pue)
    mwh = energy.energy_mwh(power_w, wall_days * 24.0)
    return power_w / 1e6, mwh, energy.co2e_tonnes(mwh, grid)


def money_stage(
    chip: Chip, gpus: int, gpu_hours: float, wall_days: float, energy_mwh: float | None, econ: Economics,
    prov: Provenance,
) -> tuple[float | None, float, float | None]:  # fmt: skip
    """Money stage: (USD per GPU-hour, USD, capex USD) in the economics' pricing
    (:mod:`capacity.formulas.cost`)."""
    if econ.pricing == "cloud":
        price_hour = prov.cloud_price(chip, econ.gpu_hour_usd)
        return price_hour, cost.cloud_cost_usd(gpu_hours, price_hour), None
    price = prov.gpu_price(chip, econ.gpu_price_usd)
    capex = cost.capex_usd(
        gpus, price, prov.pick(None, "server_capex_factor"), prov.pick(None, "network_capex_factor")
    )
    usd = cost.amortised_usd(capex, wall_days * 24.0, prov.pick(None, "hardware_life_years"))
    if energy_mwh is not None:
        usd += cost.electricity_usd(
            energy_mwh, prov.pick(econ.electricity_usd_per_kwh, "electricity_usd_per_kwh")
        )
    return None, usd, capex
