"""The one place each request is built, for every front end: ``train``/``serve``/``compare`` flags,
scenario files, ``validate`` and the Python API all call :func:`training_request` or
:func:`serving_request`, so a default or a check written here holds everywhere.

They take what a user has — a model id, a ``config.json`` path, a :class:`ModelPreset` or inline numbers; a
chip id or :class:`Chip` — resolve it, apply the defaults that depend on it (the 16-bit format a chip
runs, :func:`capacity.records.choices.sixteen_bit`; the preset's training tokens) and the serving checks,
and return the validated request. A value outside a field's range raises
:class:`pydantic.ValidationError` (each front end names its own flag or YAML field); anything else wrong
raises :class:`InputError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from capacity.core.errors import InputError
from capacity.data.assumptions import load_assumptions
from capacity.data.calibration import Calibration
from capacity.data.catalog import load_chips, load_clusters, load_image_models
from capacity.data.model_source import InlineModel, image_model_of, model_of
from capacity.estimate.train_io import TrainRequest
from capacity.formulas.flops import FlopsConvention, Recompute
from capacity.records.chip import Chip
from capacity.records.choices import (
    WEIGHT_PRECISIONS,
    Economics,
    KvPrecision,
    ServingOptions,
    Traffic,
    TrainPrecision,
    sixteen_bit,
)
from capacity.records.cluster import Cluster
from capacity.records.model_spec import ModelPreset
from capacity.records.parallel import ParallelSpec

if TYPE_CHECKING:  # serving and image workloads are imported where they are built: a training run never
    # loads them
    from capacity.estimate.image_serve import ImageServeRequest
    from capacity.estimate.image_train import ImageTrainRequest
    from capacity.estimate.serve import ServeRequest
    from capacity.records.image_model import ImageModelPreset

ModelInput = str | ModelPreset | InlineModel


def chip_of(chip: str | Chip | None) -> Chip | None:
    """A chip id or alias looked up in the catalogue (unknown ids raise with suggestions)."""
    return load_chips().get(chip) if isinstance(chip, str) else chip


def training_request(
    *,
    model: ModelInput | None = None,
    tokens: float | None = None,
    params: float | None = None,
    active_params: float | None = None,
    chip: str | Chip | None = None,
    gpus: int | None = None,
    deadline_days: float | None = None,
    capacity_pflops: float | None = None,
    cluster: str | Cluster | None = None,
    capex_usd: float | None = None,
    it_capex_share: float | None = None,
    mfu: float | None = None,
    precision: TrainPrecision | str | None = None,
    flops_convention: FlopsConvention = "6nd",
    recompute: Recompute | None = None,
    parallel: ParallelSpec | None = None,
    layouts: int = 1,
    seq_len: int | None = None,
    batch_tokens: float | None = None,
    node_size: int | None = None,
    economics: Economics | None = None,
    calibration: Calibration | None = None,
    uncertainty: bool = False,
    name: str = "inline",
    base_dir: Path | None = None,
) -> TrainRequest:
    """A training request. ``model`` may be inline numbers (a scenario's ``model: {params: ...}``), which
    give ``params``/``active_params``; ``tokens`` defaults to the preset's recorded count; the precision
    defaults (in the planner) to :func:`sixteen_bit` of the chip. ``int4`` is not a training precision."""
    preset, inline = (None, None) if model is None else model_of(model, name, base_dir)
    if inline is not None:
        if params is not None or active_params is not None:
            raise InputError("give the parameter count once: inline in the model, or as params")
        params, active_params = inline.params, inline.active_params
        preset = None  # training reads the counts; an inline architecture only matters for serving
    if precision == "int4":
        raise InputError(
            "precision int4: integer training is not modelled; use bf16, fp16, fp8, tf32 or fp32"
        )
    named = load_clusters().get(cluster) if isinstance(cluster, str) else cluster
    if named is not None:
        chip, gpus, capacity_pflops, capex_usd = _from_cluster(
            named, chip, gpus, deadline_days, capacity_pflops, capex_usd, economics or Economics()
        )
    if it_capex_share is not None and capex_usd is None:
        raise InputError("--it-capex-share is a share of a stated spend: give --capex-usd")
    return TrainRequest(
        tokens=tokens,  # type: ignore[arg-type]  # None: TrainRequest takes the preset's count
        model=preset, params=params, active_params=active_params, chip=chip_of(chip),
        gpus=gpus, deadline_days=deadline_days, capacity_pflops=capacity_pflops, cluster=named,
        capex_usd=capex_usd, it_capex_share=it_capex_share, mfu=mfu,
        precision=precision,  # type: ignore[arg-type]  # a str pydantic checks against the literal
        flops_convention=flops_convention, recompute=recompute, parallel=parallel or ParallelSpec(),
        layouts=layouts, seq_len=seq_len, batch_tokens=batch_tokens, node_size=node_size,
        economics=economics or Economics(), calibration=calibration, uncertainty=uncertainty,
    )  # fmt: skip


def _from_cluster(
    c: Cluster, chip: str | Chip | None, gpus: int | None, deadline_days: float | None,
    capacity_pflops: float | None, capex_usd: float | None, econ: Economics,
) -> tuple[str | Chip | None, int | None, float | None, float | None]:  # fmt: skip
    """A named cluster's chip and count, or a data centre's nameplate PFLOPS (and stated spend, in USD at
    the economics' or the default exchange rate); the sizes it fixes cannot also be given."""
    taken = [
        n for n, v in (("gpus", gpus), ("days", deadline_days), ("capacity-pflops", capacity_pflops)) if v
    ]
    if taken:
        raise InputError(f"--cluster {c.id} fixes the size: drop --{taken[0]}")
    if c.nameplate_pflops is None:
        if chip is not None:
            raise InputError(f"--cluster {c.id} is {c.count:,} x {c.chip}: drop --chip")
        return c.chip, c.count, None, capex_usd
    if capex_usd is None and c.capex_cny is not None:
        rate = econ.cny_per_usd or load_assumptions().cny_per_usd.value
        capex_usd = c.capex_cny / rate
    return chip, None, c.nameplate_pflops, capex_usd


def serving_request(
    *,
    model: ModelInput,
    chip: str | Chip | None,
    input_tokens: int,
    output_tokens: int,
    params: float | None = None,
    gpus_per_replica: int | None = None,
    precision: str | None = None,
    kv_precision: KvPrecision | None = None,
    traffic: Traffic | None = None,
    ttft_ms: float | None = None,
    tpot_ms: float | None = None,
    slo_percentile: float = 90.0,
    replicas: int | None = None,
    serving: ServingOptions | None = None,
    max_batch: int | None = None,
    stack: str | None = None,
    stack_efficiency: float | None = None,
    node_size: int | None = None,
    economics: Economics | None = None,
    calibration: Calibration | None = None,
    name: str = "inline",
    base_dir: Path | None = None,
) -> ServeRequest:
    """A serving request. The weights default to :func:`sixteen_bit` of the chip (fp16 on chips without a
    bf16 peak, as training does); serving needs the architecture (it sizes the KV cache), one chip, and a
    weight format (not fp32/tf32)."""
    preset, inline = model_of(model, name, base_dir)
    if preset is None:
        raise InputError("serving needs the architecture (layers, hidden_size, heads), or a preset id")
    if inline is not None and inline.active_params is not None:
        raise InputError("serving an inline MoE model is not supported; use a preset id or a config.json")
    found = chip_of(chip)
    if found is None:
        raise InputError("serving needs a chip")
    weights = precision or sixteen_bit(found)
    if weights not in WEIGHT_PRECISIONS:
        raise InputError(
            f"precision {weights}: not a serving weight format; use {', '.join(WEIGHT_PRECISIONS)}"
        )
    from capacity.estimate.serve import ServeRequest

    return ServeRequest(
        model=preset, chip=found, input_tokens=input_tokens, output_tokens=output_tokens, params=params,
        gpus_per_replica=gpus_per_replica,
        weight_precision=weights,  # type: ignore[arg-type]  # checked above
        kv_precision=kv_precision,
        traffic=traffic, ttft_ms=ttft_ms, tpot_ms=tpot_ms, slo_percentile=slo_percentile,
        serving=serving or ServingOptions(), replicas=replicas,
        max_batch=max_batch, stack=stack,
        stack_efficiency=stack_efficiency, node_size=node_size, economics=economics or Economics(),
        calibration=calibration,
    )  # fmt: skip


def _image_model(model: str | ImageModelPreset) -> ImageModelPreset:
    """An image preset id or alias, or an image-model YAML file; an unknown id raises with close matches."""
    if not isinstance(model, str):
        return model
    return image_model_of(model) or load_image_models().get(model)


def image_training_request(
    *,
    model: str | ImageModelPreset,
    images: float,
    resolution: int | None = None,
    chip: str | Chip | None = None,
    gpus: int | None = None,
    deadline_days: float | None = None,
    cluster: str | Cluster | None = None,
    mfu: float | None = None,
    precision: str | None = None,
    node_size: int | None = None,
    economics: Economics | None = None,
) -> ImageTrainRequest:
    """Training an image model: ``images`` seen at ``resolution`` (default: the model's native size), on
    ``gpus`` chips, by a deadline, or on a named cluster of chips."""
    from capacity.estimate.image_train import ImageTrainRequest

    preset = _image_model(model)
    named = load_clusters().get(cluster) if isinstance(cluster, str) else cluster
    if named is not None:
        if named.nameplate_pflops is not None:
            raise InputError(f"--cluster {named.id} is a nameplate data centre; image training needs chips")
        chip, gpus, _, _ = _from_cluster(
            named, chip, gpus, deadline_days, None, None, economics or Economics()
        )
    if precision in ("int8", "int4"):
        raise InputError(f"precision {precision}: integer training is not modelled; use bf16, fp16 or fp8")
    return ImageTrainRequest(
        model=preset, images=images, resolution=resolution or preset.resolution, chip=chip_of(chip),
        gpus=gpus, deadline_days=deadline_days, cluster=named, mfu=mfu,
        precision=precision,  # type: ignore[arg-type]  # a str pydantic checks against the literal
        node_size=node_size, economics=economics or Economics(),
    )  # fmt: skip


def image_serving_request(
    *,
    model: str | ImageModelPreset,
    chip: str | Chip | None,
    resolution: int | None = None,
    steps: int | None = None,
    batch: int | None = None,
    precision: str | None = None,
    images_per_day: float | None = None,
    peak_to_average: float | None = None,
    matmul_fraction: float | None = None,
    economics: Economics | None = None,
) -> ImageServeRequest:
    """Serving an image model on one kind of chip, optionally for a daily load of images."""
    from capacity.estimate.image_serve import ImageServeRequest

    preset = _image_model(model)
    found = chip_of(chip)
    if found is None:
        raise InputError("serving needs a chip")
    if precision == "int4":
        raise InputError("precision int4: not modelled for image models; use bf16, fp16, fp8 or int8")
    return ImageServeRequest(
        model=preset, chip=found, resolution=resolution, steps=steps, batch=batch or 1,
        precision=precision,  # type: ignore[arg-type]  # a str pydantic checks against the literal
        images_per_day=images_per_day, peak_to_average=peak_to_average or 1.0,
        matmul_fraction=matmul_fraction,
        economics=economics or Economics(),
    )  # fmt: skip
