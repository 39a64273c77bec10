"""The choices a request is made of: pricing, currency, precisions, economics and traffic.

Every front end (the CLI, scenario files, ``compare``, ``validate``, the Python API) takes its vocabulary
from here: the CLI lists the allowed values with :func:`typing.get_args` on these types, and a request's
defaults that depend on the chip (:func:`sixteen_bit`) are decided in one place. ``None`` in a field
means "use the documented default" from ``specs/assumptions.yaml``.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import ConfigDict, Field, model_validator

from capacity.core.strict_numbers import InputModel
from capacity.records.chip import Chip, Dtype

Pricing = Literal["cloud", "owned"]
PowerBasis = Literal["facility", "gpu"]
Currency = Literal["USD", "CNY"]
TrainPrecision = Dtype  # fp32, tf32, bf16, fp16, fp8 (int8 is rejected with a reason)
WeightPrecision = Literal["bf16", "fp16", "fp8", "int8", "int4"]
KvPrecision = Literal["bf16", "fp16", "fp8", "int8"]
FlopsConvention = Literal["6nd", "palm"]  # C = 6·N·D, or PaLM's with attention (capacity/formulas/flops.py)

PRICINGS: tuple[str, ...] = get_args(Pricing)
POWER_BASES: tuple[str, ...] = get_args(PowerBasis)
CURRENCIES: tuple[str, ...] = get_args(Currency)
TRAIN_PRECISIONS: tuple[str, ...] = get_args(TrainPrecision)
WEIGHT_PRECISIONS: tuple[str, ...] = get_args(WeightPrecision)
KV_PRECISIONS: tuple[str, ...] = get_args(KvPrecision)
FLOPS_CONVENTIONS: tuple[str, ...] = get_args(FlopsConvention)


def sixteen_bit(chip: Chip) -> Literal["bf16", "fp16"]:
    """The 16-bit format a job runs in when none is given: bf16 where the chip has a published bf16
    peak, else fp16 (Ascend 910A, V100, MLU370 and other parts without bf16)."""
    return "bf16" if chip.bf16_dense_tflops is not None else "fp16"


class Economics(InputModel):
    """Money, power and carbon inputs; ``None`` means 'use the documented default'."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    pricing: Pricing = "cloud"
    gpu_hour_usd: float | None = Field(default=None, gt=0)
    gpu_price_usd: float | None = Field(default=None, gt=0, description="owned: price per accelerator")
    pue: float | None = Field(default=None, ge=1, le=3)
    grid_kgco2e_per_kwh: float | None = Field(default=None, ge=0, le=2)
    electricity_usd_per_kwh: float | None = Field(default=None, ge=0)
    server_power_factor: float | None = Field(default=None, gt=0, le=5)
    power_basis: PowerBasis = Field(
        default="facility",
        description="facility: the reference server's power per accelerator (DGX/HGX datasheets), else TDP x "
        "system_power_per_tdp; gpu: accelerator TDP x server_power_factor (Meta's and BLOOM's accounting)",
    )
    currency: Currency = "USD"
    cny_per_usd: float | None = Field(default=None, gt=0)


Speculative = Literal["mtp", "eagle", "draft"]
SPECULATIVE: tuple[Speculative, ...] = get_args(Speculative)


class ServingOptions(InputModel):
    """How a replica decodes: speculative decoding and prefix caching (``serving:`` in scenario files)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    speculative: Speculative | None = Field(
        default=None, description="mtp (DeepSeek-V3's module), eagle (a one-layer head) or draft (a model)"
    )
    draft_tokens: int | None = Field(default=None, ge=1, le=16, description="draft tokens per step (k)")
    acceptance_rate: float | None = Field(default=None, gt=0, lt=1, description="per draft token (a)")
    draft_params: float | None = Field(default=None, gt=0, description="draft: the draft model's parameters")
    mode: Literal["aggregated", "disaggregated"] = Field(
        default="aggregated", description="disaggregated: separate prefill and decode pools (xPyD)"
    )
    expert_parallel: int | None = Field(
        default=None,
        ge=2,
        le=1024,
        description="MoE: attention data parallel + expert parallel over this many chips",
    )
    prefill_gpus: int | None = Field(
        default=None, ge=1, le=1024, description="disaggregated: chips per prefill instance"
    )
    prefix_hit_rate: float = Field(default=0.0, ge=0, lt=1, description="share of prompt tokens found cached")
    shared_prefix_tokens: int = Field(default=0, ge=0, description="prompt tokens every query shares")

    @model_validator(mode="after")
    def _speculation_needs_a_method(self) -> ServingOptions:
        given = [
            f for f in ("draft_tokens", "acceptance_rate", "draft_params") if getattr(self, f) is not None
        ]
        if self.speculative is None and given:
            raise ValueError(f"{', '.join(given)} need speculative: mtp, eagle or draft")
        if self.speculative == "draft" and self.draft_params is None:
            raise ValueError("speculative draft needs draft_params (the draft model's size, e.g. 1B)")
        if self.speculative in ("mtp", "eagle") and self.draft_params is not None:
            raise ValueError(f"draft_params is for speculative draft; {self.speculative} drafts with a head")
        if self.prefill_gpus is not None and self.mode != "disaggregated":
            raise ValueError("prefill_gpus needs mode: disaggregated (--disaggregate)")
        return self


class Traffic(InputModel):
    """Serving load: one of an average rate per second, per day, or monthly visits."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    qps: float | None = Field(default=None, ge=1e-6, le=1e9)
    queries_per_day: float | None = Field(default=None, ge=1e-6, le=1e24)
    visits_per_month: float | None = Field(default=None, ge=1e-6, le=1e24)
    queries_per_visit: float = Field(default=1.0, ge=1e-6, le=1e6)
    peak_to_average: float | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _one_rate(self) -> Traffic:
        given = [n for n in ("qps", "queries_per_day", "visits_per_month") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of qps, queries_per_day, visits_per_month")
        if self.queries_per_visit != 1.0 and self.visits_per_month is None:
            raise ValueError("queries_per_visit needs visits_per_month")
        return self
