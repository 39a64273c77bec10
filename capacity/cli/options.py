"""The workload flags, declared once and shared: ``train``, ``explain``, ``serve`` and ``compare`` take the
same option sets (:data:`TRAIN`, :data:`SERVE`, :data:`ECONOMICS`, ...) and turn them into requests through
the library's one construction site each (:mod:`capacity.estimate.requests`).

A command declares only its own options and is decorated with :func:`with_options`; the shared ones are
added to its signature for typer and handed to it as one dict, ``opts``. Allowed values come from the
library's types (:mod:`capacity.records.choices`, :mod:`capacity.records.parallel`); defaults that live
in ``specs/`` are named, not copied, in the help.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer

from capacity.core.errors import InputError
from capacity.records.choices import (
    CURRENCIES,
    FLOPS_CONVENTIONS,
    KV_PRECISIONS,
    POWER_BASES,
    PRICINGS,
    SPECULATIVE,
    TRAIN_PRECISIONS,
    WEIGHT_PRECISIONS,
    Economics,
    ServingOptions,
    Traffic,
)
from capacity.records.parallel import GRAD_REDUCES, RECOMPUTES, SHARDINGS, ParallelSpec

from .inputs import build, choice, count, whole

if TYPE_CHECKING:
    from capacity.data.calibration import Calibration
    from capacity.estimate.serve import ServeRequest
    from capacity.estimate.train_io import TrainRequest

SPECS_DEFAULT = "(default: specs/assumptions.yaml)"


TINY = 1e-6  # the smallest positive number a flag takes
MAX_GPUS = 100_000_000  # the deadline solve stops far below this; a count above it is a typo


def at_most(value: int | None, bound: int, flag: str) -> int | None:
    if value is not None and value > bound:
        raise InputError(f"{flag}: {value:,} is over {bound:,}")
    return value


@dataclass(frozen=True)
class Opt:
    """One flag: its parameter name, type, help and default (``--name-with-dashes`` unless ``flag``)."""

    name: str
    kind: Any
    help: str
    default: Any = None
    flag: str | None = None
    low: float = 0.0  # a number must exceed this (or may equal it with low_ok)
    low_ok: bool = False
    high: float | None = None  # and be at most this (or less than it without high_ok)
    high_ok: bool = True

    def check(self, value: Any) -> None:
        """The one input contract for numbers: finite, inside the flag's range; else exit 2 naming it."""
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            return
        flag = self.flag or "--" + self.name.replace("_", "-")
        if not math.isfinite(value):
            raise InputError(f"{flag}: {value} is not a finite number")
        if value < self.low or (value == self.low and not self.low_ok):
            bound = "at least" if self.low_ok else "more than"
            raise InputError(f"{flag}: {value:g} must be {bound} {self.low:g}")
        if self.low == 0 and not self.low_ok and value < TINY:  # 5e-324 divides into infinity downstream
            raise InputError(f"{flag}: {value:g} is too small to plan with (at least {TINY:g})")
        if self.high is not None and (value > self.high or (value == self.high and not self.high_ok)):
            bound = "at most" if self.high_ok else "less than"
            raise InputError(f"{flag}: {value:g} must be {bound} {self.high:g}")

    def parameter(self) -> inspect.Parameter:
        option = typer.Option(self.flag or "--" + self.name.replace("_", "-"), help=self.help)
        return inspect.Parameter(
            self.name, inspect.Parameter.KEYWORD_ONLY, default=self.default,
            annotation=Annotated[self.kind, option],
        )  # fmt: skip


MODEL = (
    Opt("model", str | None, "Preset id or alias (see `capacity models`), a Hugging Face config.json, or a "
        "model YAML."),
    Opt("params", str | None, "Total parameters N, e.g. 175B (training: instead of --model; serving: "
        "overrides the preset's count)."),
    Opt("precision", str | None, "Training: bf16, fp16, fp8, tf32 or fp32; serving weights: bf16, fp16, fp8, "
        "int8 or int4 (default bf16 where the chip has it, else fp16)."),
    Opt("node_size", int | None, "Accelerators per node (default: specs/assumptions.yaml node_size)."),
    Opt("calibration", Path | None, "A calibration file from `capacity bench --output` for this chip."),
)  # fmt: skip
CHIP = (Opt("chip", str | None, "Chip id or alias (see `capacity chips`)."),)
TRAIN = (
    Opt("tokens", str | None, "Training tokens D, e.g. 300B, 1.4T (default: the preset's recorded count)."),
    Opt("active_params", str | None, "MoE: parameters used per token."),
    Opt("gpus", str | None, "Training: number of accelerators, e.g. 1024, 10k (at most 100M)."),
    Opt("days", float | None, "Training: deadline in days; solve for the GPU count.", high=1e5),
    Opt("capacity_pflops", float | None, "A data centre's nameplate PFLOPS instead of chips (data-centre "
        "days; with --chip, read as that chip's dense peak).", high=1e9),
    Opt("cluster", str | None, "A named cluster or data centre (see `capacity clusters`): its chip and "
        "count, or its nameplate PFLOPS."),
    Opt("capex_usd", float | None, "Training: a stated hardware spend, USD: implied price per chip and per "
        "PFLOPS.", high=1e15),
    Opt("it_capex_share", float | None, "Training: share of --capex-usd that is IT (servers, network), 0-1 "
        "(default 1).", high=1.0),
    Opt("mfu", float | None, "Model FLOPs utilisation 0-1 (default: modelled per chip and layout).",
        high=1.0),
    Opt("flops_convention", str, f"{' or '.join(FLOPS_CONVENTIONS)}: 6nd is C = 6ND (the reports' "
        "convention), palm adds attention.", "6nd", "--flops"),
    Opt("recompute", str | None, f"Activation recomputation: {', '.join(RECOMPUTES)} (default selective, "
        "full if needed)."),
    Opt("tp", int | None, "Pin the tensor-parallel width."),
    Opt("pp", int | None, "Pin the pipeline stages."),
    Opt("dp", int | None, "Pin the data-parallel replicas."),
    Opt("cp", int | None, "Pin the context-parallel width."),
    Opt("ep", int | None, "Pin the expert-parallel width (MoE)."),
    Opt("vp", int | None, "Pin virtual pipeline stages per rank."),
    Opt("micro_batch", int | None, "Pin the sequences per micro-batch."),
    Opt("sharding", str | None, f"Pin the state sharding: {', '.join(SHARDINGS)} (fsdp = zero3)."),
    Opt("grad_reduce", str | None, f"Gradient reduction: {' or '.join(GRAD_REDUCES)} (default fp32)."),
    Opt("seq_len", int | None, "Training sequence length (default: the preset's, at most 8192)."),
    Opt("batch_tokens", str | None, "Global batch in tokens, e.g. 4M (default: compute-optimal, "
        "specs/efficiency.yaml)."),
)  # fmt: skip
SERVE = (
    Opt("input_tokens", str | None, "Serving: prompt tokens per query, e.g. 1000, 2k."),
    Opt("output_tokens", str | None, "Serving: generated tokens per query."),
    Opt("gpus_per_replica", int | None, "Serving: tensor-parallel size (default: the smallest that fits)."),
    Opt("kv_precision", str | None, f"Serving KV cache: {', '.join(KV_PRECISIONS)} (default 16-bit)."),
    Opt("qps", float | None, "Serving: average queries per second.", high=1e9),
    Opt("queries_per_day", str | None, "Serving: average queries per day, e.g. 20M."),
    Opt("visits_per_month", str | None, "Serving: visits per month, e.g. 616M."),
    Opt("queries_per_visit", float, "Serving: queries per visit (with --visits-per-month).", 1.0, high=1e6),
    Opt("peak_to_average", float | None, "Serving: peak / average traffic (default 1).", low=1.0, low_ok=True,
        high=100.0),
    Opt("ttft_ms", float | None, "Serving: time-to-first-token target, ms."),
    Opt("tpot_ms", float | None, "Serving: time-per-output-token target, ms."),
    Opt("replicas", int | None, "Serving: a fixed fleet of this many replicas (latency at that size)."),
    Opt("slo_percentile", float, "Serving: percentile the TTFT/TPOT targets hold at (50-99.9).",
        90.0, low=50.0, low_ok=True, high=99.99),
    Opt("max_batch", int | None, "Serving: engine cap on concurrent sequences (default: none)."),
    Opt("disaggregate", bool, "Serving: separate prefill and decode pools (xPyD), each sized apart.", False),
    Opt("dep", int | None, "Serving, MoE: attention data parallel + expert parallel over N chips (DEP)."),
    Opt("prefill_gpus", int | None, "Serving, --disaggregate: chips per prefill instance."),
    Opt("speculative", str | None, "Serving: speculative decoding, mtp, eagle or draft (default: none)."),
    Opt("draft_tokens", int | None, "Serving: draft tokens per step (default: specs/serving.yaml)."),
    Opt("acceptance_rate", float | None, "Serving: acceptance rate per draft token, 0-1 (default: specs/).",
        high=1.0, high_ok=False),
    Opt("draft_params", str | None, "Serving: draft model size for --speculative draft, e.g. 1B."),
    Opt("prefix_hit_rate", float, "Serving: share of prompt tokens found in the prefix cache, 0-1.",
        0.0, low_ok=True, high=1.0),
    Opt("shared_prefix_tokens", str | None, "Serving: prompt tokens every query shares (a system prompt)."),
    Opt("stack", str | None, "Serving: software-stack preset, tensorrt-llm (default) or ideal."),
    Opt("stack_efficiency", float | None, "Serving: software-stack factor 0-1, instead of a preset (image "
        "models: the share of the dense peak the layers reach, default specs/diffusion.yaml).",
        high=1.0),
)  # fmt: skip
RESOLUTION = Opt("resolution", str | None, "Image models: pixels per side, e.g. 1024 (default: the model's).")
IMAGE_TRAIN = (
    Opt("images", str | None, "Image models: training images seen (steps x global batch), e.g. 2.3B."),
    RESOLUTION,
)
IMAGE_SERVE = (
    Opt("images_per_day", str | None, "Image models: images generated per day, e.g. 4M."),
    Opt("steps", str | None, "Image models: sampling steps per image (default: the model's pipeline)."),
    RESOLUTION,
)
IMAGE_COMPARE = (IMAGE_TRAIN[0], IMAGE_SERVE[0], IMAGE_SERVE[1], RESOLUTION)  # compare takes both
ECONOMICS = (
    Opt("pricing", str, f"{' or '.join(PRICINGS)}: GPU-hours x price, or amortised capex + power.", "cloud"),
    Opt("gpu_hour_usd", float | None, "Cloud price per GPU-hour in USD (default: the chip's sourced price)."),
    Opt("gpu_price_usd", float | None, "Owned: price per accelerator in USD."),
    Opt("pue", float | None, f"Data-centre power usage effectiveness {SPECS_DEFAULT}.",
        low=1.0, low_ok=True, high=3.0),
    Opt("grid_kgco2e_per_kwh", float | None, f"Grid carbon intensity, kgCO2e/kWh {SPECS_DEFAULT}.",
        low_ok=True),
    Opt("electricity_usd_per_kwh", float | None, f"Owned: electricity price, USD/kWh {SPECS_DEFAULT}.",
        low_ok=True),
    Opt("power_basis", str, f"{' or '.join(POWER_BASES)}: the reference server's power per chip (DGX/HGX "
        "datasheets), or the chip's TDP only (GPU-only carbon accounting).", "facility"),
    Opt("server_power_factor", float | None, "Power per chip / TDP, overriding --power-basis."),
    Opt("currency", str, f"{' or '.join(CURRENCIES)} for the converted cost field.", "USD"),
    Opt("cny_per_usd", float | None, f"Exchange rate for --currency CNY {SPECS_DEFAULT}."),
)  # fmt: skip


def with_options(*groups: Sequence[Opt]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Add the options of ``groups`` to a command: typer sees them in the signature, the command gets
    their values as the keyword ``opts`` (a dict by parameter name)."""
    shared = [o for group in groups for o in group]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(command, eval_str=True)
        hints = get_type_hints(command, include_extras=True)

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            opts = {o.name: kwargs.pop(o.name) for o in shared}
            for o in shared:
                o.check(opts[o.name])
            command(**kwargs, opts=opts)

        mine = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in own.parameters.values()]
        params = [p for p in mine if p.name != "opts"] + [o.parameter() for o in shared]
        wrapper.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


def economics_of(opts: dict[str, Any]) -> Economics:
    return build(
        Economics,
        pricing=choice(opts["pricing"], PRICINGS, "--pricing"),
        gpu_hour_usd=opts["gpu_hour_usd"], gpu_price_usd=opts["gpu_price_usd"], pue=opts["pue"],
        grid_kgco2e_per_kwh=opts["grid_kgco2e_per_kwh"],
        electricity_usd_per_kwh=opts["electricity_usd_per_kwh"],
        server_power_factor=opts["server_power_factor"],
        power_basis=choice(opts["power_basis"], POWER_BASES, "--power-basis"),
        currency=choice(opts["currency"].upper(), CURRENCIES, "--currency"), cny_per_usd=opts["cny_per_usd"],
    )  # fmt: skip


def parallel_of(opts: dict[str, Any]) -> ParallelSpec:
    sharding = opts["sharding"]
    return build(
        ParallelSpec,
        tp=opts["tp"], pp=opts["pp"], dp=opts["dp"], cp=opts["cp"], ep=opts["ep"], vp=opts["vp"],
        micro_batch=opts["micro_batch"],
        sharding=choice(sharding and sharding.lower(), (*SHARDINGS, "fsdp"), "--sharding"),
        grad_reduce=choice(opts["grad_reduce"], GRAD_REDUCES, "--grad-reduce"),
    )  # fmt: skip


def traffic_of(opts: dict[str, Any]) -> Traffic | None:
    rates = (opts["qps"], opts["queries_per_day"], opts["visits_per_month"])
    if all(r is None for r in rates):
        if opts["queries_per_visit"] != 1.0:
            raise InputError("--queries-per-visit needs --visits-per-month")
        if opts["peak_to_average"] is not None:
            raise InputError(
                "--peak-to-average needs traffic: give --qps, --queries-per-day or --visits-per-month"
            )
        return None
    return build(
        Traffic,
        qps=opts["qps"], queries_per_day=count(opts["queries_per_day"], "--queries-per-day"),
        visits_per_month=count(opts["visits_per_month"], "--visits-per-month"),
        queries_per_visit=opts["queries_per_visit"], peak_to_average=opts["peak_to_average"],
    )  # fmt: skip


def serving_options_of(opts: dict[str, Any]) -> ServingOptions:
    return build(
        ServingOptions,
        mode="disaggregated" if opts["disaggregate"] else "aggregated",
        expert_parallel=opts["dep"], prefill_gpus=opts["prefill_gpus"],
        speculative=choice(opts["speculative"], SPECULATIVE, "--speculative"),
        draft_tokens=opts["draft_tokens"], acceptance_rate=opts["acceptance_rate"],
        draft_params=count(opts["draft_params"], "--draft-params"), prefix_hit_rate=opts["prefix_hit_rate"],
        shared_prefix_tokens=whole(opts["shared_prefix_tokens"], "--shared-prefix-tokens", zero_ok=True) or 0,
    )  # fmt: skip


def calibration_of(opts: dict[str, Any]) -> Calibration | None:
    from capacity.data.calibration import load_calibration

    return load_calibration(opts["calibration"]) if opts["calibration"] else None


def training_kwargs(opts: dict[str, Any]) -> dict[str, Any]:
    """The flags as :func:`capacity.estimate.requests.training_request`'s arguments, every flag checked and
    the model resolved (so ``compare`` builds this once and adds each chip)."""
    from capacity.data.model_source import resolve_model

    if opts["model"] and (opts["params"] or opts["active_params"]):
        flag = "--params" if opts["params"] else "--active-params"
        raise InputError(f"--model and {flag}: give one (a preset, or a model described by its counts)")
    return {
        "model": resolve_model(opts["model"]) if opts["model"] else None,
        "tokens": count(opts["tokens"], "--tokens"),
        "params": count(opts["params"], "--params"),
        "active_params": count(opts["active_params"], "--active-params"),
        "chip": opts.get("chip"),
        "gpus": at_most(whole(opts["gpus"], "--gpus"), MAX_GPUS, "--gpus"),
        "deadline_days": opts["days"],
        "capacity_pflops": opts["capacity_pflops"],
        "cluster": opts["cluster"],
        "capex_usd": opts["capex_usd"],
        "it_capex_share": opts["it_capex_share"],
        "mfu": opts["mfu"],
        "precision": choice(opts["precision"], TRAIN_PRECISIONS, "--precision"),
        "flops_convention": choice(opts["flops_convention"], FLOPS_CONVENTIONS, "--flops"),
        "recompute": choice(opts["recompute"], RECOMPUTES, "--recompute"),
        "parallel": parallel_of(opts),
        "seq_len": opts["seq_len"],
        "batch_tokens": count(opts["batch_tokens"], "--batch-tokens"),
        "node_size": opts["node_size"],
        "economics": economics_of(opts),
        "calibration": calibration_of(opts),
    }


def serving_kwargs(opts: dict[str, Any], chip_elsewhere: bool = False) -> dict[str, Any]:
    """The flags as :func:`capacity.estimate.requests.serving_request`'s arguments, the required ones and
    every value checked, the model resolved (``chip_elsewhere``: ``compare`` adds each chip)."""
    from capacity.data.model_source import resolve_model

    if opts["model"] is None:
        raise InputError("--model: serving needs the architecture (a preset id or a config.json)")
    if opts.get("chip") is None and not chip_elsewhere:
        raise InputError("--chip: required for serving")
    for flag in ("input_tokens", "output_tokens"):
        if opts[flag] is None:
            raise InputError(f"--{flag.replace('_', '-')}: required for serving")
    return {
        "model": resolve_model(opts["model"]),
        "chip": opts.get("chip"),
        "input_tokens": whole(opts["input_tokens"], "--input-tokens"),
        "output_tokens": whole(opts["output_tokens"], "--output-tokens"),
        "params": count(opts["params"], "--params"),
        "gpus_per_replica": opts["gpus_per_replica"],
        "precision": choice(opts["precision"], WEIGHT_PRECISIONS, "--precision"),
        "kv_precision": choice(opts["kv_precision"], KV_PRECISIONS, "--kv-precision"),
        "traffic": traffic_of(opts),
        "ttft_ms": opts["ttft_ms"],
        "tpot_ms": opts["tpot_ms"],
        "slo_percentile": opts["slo_percentile"],
        "replicas": opts["replicas"],
        "serving": serving_options_of(opts),
        "max_batch": opts["max_batch"],
        "stack": opts["stack"],
        "stack_efficiency": opts["stack_efficiency"],
        "node_size": opts["node_size"],
        "economics": economics_of(opts),
        "calibration": calibration_of(opts),
    }


def training_request_of(opts: dict[str, Any], **fixed: Any) -> TrainRequest:
    """The training request the flags describe (``fixed`` overrides, e.g. ``--layouts``)."""
    from capacity.estimate.requests import training_request

    return build(training_request, **{**training_kwargs(opts), **fixed})


def serving_request_of(opts: dict[str, Any]) -> ServeRequest:
    """The serving request the flags describe."""
    from capacity.estimate.requests import serving_request

    return build(serving_request, **serving_kwargs(opts))
