"""``capacity train`` and ``capacity serve`` for image-generation models (``specs/image_models/``).

The commands take the same flags; when ``--model`` names an image model (or an image flag is given) they
come here. ``--stack-efficiency`` is an image model's matmul fraction (default: fitted, specs/diffusion.yaml)
and ``--max-batch`` its serving batch. Flags that only mean something for language models are refused
by name, so nothing is silently ignored.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from capacity.core.errors import InputError
from capacity.data.model_source import image_model_of as image_preset_of
from capacity.data.model_source import resolve_model
from capacity.records.choices import TRAIN_PRECISIONS, WEIGHT_PRECISIONS

from .inputs import build, choice, count, whole
from .options import MAX_GPUS, at_most, economics_of
from .output import OutputFormat, emit_estimate, emit_explanation, emit_rows

if TYPE_CHECKING:
    from capacity.records.image_model import ImageModelPreset

IMAGE_FLAGS = ("images", "images_per_day", "steps", "resolution")
# language-model flags and the value that means "not given"
LLM_ONLY = {
    "tokens": None, "active_params": None, "params": None, "capacity_pflops": None, "recompute": None,
    "capex_usd": None, "it_capex_share": None,
    "tp": None, "pp": None, "dp": None, "cp": None, "ep": None, "vp": None, "micro_batch": None,
    "sharding": None, "grad_reduce": None, "seq_len": None, "batch_tokens": None, "calibration": None,
    "flops_convention": "6nd", "input_tokens": None, "output_tokens": None, "gpus_per_replica": None,
    "kv_precision": None, "qps": None, "queries_per_day": None, "visits_per_month": None,
    "queries_per_visit": 1.0, "ttft_ms": None, "tpot_ms": None, "replicas": None, "slo_percentile": 90.0,
    "disaggregate": False, "dep": None, "prefill_gpus": None, "speculative": None, "draft_tokens": None,
    "acceptance_rate": None, "draft_params": None, "prefix_hit_rate": 0.0, "shared_prefix_tokens": None,
    "stack": None,
}  # fmt: skip

TRAIN_GROUPS = [
    ("compute", [("images", "training images"), ("resolution", "pixels per side"),
                 ("flops_per_image", "FLOPs per image"), ("flops_convention", ""),
                 ("training_flops", "FLOPs"), ("pf_days", "PF-days")]),
    ("time", [("cluster", ""), ("chip", ""), ("precision", ""), ("gpus", ""),
              ("aggregate_peak_pflops", "PFLOPS dense peak"),
              ("mfu", "model FLOPs utilisation"), ("images_per_s_per_gpu", "images/s"),
              ("wall_clock_days", "days"), ("gpu_hours", "GPU-hours"), ("gpu_days", "GPU-days")]),
    ("memory", [("model_state_gb", "GB weights+grads+Adam"), ("min_gpus_for_memory", "chips to hold it"),
                ("memory_fits", "")]),
    ("money", [("gpu_hour_usd", "USD per GPU-hour"), ("capex_usd", "USD hardware"), ("cost_usd", "USD"),
               ("cost", "")]),
    ("energy", [("facility_power_mw", "MW average"), ("energy_mwh", "MWh"), ("co2e_t", "tCO2e"), ("pue", ""),
                ("grid_kgco2e_per_kwh", "kgCO2e/kWh")]),
]  # fmt: skip
SERVE_GROUPS = [
    ("work", [("resolution", "pixels per side"), ("steps", "sampling steps"),
              ("guidance_passes", "denoiser passes per step"), ("flops_per_step", "FLOPs"),
              ("flops_per_image", "FLOPs"), ("weights_gb", "GB weights"), ("precision", ""),
              ("memory_fits", "")]),
    ("speed", [("seconds_per_image", "s, one image alone"), ("batch_size", "images"),
               ("seconds_per_batch", "s"), ("images_per_s_per_gpu", "images/s"),
               ("matmul_fraction", "of dense peak"), ("step_overhead_s", "s per step")]),
    ("fleet", [("images_per_day", "images/day"), ("images_per_s_peak", "images/s at peak"), ("gpus", ""),
               ("utilisation", ""), ("aggregate_peak_pflops", "PFLOPS dense peak")]),
    ("money", [("gpu_hour_usd", "USD per GPU-hour"), ("cost_usd_per_image", "USD"),
               ("cost_usd_per_thousand_images", "USD"), ("cost_usd_per_month", "USD"),
               ("cost_per_month", "")]),
    ("energy", [("facility_power_mw", "MW average"), ("energy_wh_per_image", "Wh")]),
]  # fmt: skip


def image_model_of(opts: dict[str, Any]) -> ImageModelPreset | None:
    """The image model the flags ask for, or None for a language-model job. An image flag with a language
    model, or with no model, is refused."""
    found = image_preset_of(opts["model"]) if opts.get("model") else None
    given = [f for f in IMAGE_FLAGS if opts.get(f) is not None]
    if found is None and given:
        flag = "--" + given[0].replace("_", "-")
        if opts.get("model"):
            resolve_model(opts["model"])  # an unknown id says so, with close matches
            raise InputError(f"{flag} applies to image models; {opts['model']} is a language model")
        raise InputError(f"{flag} needs --model: an image model (see `capacity models --kind image`)")
    if found is not None:
        wrong = [k for k, unset in LLM_ONLY.items() if k in opts and opts[k] != unset]
        if wrong:
            flag = "--" + ("flops" if wrong[0] == "flops_convention" else wrong[0].replace("_", "-"))
            raise InputError(f"{flag} does not apply to an image model ({found.id})")
    return found


def image_training_kwargs(model: ImageModelPreset, opts: dict[str, Any]) -> dict[str, Any]:
    """The flags as :func:`capacity.estimate.requests.image_training_request`'s arguments, checked once
    (``compare`` adds each chip)."""
    images = count(opts["images"], "--images")
    if images is None:
        raise InputError(f"--images: training {model.id} needs the number of training images, e.g. 2B")
    gpus = at_most(whole(opts["gpus"], "--gpus"), MAX_GPUS, "--gpus")
    if gpus is not None and opts["days"] is not None:
        raise InputError("--gpus and --days: give one (a cluster size, or a deadline to solve for it)")
    return {
        "model": model, "images": images, "resolution": whole(opts["resolution"], "--resolution"),
        "chip": opts.get("chip"), "gpus": gpus, "deadline_days": opts["days"], "cluster": opts.get("cluster"),
        "mfu": opts["mfu"], "precision": choice(opts["precision"], TRAIN_PRECISIONS, "--precision"),
        "node_size": opts["node_size"], "economics": economics_of(opts),
    }  # fmt: skip


def image_serving_kwargs(model: ImageModelPreset, opts: dict[str, Any]) -> dict[str, Any]:
    """The flags as :func:`capacity.estimate.requests.image_serving_request`'s arguments, checked once."""
    if opts["node_size"] is not None:
        raise InputError(f"--node-size does not apply to an image model ({model.id}): one chip an image")
    if opts["peak_to_average"] is not None and opts["images_per_day"] is None:
        raise InputError("--peak-to-average needs a load: give --images-per-day")
    return {
        "model": model, "chip": opts.get("chip"), "resolution": whole(opts["resolution"], "--resolution"),
        "steps": whole(opts["steps"], "--steps"), "batch": opts["max_batch"],
        "precision": choice(opts["precision"], WEIGHT_PRECISIONS, "--precision"),
        "images_per_day": count(opts["images_per_day"], "--images-per-day"),
        "peak_to_average": opts["peak_to_average"], "matmul_fraction": opts["stack_efficiency"],
        "economics": economics_of(opts),
    }  # fmt: skip


def train_image(
    model: ImageModelPreset, opts: dict[str, Any], fmt: OutputFormat, explain: bool = False
) -> None:
    from capacity.data.assumptions import load_assumptions
    from capacity.data.diffusion_data import load_diffusion_defaults
    from capacity.estimate.image_train import estimate_image_training
    from capacity.estimate.requests import image_training_request

    request = build(image_training_request, **image_training_kwargs(model, opts))
    est = estimate_image_training(request, load_assumptions(), load_diffusion_defaults())
    for warning in est.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    title = f"Training estimate: {model.name}, {request.images:.3g} images at {request.resolution} px"
    factors: list[dict[str, Any]] = []
    if explain:
        from capacity.data.uncertainty import load_spreads
        from capacity.estimate.explain_images import explain_image_training

        chain = explain_image_training(
            request, est, load_assumptions(), load_diffusion_defaults(), load_spreads()
        )
        factors = [f.model_dump() for f in chain]
    data = est.model_dump(mode="json")
    if explain and fmt is OutputFormat.json:
        data["explanation"] = factors
    emit_estimate(data, TRAIN_GROUPS, fmt, title, converted="cost")
    if fmt in (OutputFormat.table, OutputFormat.markdown) and est.published_runs_on_chip:
        emit_rows(
            [r.model_dump() for r in est.published_runs_on_chip],
            fmt,
            title=f"Published image-model runs on {est.chip}: the MFU each implies",
            headers={"run": "run", "published_gpu_hours": "GPU-h published", "implied_mfu": "MFU implied",
                     "gpu_hours_at_default_mfu": "GPU-h at default",
                     "wall_clock_days_at_that_mfu": "days here"},
            caption="GPU-h at default: what capacity's default MFU predicts for that run. The SD model cards "
            "count every GPU-hour of the 2022 runs (a stack without fused attention, restarts, evaluation, "
            "checkpoints resumed from v1-2); MosaicML's run, the default, counts training on a modern stack "
            "(docs/image-models.md). days here: this job at the run's MFU.",
        )  # fmt: skip
    if explain and fmt is not OutputFormat.json:
        emit_explanation(factors, fmt)


def serve_image(model: ImageModelPreset, opts: dict[str, Any], fmt: OutputFormat) -> None:
    from capacity.data.assumptions import load_assumptions, load_serving_defaults
    from capacity.data.diffusion_data import load_diffusion_defaults
    from capacity.estimate.image_serve import estimate_image_serving
    from capacity.estimate.requests import image_serving_request

    if opts["chip"] is None:
        raise InputError("--chip: required for serving")
    request = build(image_serving_request, **image_serving_kwargs(model, opts))
    defaults = load_diffusion_defaults()
    est = estimate_image_serving(request, load_assumptions(), defaults, load_serving_defaults())
    for warning in est.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    title = f"Serving estimate: {model.name} on {est.chip}"
    emit_estimate(est.model_dump(mode="json"), SERVE_GROUPS, fmt, title, converted="cost_per_month")
