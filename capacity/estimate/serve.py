"""Serving planner: model + chip + traffic + latency targets → replicas, GPUs, cost per query, power.

Steady state under continuous batching with chunked prefill: a replica of g chips runs decode steps of
batch b; each step also carries the prefill of the b / s_out queries that finish in it. So one step costs
    FLOPs  = b · (2·N + 4·L·c̄·d) + (b / s_out) · prefill(s_in)          c̄ = s_in + s_out/2 (mean context)
    bytes  = weights (MoE: experts the step's tokens touch) + b · c̄ · KV bytes/token
and takes the roofline of the two plus tensor-parallel all-reduces (:mod:`capacity.formulas.roofline`).
TPOT is the step time; throughput b / step; TTFT a lone prefill plus one step. The batch is the largest
that fits the KV cache (paged: mean context; the engine's other memory in
:mod:`capacity.formulas.serving_memory`), the engine's token budget per step, the latency targets and an
explicit ``--max-batch``.
"""

from __future__ import annotations

import math
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field, model_validator

from capacity.core.errors import InputError
from capacity.core.units import MEMORY_BYTES_PER_GB
from capacity.data.assumptions import Assumptions, Efficiency, ServingDefaults
from capacity.data.calibration import Calibration
from capacity.data.efficiency import peak_tflops
from capacity.data.provenance import Assumed, Provenance
from capacity.estimate import latency, replica
from capacity.estimate.decode_step import Draft
from capacity.estimate.disaggregated import size_pools
from capacity.estimate.replica import prefix_hit_tokens, speculative_draft
from capacity.estimate.serving_cost import operating_costs
from capacity.estimate.serving_replica import Replica, Workload, build_replica
from capacity.formulas import queueing, roofline
from capacity.formulas.kv_cache import BYTES_PER_ELEMENT, kv_bytes_per_token
from capacity.formulas.links import inter_node_gb_s
from capacity.formulas.serving_memory import ReplicaMemory
from capacity.records.chip import Chip
from capacity.records.choices import Economics, KvPrecision, ServingOptions, Traffic, WeightPrecision
from capacity.records.model_spec import ModelPreset


class ServeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)

    model: ModelPreset
    chip: Chip
    input_tokens: int = Field(gt=0)
    output_tokens: int = Field(gt=0)
    params: float | None = Field(default=None, gt=0, description="override the preset's parameter count")
    gpus_per_replica: int | None = Field(default=None, ge=1, le=64)
    weight_precision: WeightPrecision = "bf16"
    kv_precision: KvPrecision | None = None
    traffic: Traffic | None = None
    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)
    slo_percentile: float = Field(default=90.0, ge=50, lt=100, description="percentile the targets hold at")
    replicas: int | None = Field(
        default=None, ge=1, description="a fixed fleet: latency at this many replicas"
    )
    serving: ServingOptions = Field(default_factory=ServingOptions)
    max_batch: int | None = Field(default=None, ge=1)
    stack: str | None = None
    stack_efficiency: float | None = Field(default=None, gt=0, le=1)
    node_size: int | None = Field(default=None, ge=1)
    economics: Economics = Field(default_factory=Economics)
    calibration: Calibration | None = Field(default=None, description="measured by capacity bench")

    @model_validator(mode="after")
    def _one_replica_layout(self) -> ServeRequest:
        if self.gpus_per_replica is not None and self.serving.expert_parallel is not None:
            raise ValueError("--gpus-per-replica (tensor parallel) and --dep (expert parallel): give one")
        return self

    @model_validator(mode="after")
    def _fixed_replicas_need_traffic(self) -> ServeRequest:
        if self.replicas is not None and (self.traffic is None or self.serving.mode == "disaggregated"):
            raise ValueError("--replicas needs traffic (--qps ...) and aggregated serving")
        return self

    @model_validator(mode="after")
    def _shared_prefix_inside_the_prompt(self) -> ServeRequest:
        if self.serving.shared_prefix_tokens >= self.input_tokens:
            raise ValueError("--shared-prefix-tokens must be smaller than --input-tokens")
        return self

    @model_validator(mode="after")
    def _one_stack(self) -> ServeRequest:
        if self.stack is not None and self.stack_efficiency is not None:
            raise ValueError("give --stack or --stack-efficiency, not both")
        return self


class ServeEstimate(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    chip: str
    weight_precision: str
    kv_precision: str
    compute_precision: str
    input_tokens: int
    output_tokens: int
    flops_per_query: float
    prefill_flops_per_query: float
    weights_gb: float
    kv_bytes_per_token: float
    gpus_per_replica: int
    layout: str
    memory_per_gpu_gb: ReplicaMemory
    max_batch_for_memory: int
    batch_size: int
    batch_limited_by: str
    batch_at_load: int = Field(
        description="sequences decoding at once under the given traffic (Little's law)"
    )
    compute_bound_batch: float
    decode_regime: str
    ttft_ms: float | None = Field(description="mean; None when the traffic exceeds the replicas' capacity")
    tpot_ms: float
    ttft_ms_p50: float | None
    ttft_ms_p90: float | None
    ttft_ms_p99: float | None
    tpot_ms_p50: float
    tpot_ms_p90: float
    tpot_ms_p99: float
    slo_percentile: float
    queueing: str
    slo_met: bool
    slo_detail: str | None = Field(default=None, description="each target against its value, when one is set")
    output_tokens_per_s_per_replica: float
    queries_per_s_per_replica: float
    stack_efficiency: float
    queries_per_s_average: float | None
    queries_per_s_peak: float | None
    replicas: int
    gpus: int
    utilisation: float | None
    mode: str = "aggregated"
    prefill_instances: int | None = None
    prefill_gpus_per_instance: int | None = None
    prefill_gpus: int | None = None
    prefill_queries_per_s_per_instance: float | None = None
    prefill_input_tokens_per_s_per_gpu: float | None = None
    decode_instances: int | None = None
    decode_gpus: int | None = None
    decode_output_tokens_per_s_per_gpu: float | None = None
    kv_transfer_ms: float | None = None
    aggregated_gpus: int | None = Field(
        default=None, description="disaggregated: GPUs aggregated serving needs"
    )
    aggregate_peak_pflops: float
    pricing: str
    gpu_hour_usd: float | None
    cost_usd_per_hour: float | None
    cost_usd_per_month: float | None
    cost_usd_per_query: float | None
    cost_usd_per_million_output_tokens: float | None
    facility_power_mw: float | None
    energy_wh_per_query: float | None
    currency: str
    cost_per_month: float | None
    assumptions: list[Assumed]
    warnings: list[str]
    price_assumed: bool | None = None  # True: a placeholder price, not one for this chip
    price_source: str | None = None
    price_date: str | None = None


def estimate_serving(
    req: ServeRequest, assumptions: Assumptions, efficiency: Efficiency, defaults: ServingDefaults
) -> ServeEstimate:
    """Size a serving deployment; see the module docstring for the model."""
    prov = Provenance(assumptions)
    m, chip, s_in, s_out, opts = req.model, req.chip, req.input_tokens, req.output_tokens, req.serving
    if chip.memory_gb is None or chip.memory_bandwidth_gb_s is None:
        raise InputError(f"--chip: {chip.id} has no published memory size or bandwidth; it cannot be sized")
    if s_in + s_out > m.context_length:
        prov.warnings.append(f"{s_in}+{s_out} tokens exceed {m.id}'s context length of {m.context_length}")
    n_total = req.params or m.params
    n_active = n_total * (m.n_active / m.params)
    cdtype = replica.compute_dtype(chip, req.weight_precision, prov)
    kv_precision = req.kv_precision or replica.default_kv_precision(chip, req.weight_precision, cdtype, prov)
    weights = n_total * BYTES_PER_ELEMENT[req.weight_precision]
    w = Workload(
        m=m, chip=chip, compute=cdtype, n_total=n_total, n_active=n_active, weights=weights,
        kv_bytes_per_token=kv_bytes_per_token(m, BYTES_PER_ELEMENT[kv_precision]), s_in=s_in, s_out=s_out,
        hit=prefix_hit_tokens(opts.prefix_hit_rate, opts.shared_prefix_tokens, s_in),
        shared=opts.shared_prefix_tokens, weight_bytes_per_param=BYTES_PER_ELEMENT[req.weight_precision],
    )  # fmt: skip
    stack = req.stack_efficiency or prov.pick(
        None, "stack_efficiency", defaults.stack(req.stack or defaults.default_stack)
    )
    node = req.node_size or int(prov.pick(None, "node_size"))
    draft = speculative_draft(
        opts.speculative, opts.draft_tokens, opts.acceptance_rate, opts.draft_params, m, n_active,
        w.weight_bytes_per_param, defaults, prov,
    )  # fmt: skip
    ep = opts.expert_parallel is not None
    if ep:
        g = opts.expert_parallel or 1
    else:
        visible = chip.memory_gb * MEMORY_BYTES_PER_GB * defaults.engine_memory.visible_fraction.value
        g = req.gpus_per_replica or replica.default_replica(weights, visible, m.heads, defaults, prov)

    def build(chips: int, spec: Draft | None) -> Replica:
        return build_replica(w, chips, ep, spec, node, stack, req.calibration, efficiency, defaults, prov)

    rep = build(g, draft)
    split = opts.mode == "disaggregated"
    step = replace(rep.step, prefill_flops=0.0, prefill_tokens=0.0) if split else rep.step
    prefill = build(opts.prefill_gpus or g, None).step if split else step
    kv_move_s = 0.0
    if split:
        nic, _ = inter_node_gb_s(chip)
        # DEP: a prompt's cache lives on one chip at each end; TP: spread over the instance's chips, so
        # the transfer runs over as many NICs as the smaller side has
        links = 1 if ep else min(opts.prefill_gpus or g, g)
        kv_move_s = s_in * w.kv_bytes_per_token / (nic * 1e9 * links)

    def ttft(b: int) -> float:
        if split:  # prefill on its own pool, the cache sent over, then the first decode step
            return prefill.prefill_alone() + kv_move_s + step.step(b)
        return step.ttft(b)

    pct = req.slo_percentile / 100.0
    prefill_compute = 0.0 if split else step.prefill_compute_s()

    def tpot_p(b: int) -> float:
        return latency.tpot_at(pct, step.tpot(b), prefill_compute, b, s_out, 1.0)

    chunk = 0.0 if split else step.accepted * (s_in - w.hit) / s_out
    per_sequence = 1 + (draft.tokens if draft else 0) + chunk
    budget = rep.token_budget * (g if ep else 1)  # DEP: every chip batches its own tokens
    b_top, limit = replica.batch_limit(rep.max_batch_for_memory, req.max_batch, budget, per_sequence)
    batch, slo_met = replica.batch_under_slo(b_top, tpot_p, ttft, req.tpot_ms, req.ttft_ms)
    if batch < b_top:
        limit = "latency target"
    if not slo_met:
        prov.warnings.append(
            f"no batch meets the latency targets: at batch 1 TTFT is {ttft(1) * 1e3:,.0f} ms and TPOT "
            f"{step.tpot(1) * 1e3:,.1f} ms on {g} x {chip.id}; use more GPUs per replica, lower precision "
            "or a faster chip"
        )
    compute_s, memory_s, _ = step.parts(batch)
    qps_rep = step.queries_per_s(batch)

    qps_avg = qps_peak = None
    replicas = 1
    if req.traffic is not None:
        qps_avg = replica.average_qps(req.traffic, defaults, prov)
        qps_peak = qps_avg * prov.pick(
            req.traffic.peak_to_average, "peak_to_average", defaults.peak_to_average
        )
    pools = None
    load = batch  # the batch the replicas run: the largest allowed, or fewer under a lighter load

    def queue(r: int) -> tuple[int, float, float]:
        """(batch, prompt-queue utilisation, prompt service s) of ``r`` aggregated replicas at the peak."""
        rate = (qps_peak or 0.0) / r
        b = latency.batch_at_load(rate, step.tpot, s_out, batch)
        if rate >= qps_rep:  # more than the largest batch serves: the queue has no steady state
            return b, rate / qps_rep, step.prefill_alone()
        return b, *latency.prefill_queue(rate, step.prefill_alone())

    def ttft_at(r: int) -> float:
        b, utilisation, service = queue(r)
        return ttft(b) + (
            queueing.wait_percentile_s(utilisation, service, pct) if utilisation < 1 else math.inf
        )

    if qps_peak is not None and not split:
        by_rate = max(1, math.ceil(qps_peak / qps_rep * (1 - 1e-12)))
        target = req.ttft_ms
        replicas = req.replicas or (
            by_rate
            if target is None
            else latency.fewest_replicas(by_rate, lambda r: ttft_at(r) * 1e3 <= target)
        )

    if split:
        pools = size_pools(
            prefill, opts.prefill_gpus or g, step, g, batch, rep.token_budget, s_in * w.kv_bytes_per_token,
            inter_node_gb_s(chip)[0] * 1e9 * (1 if ep else min(opts.prefill_gpus or g, g)), qps_peak,
            ttft(batch), req.ttft_ms, pct,
        )  # fmt: skip
        replicas = pools.decode_instances
        gpus = pools.prefill_gpus + pools.decode_gpus
        if qps_peak is not None:
            load = latency.batch_at_load(qps_peak / replicas, step.tpot, s_out, batch)
        rho = (
            None
            if qps_peak is None
            else qps_peak / (pools.prefill_instances * pools.prefill_queries_per_s_per_instance)
        )
        work = 1.0 / pools.prefill_queries_per_s_per_instance
    else:
        gpus = replicas * g
        rho, work = None, 0.0
        if qps_peak is not None:
            load, rho, work = queue(replicas)
    lat = latency.percentiles(ttft(load), work, step.tpot(load), prefill_compute, load, s_out, rho)
    if req.ttft_ms is not None and qps_peak is not None:  # the queue at the fleet actually sized (or pinned)
        queued = latency.at_percentile(lat, "ttft", req.slo_percentile)
        slo_met = slo_met and queued is not None and queued <= req.ttft_ms * (1 + 1e-9)
    mean_wait = 0.0 if rho is None else (None if rho >= 1.0 else queueing.mean_wait_s(rho, work))
    if rho is not None and rho >= 1.0:
        prov.warnings.append(
            f"the replicas run at {rho:.0%} of their capacity: the queue grows without bound and TTFT with it"
        )
    served_qps = qps_avg if qps_avg is not None else qps_rep
    if split and pools is not None and qps_avg is None:  # one of each pool: the slower one sets the rate
        served_qps = min(qps_rep, pools.prefill_queries_per_s_per_instance)
    money = operating_costs(req.economics, chip, gpus, served_qps, s_out, defaults, prov)
    aggregated = None
    if split:
        together = req.model_copy(update={"serving": opts.model_copy(update={"mode": "aggregated"})})
        aggregated = estimate_serving(together, assumptions, efficiency, defaults).gpus

    return ServeEstimate(
        model=m.id,
        chip=chip.id,
        weight_precision=req.weight_precision,
        kv_precision=kv_precision,
        compute_precision=cdtype,
        input_tokens=s_in,
        output_tokens=s_out,
        flops_per_query=w.prefill_flops
        + sum_decode_flops(n_active, m.layers, m.decode_attention_width, s_in, s_out),
        prefill_flops_per_query=w.prefill_flops,
        weights_gb=weights / 1e9,
        kv_bytes_per_token=w.kv_bytes_per_token,
        gpus_per_replica=g,
        layout=rep.layout,
        memory_per_gpu_gb=rep.memory,
        max_batch_for_memory=rep.max_batch_for_memory,
        batch_size=batch,
        batch_limited_by=limit,
        batch_at_load=load,
        compute_bound_batch=roofline.compute_bound_batch(
            step.flops_per_s, w.weight_bytes_per_param, step.bytes_per_s
        ),
        decode_regime="compute-bound" if compute_s >= memory_s else "memory-bound",
        ttft_ms=None if mean_wait is None else (ttft(load) + mean_wait) * 1e3,
        tpot_ms=step.tpot(load) * 1e3,
        **lat.model_dump(),
        slo_percentile=req.slo_percentile,
        slo_met=slo_met,
        slo_detail=latency.slo_detail(lat, req.ttft_ms, req.tpot_ms, req.slo_percentile),
        output_tokens_per_s_per_replica=batch * step.accepted / step.step(batch),
        queries_per_s_per_replica=qps_rep,
        stack_efficiency=stack,
        queries_per_s_average=qps_avg,
        queries_per_s_peak=qps_peak,
        replicas=replicas,
        gpus=gpus,
        utilisation=None if qps_avg is None else qps_avg / (replicas * qps_rep),
        mode=opts.mode,
        **(pools.model_dump() if pools else {}),
        aggregated_gpus=aggregated,
        aggregate_peak_pflops=gpus * peak_tflops(chip, cdtype) / 1000.0,
        pricing=req.economics.pricing,
        **money,
        **(prov.price.model_dump() if prov.price is not None else {}),
        assumptions=prov.assumed,
        warnings=prov.warnings,
    )


def sum_decode_flops(n_active: float, layers: int, width: float, s_in: int, s_out: int) -> float:
    """Σ over generated tokens of 2·N + 4·L·d·context, context growing from s_in to s_in + s_out − 1."""
    mean_context = s_in + (s_out - 1) / 2.0
    return s_out * roofline.decode_flops_per_token(n_active, layers, width, mean_context)
