"""Image-model defaults and published measurements (``specs/diffusion.yaml``).

Published figures are split by source into a fitting set (the only data the defaults were fitted on)
and held-out sets; :mod:`capacity.plans.validate_images` refits and reports both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from capacity.core.units import TERA
from capacity.data.assumptions import Assumption
from capacity.data.catalog import load_spec_file
from capacity.records.chip import Chip, Dtype


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_Strict):
    images: float = Field(gt=0, description="images seen at this resolution (steps × global batch)")
    resolution: int = Field(gt=0)


class ImageRun(_Strict):
    """A published image-model training run: what it trained on, for how many accelerator-hours."""

    id: str
    model: str
    chip: str
    gpus: int = Field(ge=1)
    accelerator_hours: float = Field(gt=0)
    precision: Dtype = "fp16"
    encoders_precomputed: bool = Field(description="VAE and text latents computed once, before training")
    stages: list[Stage] = Field(min_length=1)
    set: Literal["fitting", "heldout"]
    source: str
    note: str | None = None


class LatencyMeasurement(_Strict):
    """A published time to generate images on one GPU."""

    model: str
    chip: str
    resolution: int = Field(gt=0)
    steps: int = Field(gt=0)
    batch: int = Field(default=1, ge=1)
    precision: Dtype = "fp16"
    seconds_per_batch: float = Field(gt=0, description="wall time for the whole batch, VAE decode included")
    stack: str
    set: Literal["fitting", "heldout"]
    source: str
    note: str | None = None


class DiffusionDefaults(_Strict):
    training_mfu: Assumption
    inference_matmul_fraction: Assumption = Field(description="share of the dense peak the layers reach")
    inference_step_overhead_s: Assumption = Field(description="fixed time per sampling step, any batch")
    runs: list[ImageRun]
    latency: list[LatencyMeasurement]


def load_diffusion_defaults(specs_dir: Path | None = None) -> DiffusionDefaults:
    return load_spec_file("diffusion.yaml", DiffusionDefaults, specs_dir)


def run_flops(run: ImageRun) -> float:
    """Training FLOPs of a published run over its stages (the encoders left out when precomputed)."""
    from capacity.data.catalog import load_image_models
    from capacity.formulas.diffusion import image_flops

    model = load_image_models().get(run.model)
    total = 0.0
    for stage in run.stages:
        parts = image_flops(model, stage.resolution)
        per_image = 3.0 * parts.denoiser_step if run.encoders_precomputed else parts.training()
        total += per_image * stage.images
    return total


def image_run_mfu(run: ImageRun, chip: Chip) -> float:
    """The model FLOPs utilisation a published run's accelerator-hours imply on ``chip``'s dense peak."""
    from capacity.data.efficiency import peak_tflops

    return run_flops(run) / (run.accelerator_hours * 3600.0 * peak_tflops(chip, run.precision) * TERA)
