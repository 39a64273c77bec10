"""capacity: an AI-compute capacity planner.

The library computes and returns pydantic models; it never prints or exits. The command-line
app in :mod:`capacity.cli` parses, calls and renders. For notebooks and scripts, the Python API
(:mod:`capacity.plans.api`) is available from the package itself, imported on first use so that the
command line starts fast::

    import capacity
    est = capacity.estimate_training(model="llama3-70b", tokens=15e12, chip="h100", gpus=1024)
    print(est.wall_clock_days, est.parallel.describe())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Catalogue", "Economics", "ImageServeEstimate", "ImageTrainEstimate", "ParallelSpec", "ServeEstimate",
    "ServeRequest", "Traffic", "TrainEstimate", "TrainRequest", "__version__", "catalogue",
    "estimate_image_serving", "estimate_image_training", "estimate_serving", "estimate_training",
    "load_scenario", "run_scenario", "serving_request", "training_request",
]  # fmt: skip

if TYPE_CHECKING:
    from capacity.plans.api import (
        Catalogue,
        Economics,
        ImageServeEstimate,
        ImageTrainEstimate,
        ParallelSpec,
        ServeEstimate,
        ServeRequest,
        Traffic,
        TrainEstimate,
        TrainRequest,
        catalogue,
        estimate_image_serving,
        estimate_image_training,
        estimate_serving,
        estimate_training,
        load_scenario,
        run_scenario,
        serving_request,
        training_request,
    )


def __getattr__(name: str) -> Any:
    """The API names, imported from :mod:`capacity.plans.api` when first asked for (PEP 562)."""
    if name not in __all__:
        raise AttributeError(f"module 'capacity' has no attribute {name!r}")
    from capacity.plans import api

    return getattr(api, name)
