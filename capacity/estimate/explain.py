"""The chain behind one training estimate: each factor, its value, its source, how much it moves the answer.

    days = 6·N·D / (GPUs · peak · MFU) / 86 400, MFU from the step-time model (estimate/step_model.py)
    GPU-hours = days · 24 · GPUs;  cost = GPU-hours · price;  energy = GPUs · TDP · s · PUE · hours
"Elasticity" is d ln(answer) / d ln(factor): +1 means doubling the factor doubles the answer, −1 halves it.
For a rate of the step-time model it is the share of the steady-state time that rate sets (to first order,
layout held fixed; goodput scales the steady-state time): a rate that sets
30 % of it moves the answer by −0.3 per unit of log change. The GEMM fraction also sets attention's rate.
"Range" is how far the answer moves across the factor's documented uncertainty (``specs/uncertainty.yaml``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import BaseModel

from capacity.data.assumptions import Assumptions, Efficiency
from capacity.data.uncertainty import Spreads
from capacity.estimate.train import TrainEstimate, TrainRequest, estimate_training
from capacity.formulas.step_time import Share
from capacity.records.chip import Chip
from capacity.records.choices import Economics

if TYPE_CHECKING:  # for annotations only: the language-model chain does not load the image planner
    from capacity.estimate.image_train import ImageTrainEstimate

Z90 = 1.2816  # standard normal 90th percentile


class Factor(BaseModel):
    factor: str
    value: float | str
    unit: str
    moves: str
    elasticity: float | None
    range_effect: str | None
    source: str


def explain_training(
    req: TrainRequest, est: TrainEstimate, a: Assumptions, eff: Efficiency, spreads: Spreads
) -> list[Factor]:
    """One row per factor of the chain, in the order the estimate applies them."""
    time = "FLOPs, days, GPU-hours, cost, energy"
    model_src = f"preset {req.model.id}: {req.model.sources[0].title}" if req.model else "given (--params)"
    rows = [
        Factor(
            factor="parameters per token N",
            value=est.active_params,
            unit="params",
            moves="FLOPs (and days, through the shape, the layout and the MFU)",
            elasticity=1.0,
            range_effect=None,
            source=model_src,
        ),
        Factor(
            factor="training tokens D",
            value=est.tokens,
            unit="tokens",
            moves=time,
            elasticity=1.0,
            range_effect=None,
            source="given (--tokens)",
        ),
        Factor(
            factor="FLOPs per parameter per token",
            value=6.0 if est.flops_convention == "6nd" else "6 + attention",
            unit="FLOP",
            moves=time,
            elasticity=1.0,
            range_effect=None,
            source="Kaplan et al. 2020 (6ND)"
            if est.flops_convention == "6nd"
            else "Chowdhery et al. 2022 (PaLM)",
        ),
    ]
    if req.chip is None or est.peak_tflops_per_gpu is None or est.mfu is None:
        return rows
    chip = req.chip
    days = "days, GPU-hours, cost, energy"
    rows += hardware_rows(
        chip, est, req.gpus is not None,
        "days" if req.mfu is not None else "days, and GPU-hours through the layout and failures",
        -1.0 if req.mfu is not None else _rerun_elasticity(req, est, a, eff, "gpus"),
    )  # fmt: skip
    if req.mfu is not None:
        rows.append(
            Factor(
                factor="MFU",
                value=req.mfu,
                unit="",
                moves=days,
                elasticity=-1.0,
                range_effect=None,
                source="given (--mfu)",
            )
        )
    else:
        step = _step_rows(est, eff, spreads, days)
        peak = _rerun_peak_elasticity(req, est, a, eff)
        rows[-2] = rows[-2].model_copy(update={"elasticity": peak})
        rows[1] = rows[1].model_copy(update={"elasticity": _rerun_elasticity(req, est, a, eff, "tokens")})
        rows += step
    return rows + economy_rows(chip, est, req.economics, a, spreads)


def hardware_rows(
    chip: Chip, est: TrainEstimate | ImageTrainEstimate, given: bool, gpus_move: str, gpus_elasticity: float
) -> list[Factor]:
    """The chip's dense peak and the GPU count, as links of a training chain."""
    return [
        Factor(
            factor=f"dense peak ({est.precision})",
            value=est.peak_tflops_per_gpu or 0.0,
            unit="TFLOPS per GPU",
            moves="days, GPU-hours, cost, energy",
            elasticity=-1.0,
            range_effect=None,
            source=f"{chip.id}: {chip.sources[0].title}",
        ),
        Factor(
            factor="GPUs",
            value=est.gpus or 0,
            unit="GPUs",
            moves=gpus_move,
            elasticity=gpus_elasticity,
            range_effect=None,
            source="given" if given else "solved for the deadline",
        ),
    ]


def economy_rows(
    chip: Chip, est: TrainEstimate | ImageTrainEstimate, econ: Economics, a: Assumptions, spreads: Spreads
) -> list[Factor]:
    """The money and energy links of a training chain (the same for language and image models): price per
    GPU-hour, power per accelerator, PUE and grid intensity, with their documented ranges."""
    rows: list[Factor] = []
    if est.gpu_hour_usd is not None:
        given = econ.gpu_hour_usd is not None
        psd = spreads.price_log_sd.value
        spread = None if given else f"cost x{math.exp(-Z90 * psd):.2f} to x{math.exp(Z90 * psd):.2f}"
        source = (
            "given (--gpu-hour-usd)" if given else _assumed(est, "gpu_hour_usd", "cloud_usd_per_gpu_hour")
        )
        rows.append(
            Factor(
                factor="price per GPU-hour",
                value=est.gpu_hour_usd,
                unit="USD",
                moves="cost",
                elasticity=1.0,
                range_effect=spread,
                source=source,
            )
        )
    if est.energy_mwh is not None and est.facility_power_mw is not None and est.gpus:
        lo, hi = spreads.server_power_factor_low.value, spreads.server_power_factor_high.value
        plo, phi = spreads.pue_low.value, spreads.pue_high.value
        pue = est.pue or a.pue.value
        watts = est.facility_power_mw * 1e6 / (est.gpus * pue)
        factor = econ.server_power_factor
        mid = (lo + hi) / 2
        if factor:
            basis = f"given: TDP x {factor:g} (--server-power-factor)"
        elif econ.power_basis == "facility" and chip.system is not None:
            basis = f"{chip.system.name}: {chip.system.source} ({chip.system.accelerators} per server)"
        elif econ.power_basis == "facility":
            basis = f"TDP x {a.system_power_per_tdp.value:g}: {a.system_power_per_tdp.source}"
        else:
            basis = (
                f"TDP x {a.server_power_factor.value:g} (--power-basis gpu): {a.server_power_factor.source}"
            )
        rows += [
            Factor(
                factor=f"power per accelerator ({'given' if factor else econ.power_basis} basis)",
                value=round(watts, 1),
                unit="W, server included" if econ.power_basis == "facility" and not factor else "W",
                moves="energy, power, CO2e",
                elasticity=1.0,
                range_effect=None if factor else f"energy x{lo / mid:.2f}-x{hi / mid:.2f}",
                source=basis,
            ),
            Factor(
                factor="PUE",
                value=pue,
                unit="",
                moves="energy, power, CO2e",
                elasticity=1.0,
                range_effect=None if econ.pue else f"energy x{plo / pue:.2f}-x{phi / pue:.2f}",
                source="given (--pue)" if econ.pue else a.pue.source,
            ),
            Factor(
                factor="grid carbon intensity",
                value=est.grid_kgco2e_per_kwh or 0,
                unit="kgCO2e/kWh",
                moves="CO2e",
                elasticity=1.0,
                range_effect=None,
                source="given" if econ.grid_kgco2e_per_kwh else a.grid_kgco2e_per_kwh.source,
            ),
        ]
    return rows


STEP_TERMS: dict[
    str, tuple[str, float]
] = {  # time-share term -> (the rate or constant that sets it, its elasticity sign)
    Share.MATMUL: ("GEMM fraction of peak", -1.0),
    Share.ATTENTION: ("attention speed relative to GEMMs", -1.0),
    Share.MEMORY_BOUND: ("memory-bandwidth efficiency", -1.0),
    Share.TENSOR_PARALLEL: ("in-node link efficiency", -1.0),
    Share.EXPERT_ALL_TO_ALL: ("network efficiency", -1.0),
    Share.PIPELINE: ("link efficiency", -1.0),
    Share.CONTEXT_PARALLEL: ("link efficiency", -1.0),
    Share.FSDP: ("network efficiency", -1.0),
    Share.BUBBLE: ("micro-batches per step", -1.0),
    Share.DATA_PARALLEL: ("network efficiency", -1.0),
    Share.FAILURES: ("failures per GPU-hour", 1.0),
}


MICRO_BATCH_TERMS = (
    Share.MATMUL, Share.ATTENTION, Share.MEMORY_BOUND, Share.TENSOR_PARALLEL, Share.EXPERT_ALL_TO_ALL,
    Share.PIPELINE, Share.CONTEXT_PARALLEL, Share.FSDP,
)  # fmt: skip
KERNELS = (Share.MATMUL, Share.ATTENTION, Share.MEMORY_BOUND)


def _moved_time(shares: dict[str, float], m: float, fp8: bool, micro: float) -> dict[str, float]:
    """Per term, how much time its rate moves (in wall-time shares), to first order with the layout fixed.

    * the bubble is (p − 1) idle micro-batch times: it follows the micro-batch terms;
    * an exposed MoE all-to-all hides the kernels it overlaps: they move nothing, the network moves it all;
    * an exposed gradient reduction: the network moves the whole reduction (exposed + the one
      micro-batch it hides behind), and faster kernels expose more of it;
    * the GEMM fraction also sets attention's rate, except in FP8 runs (attention stays at 16 bits).
    """
    follow = 1.0 + shares.get(Share.BUBBLE, 0.0) / micro
    moved = {k: v * follow if k in MICRO_BATCH_TERMS else v for k, v in shares.items()}
    if shares.get(Share.EXPERT_ALL_TO_ALL, 0.0) > 0:
        moved[Share.EXPERT_ALL_TO_ALL] += sum(moved.get(k, 0.0) for k in KERNELS)
        moved.update({k: 0.0 for k in KERNELS if k in moved})
    dp = shares.get(Share.DATA_PARALLEL, 0.0)
    if dp > 0:
        moved[Share.DATA_PARALLEL] = dp + micro / m
        for k in KERNELS:
            moved[k] = moved.get(k, 0.0) - shares.get(k, 0.0) / m
    if not fp8 and Share.MATMUL in moved:
        moved[Share.MATMUL] += moved.get(Share.ATTENTION, 0.0)
    return moved


def _step_rows(est: TrainEstimate, eff: Efficiency, spreads: Spreads, moves: str) -> list[Factor]:
    """One row per term of the step-time model: its share of wall time is its elasticity (layout fixed)."""
    sm = eff.step_model
    sources = {
        "attention speed relative to GEMMs": sm.attention_fraction_of_gemm.source,
        "memory-bandwidth efficiency": eff.hbm_efficiency.source,
        "in-node link efficiency": eff.link_efficiency.source,
        "network efficiency": sm.network_efficiency.source,
        "failures per GPU-hour": (
            f"{eff.goodput.failures_per_gpu_hour.source}; {eff.goodput.restart_hours.source}"
        ),
        "micro-batches per step": f"global batch: {sm.batch_size_coefficient.source}",
        "GEMM fraction of peak": _assumed(est, "matmul_fraction"),
        "link efficiency": f"{eff.link_efficiency.source}; across nodes: {sm.network_efficiency.source}",
    }
    rows = [
        Factor(
            factor="parallel layout",
            value=est.layout or "",
            unit="",
            moves=moves,
            elasticity=None,
            range_effect=None,
            source="fastest layout that fits in memory (capacity/estimate/layout.py)",
        )
    ]
    shares = est.time_shares or {}
    # the modelled terms set the steady-state time; goodput (failures, pauses) scales with it, so a
    # rate's elasticity is its terms' share of the steady-state time
    steady = sum(v for k, v in shares.items() if k in STEP_TERMS and k != Share.FAILURES) or 1.0
    failures = shares.get(Share.FAILURES, 0.0)
    micro = sum(v for k, v in shares.items() if k in MICRO_BATCH_TERMS) or 1.0
    moved = _moved_time(shares, est.microbatches or 1.0, est.precision == "fp8", micro)
    for term, share in shares.items():
        if term not in STEP_TERMS:
            continue
        knob, sign = STEP_TERMS[term]
        rate_elasticity = sign * moved.get(term, share) / steady
        elasticity = failures / (steady + failures) if term == Share.FAILURES else rate_elasticity
        rows.append(
            Factor(
                factor=f"{term}: {knob}",
                value=f"{share:.1%} of time",
                unit="",
                moves=moves,
                elasticity=round(elasticity, 4),
                range_effect=None,
                source=sources[knob],
            )
        )
    sd = spreads.unmodelled_log_sd.value
    g = eff.goodput
    rows.append(
        Factor(
            factor="goodput: checkpoint stalls and other pauses",
            value=round(1.0 - shares.get(Share.CHECKPOINTS, 0.0) - shares.get(Share.OTHER_PAUSES, 0.0), 4),
            unit="",
            moves=moves,
            elasticity=-1.0,
            range_effect=f"what the model leaves out: GPU-hours x{math.exp(-Z90 * sd):.2f} to "
            f"x{math.exp(Z90 * sd):.2f}",
            source=f"{g.checkpoint_stall_share.source}; {g.other_pause_share.source}",
        )
    )
    return rows


def _rerun_elasticity(
    req: TrainRequest, est: TrainEstimate, a: Assumptions, eff: Efficiency, field: str
) -> float:
    """d ln(days) / d ln(field), measured by re-running the estimate with ``field`` doubled."""
    if est.gpus is None or est.wall_clock_days is None:
        return 1.0 if field == "tokens" else -1.0
    doubled = {"gpus": est.gpus * 2} if field == "gpus" else {"tokens": req.tokens * 2, "gpus": est.gpus}
    changed = req.model_copy(update={**doubled, "uncertainty": False, "deadline_days": None})
    again = estimate_training(changed, a, eff)
    return round(math.log2((again.wall_clock_days or est.wall_clock_days) / est.wall_clock_days), 4)


def _rerun_peak_elasticity(req: TrainRequest, est: TrainEstimate, a: Assumptions, eff: Efficiency) -> float:
    """d ln(days) / d ln(dense peak), measured by re-running with the chip's peak 1 % higher. Where the GEMM
    rate is a measured TFLOPS figure the peak does not set it, and this is near 0, not −1."""
    chip, precision = req.chip, est.precision
    if chip is None or precision is None or est.wall_clock_days is None or est.peak_tflops_per_gpu is None:
        return -1.0
    faster = chip.model_copy(update={f"{precision}_dense_tflops": est.peak_tflops_per_gpu * 1.01})
    update = {"chip": faster, "gpus": est.gpus, "deadline_days": None, "uncertainty": False}
    again = estimate_training(req.model_copy(update=update), a, eff)
    return round(
        math.log((again.wall_clock_days or est.wall_clock_days) / est.wall_clock_days) / math.log(1.01), 4
    )


def _assumed(est: TrainEstimate | ImageTrainEstimate, *names: str) -> str:
    for item in est.assumptions:
        if item.name in names:
            return item.source
    return "default"
