"""Serving an image-generation model: seconds per image, images per second per GPU, GPUs for a daily load,
cost and energy per image.

One image runs on one GPU. A sampling step at batch b takes

    t_step(b) = t₀ + passes · b · F_step / (peak · f)

where F_step is the denoiser's forward FLOPs (:mod:`capacity.formulas.diffusion`), ``passes`` 2 under
classifier-free guidance, ``peak`` the chip's dense peak at the precision, ``f`` the share of it the layers
reach and t₀ a fixed time per step (framework and launch overhead, memory-bound normalisations). f and t₀
are fitted on one source and checked on others (``specs/diffusion.yaml``, docs/image-models.md). The text
encoders and the VAE decoder run once per image at the same f. A batch of b images takes
``steps · t_step(b) + b · (text + decode) / (peak · f)``.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from capacity.core.errors import InputError
from capacity.core.units import MEMORY_BYTES_PER_GB, TERA
from capacity.data.assumptions import Assumptions, ServingDefaults
from capacity.data.diffusion_data import DiffusionDefaults
from capacity.data.efficiency import peak_tflops
from capacity.data.provenance import Assumed, Provenance
from capacity.estimate.serving_cost import usd_per_gpu_hour
from capacity.formulas import energy
from capacity.formulas.diffusion import ImageFlops, image_flops
from capacity.records.chip import Chip, Dtype
from capacity.records.choices import Economics, sixteen_bit
from capacity.records.image_model import ImageModelPreset

SECONDS_PER_DAY = 86_400.0
EIGHT_BIT = (
    "8-bit: every part runs at the chip's 8-bit peak with the share of it fitted on 16-bit runs, an upper "
    "bound (real pipelines keep the VAE, normalisations and often attention in 16 bits)"
)
BYTES_PER_PARAM = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}


class ImageServeRequest(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    model: ImageModelPreset
    chip: Chip
    resolution: int | None = Field(default=None, gt=0, le=16384, description="default: the model's")
    steps: int | None = Field(default=None, ge=1, le=10_000, description="default: the model's pipeline")
    batch: int = Field(default=1, ge=1, le=4096, description="images per batch when serving a load")
    precision: Dtype | None = None
    images_per_day: float | None = Field(default=None, ge=1e-6, le=1e15)
    peak_to_average: float = Field(default=1.0, ge=1.0, le=100.0)
    matmul_fraction: float | None = Field(default=None, gt=0, le=1)
    economics: Economics = Field(default_factory=Economics)


class ImageServeEstimate(BaseModel):
    workload: str = "image"
    model: str
    chip: str
    precision: str
    resolution: int
    steps: int
    guidance_passes: int
    flops_per_image: float
    flops_per_step: float
    weights_gb: float
    memory_fits: bool | None
    seconds_per_image: float = Field(description="one image alone (batch 1), text encoding and decode in")
    batch_size: int
    seconds_per_batch: float
    images_per_s_per_gpu: float
    matmul_fraction: float
    step_overhead_s: float
    images_per_day: float | None
    images_per_s_peak: float | None
    gpus: int | None
    utilisation: float | None
    aggregate_peak_pflops: float | None
    pricing: str
    gpu_hour_usd: float
    cost_usd_per_image: float
    cost_usd_per_thousand_images: float
    cost_usd_per_month: float | None
    cost_per_month: float | None
    currency: str
    price_assumed: bool | None = None
    price_source: str | None = None
    price_date: str | None = None
    facility_power_mw: float | None
    energy_wh_per_image: float | None
    assumptions: list[Assumed]
    warnings: list[str]


def batch_seconds(
    parts: ImageFlops, steps: int, passes: int, batch: int, peak_tflops_: float, fraction: float,
    overhead_s: float,
) -> float:  # fmt: skip
    """Wall time for ``batch`` images of ``steps`` steps on one chip (the formula in the module docstring)."""
    rate = peak_tflops_ * TERA * fraction
    per_step = overhead_s + passes * batch * parts.denoiser_step / rate
    return steps * per_step + batch * (passes * parts.text_encoders + parts.vae_decode) / rate


def estimate_image_serving(
    req: ImageServeRequest, assumptions: Assumptions, defaults: DiffusionDefaults, serving: ServingDefaults
) -> ImageServeEstimate:
    """Seconds per image, throughput per GPU, the fleet for a daily load, and what each image costs."""
    m, chip, econ = req.model, req.chip, req.economics
    prov = Provenance(assumptions)
    resolution = req.resolution or m.resolution
    steps = req.steps or m.steps
    if req.resolution is None:
        prov.note("resolution", resolution, f"{m.id}'s native resolution")
    if req.steps is None:
        prov.note("steps", steps, f"{m.id}'s default pipeline")
    if resolution % m.size_multiple:
        raise InputError(f"--resolution {resolution}: {m.id} takes multiples of {m.size_multiple} pixels")
    precision = req.precision
    if precision is None:
        precision = sixteen_bit(chip)
        prov.note("precision", precision, "bf16 where the chip has a known peak, else fp16")
    peak = peak_tflops(chip, precision)
    if BYTES_PER_PARAM[precision] < 2:
        prov.warnings.append(EIGHT_BIT)
    fraction = prov.pick(req.matmul_fraction, "matmul_fraction", defaults.inference_matmul_fraction)
    overhead = prov.pick(None, "step_overhead_s", defaults.inference_step_overhead_s)
    parts = image_flops(m, resolution)
    passes = m.guidance_passes
    one = batch_seconds(parts, steps, passes, 1, peak, fraction, overhead)
    per_batch = batch_seconds(parts, steps, passes, req.batch, peak, fraction, overhead)
    per_gpu = req.batch / per_batch

    weights_gb = m.params * BYTES_PER_PARAM[precision] / 1e9
    fits = None
    if chip.memory_gb is not None:
        usable = chip.memory_gb * MEMORY_BYTES_PER_GB * prov.pick(None, "memory_usable_fraction") / 1e9
        fits = weights_gb <= usable
        if not fits:
            prov.warnings.append(
                f"{m.id}'s weights ({weights_gb:.1f} GB at {precision}) do not fit one {chip.id} "
                f"({usable:.1f} GB usable): offload the text encoders or use a lower precision"
            )

    price = usd_per_gpu_hour(econ, chip, prov)
    watts = prov.chip_watts(chip, econ)
    pue = prov.pick(econ.pue, "pue")
    facility_w_per_gpu = None if watts is None else energy.facility_power_w(1, watts, pue)
    if watts is None:
        prov.warnings.append(f"{chip.id} has no published TDP or server power: energy is not estimated")
    gpus = utilisation = peak_rate = monthly = agg = power_mw = None
    if req.images_per_day is not None:
        peak_rate = req.images_per_day / SECONDS_PER_DAY * req.peak_to_average
        gpus = max(1, math.ceil(peak_rate / per_gpu))
        utilisation = req.images_per_day / SECONDS_PER_DAY / (gpus * per_gpu)
        monthly = gpus * price * 24.0 * prov.pick(None, "days_per_month", serving.days_per_month)
        agg = gpus * peak / 1000.0
        power_mw = None if facility_w_per_gpu is None else gpus * facility_w_per_gpu / 1e6
    # a fleet sized for the peak serves the average at `utilisation`; per image, count the GPU-time it holds
    busy = 1.0 if utilisation is None else utilisation
    per_image_usd = price / 3600.0 / (per_gpu * busy)
    rate = 1.0 if econ.currency == "USD" else prov.pick(econ.cny_per_usd, "cny_per_usd")
    return ImageServeEstimate(
        model=m.id,
        chip=chip.id,
        precision=precision,
        resolution=resolution,
        steps=steps,
        guidance_passes=passes,
        flops_per_image=parts.inference(steps, passes),
        flops_per_step=passes * parts.denoiser_step,
        weights_gb=weights_gb,
        memory_fits=fits,
        seconds_per_image=one,
        batch_size=req.batch,
        seconds_per_batch=per_batch,
        images_per_s_per_gpu=per_gpu,
        matmul_fraction=fraction,
        step_overhead_s=overhead,
        images_per_day=req.images_per_day,
        images_per_s_peak=peak_rate,
        gpus=gpus,
        utilisation=utilisation,
        aggregate_peak_pflops=agg,
        pricing=econ.pricing,
        gpu_hour_usd=price,
        cost_usd_per_image=per_image_usd,
        cost_usd_per_thousand_images=per_image_usd * 1000.0,
        cost_usd_per_month=monthly,
        cost_per_month=None if monthly is None else monthly * rate,
        currency=econ.currency,
        **(prov.price.model_dump() if prov.price is not None else {}),
        facility_power_mw=power_mw,
        energy_wh_per_image=(
            None if facility_w_per_gpu is None else facility_w_per_gpu / 3600.0 / (per_gpu * busy)
        ),
        assumptions=prov.assumed,
        warnings=prov.warnings,
    )
