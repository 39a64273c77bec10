"""The chain behind one image-model training estimate, as :mod:`capacity.estimate.explain` gives it for
language models:

    days = images · FLOPs per image / (GPUs · peak · MFU) / 86 400
    GPU-hours = days · 24 · GPUs;  cost = GPU-hours · price;  energy = GPUs · power · PUE · hours

The MFU is one number for every image model (``training_mfu`` in ``specs/diffusion.yaml``), so GPUs move
days only, not GPU-hours, and its range is what the published runs imply (docs/image-models.md).
"""

from __future__ import annotations

from capacity.data.assumptions import Assumptions
from capacity.data.catalog import load_chips
from capacity.data.diffusion_data import DiffusionDefaults, image_run_mfu
from capacity.data.uncertainty import Spreads
from capacity.estimate.explain import Factor, economy_rows, hardware_rows
from capacity.estimate.image_train import ImageTrainEstimate, ImageTrainRequest

TIME = "FLOPs, days, GPU-hours, cost, energy"
DAYS = "days, GPU-hours, cost, energy"


def explain_image_training(
    req: ImageTrainRequest,
    est: ImageTrainEstimate,
    a: Assumptions,
    defaults: DiffusionDefaults,
    spreads: Spreads,
) -> list[Factor]:
    """One row per factor of the chain, in the order the estimate applies them."""
    model = req.model
    rows = [
        Factor(
            factor="training images",
            value=est.images,
            unit="images",
            moves=TIME,
            elasticity=1.0,
            range_effect=None,
            source="given (--images)",
        ),
        Factor(
            factor=f"FLOPs per image at {est.resolution} px",
            value=est.flops_per_image,
            unit=f"FLOP ({est.flops_convention})",
            moves=TIME,
            elasticity=1.0,
            range_effect=None,
            source=f"capacity/formulas/diffusion.py, {model.id}'s architecture: {model.sources[0].title}",
        ),
    ]
    chip = req.chip
    if chip is None or est.peak_tflops_per_gpu is None or est.mfu is None:
        return rows
    implied = sorted(image_run_mfu(run, load_chips().get(run.chip)) for run in defaults.runs)
    spread = (
        None
        if req.mfu is not None
        else f"GPU-hours x{est.mfu / implied[-1]:.2f} to x{est.mfu / implied[0]:.2f} at the MFU the "
        f"{len(implied)} published runs imply ({implied[0]:.3f} to {implied[-1]:.3f})"
    )
    rows += hardware_rows(
        chip, est, req.gpus is not None, "days (GPU-hours stay: one MFU at any scale)", -1.0
    )
    rows += [
        Factor(
            factor="MFU",
            value=est.mfu,
            unit="",
            moves=DAYS,
            elasticity=-1.0,
            range_effect=spread,
            source=est.mfu_source or "default",
        ),
    ]
    return rows + economy_rows(chip, est, req.economics, a, spreads)
