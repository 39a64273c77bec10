"""Training an image-generation model: images × FLOPs per image → GPU-hours, days, cost, energy.

FLOPs per image come from the architecture (:mod:`capacity.formulas.diffusion`); the time from a flat model
FLOPs utilisation, ``--mfu`` or the documented default in ``specs/diffusion.yaml`` (there is no
layout search: diffusion models this size train data-parallel). Money and energy use the same stages as
LLM training (:mod:`capacity.estimate.train`).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from capacity.core.errors import InputError
from capacity.core.units import SECONDS_PER_DAY, TERA
from capacity.data.assumptions import Assumptions
from capacity.data.catalog import load_chips
from capacity.data.diffusion_data import DiffusionDefaults, image_run_mfu
from capacity.data.efficiency import peak_tflops
from capacity.data.provenance import Assumed, Provenance
from capacity.estimate.image_serve import EIGHT_BIT
from capacity.estimate.train import cluster_notes, energy_stage, money_stage
from capacity.formulas import flops, memory
from capacity.formulas.diffusion import image_flops
from capacity.records.chip import Chip, Dtype
from capacity.records.choices import Economics, TrainPrecision, sixteen_bit
from capacity.records.cluster import Cluster
from capacity.records.image_model import ImageModelPreset

MAX_IMAGES = 1e15


class ImageTrainRequest(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    model: ImageModelPreset
    images: float = Field(ge=1, le=MAX_IMAGES, description="training images seen (steps × global batch)")
    resolution: int = Field(gt=0, le=16384, description="pixels per side")
    chip: Chip | None = None
    gpus: int | None = Field(default=None, ge=1)
    deadline_days: float | None = Field(default=None, gt=0)
    cluster: Cluster | None = Field(default=None, description="the named cluster chip and gpus came from")
    mfu: float | None = Field(default=None, gt=0, le=1)
    precision: TrainPrecision | None = None
    node_size: int | None = Field(default=None, ge=1)
    economics: Economics = Field(default_factory=Economics)


class PublishedImageRun(BaseModel):
    """A published run on the same kind of chip: its hours, the MFU they imply, what capacity's default
    MFU would have predicted for that run, and how long this job would take at the run's MFU."""

    run: str
    published_gpu_hours: float
    implied_mfu: float
    gpu_hours_at_default_mfu: float
    wall_clock_days_at_that_mfu: float | None


class ImageTrainEstimate(BaseModel):
    """One image-model training estimate; the field names match :class:`TrainEstimate` where they mean
    the same thing, so renderers, limits and sweeps treat both alike."""

    workload: str = "image"
    model: str
    images: float
    resolution: int
    params: float
    flops_per_image: float
    flops_convention: str
    training_flops: float
    pf_days: float
    chip: str | None
    precision: str | None
    peak_tflops_per_gpu: float | None
    gpus: int | None
    aggregate_peak_pflops: float | None
    mfu: float | None
    mfu_source: str | None
    images_per_s_per_gpu: float | None
    wall_clock_days: float | None
    cluster: str | None = None
    gpu_hours: float | None
    gpu_days: float | None
    model_state_gb: float
    min_gpus_for_memory: int | None
    memory_fits: bool | None
    pricing: str
    gpu_hour_usd: float | None
    cost_usd: float | None
    cost: float | None
    currency: str
    capex_usd: float | None
    price_assumed: bool | None = None
    price_source: str | None = None
    price_date: str | None = None
    facility_power_mw: float | None
    energy_mwh: float | None
    co2e_t: float | None
    pue: float | None
    grid_kgco2e_per_kwh: float | None
    published_runs_on_chip: list[PublishedImageRun]
    assumptions: list[Assumed]
    warnings: list[str]


def same_part(a: str, b: str) -> bool:
    """Two catalogue ids of one chip in different memory or form factors (a100-sxm4-40gb, a100-sxm4-80gb)."""
    return a.split("-")[0] == b.split("-")[0]


def _state_bytes(m: ImageModelPreset, optimizer_bytes: float) -> float:
    """The denoiser trains with mixed-precision Adam; the frozen text encoders and VAE are held in 16 bits."""
    frozen = sum(e.params for e in m.text_encoders) + m.vae.params
    return memory.model_state_bytes(m.denoiser.params, optimizer_bytes) + 2.0 * frozen


def estimate_image_training(
    req: ImageTrainRequest, assumptions: Assumptions, defaults: DiffusionDefaults
) -> ImageTrainEstimate:
    """Carry an image-model training job from images to FLOPs, days, chips, dollars and megawatt-hours."""
    if req.resolution % req.model.size_multiple:
        raise InputError(
            f"--resolution {req.resolution}: {req.model.id} takes multiples of "
            f"{req.model.size_multiple} pixels"
        )
    prov = Provenance(assumptions)
    econ, chip = req.economics, req.chip
    if req.cluster is not None:
        prov.warnings.extend(cluster_notes(req.cluster))
    per_image = image_flops(req.model, req.resolution).training()
    total = per_image * req.images
    state = _state_bytes(req.model, prov.pick(None, "optimizer_bytes_per_param"))
    precision: Dtype | None = req.precision
    peak = mfu = None
    mfu_source = "given by the user (--mfu)" if req.mfu is not None else None
    gpus = req.gpus
    min_gpus = fits = None
    if chip is not None:
        if precision is None:
            precision = sixteen_bit(chip)
            prov.note("precision", precision, "bf16 where the chip has a known peak, else fp16")
        peak = peak_tflops(chip, precision)
        if precision == "fp8":
            prov.warnings.append(EIGHT_BIT)
        mfu = req.mfu if req.mfu is not None else prov.pick(None, "training_mfu", defaults.training_mfu)
        mfu_source = mfu_source or f"default for diffusion training ({defaults.training_mfu.source})"
        if chip.memory_gb is not None:
            usable = prov.pick(None, "memory_usable_fraction")
            min_gpus = memory.min_chips(state, chip.memory_gb, usable)
        if req.deadline_days is not None:
            node = req.node_size or int(prov.pick(None, "node_size"))
            need = total / (req.deadline_days * SECONDS_PER_DAY * peak * TERA * mfu)
            gpus = max(node, math.ceil(need / node) * node)
        if min_gpus is not None and gpus is not None:
            fits = gpus >= min_gpus
            if min_gpus > 1:
                prov.warnings.append(
                    f"the model state ({state / 1e9:,.0f} GB) does not fit one {chip.id}: it must be sharded "
                    f"(FSDP/ZeRO-3) over at least {min_gpus} chips"
                )
    wall = gpu_hours = gpu_days = agg = per_s = None
    if chip is not None and peak is not None and mfu is not None and gpus is not None:
        agg = gpus * peak / 1000.0
        wall = total / (gpus * peak * TERA * mfu) / SECONDS_PER_DAY
        gpu_days = wall * gpus
        gpu_hours = gpu_days * 24.0
        per_s = peak * TERA * mfu / per_image
    power = mwh = co2 = pue = grid = None
    price_hour = cost_usd = capex = None
    if chip is not None and gpus is not None and wall is not None and gpu_hours is not None:
        pue, grid = prov.pick(econ.pue, "pue"), prov.pick(econ.grid_kgco2e_per_kwh, "grid_kgco2e_per_kwh")
        power, mwh, co2 = energy_stage(chip, gpus, wall, pue, grid, econ, prov, prov.warnings)
        price_hour, cost_usd, capex = money_stage(chip, gpus, gpu_hours, wall, mwh, econ, prov)
    rate = 1.0 if econ.currency == "USD" else prov.pick(econ.cny_per_usd, "cny_per_usd")
    return ImageTrainEstimate(
        model=req.model.id,
        images=req.images,
        resolution=req.resolution,
        params=req.model.params,
        flops_per_image=per_image,
        flops_convention="3 x denoiser forward + encoders forward",
        training_flops=total,
        pf_days=flops.pf_days(total),
        chip=chip.id if chip else None,
        precision=precision,
        peak_tflops_per_gpu=peak,
        gpus=gpus,
        aggregate_peak_pflops=agg,
        mfu=mfu,
        mfu_source=mfu_source,
        images_per_s_per_gpu=per_s,
        wall_clock_days=wall,
        cluster=None if req.cluster is None else req.cluster.id,
        gpu_hours=gpu_hours,
        gpu_days=gpu_days,
        model_state_gb=state / 1e9,
        min_gpus_for_memory=min_gpus,
        memory_fits=fits,
        pricing=econ.pricing,
        gpu_hour_usd=price_hour,
        cost_usd=cost_usd,
        cost=None if cost_usd is None else cost_usd * rate,
        currency=econ.currency,
        capex_usd=capex,
        **(prov.price.model_dump() if prov.price is not None else {}),
        facility_power_mw=power,
        energy_mwh=mwh,
        co2e_t=co2,
        pue=pue,
        grid_kgco2e_per_kwh=grid,
        published_runs_on_chip=[
            PublishedImageRun(
                run=run.id,
                published_gpu_hours=run.accelerator_hours,
                implied_mfu=run_mfu,
                gpu_hours_at_default_mfu=run.accelerator_hours * run_mfu / defaults.training_mfu.value,
                wall_clock_days_at_that_mfu=(
                    None if gpus is None or peak is None else total / (gpus * peak * TERA * run_mfu) / 86400
                ),
            )
            for run in defaults.runs
            if chip is not None and same_part(run.chip, chip.id)
            for run_mfu in [image_run_mfu(run, load_chips().get(run.chip))]
        ],
        assumptions=prov.assumed,
        warnings=prov.warnings,
    )
