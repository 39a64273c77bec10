"""Image models against published numbers: refit the defaults on the fitting set, report every row.

Inference: ``seconds = steps · t₀ + (FLOPs / peak) · (1 / f)`` is linear in (t₀, 1/f), so the fit is least
squares over the fitting rows (:func:`capacity.estimate.image_serve.batch_seconds` is the same formula).
Training: the default MFU is the mean of the fitting runs' implied MFU.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel

from capacity.core.units import TERA
from capacity.data.catalog import load_chips, load_image_models
from capacity.data.diffusion_data import DiffusionDefaults, LatencyMeasurement, image_run_mfu
from capacity.data.efficiency import peak_tflops
from capacity.estimate.image_serve import batch_seconds
from capacity.formulas.diffusion import image_flops


class LatencyRow(BaseModel):
    model: str
    chip: str
    resolution: int
    steps: int
    batch: int
    stack: str
    set: str
    measured_s: float
    predicted_s: float
    error: float  # predicted / measured - 1


class RunRow(BaseModel):
    run: str
    set: str
    chip: str
    accelerator_hours: float
    implied_mfu: float
    predicted_hours: float  # at the default training MFU
    error: float


def _terms(m: LatencyMeasurement) -> tuple[float, float]:
    """(steps, FLOPs / peak FLOP/s) of one measurement: its seconds are steps·t₀ + that / f."""
    model = load_image_models().get(m.model)
    parts = image_flops(model, m.resolution)
    peak = peak_tflops(load_chips().get(m.chip), m.precision) * TERA
    flops = m.steps * model.guidance_passes * m.batch * parts.denoiser_step
    flops += m.batch * (model.guidance_passes * parts.text_encoders + parts.vae_decode)
    return float(m.steps), flops / peak


def fit_inference(d: DiffusionDefaults) -> tuple[float, float]:
    """(matmul fraction f, step overhead t₀ in s) by least squares on the fitting rows."""
    rows = [(_terms(m), m.seconds_per_batch) for m in d.latency if m.set == "fitting"]
    sxx = sum(a * a for (a, _), _ in rows)
    sxy = sum(a * b for (a, b), _ in rows)
    syy = sum(b * b for (_, b), _ in rows)
    sxt = sum(a * t for (a, _), t in rows)
    syt = sum(b * t for (_, b), t in rows)
    det = sxx * syy - sxy * sxy
    overhead = (sxt * syy - sxy * syt) / det
    inverse_f = (sxx * syt - sxy * sxt) / det
    return 1.0 / inverse_f, overhead


def fit_training(d: DiffusionDefaults) -> float:
    """The default training MFU: the mean implied MFU of the fitting runs."""
    chips = load_chips()
    return statistics.mean(image_run_mfu(r, chips.get(r.chip)) for r in d.runs if r.set == "fitting")


def latency_rows(d: DiffusionDefaults) -> list[LatencyRow]:
    """Every published latency against the model at the defaults in ``d``."""
    out = []
    f, t0 = d.inference_matmul_fraction.value, d.inference_step_overhead_s.value
    for m in d.latency:
        model = load_image_models().get(m.model)
        peak = peak_tflops(load_chips().get(m.chip), m.precision)
        parts = image_flops(model, m.resolution)
        predicted = batch_seconds(parts, m.steps, model.guidance_passes, m.batch, peak, f, t0)
        out.append(
            LatencyRow(
                model=m.model, chip=m.chip, resolution=m.resolution, steps=m.steps, batch=m.batch,
                stack=m.stack, set=m.set, measured_s=m.seconds_per_batch, predicted_s=predicted,
                error=predicted / m.seconds_per_batch - 1.0,
            )
        )  # fmt: skip
    return out


def run_rows(d: DiffusionDefaults) -> list[RunRow]:
    """Every published training run: the MFU it implies and its hours at the default MFU."""
    chips = load_chips()
    out = []
    for r in d.runs:
        implied = image_run_mfu(r, chips.get(r.chip))
        predicted = r.accelerator_hours * implied / d.training_mfu.value
        out.append(
            RunRow(
                run=r.id, set=r.set, chip=r.chip, accelerator_hours=r.accelerator_hours, implied_mfu=implied,
                predicted_hours=predicted, error=predicted / r.accelerator_hours - 1.0,
            )
        )  # fmt: skip
    return out


def median_abs_error(rows: list[LatencyRow] | list[RunRow], which: str) -> float | None:
    errors = [abs(r.error) for r in rows if r.set == which]
    return statistics.median(errors) if errors else None
