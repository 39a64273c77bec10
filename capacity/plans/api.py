"""The Python API: what a notebook needs, in a few calls (re-exported lazily by ``import capacity``).

    >>> import capacity
    >>> est = capacity.estimate_training(model="llama3-70b", tokens=15e12, chip="h100", gpus=1024)
    >>> round(est.wall_clock_days)  # doctest: +SKIP
    >>> capacity.catalogue().chips.get("910B").bf16_dense_tflops  # doctest: +SKIP

Each estimate takes the same choices as the command line (``capacity train --help``), as keyword
arguments with the flags' names (``deadline_days`` for ``--days``), and builds its request through the one
construction site the CLI and scenario files use (:mod:`capacity.estimate.requests`). Results are pydantic
models: ``est.model_dump()`` gives the JSON the CLI prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults
from capacity.data.catalog import Catalog, load_chips, load_clusters, load_image_models, load_models
from capacity.data.diffusion_data import load_diffusion_defaults
from capacity.estimate.image_serve import ImageServeEstimate
from capacity.estimate.image_serve import estimate_image_serving as _serve_image
from capacity.estimate.image_train import ImageTrainEstimate
from capacity.estimate.image_train import estimate_image_training as _train_image
from capacity.estimate.requests import (
    image_serving_request,
    image_training_request,
    serving_request,
    training_request,
)
from capacity.estimate.serve import ServeEstimate, ServeRequest
from capacity.estimate.serve import estimate_serving as _serve
from capacity.estimate.train import TrainEstimate, TrainRequest
from capacity.estimate.train import estimate_training as _train
from capacity.plans.scenario import Scenario, load_scenarios
from capacity.plans.scenario_run import ScenarioResult, evaluate
from capacity.records.chip import Chip
from capacity.records.choices import Economics, Traffic
from capacity.records.cluster import Cluster
from capacity.records.image_model import ImageModelPreset
from capacity.records.model_spec import ModelPreset
from capacity.records.parallel import ParallelSpec

__all__ = [
    "Catalogue", "Economics", "ImageServeEstimate", "ImageTrainEstimate", "ParallelSpec", "ServeEstimate",
    "ServeRequest", "Traffic", "TrainEstimate", "TrainRequest", "catalogue", "estimate_image_serving",
    "estimate_image_training", "estimate_serving", "estimate_training", "load_scenario", "run_scenario",
    "serving_request", "training_request",
]  # fmt: skip  # what ``import capacity`` re-exports


class Catalogue(NamedTuple):
    """The chips and model presets in ``specs/``, each looked up by id or alias (``.get``) or iterated."""

    chips: Catalog[Chip]
    models: Catalog[ModelPreset]
    image_models: Catalog[ImageModelPreset]
    clusters: Catalog[Cluster]


def catalogue() -> Catalogue:
    return Catalogue(
        chips=load_chips(), models=load_models(), image_models=load_image_models(), clusters=load_clusters()
    )


def estimate_training(request: TrainRequest | None = None, /, **choices: Any) -> TrainEstimate:
    """A training estimate from a :class:`TrainRequest` or from the choices :func:`training_request`
    takes (``model``, ``tokens``, ``chip``, ``gpus`` or ``deadline_days``, ``precision``, ``parallel``...)."""
    req = request if request is not None else training_request(**choices)
    return _train(req, load_assumptions(), load_efficiency())


def estimate_serving(request: ServeRequest | None = None, /, **choices: Any) -> ServeEstimate:
    """A serving estimate from a :class:`ServeRequest` or from the choices :func:`serving_request` takes
    (``model``, ``chip``, ``input_tokens``, ``output_tokens``, ``traffic``, ``tpot_ms``...)."""
    req = request if request is not None else serving_request(**choices)
    return _serve(req, load_assumptions(), load_efficiency(), load_serving_defaults())


def estimate_image_training(**choices: Any) -> ImageTrainEstimate:
    """Training an image model, from the choices :func:`image_training_request` takes (``model``,
    ``images``, ``resolution``, ``chip``, ``gpus`` or ``deadline_days``, ``mfu``...)."""
    req = image_training_request(**choices)
    return _train_image(req, load_assumptions(), load_diffusion_defaults())


def estimate_image_serving(**choices: Any) -> ImageServeEstimate:
    """Serving an image model, from the choices :func:`image_serving_request` takes (``model``, ``chip``,
    ``resolution``, ``steps``, ``batch``, ``images_per_day``...)."""
    req = image_serving_request(**choices)
    return _serve_image(req, load_assumptions(), load_diffusion_defaults(), load_serving_defaults())


def load_scenario(path: str | Path) -> list[Scenario]:
    """The scenarios in a YAML file (one, or a list under ``scenarios:``), validated."""
    return load_scenarios(Path(path))


def run_scenario(path: str | Path) -> list[ScenarioResult]:
    """Every point of every scenario in a file: its typed ``estimate`` (a :class:`TrainEstimate` or
    :class:`ServeEstimate`, ``None`` with ``error`` when it could not be evaluated) and limit violations."""
    return [r for sc in load_scenario(path) for r in evaluate(sc, str(path))]
