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

from pydantic import BaseModel, ConfigDict, Field, model_validator

from capacity.core.errors import InputError
from capacity.core.units import MEMORY_BYTES_PER_GB
from capacity.data.assumptions import Assumptions, Efficiency, ServingDefaults
from capacity.data.calibration import Calibration, applies_to
from capacity.data.efficiency import matmul_fraction, peak_tflops
from capacity.data.provenance import Assumed, Provenance
from capacity.estimate import latency, replica
from capacity.estimate.decode_step import DecodeStep
from capacity.estimate.replica import prefix_hit_tokens, speculative_draft
from capacity.estimate.serving_cost import operating_costs
from capacity.formulas import roofline
from capacity.formulas.kv_cache import BYTES_PER_ELEMENT, kv_bytes_per_token
from capacity.formulas.params import ffn_params
from capacity.formulas.serving_memory import (
    ReplicaMemory,
    activation_workspace_bytes,
    replica_memory,
    sequences_in_cache,
)
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
    serving: ServingOptions = Field(default_factory=ServingOptions)
    max_batch: int | None = Field(default=None, ge=1)
    stack: str | None = None
    stack_efficiency: float | None = Field(default=None, gt=0, le=1)
    node_size: int | None = Field(default=None, ge=1)
    economics: Economics = Field(default_factory=Economics)
    calibration: Calibration | None = Field(default=None, description="measured by capacity bench")

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
    memory_per_gpu_gb: ReplicaMemory
    max_batch_for_memory: int
    batch_size: int
    batch_limited_by: str
    compute_bound_batch: float
    decode_regime: str
    ttft_ms: float
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
    output_tokens_per_s_per_replica: float
    queries_per_s_per_replica: float
    stack_efficiency: float
    queries_per_s_average: float | None
    queries_per_s_peak: float | None
    replicas: int
    gpus: int
    utilisation: float | None
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
    m, chip, s_in, s_out = req.model, req.chip, req.input_tokens, req.output_tokens
    if chip.memory_gb is None or chip.memory_bandwidth_gb_s is None:
        raise InputError(f"--chip: {chip.id} has no published memory size or bandwidth; it cannot be sized")
    n_total = req.params or m.params
    n_active = n_total * (m.n_active / m.params)
    cdtype = replica.compute_dtype(chip, req.weight_precision, prov)
    kv_precision = req.kv_precision or replica.default_kv_precision(chip, req.weight_precision, cdtype, prov)
    weights = n_total * BYTES_PER_ELEMENT[req.weight_precision]
    kv_tok = kv_bytes_per_token(m, BYTES_PER_ELEMENT[kv_precision])
    em = defaults.engine_memory
    capacity = chip.memory_gb * MEMORY_BYTES_PER_GB
    visible_fraction = prov.pick(None, "visible_fraction", em.visible_fraction)
    usable = capacity * visible_fraction
    context = s_in + s_out / 2.0
    if s_in + s_out > m.context_length:
        prov.warnings.append(f"{s_in}+{s_out} tokens exceed {m.id}'s context length of {m.context_length}")

    g = req.gpus_per_replica or replica.default_replica(weights, usable, m.heads, defaults, prov)
    if m.heads % g:
        raise InputError(
            f"--gpus-per-replica {g}: tensor parallelism splits {m.id}'s {m.heads} attention heads evenly"
        )
    # KV bytes per token across the replica: split over min(g, KV heads) ranks and copied on the rest (GQA);
    # MLA's single latent is held whole by every rank (vLLM's deepseek_v2 / MLA cache layout).
    kv_copies = float(g) if m.mla is not None else g / min(g, m.kv_heads)
    kv_tok_all = kv_tok * kv_copies
    if kv_copies > 1:
        prov.note("kv_cache_copies", kv_copies, f"the KV cache is held {kv_copies:g} times across {g} ranks")
    token_budget = prov.pick(None, "max_num_tokens", em.max_num_tokens)
    ffn = max(m.ffn_size, m.moe.top_k * m.moe.expert_ffn_size if m.moe else 0)
    memory = replica_memory(
        capacity,
        visible_fraction,
        prov.pick(None, "runtime_gib", em.runtime_gib) * 2**30,
        prov.pick(None, "collective_buffers_gib", em.collective_buffers_gib) * 2**30 if g > 1 else 0.0,
        activation_workspace_bytes(token_budget, m.hidden_size, ffn, g),
        weights,
        g,
        prov.pick(None, "kv_free_fraction", em.kv_free_fraction),
    )
    cache = memory.kv_cache * 1e9 * g
    if cache < kv_tok_all * (s_in + s_out):
        raise InputError(
            f"--gpus-per-replica {g}: {weights / 1e9:,.0f} GB of weights leave no room for one sequence's KV "
            f"cache on {g} x {chip.id} ({memory.kv_cache:.1f} GB per chip after the engine's runtime and "
            "activations); use more GPUs per replica or lower precision"
        )
    block = int(prov.pick(None, "kv_block_tokens", em.kv_block_tokens))
    shared = req.serving.shared_prefix_tokens  # cached once for the replica, not once per sequence
    b_mem = sequences_in_cache(cache - shared * kv_tok_all, kv_tok_all, context - shared, block)

    stack = req.stack_efficiency or prov.pick(
        None, "stack_efficiency", defaults.stack(req.stack or defaults.default_stack)
    )
    cal = applies_to(req.calibration, chip, prov.warnings)
    frac = matmul_fraction(chip, cdtype, efficiency, cal)
    if cal is not None:
        prov.note("matmul_fraction", round(frac.value, 4), frac.source)
    flops_per_s = g * peak_tflops(chip, cdtype) * 1e12 * frac.value * stack
    if cal is not None and cal.memory is not None:
        hbm = cal.memory.fraction
        prov.note(
            "hbm_efficiency",
            round(hbm, 4),
            f"measured on this machine: copy {cal.memory.copy_gb_s:,.0f} GB/s",
        )
    else:
        hbm = prov.pick(None, "hbm_efficiency", efficiency.hbm_efficiency)
    bytes_per_s = g * chip.memory_bandwidth_gb_s * 1e9 * hbm * stack
    node = req.node_size or int(prov.pick(None, "node_size"))
    link = replica.link_gb_s(chip, g, node, efficiency, prov) if g > 1 else 1.0
    alpha = prov.pick(None, "allreduce_latency_us", defaults.allreduce_latency_us)
    opts = req.serving
    hit = prefix_hit_tokens(opts.prefix_hit_rate, opts.shared_prefix_tokens, s_in)
    pf_new = roofline.prefill_flops(n_active, m.layers, m.attention_width, s_in) - roofline.prefill_flops(
        n_active, m.layers, m.attention_width, hit
    )
    expert_bytes, dense_bytes = _expert_split(m, n_total, weights)
    model = DecodeStep(
        flops_per_s=flops_per_s, bytes_per_s=bytes_per_s, n_active=n_active, layers=m.layers,
        width=m.attention_width, context=context, s_in=s_in, s_out=s_out, prefill_flops=pf_new,
        prefill_tokens=s_in - hit, kv_bytes_per_token=kv_tok_all, dense_bytes=dense_bytes,
        expert_bytes=expert_bytes, experts=m.moe.experts if m.moe else 0, top_k=m.moe.top_k if m.moe else 0,
        tp=g, link_gb_s=link, allreduce_latency_us=alpha, act_bytes_per_token=2.0 * m.hidden_size,
        draft=speculative_draft(
            opts.speculative, opts.draft_tokens, opts.acceptance_rate, opts.draft_params, m, n_active,
            BYTES_PER_ELEMENT[req.weight_precision], defaults, prov,
        ),
    )  # fmt: skip
    ttft, parts = model.ttft, model.parts
    pct = req.slo_percentile / 100.0
    prefill_compute = pf_new / flops_per_s

    def tpot_p(b: int) -> float:
        return latency.tpot_at(pct, model.tpot(b), prefill_compute, b, s_out, 1.0)

    per_sequence = 1 + (model.draft.tokens if model.draft else 0) + model.accepted * (s_in - hit) / s_out
    b_top, limit = replica.batch_limit(b_mem, req.max_batch, token_budget, per_sequence)
    batch, slo_met = replica.batch_under_slo(b_top, tpot_p, ttft, req.tpot_ms, req.ttft_ms)
    if batch < b_top:
        limit = "latency target"
    if not slo_met:
        prov.warnings.append(
            f"no batch meets the latency targets: at batch 1 TTFT is {ttft(1) * 1e3:,.0f} ms and TPOT "
            f"{model.tpot(1) * 1e3:,.1f} ms on {g} x {chip.id}; use more GPUs per replica, lower precision "
            "or a faster chip"
        )
    t = model.tpot(batch)
    compute_s, memory_s, _ = parts(batch)
    regime = "compute-bound" if compute_s >= memory_s else "memory-bound"
    qps_rep = model.queries_per_s(batch)
    b_star = roofline.compute_bound_batch(flops_per_s, BYTES_PER_ELEMENT[req.weight_precision], bytes_per_s)

    qps_avg = qps_peak = None
    replicas = 1
    if req.traffic is not None:
        qps_avg = replica.average_qps(req.traffic, defaults, prov)
        qps_peak = qps_avg * prov.pick(
            req.traffic.peak_to_average, "peak_to_average", defaults.peak_to_average
        )
        replicas = latency.replicas_needed(qps_peak, qps_rep, ttft(batch), req.ttft_ms, pct)
    lat = latency.percentiles(
        ttft(batch), 1.0 / qps_rep, t, prefill_compute, batch, s_out,
        None if qps_peak is None else qps_peak / (replicas * qps_rep),
    )  # fmt: skip
    gpus = replicas * g
    served_qps = qps_avg if qps_avg is not None else qps_rep
    money = operating_costs(req.economics, chip, gpus, served_qps, s_out, defaults, prov)

    return ServeEstimate(
        model=m.id,
        chip=chip.id,
        weight_precision=req.weight_precision,
        kv_precision=kv_precision,
        compute_precision=cdtype,
        input_tokens=s_in,
        output_tokens=s_out,
        flops_per_query=pf_new + sum_decode_flops(n_active, m.layers, m.attention_width, s_in, s_out),
        prefill_flops_per_query=pf_new,
        weights_gb=weights / 1e9,
        kv_bytes_per_token=kv_tok,
        gpus_per_replica=g,
        memory_per_gpu_gb=memory,
        max_batch_for_memory=b_mem,
        batch_size=batch,
        batch_limited_by=limit,
        compute_bound_batch=b_star,
        decode_regime=regime,
        ttft_ms=ttft(batch) * 1e3,
        tpot_ms=t * 1e3,
        **lat.model_dump(),
        slo_percentile=req.slo_percentile,
        slo_met=slo_met,
        output_tokens_per_s_per_replica=batch / t,
        queries_per_s_per_replica=qps_rep,
        stack_efficiency=stack,
        queries_per_s_average=qps_avg,
        queries_per_s_peak=qps_peak,
        replicas=replicas,
        gpus=gpus,
        utilisation=None if qps_avg is None else qps_avg / (replicas * qps_rep),
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


def _expert_split(m: ModelPreset, n_total: float, weights: float) -> tuple[float, float]:
    """(bytes in routed experts, bytes elsewhere), scaled to the requested parameter count."""
    if m.moe is None:
        return 0.0, weights
    moe_layers = m.moe.moe_layers or m.layers
    expert_params = moe_layers * m.moe.experts * ffn_params(m.hidden_size, m.moe.expert_ffn_size, m.glu)
    share = min(1.0, expert_params / m.params)
    return weights * share, weights * (1 - share)
