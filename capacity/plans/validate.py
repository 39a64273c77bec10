"""Check the training planner against published runs (``specs/runs``), next to a flat-MFU baseline.

For each comparable run with a catalogue chip, tokens and reported accelerator-hours, the planner estimates
the run from what a planner would know (model, tokens, chip, chip count, precision) and the result is
compared with what the team reported: error = estimate / reported − 1. A run that does not publish its
chip count is assumed to have taken the median wall-clock time of the runs that do (the count is then
solved for, as ``--days`` does). The baseline is the same estimate at a flat MFU (``flat_baseline_mfu``).
Runs listed in ``fitting_runs`` set the fitted constants; the others are held out.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel, ConfigDict

from capacity.core.errors import InputError
from capacity.core.memo import same_arguments
from capacity.data.assumptions import Assumptions, Efficiency
from capacity.data.catalog import Catalog
from capacity.data.efficiency import implied_mfu
from capacity.estimate.requests import training_request
from capacity.estimate.train import estimate_training
from capacity.records.chip import Chip
from capacity.records.choices import Economics
from capacity.records.run_spec import PublishedRun


class RunCheck(BaseModel):
    run: str
    chip: str | None
    trust: str
    in_fit: bool
    skipped: str | None = None
    chip_count: int | None = None
    chip_count_assumed: bool = False
    layout: str | None = None
    implied_mfu: float | None = None
    model_mfu: float | None = None
    reported_gpu_hours: float | None = None
    estimated_gpu_hours: float | None = None
    gpu_hours_error: float | None = None
    baseline_gpu_hours_error: float | None = None
    inside_p10_p90: bool | None = None
    reported_days: float | None = None
    estimated_days: float | None = None
    days_error: float | None = None
    reported_mwh: float | None = None
    estimated_mwh: float | None = None
    mwh_error: float | None = None


class ErrorSummary(BaseModel):
    runs: int
    median_abs_error: float
    baseline_median_abs_error: float
    worst_abs_error: float
    worst_run: str
    interval_coverage: float | None


class ValidationReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    checks: list[RunCheck]
    fitted: ErrorSummary
    held_out: ErrorSummary
    median_abs_mwh_error: float | None
    assumed_days_when_count_unknown: float
    baseline_mfu: float


def _error(estimate: float | None, reported: float | None) -> float | None:
    return None if estimate is None or reported is None else estimate / reported - 1.0


def comparable(run: PublishedRun, chips: Catalog[Chip]) -> str | None:
    """Why ``run`` cannot be compared, or None."""
    if not run.comparable:
        return "not comparable (see its notes)"
    if run.chip is None or run.chip not in chips.by_id:
        return f"{run.hardware} not in catalogue"
    if run.tokens is None or run.accelerator_hours is None:
        return "no GPU-hours or tokens"
    if run.model is None:
        return "no model preset"
    return None


def typical_days(runs: tuple[PublishedRun, ...], chips: Catalog[Chip]) -> float:
    """Median wall-clock days of the comparable runs that publish a chip count and days."""
    days = [
        r.wall_clock_days for r in runs if r.chip_count and r.wall_clock_days and not comparable(r, chips)
    ]
    return float(statistics.median(d for d in days if d is not None))


def check_run(
    run: PublishedRun, chips: Catalog[Chip], a: Assumptions, eff: Efficiency, in_fit: bool, days: float
) -> RunCheck:
    base = RunCheck(run=run.id, chip=run.chip, trust=run.trust, in_fit=in_fit)
    why = comparable(run, chips)
    if why is not None or run.tokens is None or run.accelerator_hours is None:
        return base.model_copy(update={"skipped": why})
    chip = chips.get(run.chip or "")
    request = training_request(
        tokens=run.tokens,
        model=run.model,
        params=run.params_total,
        active_params=run.params_active,
        chip=chip,
        gpus=run.chip_count,
        deadline_days=None if run.chip_count else days,
        precision=run.precision,
        uncertainty=True,
        economics=Economics(
            power_basis="gpu",  # the published runs count accelerator power only (Meta, BLOOM, Patterson)
            pue=run.pue,
            grid_kgco2e_per_kwh=run.grid_kgco2e_per_kwh,
            server_power_factor=run.avg_power_per_chip_w / chip.tdp_w
            if run.avg_power_per_chip_w and chip.tdp_w
            else None,
        ),
    )
    try:
        est = estimate_training(request, a, eff)
    except InputError as exc:
        return base.model_copy(update={"skipped": str(exc)})
    got = implied_mfu(run, chip)
    shown_days = est.wall_clock_days if run.chip_count else None
    return base.model_copy(
        update={
            "chip_count": est.gpus,
            "chip_count_assumed": not run.chip_count,
            "layout": est.layout,
            "implied_mfu": got,
            "model_mfu": est.mfu,
            "reported_gpu_hours": run.accelerator_hours,
            "estimated_gpu_hours": est.gpu_hours,
            "gpu_hours_error": _error(est.gpu_hours, run.accelerator_hours),
            "baseline_gpu_hours_error": got / eff.flat_baseline_mfu.value - 1.0,
            "inside_p10_p90": (
                None
                if est.gpu_hours_p10 is None or est.gpu_hours_p90 is None
                else est.gpu_hours_p10 <= run.accelerator_hours <= est.gpu_hours_p90
            ),
            "reported_days": run.wall_clock_days,
            "estimated_days": shown_days,
            "days_error": _error(shown_days, run.wall_clock_days),
            "reported_mwh": run.energy_mwh,
            "estimated_mwh": est.energy_mwh,
            "mwh_error": _error(est.energy_mwh, run.energy_mwh),
        }
    )


def summarise(checks: list[RunCheck]) -> ErrorSummary:
    compared = [c for c in checks if c.gpu_hours_error is not None and c.baseline_gpu_hours_error is not None]
    if not compared:
        raise InputError("no published run could be compared")
    errors = {c.run: abs(c.gpu_hours_error or 0.0) for c in compared}
    worst = max(errors, key=lambda k: errors[k])
    inside = [c.inside_p10_p90 for c in compared if c.inside_p10_p90 is not None]
    return ErrorSummary(
        runs=len(compared),
        median_abs_error=statistics.median(errors.values()),
        baseline_median_abs_error=statistics.median(abs(c.baseline_gpu_hours_error or 0.0) for c in compared),
        worst_abs_error=errors[worst],
        worst_run=worst,
        interval_coverage=sum(inside) / len(inside) if inside else None,
    )


@same_arguments
def validate_runs(
    runs: tuple[PublishedRun, ...], chips: Catalog[Chip], a: Assumptions, eff: Efficiency
) -> ValidationReport:
    """Estimate every published run; summarise fitted and held-out errors against the flat baseline."""
    fit = set(eff.fitting_runs.runs)
    days = typical_days(runs, chips)
    checks = [check_run(r, chips, a, eff, r.id in fit, days) for r in runs]
    mwh = [abs(c.mwh_error) for c in checks if c.mwh_error is not None and c.in_fit]
    return ValidationReport(
        checks=checks,
        fitted=summarise([c for c in checks if c.in_fit]),
        held_out=summarise([c for c in checks if not c.in_fit]),
        median_abs_mwh_error=statistics.median(mwh) if mwh else None,
        assumed_days_when_count_unknown=days,
        baseline_mfu=eff.flat_baseline_mfu.value,
    )
