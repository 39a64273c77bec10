"""Evaluate scenarios: expand sweeps, build train/serve requests, check limits."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from capacity.core.errors import InputError
from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults
from capacity.data.calibration import Calibration, load_calibration
from capacity.data.diffusion_data import load_diffusion_defaults
from capacity.estimate.image_serve import ImageServeEstimate, estimate_image_serving
from capacity.estimate.image_train import ImageTrainEstimate, estimate_image_training
from capacity.estimate.requests import (
    image_serving_request,
    image_training_request,
    serving_request,
    training_request,
)
from capacity.estimate.serve import ServeEstimate, ServeRequest, estimate_serving
from capacity.estimate.train import TrainEstimate, TrainRequest, estimate_training
from capacity.plans.scenario import Limits, Scenario, Slo, with_value

MAX_POINTS = 20_000  # per-point evaluation takes about 2 ms a point


class Violation(BaseModel):
    limit: str
    allowed: float
    value: float | None
    message: str


Estimate = TrainEstimate | ServeEstimate | ImageTrainEstimate | ImageServeEstimate


class ScenarioResult(BaseModel):
    """One evaluated point: the typed ``estimate`` (``None`` when it could not be evaluated, with
    ``error`` saying why) and ``result``, the same estimate as the JSON the CLI prints."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    file: str
    scenario: str
    kind: str
    point: dict[str, Any]
    estimate: Estimate | None = Field(default=None, exclude=True)
    result: dict[str, Any]
    violations: list[Violation]
    error: str | None = Field(default=None, description="why this point could not be evaluated")


def sweep_points(sc: Scenario) -> int:
    """How many points the scenario's sweep expands to (1 without a sweep)."""
    return math.prod(len(values) for values in sc.sweep.values())


def expand(sc: Scenario) -> list[tuple[dict[str, Any], Scenario]]:
    """The cartesian product of ``sweep``: (the swept values, the scenario with them applied)."""
    if not sc.sweep:
        return [({}, sc)]
    paths = list(sc.sweep)
    size = sweep_points(sc)
    if size > MAX_POINTS:
        raise InputError(
            f"scenario {sc.name!r}: {size:,} points evaluated one by one is over the {MAX_POINTS:,} "
            "limit; to go further, sweep only hardware.chip, hardware.gpus and tokens (vectorised)"
        )
    points = []
    for combo in itertools.product(*(sc.sweep[p] for p in paths)):
        data = sc.model_dump(exclude={"sweep"})
        for path, value in zip(paths, combo, strict=True):
            data = with_value(Scenario.model_validate(data), path, value)
        points.append((dict(zip(paths, combo, strict=True)), Scenario.model_validate(data)))
    return points


def scenario_calibration(sc: Scenario, base_dir: Path | None) -> Calibration | None:
    """The calibration file a scenario names, read relative to the scenario's folder."""
    if sc.calibration is None:
        return None
    path = Path(sc.calibration)
    return load_calibration(path if path.is_absolute() or base_dir is None else base_dir / path)


def train_request(sc: Scenario, calibration: Calibration | None) -> TrainRequest:
    """The training request one (already expanded) scenario describes."""
    hw, eff = sc.hardware, sc.efficiency
    return training_request(
        model=sc.model, name=sc.name, tokens=sc.tokens, chip=hw.chip, gpus=hw.gpus,
        deadline_days=hw.deadline_days, capacity_pflops=hw.capacity_pflops, cluster=hw.cluster,
        capex_usd=sc.procurement.capex_usd, it_capex_share=sc.procurement.it_capex_share, mfu=eff.mfu,
        precision=hw.precision, flops_convention=eff.flops_convention, recompute=eff.recompute,
        seq_len=eff.seq_len, batch_tokens=eff.batch_tokens, parallel=sc.parallel, node_size=hw.node_size,
        economics=sc.economics, calibration=calibration,
    )  # fmt: skip


def serve_request(sc: Scenario, calibration: Calibration | None) -> ServeRequest:
    """The serving request one (already expanded) scenario describes."""
    hw, eff, slo = sc.hardware, sc.efficiency, sc.slo or Slo()
    return serving_request(
        model=sc.model, name=sc.name, chip=hw.chip, input_tokens=sc.input_tokens or 1,
        output_tokens=sc.output_tokens or 1, gpus_per_replica=hw.gpus_per_replica, precision=hw.precision,
        kv_precision=hw.kv_precision, traffic=sc.traffic, ttft_ms=slo.ttft_ms, tpot_ms=slo.tpot_ms,
        slo_percentile=slo.percentile, serving=sc.serving, max_batch=hw.max_batch, stack=eff.stack,
        stack_efficiency=eff.stack_efficiency, node_size=hw.node_size, economics=sc.economics,
        calibration=calibration,
    )  # fmt: skip


def estimate_one(sc: Scenario, base_dir: Path | None = None) -> Estimate:
    """The estimate for one (already expanded) scenario."""
    if sc.is_image:
        return _image_estimate(sc)
    calibration = scenario_calibration(sc, base_dir)
    try:
        if sc.kind == "train":
            return estimate_training(train_request(sc, calibration), load_assumptions(), load_efficiency())
        sreq = serve_request(sc, calibration)
    except InputError as exc:
        raise InputError(f"scenario {sc.name!r}: {exc}") from None
    return estimate_serving(sreq, load_assumptions(), load_efficiency(), load_serving_defaults())


def _image_estimate(sc: Scenario) -> ImageTrainEstimate | ImageServeEstimate:
    """An image model's scenario: ``images`` to train on, or serving ``images_per_day``."""
    hw, eff = sc.hardware, sc.efficiency
    assert isinstance(sc.model, str)
    try:
        if sc.kind == "train":
            treq = image_training_request(
                model=sc.model, images=sc.images or 0.0, resolution=sc.resolution, chip=hw.chip, gpus=hw.gpus,
                deadline_days=hw.deadline_days, cluster=hw.cluster, mfu=eff.mfu, precision=hw.precision,
                node_size=hw.node_size,
                economics=sc.economics,
            )  # fmt: skip
            return estimate_image_training(treq, load_assumptions(), load_diffusion_defaults())
        sreq = image_serving_request(
            model=sc.model, chip=hw.chip, resolution=sc.resolution, steps=sc.steps, batch=hw.max_batch,
            precision=hw.precision, images_per_day=sc.images_per_day, peak_to_average=sc.peak_to_average,
            matmul_fraction=eff.stack_efficiency,
            economics=sc.economics,
        )  # fmt: skip
    except InputError as exc:
        raise InputError(f"scenario {sc.name!r}: {exc}") from None
    return estimate_image_serving(
        sreq, load_assumptions(), load_diffusion_defaults(), load_serving_defaults()
    )


def evaluate_one(sc: Scenario, base_dir: Path | None = None) -> dict[str, Any]:
    """The estimate for one (already expanded) scenario, as the JSON-ready dict the CLI prints."""
    return estimate_one(sc, base_dir).model_dump(mode="json")


def check_limits(sc: Scenario, result: Estimate) -> list[Violation]:
    """Each limit the result exceeds, or could not be checked against, with by how much."""
    out = []
    for limit, allowed in sc.limits.model_dump(exclude_none=True).items():
        metric = Limits.metric(limit)
        value = getattr(result, metric, None)
        if value is None:
            message = f"{limit}: {metric} could not be evaluated for this scenario"
            out.append(Violation(limit=limit, allowed=allowed, value=None, message=message))
        elif value > allowed:
            over = f" (+{value / allowed - 1:.0%})" if allowed > 0 else ""
            message = f"{limit} {allowed:,.4g} exceeded: {metric} = {value:,.4g}{over}"
            out.append(Violation(limit=limit, allowed=allowed, value=value, message=message))
    if getattr(result, "memory_fits", None) is False:
        floor = getattr(result, "min_gpus_for_memory", None)
        message = f"the job does not fit in the chips' memory (at least {floor:,} chips needed)"
        out.append(Violation(limit="memory", allowed=0, value=None, message=message))
    if getattr(result, "slo_met", None) is False:
        out.append(
            Violation(limit="slo", allowed=0, value=None, message="no batch meets the latency targets")
        )
    return out


def evaluate(sc: Scenario, file: str) -> list[ScenarioResult]:
    """Every point of a scenario (one unless it sweeps), with its limit violations; a point that cannot be
    evaluated (a chip without the precision, a model that fits no replica) carries the reason instead."""
    results = []
    for point, one in expand(sc):
        est: Estimate | None
        try:
            est, error = estimate_one(one, Path(file).parent), None
        except InputError as exc:
            est, error = None, str(exc)
        results.append(ScenarioResult(
            file=file, scenario=sc.name, kind=sc.kind, point=point, estimate=est,
            result={} if est is None else est.model_dump(mode="json"),
            violations=[] if est is None else check_limits(one, est), error=error,
        ))  # fmt: skip
    return results
