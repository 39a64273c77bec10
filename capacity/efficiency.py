"""Default model FLOPs utilisation (MFU) when the user gives none, with where it came from.

    default MFU = f_matmul(chip, dtype) × f_model

* f_matmul: the best published dense GEMM on this chip and dtype divided by the catalogue's dense peak
  (``specs/efficiency.yaml``), so a chip whose matmuls reach less of peak (FP8, MI300X, an unmeasured
  software stack) gets a lower default; without a measurement, a documented per-vendor fallback.
* f_model: whole-model, wall-clock factor (communication, pipeline bubbles, non-matmul work, restarts),
  the median over published runs of implied MFU / f_matmul (:func:`whole_model_factor_from_runs`).

MFU here is *model* FLOPs (the 6·N·D or PaLM count) per second over the chips' dense peak
(Chowdhery et al. 2022, App. B); recomputed FLOPs are not counted (that would be HFU).
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel, ConfigDict, Field

from capacity.assumptions import Efficiency
from capacity.calibration import Calibration
from capacity.catalog import Catalog
from capacity.chip import DTYPES, Chip, Dtype
from capacity.errors import InputError
from capacity.flops import training_flops_6nd
from capacity.run_spec import PublishedRun
from capacity.units import SECONDS_PER_HOUR, TERA


class MatmulFraction(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float
    measured: bool
    source: str


class MfuChoice(BaseModel):
    """The MFU an estimate used and why."""

    model_config = ConfigDict(frozen=True)

    mfu: float
    given_by_user: bool
    matmul_fraction: float | None = None
    whole_model_factor: float | None = None
    source: str = Field(description="one line: where the number came from")
    detail: str | None = Field(default=None, description="the full sources behind each factor")


def peak_tflops(chip: Chip, dtype: Dtype) -> float:
    """Dense peak for ``dtype``; :class:`InputError` saying 'not supported' or 'unknown' otherwise."""
    status = chip.dtype_status(dtype)
    if isinstance(status, str):
        known = [d for d in DTYPES if chip.dense_peak(d) is not None]
        hint = f"; it has {', '.join(known)}" if known else ""
        why = "does not support" if status == "not supported" else "has no published dense peak for"
        raise InputError(f"--precision: {chip.id} {why} {dtype}{hint}")
    return status


def matmul_fraction(
    chip: Chip, dtype: Dtype, eff: Efficiency, calibration: Calibration | None = None
) -> MatmulFraction:
    """Fraction of the dense peak the best large GEMM reached: measured on this machine (a calibration for
    this chip), else the best published measurement, else a documented fallback (capped at 1)."""
    peak = peak_tflops(chip, dtype)
    if calibration is not None and calibration.chip == chip.id and dtype in calibration.matmul:
        here = calibration.matmul[dtype]
        return MatmulFraction(
            value=here.fraction,
            measured=True,
            source=f"measured on this machine: {here.tflops:.1f} of {peak:g} TFLOPS "
            f"({calibration.device_name}, "
            f"{calibration.backend}, {here.shape})",
        )
    for m in eff.matmul_measurements:
        if chip.id in m.chips and dtype in m.dtypes:
            value = min(m.measured_tflops / peak, 1.0)
            return MatmulFraction(
                value=value,
                measured=True,
                source=f"{m.measured_tflops:g} of {peak:g} TFLOPS measured ({m.source})",
            )
    nvidia = chip.vendor.casefold() == "nvidia"
    table = eff.fallback_matmul_fraction.nvidia if nvidia else eff.fallback_matmul_fraction.other
    if dtype != "bf16" and chip.dense_peak("bf16") is not None:
        bf16 = matmul_fraction(chip, "bf16", eff, calibration)
        if bf16.measured:  # scale this chip's own 16-bit measurement by the fallback ratio
            return MatmulFraction(
                value=bf16.value * table[dtype] / table["bf16"],
                measured=False,
                source=f"no {dtype} measurement for {chip.id}: its bf16 fraction {bf16.value:.3f} x "
                f"{table[dtype]:g}/{table['bf16']:g} (fallback ratio); {bf16.source}",
            )
    return MatmulFraction(
        value=table[dtype],
        measured=False,
        source=f"no published {dtype} GEMM measurement for {chip.id}: {'NVIDIA' if nvidia else 'non-NVIDIA'} "
        f"fallback ({eff.fallback_matmul_fraction.source})",
    )


def default_mfu(
    chip: Chip, dtype: Dtype, eff: Efficiency, calibration: Calibration | None = None
) -> MfuChoice:
    frac = matmul_fraction(chip, dtype, eff, calibration)
    factor = eff.whole_model_factor.value
    kind = "measured GEMM" if frac.measured else "no GEMM measurement: fallback"
    if frac.source.startswith("measured on this machine"):
        kind = "calibrated on this machine"
    return MfuChoice(
        mfu=frac.value * factor,
        given_by_user=False,
        matmul_fraction=frac.value,
        whole_model_factor=factor,
        source=f"default for {chip.id} {dtype}: matmul fraction {frac.value:.3f} ({kind}) x whole-model "
        f"factor {factor:g} (published runs); see `capacity validate`",
        detail=f"matmul fraction: {frac.source}. Whole-model factor: {eff.whole_model_factor.source}",
    )


def implied_mfu(run: PublishedRun, chip: Chip) -> float:
    """6·N_active·D over (accelerator-hours × 3600 × dense peak): wall-clock MFU of a published run."""
    if run.tokens is None or run.accelerator_hours is None:
        raise InputError(f"run {run.id}: needs tokens and accelerator_hours")
    peak = peak_tflops(chip, run.precision) * TERA
    return training_flops_6nd(run.n_active, run.tokens) / (run.accelerator_hours * SECONDS_PER_HOUR * peak)


def runs_for_fit(runs: tuple[PublishedRun, ...], chips: Catalog[Chip]) -> list[PublishedRun]:
    """Runs that set the whole-model factor: comparable, trust A/B, catalogue chip, hours and tokens known."""
    return [
        r
        for r in runs
        if r.comparable
        and r.trust in ("A", "B")
        and r.chip is not None
        and r.accelerator_hours is not None
        and r.tokens is not None
        and r.chip in chips.by_id
    ]


def whole_model_factor_from_runs(
    runs: tuple[PublishedRun, ...], chips: Catalog[Chip], eff: Efficiency
) -> tuple[float, dict[str, float]]:
    """Median of implied MFU / matmul fraction over :func:`runs_for_fit`, and each run's value."""
    per_run = {}
    for run in runs_for_fit(runs, chips):
        chip = chips.get(run.chip or "")
        per_run[run.id] = implied_mfu(run, chip) / matmul_fraction(chip, run.precision, eff).value
    return statistics.median(per_run.values()), per_run
