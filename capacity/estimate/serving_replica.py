"""Build one serving replica: its layout, memory, KV-cache room and decode-step model.

Two layouts:

* **TP** (tensor parallel over g chips): weights, attention heads and KV heads split g ways; two
  all-reduces of the activations per layer (Megatron).
* **DEP** (attention data parallel + expert parallel over g chips, as DeepSeek, SGLang and TensorRT-LLM
  serve large MoE models): every chip keeps the attention, dense layers and shared experts and runs its own
  sequences; the routed experts are spread over the g chips, and each MoE layer sends every token to its
  top-k experts and back (all-to-all: FP8 dispatch, BF16 combine, DeepSeek's inference-system overview).
  The all-to-all overlaps with compute (two micro-batches, DeepSeek "V3/R1 Inference System Overview";
  SGLang's two-batch overlap), and the busiest chip's expert load sets the pace
  (:func:`capacity.estimate.decode_step.routing_imbalance`).
"""

from __future__ import annotations

from dataclasses import dataclass

from capacity.core.errors import InputError
from capacity.core.units import MEMORY_BYTES_PER_GB
from capacity.data.assumptions import Efficiency, ServingDefaults
from capacity.data.calibration import Calibration, applies_to
from capacity.data.efficiency import matmul_fraction, peak_tflops
from capacity.data.provenance import Provenance
from capacity.estimate import replica
from capacity.estimate.decode_step import DecodeStep, Draft
from capacity.formulas import roofline
from capacity.formulas.links import inter_node_gb_s, intra_node_gb_s, scale_up_domain
from capacity.formulas.params import ffn_params
from capacity.formulas.serving_memory import (
    ReplicaMemory,
    activation_workspace_bytes,
    replica_memory,
    sequences_in_cache,
)
from capacity.records.chip import Chip, Dtype
from capacity.records.choices import sixteen_bit
from capacity.records.model_spec import ModelPreset


@dataclass(frozen=True)
class Workload:
    """What every replica of one request shares: model, chip, precisions, lengths, prefix hits."""

    m: ModelPreset
    chip: Chip
    compute: Dtype
    n_total: float
    n_active: float
    weights: float  # bytes, whole model
    kv_bytes_per_token: float  # one copy, all layers
    s_in: int
    s_out: int
    hit: float  # prompt tokens found in the prefix cache
    shared: int  # prompt tokens cached once per replica
    weight_bytes_per_param: float

    @property
    def context(self) -> float:
        return self.s_in + self.s_out / 2.0

    @property
    def prefill_flops(self) -> float:
        """A prompt's prefill less its cached prefix (the difference of two causal prefills)."""
        full = roofline.prefill_flops(self.n_active, self.m.layers, self.m.attention_width, self.s_in)
        return full - roofline.prefill_flops(self.n_active, self.m.layers, self.m.attention_width, self.hit)


@dataclass(frozen=True)
class Replica:
    gpus: int
    layout: str  # "TP4", "DEP32"
    memory: ReplicaMemory
    max_batch_for_memory: int
    step: DecodeStep
    kv_bytes_per_token: float  # across the replica (with TP copies)
    token_budget: float
    stack: float


def expert_split(m: ModelPreset, weights: float) -> tuple[float, float]:
    """(bytes in routed experts, bytes elsewhere), scaled to the requested parameter count."""
    if m.moe is None:
        return 0.0, weights
    share = min(1.0, expert_params(m) / m.params)
    return weights * share, weights * (1 - share)


def expert_params(m: ModelPreset) -> float:
    """Parameters of all routed experts (0 for a dense model)."""
    if m.moe is None:
        return 0.0
    return (
        (m.moe.moe_layers or m.layers)
        * m.moe.experts
        * ffn_params(m.hidden_size, m.moe.expert_ffn_size, m.glu)
    )


def build_replica(
    w: Workload,
    g: int,
    expert_parallel: bool,
    draft: Draft | None,
    node: int,
    stack: float,
    calibration: Calibration | None,
    efficiency: Efficiency,
    defaults: ServingDefaults,
    prov: Provenance,
) -> Replica:
    """The replica of ``g`` chips in the TP or DEP layout, with its KV-cache room and step model."""
    m, chip = w.m, w.chip
    assert chip.memory_gb is not None and chip.memory_bandwidth_gb_s is not None
    if expert_parallel and m.moe is None:
        raise InputError(f"--dep: {m.id} is dense; expert parallelism needs an MoE model")
    if not expert_parallel and m.heads % g:
        raise InputError(
            f"{g} GPUs per replica: tensor parallelism must split {m.id}'s {m.heads} attention heads evenly"
        )
    em = defaults.engine_memory
    capacity = chip.memory_gb * MEMORY_BYTES_PER_GB
    expert_bytes, dense_bytes = expert_split(m, w.weights)
    # Memory: under DEP every chip holds the dense part and 1/g of the experts; the KV cache of a sequence
    # lives on the one chip that runs it. Under TP the KV cache splits over min(g, KV heads) ranks and is
    # copied on the rest (GQA); MLA's single latent is held whole by every rank (vLLM's MLA cache layout).
    stored = g * dense_bytes + expert_bytes if expert_parallel else w.weights
    if draft is not None:  # the draft's weights too: on every chip under DEP, split over the replica under TP
        stored += draft.params * draft.bytes_per_param * (g if expert_parallel else 1)
    tp = 1 if expert_parallel else g
    copies = 1.0 if expert_parallel else (float(g) if m.mla is not None else g / min(g, m.kv_heads))
    kv_all = w.kv_bytes_per_token * copies
    if copies > 1:
        prov.note("kv_cache_copies", copies, f"the KV cache is held {copies:g} times across {g} ranks")
    token_budget = prov.pick(None, "max_num_tokens", em.max_num_tokens)
    ffn = max(m.ffn_size, m.moe.top_k * m.moe.expert_ffn_size if m.moe else 0)
    memory = replica_memory(
        capacity,
        prov.pick(None, "visible_fraction", em.visible_fraction),
        prov.pick(None, "runtime_gib", em.runtime_gib) * 2**30,
        prov.pick(None, "collective_buffers_gib", em.collective_buffers_gib) * 2**30 if g > 1 else 0.0,
        activation_workspace_bytes(token_budget, m.hidden_size, ffn, tp),
        stored,
        g,
        prov.pick(None, "kv_free_fraction", em.kv_free_fraction),
    )
    # Under DEP a sequence's cache lives whole on the chip that runs it: the room is per chip, g times over.
    holders = g if expert_parallel else 1
    cache = memory.kv_cache * 1e9 * g / holders
    flag = f"--dep {g}" if expert_parallel else f"{g} GPUs per replica"
    if cache < kv_all * (w.s_in + w.s_out):
        raise InputError(
            f"{flag}: {stored / g / 1e9:,.0f} GB of weights per chip leave no room for one sequence's KV "
            f"cache on {chip.id} ({memory.kv_cache:.1f} GB per chip after the engine's runtime and "
            "activations); use more GPUs per replica, lower precision or shorter sequences"
        )
    block = int(prov.pick(None, "kv_block_tokens", em.kv_block_tokens))
    b_mem = holders * sequences_in_cache(cache - w.shared * kv_all, kv_all, w.context - w.shared, block)

    cal = applies_to(calibration, chip, prov.warnings)
    frac = matmul_fraction(chip, w.compute, efficiency, cal)
    if cal is not None:
        prov.note("matmul_fraction", round(frac.value, 4), frac.source)
    if cal is not None and cal.memory is not None:
        hbm = cal.memory.fraction
        prov.note(
            "hbm_efficiency",
            round(hbm, 4),
            f"measured on this machine: copy {cal.memory.copy_gb_s:,.0f} GB/s",
        )
    else:
        hbm = prov.pick(None, "hbm_efficiency", efficiency.hbm_efficiency)
    link = replica.link_gb_s(chip, g, node, efficiency, prov) if tp > 1 else 1.0
    moe = m.moe
    step = DecodeStep(
        flops_per_s=g * peak_tflops(chip, w.compute) * 1e12 * frac.value * stack,
        attention_flops_per_s=g * _sixteen_bit_rate(chip, w.compute, efficiency, cal) * stack,
        bytes_per_s=g * chip.memory_bandwidth_gb_s * 1e9 * hbm * stack,
        n_active=w.n_active, layers=m.layers, width=m.decode_attention_width, context=w.context, s_in=w.s_in,
        s_out=w.s_out, prefill_flops=w.prefill_flops, prefill_tokens=w.s_in - w.hit,
        kv_bytes_per_token=kv_all,
        dense_bytes=dense_bytes, expert_bytes=expert_bytes, experts=moe.experts if moe else 0,
        top_k=moe.top_k if moe else 0, tp=tp, link_gb_s=link,
        allreduce_latency_us=prov.pick(None, "allreduce_latency_us", defaults.allreduce_latency_us),
        act_bytes_per_token=2.0 * m.hidden_size, draft=draft,
        data_parallel=g if expert_parallel else 1,
        expert_active_params=_routed_active_params(m) if expert_parallel else 0.0,
        a2a_bytes_per_token=_a2a_bytes_per_token(m, g) if expert_parallel else 0.0,
        a2a_bytes_s=_a2a_rate(chip, g, node, efficiency) if expert_parallel else 1.0,
    )  # fmt: skip
    return Replica(
        gpus=g, layout=f"{'DEP' if expert_parallel else 'TP'}{g}", memory=memory, max_batch_for_memory=b_mem,
        step=step, kv_bytes_per_token=kv_all, token_budget=token_budget, stack=stack,
    )  # fmt: skip


def _sixteen_bit_rate(chip: Chip, compute: Dtype, eff: Efficiency, cal: Calibration | None) -> float:
    """FLOP/s of one chip's 16-bit matrix units (attention's rate), at their measured GEMM fraction."""
    wide: Dtype = compute if compute in ("bf16", "fp16") else sixteen_bit(chip)
    return peak_tflops(chip, wide) * 1e12 * matmul_fraction(chip, wide, eff, cal).value


def _routed_active_params(m: ModelPreset) -> float:
    """Routed-expert parameters one token uses: its top-k experts in every MoE layer."""
    assert m.moe is not None
    return (
        (m.moe.moe_layers or m.layers) * m.moe.top_k * ffn_params(m.hidden_size, m.moe.expert_ffn_size, m.glu)
    )


def _a2a_bytes_per_token(m: ModelPreset, g: int) -> float:
    """Bytes one token sends to and gets back from its experts on other chips, all MoE layers: FP8 dispatch
    (1 byte per value) and BF16 combine (2 bytes), top-k copies, (g − 1)/g of them off-chip."""
    assert m.moe is not None
    return (m.moe.moe_layers or m.layers) * m.moe.top_k * m.hidden_size * 3.0 * (g - 1) / g


def _a2a_rate(chip: Chip, g: int, node: int, eff: Efficiency) -> float:
    """Per-chip all-to-all bandwidth, bytes/s one way: the scale-up link for peers in the domain, the NIC
    for the rest, weighted by where the peers are."""
    domain, _ = scale_up_domain(chip)
    reach = max(node, domain or 0)
    intra, _ = intra_node_gb_s(chip)
    inter, _ = inter_node_gb_s(chip)
    off = 0.0 if g <= reach else 1.0 - reach / g
    seconds_per_byte = off / (inter * 1e9) + (1.0 - off) / (intra * 1e9)
    return eff.link_efficiency.value / seconds_per_byte
