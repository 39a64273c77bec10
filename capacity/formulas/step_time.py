"""Time of one training step on a given parallel layout, term by term.

A step processes the global batch: each of d data-parallel replicas runs m micro-batches of b sequences of
s tokens through a pipeline of p stages (v virtual stages each, interleaved), each stage split over t chips
by tensor parallelism and the sequence over c chips by context parallelism (Megatron-LM: Shoeybi et al.
2019; Narayanan et al. 2021, arXiv:2104.04473; Korthikanti et al. 2022). Per micro-batch and stage a chip
spends

* matmul time: linear-layer FLOPs / (peak × GEMM fraction × size factor); FP8 runs do the linear layers at
  the FP8 rate and attention and the output head at 16 bits (DeepSeek-AI 2024, arXiv:2412.19437 §3.3);
* attention time: causal FlashAttention, 7·s·w FLOPs per token per layer (forward 2·s·w after the causal
  half, backward 2.5 times the forward as FlashAttention's benchmarks count it, its QKᵀ recomputed), at a
  fraction of the GEMM rate; context parallelism splits it c ways (load-balanced causal chunks);
* memory-bound time at HBM bandwidth × efficiency (so chips whose FLOPs grew faster than their bandwidth
  pay more): a few passes over the activations each layer keeps (:mod:`capacity.formulas.memory`; layer norms,
  activation functions, residual adds), FP8 casts of every GEMM input, MoE token permutation, and the
  loss over the vocabulary;
* communication, each with its overlap rule:
  - tensor-parallel all-gathers/reduce-scatters (4 per layer with sequence parallelism, the ring volume of
    4 all-reduces): overlapped with the GEMM each one feeds, split into t chunks, so one chunk's share (1/t)
    stays exposed, more when the traffic outlasts the GEMMs (Transformer Engine's userbuffers,
    --tp-comm-overlap in the Megatron-Core and Megatron-Bridge recipes);
  - context-parallel ring attention: each chip receives the other c − 1 chunks of K and V in the forward
    and K, V, dK, dV in the backward, overlapped with the attention computation of the same layer; only
    the excess counts (Liu et al. 2023, Ring Attention, arXiv:2310.01889; Megatron-Core's context parallel);
  - MoE all-to-all (dispatch and combine of the routed experts, forward and backward): overlapped with
    another micro-batch's computation, only its excess counts (DeepSeek-V2 §3.2.2, arXiv:2405.04434;
    DeepSeek-V3's DualPipe, §3.2.1);
  - pipeline sends: 2 per virtual stage per micro-batch, not overlapped;
  - ZeRO-3 / FSDP: every micro-batch all-gathers the 16-bit weights for the forward and again for the
    backward and reduce-scatters the gradients, prefetched one layer ahead so it overlaps the same
    micro-batch's computation; only the excess counts (Zhao et al. 2023, PyTorch FSDP, arXiv:2304.11277).
    ZeRO-2 reduce-scatters every micro-batch too (sharded gradients cannot accumulate), behind its backward.

Step = m × micro-batch time + bubble + exposed gradient reduction + optimizer step, with the bubble
(p − 1)/v micro-batch times (1F1B; interleaved: Narayanan et al. 2021 §2.2.2). With ZeRO-1 the fp32
gradients are reduce-scattered once per step behind the last micro-batch's backward and the 16-bit weights
all-gathered behind the next step's first forward (Megatron's --overlap-grad-reduce and
--overlap-param-gather); plain data parallelism all-reduces them (twice the volume) behind the backward
only. Ring collectives move 2·(n − 1)/n of the buffer per chip, across nodes at the bandwidth of the
group's network interfaces on a node (:func:`ring_link`); ranks are ordered tp, cp, dp, pp (Megatron-Core's
default), so a data-parallel group has up to node_size / t chips on each node.
Dense weights are replicated over d·c ranks, an expert's over d·c/e. The output head is assumed balanced
across stages (Llama 3 drops a layer from the first and last stage).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from capacity.formulas.memory import activation_bytes_per_token_layer, local_params
from capacity.formulas.shape import Shape
from capacity.records.parallel import Layout

TP_COLLECTIVES_PER_LAYER = 4  # 2 forward + 2 backward all-reduce volumes (Megatron-LM, Shoeybi et al. 2019)
ATTENTION_FLOPS_PER_SW = 7.0  # causal: forward 2·s·w, backward 2.5 × forward (FlashAttention's own count)
BYTES_16BIT = 2.0
# FP8 GEMM inputs are written in 8 bits twice (as is, and transposed for the backward): 1 + 1 bytes per
# 16-bit element, i.e. 1 byte moved per byte of kept activation. The 16-bit read is fused into the op that
# produces the input (Transformer Engine's LayerNormLinear/LayerNormMLP fuse the norm or activation with
# the cast, and cast_transpose fuses the two copies), so it is not counted again.
FP8_CAST_BYTES_PER_KEPT_BYTE = 1.0
# MoE token permutation: dispatch and combine, forward and backward, each a read and a write of k·h values
MOE_PERMUTE_PASSES = 8.0


class Share(StrEnum):
    """The parts of wall time an estimate reports (``time_shares``), steady-state terms then goodput."""

    MATMUL = "matmul"
    ATTENTION = "attention"
    MEMORY_BOUND = "memory-bound ops"
    TENSOR_PARALLEL = "tensor-parallel comm"
    CONTEXT_PARALLEL = "context-parallel comm"
    EXPERT_ALL_TO_ALL = "expert all-to-all"
    PIPELINE = "pipeline comm"
    FSDP = "ZeRO-3/FSDP comm"
    BUBBLE = "pipeline bubble"
    DATA_PARALLEL = "data-parallel comm"
    FAILURES = "failures and restarts"
    CHECKPOINTS = "checkpoint stalls"
    OTHER_PAUSES = "evaluation, data stalls, stragglers"


@dataclass(frozen=True)
class ChipRates:
    """What the step model needs to know about a chip, in SI units, efficiencies already applied."""

    linear_flop_s: float  # peak × GEMM fraction at the job's precision
    bf16_flop_s: float  # the same at 16 bits (attention, output head)
    attention_fraction: float  # FlashAttention rate / GEMM rate
    hbm_bytes_s: float  # bandwidth × efficiency
    intra_bytes_s: float  # one direction, × collective efficiency
    inter_bytes_s: float
    gemm_half_size: float
    fp8_casts: bool = False  # FP8 linear layers: inputs quantised (and transposed) before each GEMM
    domain: int | None = None  # chips joined at intra_bytes_s (2: NVLink-bridged pairs); None: the node
    mesh_peers: int = (
        0  # full mesh: the direct links intra_bytes_s is split over (7 in an 8-chip node); 0: switched
    )
    beyond_domain_bytes_s: float = 0.0  # between domains of one node (PCIe), × collective efficiency


@dataclass(frozen=True)
class StepTerms:
    """Seconds per step, per term (one chip's view of the slowest stage)."""

    matmul: float
    attention: float
    memory_bound: float
    tp_comm: float
    cp_comm: float
    expert_comm: float
    pp_comm: float
    fsdp_comm: float
    bubble: float
    dp_comm_exposed: float
    optimizer: float

    @property
    def total(self) -> float:
        return (
            self.matmul + self.attention + self.memory_bound + self.tp_comm + self.cp_comm + self.expert_comm
            + self.pp_comm + self.fsdp_comm + self.bubble + self.dp_comm_exposed + self.optimizer
        )  # fmt: skip

    @property
    def limiting(self) -> str:
        """The term that takes the most time."""
        parts: dict[str, float] = dict(vars(self))
        return max(parts, key=lambda k: parts[k])


def size_factor(m: float, k: float, n: float, half: float) -> float:
    """Share of the large-GEMM rate an M×K×N GEMM reaches: 1 / (1 + (n_half / (M·K·N)^(1/3))²)."""
    side: float = (m * k * n) ** (1.0 / 3.0)
    return 1.0 / (1.0 + (half / side) ** 2)


def ring_seconds(buffer_bytes: float, ranks: int, bytes_s: float) -> float:
    """Ring all-reduce (or reduce-scatter + all-gather) of one buffer: 2·(n − 1)/n · bytes / bandwidth."""
    return 0.0 if ranks <= 1 else 2.0 * (ranks - 1) / ranks * buffer_bytes / bytes_s


def half_ring(buffer_bytes: float, ranks: int, bytes_s: float) -> float:
    """Ring reduce-scatter or all-gather of one buffer: (n − 1)/n · bytes / bandwidth."""
    return 0.0 if ranks <= 1 else (ranks - 1) / ranks * buffer_bytes / bytes_s


def scale_up(ranks_span: int, node_size: int, rates: ChipRates) -> float | None:
    """The scale-up rate between chips ``ranks_span`` apart, or None when they talk over the network.

    The scale-up domain is the chip's (``domain``: 2 for NVLink-bridged pairs, 4,096 for a TPU v4 pod's
    ICI torus) or else the node. Inside it: the intra-node link; inside the node but beyond a smaller
    domain: the PCIe path (A100/H100 PCIe, H100 NVL)."""
    domain = rates.domain or node_size
    if ranks_span <= domain:
        return rates.intra_bytes_s
    if ranks_span <= node_size:
        return rates.beyond_domain_bytes_s
    return None


def link(ranks_span: int, node_size: int, rates: ChipRates) -> float:
    """Per-chip bandwidth of point-to-point traffic between chips ``ranks_span`` apart: the scale-up
    link, or across nodes the chip's own network interface."""
    rate = scale_up(ranks_span, node_size, rates)
    return rates.inter_bytes_s if rate is None else rate


def peer_link(ranks_span: int, node_size: int, rates: ChipRates) -> float:
    """Bandwidth of one chip sending to one peer (pipeline activations): :func:`link`, except that in a full
    mesh a pair shares one direct link, 1/peers of the chip's aggregate (MI300X: 7 x 64 GB/s one way;
    collectives and all-to-all run over all links at once and keep the aggregate)."""
    rate = link(ranks_span, node_size, rates)
    inside = scale_up(ranks_span, node_size, rates) == rates.intra_bytes_s
    return rate / rates.mesh_peers if inside and rates.mesh_peers > 1 else rate


def ring_link(group: int, stride: int, node_size: int, rates: ChipRates) -> float:
    """Per-chip bandwidth of a ring collective over ``group`` chips ``stride`` ranks apart.

    Inside the scale-up domain: its link (:func:`scale_up`). Across nodes NCCL runs one ring channel per
    network interface of the group's chips on a node (one NIC per GPU on DGX/HGX systems, rail-optimised),
    so the k chips of the group on each node together carry the ring across the node boundary at k × the
    per-chip network bandwidth, capped by the link inside the node each chip's share also crosses:
    min(intra, k · inter). A data-parallel group of 8 chips per node thus reduces at the node's 8 NICs
    (NCCL's multi-node busbw on DGX A100/H100 is close to 8 × the per-GPU NIC); with tp = 8 every group
    has one chip per node (k = 1).
    """
    span = group * stride
    rate = scale_up(span, node_size, rates) if group > 1 else rates.intra_bytes_s
    if rate is not None:
        return rate
    reach = max(node_size, rates.domain or 0)  # the chips one scale-up domain (or node) joins
    k = max(1, min(group, reach // stride))
    inside = scale_up(min(span, reach), node_size, rates) or rates.intra_bytes_s
    return min(inside, k * rates.inter_bytes_s)


def step_terms(
    sh: Shape,
    n_total: float,
    n_active: float,
    lay: Layout,
    rates: ChipRates,
    elementwise_passes: float,
    loss_bytes_per_vocab: float,
    optimizer_bytes_per_param: float,
    gradient_bytes: float = 4.0,
) -> StepTerms:
    """Seconds per training step on layout ``lay`` (see the module docstring for each term).

    ``gradient_bytes``: bytes per gradient the data-parallel reduction moves (4 fp32: Megatron-LM's
    distributed optimizer, FSDP's fp32 reduce_dtype; 2 with ``grad_reduce_in_fp32 = False``)."""
    t, p, d, c, v = lay.tp, lay.pp, lay.dp, lay.cp, lay.vp
    s, h, L = float(sh.seq_len), float(sh.hidden), sh.layers
    tokens = lay.micro_batch * s / c  # tokens of one micro-batch on one chip's sequence share
    stage_share = sh.stage_share(p)  # the slowest stage holds ceil(L/p) layers
    glu = 3.0 if sh.glu else 2.0
    full = lay.full_recompute

    # FLOPs per token (forward + backward = 3 × forward, 2 FLOPs per multiply-add)
    expert_flops = 6.0 * sh.moe_layers * sh.top_k * glu * h * sh.expert_ffn
    head_flops = 6.0 * sh.vocab * h
    attn_proj_flops = 6.0 * L * h * (sh.qkv_out_width + sh.attention_width)
    body = max(0.0, 6.0 * (n_active - sh.embedding_params) - expert_flops)
    ffn_flops = max(0.0, body - attn_proj_flops)
    # full recomputation repeats each forward once: linear layers 4/3, attention 9/7 (its forward is 2 of
    # 7), element-wise traffic 5/4 (one more forward pass), tensor-parallel collectives 6 instead of 4
    recompute = 4.0 / 3.0 if full else 1.0

    half = rates.gemm_half_size
    tokens_per_expert = tokens * sh.routed_k * lay.ep / sh.experts if sh.experts else 0.0
    per_token = (
        (
            attn_proj_flops / size_factor(tokens, h, sh.qkv_out_width / t, half)
            + ffn_flops / size_factor(tokens, h, sh.ffn / t, half)
            + (
                expert_flops / size_factor(tokens_per_expert, h, sh.expert_ffn / t, half)
                if expert_flops
                else 0.0
            )
        )
        * recompute
        / rates.linear_flop_s
    )
    per_token += head_flops / size_factor(tokens, h, sh.vocab / t, half) / rates.bf16_flop_s
    matmul = per_token * tokens / t * stage_share

    attention = ATTENTION_FLOPS_PER_SW * s * sh.attention_width * L * tokens / t * stage_share
    attention *= 9.0 / 7.0 if full else 1.0
    attention /= rates.bf16_flop_s * rates.attention_fraction

    kept = activation_bytes_per_token_layer(sh, "none")  # what a layer writes and later reads
    per_layer = elementwise_passes * kept
    per_layer += FP8_CAST_BYTES_PER_KEPT_BYTE * kept if rates.fp8_casts else 0.0
    permute = MOE_PERMUTE_PASSES * sh.routed_k * h * BYTES_16BIT * sh.moe_layers / L if sh.experts else 0.0
    mem_bytes = ((per_layer + permute) * L + loss_bytes_per_vocab * sh.vocab) * tokens / t
    memory_bound = mem_bytes * stage_share / rates.hbm_bytes_s * (5.0 / 4.0 if full else 1.0)
    compute = matmul + attention + memory_bound

    layers_here = L * stage_share
    tp_volume = (
        (TP_COLLECTIVES_PER_LAYER + (2 if full else 0))
        * layers_here
        * ring_seconds(tokens * h * BYTES_16BIT, t, ring_link(t, 1, lay.node_size, rates))
    )
    # overlapped with the GEMM each collective feeds, split into t chunks: one chunk's share stays exposed
    tp_comm = 0.0 if t == 1 else max(tp_volume / t, tp_volume - matmul * (t - 1) / t)
    kv_width = max(0.0, sh.qkv_out_width - sh.attention_width)  # K and V columns of the fused projection
    cp_bytes = 3.0 * (c - 1) * tokens * kv_width * BYTES_16BIT / t * layers_here  # fwd K,V; bwd K,V,dK,dV
    cp_comm = max(0.0, cp_bytes / ring_link(c, t, lay.node_size, rates) - attention)
    a2a_bytes = 4.0 * tokens * sh.routed_k * h * BYTES_16BIT / t * sh.moe_layers * stage_share  # per chip
    a2a_bytes *= (lay.ep - 1) / lay.ep  # a token routed to an expert on its own chip stays put
    span = lay.ep * t * c
    reach = max(lay.node_size, rates.domain or 0)  # the chips one scale-up domain (or node) spans
    off_node = 0.0 if span <= reach else 1.0 - reach / span
    inside = link(min(span, reach), lay.node_size, rates)
    a2a = a2a_bytes * (off_node / rates.inter_bytes_s + (1.0 - off_node) / inside)
    expert_comm = a2a  # on the critical path (Megatron-Core's default; its overlap is opt-in since v0.14)
    pp_comm = (
        0.0 if p == 1 else 2.0 * v * tokens * h * BYTES_16BIT / t / peer_link(t * c * d, lay.node_size, rates)
    )

    local = local_params(sh, n_total, lay)
    dp_rate = ring_link(d * c, t, lay.node_size, rates)  # ranks ordered tp, cp, dp, pp (Megatron-Core)
    # gradients are reduce-scattered in fp32 and the 16-bit weights all-gathered back (Megatron-LM's
    # distributed optimizer keeps fp32 main gradients: docs/source/api-guide/dist_optimizer.md)
    reduce_scatter = half_ring(local.dense * gradient_bytes, local.group, dp_rate)
    reduce_scatter += half_ring(local.expert * gradient_bytes, local.expert_group, dp_rate)
    all_gather = reduce_scatter * BYTES_16BIT / gradient_bytes
    forward, backward = compute / 3.0, 2.0 * compute / 3.0  # the backward pass is 2 of 3 forward-equivalents
    fsdp_comm = 0.0
    if lay.sharding == "zero3":  # all-gather for forward and for backward, reduce-scatter, per micro-batch
        fsdp_comm = max(0.0, all_gather - forward) + max(0.0, all_gather + reduce_scatter - backward)
    elif lay.sharding == "zero2":  # sharded gradients cannot accumulate: reduce-scatter every micro-batch
        fsdp_comm = max(0.0, reduce_scatter - backward)
    micro = compute + tp_comm + cp_comm + expert_comm + pp_comm + fsdp_comm
    m = lay.microbatches
    bubble = (p - 1) / v * micro
    # once per step: the reduce-scatter overlaps the last micro-batch's backward, the all-gather the next
    # step's first forward (Megatron's --overlap-grad-reduce and --overlap-param-gather); plain data
    # parallelism all-reduces the fp32 gradients (twice the reduce-scatter) before the optimizer step, so
    # only the backward hides it
    if lay.sharding == "zero1":
        dp_exposed = max(0.0, reduce_scatter - backward) + max(0.0, all_gather - forward)
    elif lay.sharding == "zero2":
        dp_exposed = max(0.0, all_gather - forward)
    elif lay.sharding == "none":
        dp_exposed = max(0.0, 2.0 * reduce_scatter - backward)
    else:
        dp_exposed = 0.0
    sharded = lay.sharding != "none"  # ZeRO-1 and up: each rank steps only its shard of the states
    optimizer = local.bytes(optimizer_bytes_per_param, sharded) / rates.hbm_bytes_s
    return StepTerms(
        matmul=m * matmul,
        attention=m * attention,
        memory_bound=m * memory_bound,
        tp_comm=m * tp_comm,
        cp_comm=m * cp_comm,
        expert_comm=m * expert_comm,
        pp_comm=m * pp_comm,
        fsdp_comm=m * fsdp_comm,
        bubble=bubble,
        dp_comm_exposed=dp_exposed,
        optimizer=optimizer,
    )
