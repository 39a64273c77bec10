"""Peaks and matmul fractions: the starting points of every efficiency in the planner.

* dense peak per dtype from the catalogue, refusing unknown or unsupported ones;
* matmul fraction: the best published dense GEMM on this chip and dtype divided by the catalogue's dense
  peak (``specs/efficiency.yaml``), or this machine's measurement (``capacity bench``); without either, a
  documented per-vendor fallback. Training (:mod:`capacity.estimate.step_model`) and serving
  (:mod:`capacity.estimate.serve`)
  both build on it;
* the implied MFU of a published run.

MFU here is *model* FLOPs (the 6·N·D or PaLM count) per second over the chips' dense peak
(Chowdhery et al. 2022, App. B); recomputed FLOPs are not counted (that would be HFU).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from capacity.core.errors import InputError
from capacity.core.units import SECONDS_PER_HOUR, TERA
from capacity.data.assumptions import Efficiency
from capacity.data.calibration import Calibration
from capacity.formulas.flops import training_flops_6nd
from capacity.records.chip import DTYPES, Chip, Dtype
from capacity.records.run_spec import PublishedRun


class MatmulFraction(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float
    measured: bool
    source: str


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


def implied_mfu(run: PublishedRun, chip: Chip) -> float:
    """6·N_active·D over (accelerator-hours × 3600 × dense peak): wall-clock MFU of a published run."""
    if run.tokens is None or run.accelerator_hours is None:
        raise InputError(f"run {run.id}: needs tokens and accelerator_hours")
    peak = peak_tflops(chip, run.precision) * TERA
    return training_flops_6nd(run.n_active, run.tokens) / (run.accelerator_hours * SECONDS_PER_HOUR * peak)
