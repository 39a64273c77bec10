"""Time of one training step on a given parallel layout, term by term.

A step processes the global batch: each of d data-parallel replicas runs m micro-batches of b sequences of
s tokens through a pipeline of p stages, each stage split over t chips by tensor parallelism (Megatron-LM:
Shoeybi et al. 2019; Narayanan et al. 2021, arXiv:2104.04473). Per micro-batch and stage the chip spends

* matmul time: linear-layer FLOPs / (peak × GEMM fraction × size factor); FP8 runs do the linear layers at
  the FP8 rate and attention and the output head at 16 bits (DeepSeek-AI 2024, arXiv:2412.19437 §3.3);
* attention time: causal FlashAttention, 7·s·w FLOPs per token per layer (forward 2·s·w after the causal
  half, backward 2.5 times the forward as FlashAttention's benchmarks count it, its QKᵀ recomputed), at a
  fraction of the GEMM rate (the fraction comes from throughputs reported on that count);
* memory-bound time: element-wise traffic per token per layer and the loss over the vocabulary, at HBM
  bandwidth × efficiency (so chips whose FLOPs grew faster than their bandwidth pay more);
* communication: tensor-parallel all-reduces (4 per layer, forward and backward) and pipeline sends are not
  overlapped; MoE all-to-all (dispatch and combine of the routed experts, forward and backward) overlaps
  with another micro-batch's computation and only its excess counts (DeepSeek-V2 §3.2.2, arXiv:2405.04434;
  DeepSeek-V3's DualPipe, §3.2.1).

Step = (m + p − 1) × micro-batch time (1F1B schedule; the (p − 1) is the bubble)
       + data-parallel gradient reduction not hidden behind the last micro-batch's backward
       + the optimizer step. Ring collectives move 2·(n − 1)/n of the buffer per chip. Expert weights are
       replicated only d / e times, so their gradients reduce, and their optimizer states shard, over d / e.
The output head is assumed balanced across stages (Llama 3 drops a layer from the first and last stage).
"""

from __future__ import annotations

from dataclasses import dataclass

from capacity.shape import Shape

TP_ALLREDUCES_PER_LAYER = 4  # 2 forward + 2 backward (Megatron-LM, Shoeybi et al. 2019, Fig. 4)
ATTENTION_FLOPS_PER_SW = 7.0  # causal: forward 2·s·w, backward 2.5 × forward (FlashAttention's own count)
BYTES_16BIT = 2.0


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


@dataclass(frozen=True)
class Layout:
    tp: int
    pp: int
    dp: int
    ep: int  # expert-parallel width (1 for dense models)
    microbatches: float  # per replica per step, on average
    node_size: int


@dataclass(frozen=True)
class StepTerms:
    """Seconds per step, per term (one chip's view of the slowest stage)."""

    matmul: float
    attention: float
    memory_bound: float
    tp_comm: float
    expert_comm: float
    pp_comm: float
    bubble: float
    dp_comm_exposed: float
    optimizer: float

    @property
    def total(self) -> float:
        return (
            self.matmul + self.attention + self.memory_bound + self.tp_comm + self.expert_comm
            + self.pp_comm + self.bubble + self.dp_comm_exposed + self.optimizer
        )  # fmt: skip


def size_factor(m: float, k: float, n: float, half: float) -> float:
    """Share of the large-GEMM rate an M×K×N GEMM reaches: 1 / (1 + (n_half / (M·K·N)^(1/3))²)."""
    side: float = (m * k * n) ** (1.0 / 3.0)
    return 1.0 / (1.0 + (half / side) ** 2)


def ring_seconds(buffer_bytes: float, ranks: int, bytes_s: float) -> float:
    """Ring all-reduce (or reduce-scatter + all-gather) of one buffer: 2·(n − 1)/n · bytes / bandwidth."""
    return 0.0 if ranks <= 1 else 2.0 * (ranks - 1) / ranks * buffer_bytes / bytes_s


def step_terms(
    sh: Shape,
    n_total: float,
    n_active: float,
    lay: Layout,
    rates: ChipRates,
    elementwise_bytes_per_hidden: float,
    loss_bytes_per_vocab: float,
    optimizer_bytes_per_param: float,
    full_recompute: bool,
) -> StepTerms:
    """Seconds per training step on layout ``lay`` (see the module docstring for each term)."""
    t, p, d = lay.tp, lay.pp, lay.dp
    s, h, L = float(sh.seq_len), float(sh.hidden), sh.layers
    stage_share = -(-L // p) / L  # the slowest stage holds ceil(L/p) layers
    glu = 3.0 if sh.glu else 2.0

    # FLOPs per token (forward + backward = 3 × forward, 2 FLOPs per multiply-add)
    expert_flops = 6.0 * sh.moe_layers * sh.top_k * glu * h * sh.expert_ffn
    head_flops = 6.0 * sh.vocab * h
    attn_proj_flops = 6.0 * L * h * (sh.qkv_out_width + sh.attention_width)
    body = max(0.0, 6.0 * (n_active - sh.embedding_params) - expert_flops)
    ffn_flops = max(0.0, body - attn_proj_flops)
    # full recomputation repeats each forward once: linear layers 4/3, attention 9/7 (its forward is 2 of
    # 7), element-wise traffic 5/4 (one more forward pass), tensor-parallel all-reduces 6 instead of 4
    recompute = 4.0 / 3.0 if full_recompute else 1.0

    half = rates.gemm_half_size
    tokens_per_expert = s * sh.routed_k * lay.ep / sh.experts if sh.experts else 0.0
    per_token = (
        (
            attn_proj_flops / size_factor(s, h, sh.qkv_out_width / t, half)
            + ffn_flops / size_factor(s, h, sh.ffn / t, half)
            + (
                expert_flops / size_factor(tokens_per_expert, h, sh.expert_ffn / t, half)
                if expert_flops
                else 0.0
            )
        )
        * recompute
        / rates.linear_flop_s
    )
    per_token += head_flops / size_factor(s, h, sh.vocab / t, half) / rates.bf16_flop_s
    matmul = per_token * s / t * stage_share

    attention = ATTENTION_FLOPS_PER_SW * s * sh.attention_width * L * s / t * stage_share
    attention *= 9.0 / 7.0 if full_recompute else 1.0
    attention /= rates.bf16_flop_s * rates.attention_fraction

    mem_bytes = (elementwise_bytes_per_hidden * h * L + loss_bytes_per_vocab * sh.vocab) * s / t
    memory_bound = mem_bytes * stage_share / rates.hbm_bytes_s * (5.0 / 4.0 if full_recompute else 1.0)

    tp_comm = (
        (TP_ALLREDUCES_PER_LAYER + (2 if full_recompute else 0))
        * L
        * stage_share
        * ring_seconds(s * h * BYTES_16BIT, t, rates.intra_bytes_s)
    )
    a2a_bytes = 4.0 * s * sh.routed_k * h * BYTES_16BIT / t * sh.moe_layers * stage_share  # per chip
    off_node = 0.0 if lay.ep * t <= lay.node_size else 1.0 - lay.node_size / (lay.ep * t)
    a2a = a2a_bytes * (off_node / rates.inter_bytes_s + (1.0 - off_node) / rates.intra_bytes_s)
    expert_comm = max(0.0, a2a - (matmul + attention + memory_bound))  # overlapped with another micro-batch
    p2p_rate = rates.intra_bytes_s if t * p <= lay.node_size else rates.inter_bytes_s
    pp_comm = 0.0 if p == 1 else 2.0 * s * h * BYTES_16BIT / t / p2p_rate

    micro = matmul + attention + memory_bound + tp_comm + expert_comm + pp_comm
    m = lay.microbatches
    bubble = (p - 1) * micro

    dense_local = (n_total - sh.expert_params) / (t * p)
    expert_local = sh.expert_params / (t * p * lay.ep)
    expert_dp = max(1, d // lay.ep)  # each expert is replicated d / e times
    dp_rate = rates.intra_bytes_s if t * p * d <= lay.node_size else rates.inter_bytes_s
    dp_comm = ring_seconds(dense_local * BYTES_16BIT, d, dp_rate)
    dp_comm += ring_seconds(expert_local * BYTES_16BIT, expert_dp, dp_rate)
    dp_exposed = max(0.0, dp_comm - 2.0 / 3.0 * micro)
    optimizer = optimizer_bytes_per_param * (dense_local / d + expert_local / expert_dp) / rates.hbm_bytes_s
    return StepTerms(
        matmul=m * matmul,
        attention=m * attention,
        memory_bound=m * memory_bound,
        tp_comm=m * tp_comm,
        expert_comm=m * expert_comm,
        pp_comm=m * pp_comm,
        bubble=bubble,
        dp_comm_exposed=dp_exposed,
        optimizer=optimizer,
    )
