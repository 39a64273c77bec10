"""Check the training planner against published runs (``specs/runs``) with the default efficiency.

For each run with a catalogue chip, tokens and reported accelerator-hours, the planner estimates the run
from what a planner would know (parameters, tokens, chip, count, precision) and the result is compared
with what the team reported. Error = estimate / reported - 1. The whole-model factor in the default MFU
is the median over the trust-A/B runs, so for those runs this is an in-sample check.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel

from capacity.assumptions import Assumptions, Efficiency
from capacity.catalog import Catalog
from capacity.chip import Chip
from capacity.efficiency import default_mfu, implied_mfu, runs_for_fit, whole_model_factor_from_runs
from capacity.run_spec import PublishedRun
from capacity.train import Economics, TrainRequest, estimate_training


class RunCheck(BaseModel):
    inside_p10_p90: bool | None = None
    run: str
    chip: str | None
    trust: str
    in_fit: bool
    skipped: str | None = None
    implied_mfu: float | None = None
    default_mfu: float | None = None
    reported_gpu_hours: float | None = None
    estimated_gpu_hours: float | None = None
    gpu_hours_error: float | None = None
    reported_days: float | None = None
    estimated_days: float | None = None
    days_error: float | None = None
    reported_mwh: float | None = None
    estimated_mwh: float | None = None
    mwh_error: float | None = None


class ValidationReport(BaseModel):
    checks: list[RunCheck]
    compared: int
    median_abs_gpu_hours_error: float
    worst_abs_gpu_hours_error: float
    worst_run: str
    median_abs_mwh_error: float | None
    whole_model_factor_used: float
    whole_model_factor_from_runs: float
    interval_coverage: float | None = None


def _error(estimate: float | None, reported: float | None) -> float | None:
    return None if estimate is None or reported is None else estimate / reported - 1.0


def check_run(
    run: PublishedRun, chips: Catalog[Chip], a: Assumptions, eff: Efficiency, in_fit: bool
) -> RunCheck:
    base = RunCheck(run=run.id, chip=run.chip, trust=run.trust, in_fit=in_fit)
    if run.chip is None or run.chip not in chips.by_id:
        return base.model_copy(update={"skipped": f"{run.hardware} not in catalogue"})
    if run.tokens is None or run.accelerator_hours is None:
        return base.model_copy(update={"skipped": "no GPU-hours or tokens"})
    chip = chips.get(run.chip)
    request = TrainRequest(
        tokens=run.tokens,
        params=run.params_total,
        active_params=run.params_active,
        chip=chip,
        gpus=run.chip_count or 1,  # GPU-hours and MWh do not depend on the count; days do
        precision=run.precision,
        uncertainty=True,
        economics=Economics(
            pue=run.pue,
            grid_kgco2e_per_kwh=run.grid_kgco2e_per_kwh,
            server_power_factor=run.avg_power_per_chip_w / chip.tdp_w
            if run.avg_power_per_chip_w and chip.tdp_w
            else None,
        ),
    )
    est = estimate_training(request, a, eff)
    days = est.wall_clock_days if run.chip_count else None
    return base.model_copy(
        update={
            "implied_mfu": implied_mfu(run, chip),
            "default_mfu": default_mfu(chip, run.precision, eff).mfu,
            "reported_gpu_hours": run.accelerator_hours,
            "estimated_gpu_hours": est.gpu_hours,
            "gpu_hours_error": _error(est.gpu_hours, run.accelerator_hours),
            "reported_days": run.wall_clock_days,
            "estimated_days": days,
            "days_error": _error(days, run.wall_clock_days),
            "reported_mwh": run.energy_mwh,
            "estimated_mwh": est.energy_mwh,
            "mwh_error": _error(est.energy_mwh, run.energy_mwh),
            "inside_p10_p90": (
                None
                if est.gpu_hours_p10 is None or est.gpu_hours_p90 is None
                else est.gpu_hours_p10 <= run.accelerator_hours <= est.gpu_hours_p90
            ),
        }
    )


def validate_runs(
    runs: tuple[PublishedRun, ...], chips: Catalog[Chip], a: Assumptions, eff: Efficiency
) -> ValidationReport:
    """Estimate every published run and summarise the GPU-hour and energy errors."""
    fit = {r.id for r in runs_for_fit(runs, chips)}
    checks = [check_run(r, chips, a, eff, r.id in fit) for r in runs]
    compared = [c for c in checks if c.gpu_hours_error is not None and c.run in fit]
    errors = {c.run: abs(c.gpu_hours_error or 0.0) for c in compared}
    mwh = [abs(c.mwh_error) for c in compared if c.mwh_error is not None]
    worst = max(errors, key=lambda k: errors[k])
    inside = [c.inside_p10_p90 for c in compared if c.inside_p10_p90 is not None]
    factor, _ = whole_model_factor_from_runs(runs, chips, eff)
    return ValidationReport(
        checks=checks,
        compared=len(compared),
        median_abs_gpu_hours_error=statistics.median(errors.values()),
        worst_abs_gpu_hours_error=errors[worst],
        worst_run=worst,
        median_abs_mwh_error=statistics.median(mwh) if mwh else None,
        whole_model_factor_used=eff.whole_model_factor.value,
        whole_model_factor_from_runs=factor,
        interval_coverage=sum(inside) / len(inside) if inside else None,
    )
