"""The transformer shape the step-time model needs: from a preset, or guessed from a parameter count.

Symbols: L layers, h hidden size, a heads, w attention width (a·d_head, MLA-aware), f dense FFN width,
V vocabulary, s training sequence length; MoE: E routed experts, k active per token, f_e expert width.

With only a parameter count the shape follows GPT-3's aspect ratio, h ≈ 128·L, so N ≈ 12·L·h² gives
L = (N / (12·128²))^(1/3) (Brown et al. 2020, Table 2.1: 175B has L = 96, h = 12288; Kaplan et al. 2020
§3.1 found the loss nearly flat over a wide range of aspect ratios, so the guess matters little).
The tied embedding V·h (GPT-2's 50,257-token vocabulary) is taken out of N first; h is rounded to 128,
or to 1,024 from 2,048 up so the heads (h / 128) divide over an 8-chip node.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from capacity.records.model_spec import ModelPreset

ASPECT_RATIO = 128  # h / L, GPT-3 175B (Brown et al. 2020, Table 2.1)
GUESS_VOCAB = 50257  # GPT-2/GPT-3 BPE vocabulary, when no preset gives one
GUESS_HEAD_DIM = 128
GUESS_SEQ_LEN = 2048  # GPT-3's training context
FINE_GRAINED_TOP_K = 8  # DeepSeek-V3 (8 of 256 routed), Qwen3-235B-A22B (8 of 128)
MOE_KV_HEADS = 8  # grouped-query attention with 8 KV heads: Mixtral, Qwen3 MoE (4), GPT-OSS, Llama 4
COARSE_TOP_K = 2  # Mixtral 8x7B (2 of 8), for models with total/active < 4


class Shape(BaseModel):
    """Per-layer widths and the counts that split work across chips."""

    model_config = ConfigDict(frozen=True)

    layers: int
    hidden: int
    heads: int
    attention_width: float
    qkv_out_width: float  # output columns of the fused Q, K, V projection (GQA-aware)
    ffn: int
    glu: bool
    vocab: int
    tied_embeddings: bool
    seq_len: int
    experts: int = 0  # routed experts per MoE layer (0: dense)
    top_k: int = 0  # experts each token uses: routed + shared
    routed_k: int = 0  # routed experts per token (these need the all-to-all)
    expert_ffn: int = 0
    moe_layers: int = 0
    guessed: bool = False

    @property
    def expert_params(self) -> float:
        """Parameters of all routed and shared experts (what expert parallelism spreads)."""
        return float(self.moe_layers * self.experts * (3 if self.glu else 2) * self.hidden * self.expert_ffn)

    def stage_share(self, p: int) -> float:
        """The share of the layers in the slowest of p pipeline stages: ⌈L/p⌉/L (uneven splits allowed)."""
        return -(-self.layers // p) / self.layers

    @property
    def embedding_params(self) -> float:
        """Token embedding plus a separate output head unless tied (lookups are not matmuls)."""
        return float(self.vocab * self.hidden * (1 if self.tied_embeddings else 2))


def from_preset(m: ModelPreset, seq_len: int) -> Shape:
    moe = m.moe
    q = m.heads * m.d_head
    kv = 2 * m.kv_heads * m.d_head
    if m.mla is not None:  # low-rank compressed K/V: the projection widths are the ranks
        q = m.mla.q_lora_rank or m.heads * (m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim)
        kv = m.mla.kv_lora_rank + m.mla.qk_rope_head_dim
    return Shape(
        layers=m.layers,
        hidden=m.hidden_size,
        heads=m.heads,
        attention_width=m.attention_width,
        qkv_out_width=float(q + kv),
        ffn=m.ffn_size,
        glu=m.glu,
        vocab=m.vocab_size,
        tied_embeddings=m.tied_embeddings,
        seq_len=seq_len,
        experts=moe.experts if moe else 0,
        top_k=moe.top_k + moe.shared_experts if moe else 0,
        routed_k=moe.top_k if moe else 0,
        expert_ffn=moe.expert_ffn_size if moe else 0,
        moe_layers=(moe.moe_layers or m.layers) if moe else 0,
    )


def guess(n_params: float, seq_len: int) -> Shape:
    """A dense GPT-3-like shape with about ``n_params`` parameters (see the module docstring). For an MoE
    model given only by counts, pass the active parameters: the per-token work is what the shape sets."""
    body = n_params
    for _ in range(3):  # the tied embedding V·h is part of N but does no matmul work: take it out first
        layers = max(2, round((body / (12.0 * ASPECT_RATIO**2)) ** (1.0 / 3.0)))
        raw = (body / (12.0 * layers)) ** 0.5
        body = max(n_params - GUESS_VOCAB * raw, n_params / 4.0)
    # heads = hidden / 128, a multiple of 8 from 1024 wide up, so tensor parallelism over 8 chips divides them
    step = GUESS_HEAD_DIM * 8 if raw >= 2048 else GUESS_HEAD_DIM
    hidden = max(GUESS_HEAD_DIM, round(raw / step) * step)
    return Shape(
        layers=layers,
        hidden=hidden,
        heads=hidden // GUESS_HEAD_DIM,
        attention_width=float(hidden),
        qkv_out_width=3.0 * hidden,
        ffn=4 * hidden,
        glu=False,
        vocab=GUESS_VOCAB,
        tied_embeddings=True,
        seq_len=seq_len,
        guessed=True,
    )


def guess_moe(n_total: float, n_active: float, seq_len: int) -> Shape:
    """An MoE shape with about ``n_total`` parameters of which ``n_active`` are used per token.

    The layers and widths are the dense guess for ``n_active``; every FFN becomes E experts of width
    f_e with k of them active per token, so a token's FFN work equals the dense shape's. As in every
    recent MoE (Mixtral, DeepSeek, Qwen3, GPT-OSS, Llama 4) the FFNs are gated (SwiGLU, f = 8·h/3, f_e =
    8·h/(3·k)) and attention is grouped-query with 8 KV heads. k = 8
    (fine-grained experts: DeepSeek-V3, arXiv:2412.19437; Qwen3-235B-A22B), or k = 2 (Mixtral,
    arXiv:2401.04088) when total/active is below 4. E is rounded to a power of two (as every published MoE
    has, so expert parallelism divides it), then f_e set so the experts hold exactly the total less
    embeddings and attention (so a token's FFN work moves a little off the dense shape's).
    """
    dense = guess(n_active, seq_len)
    h = float(dense.hidden)
    embed = dense.vocab * h
    ratio = max(1.0, (n_total - embed) / max(1.0, n_active - embed))
    k = FINE_GRAINED_TOP_K if ratio >= 4.0 else COARSE_TOP_K
    expert_ffn = 8.0 * h / (3.0 * k)
    kv = MOE_KV_HEADS * GUESS_HEAD_DIM
    attention = dense.layers * h * (2.0 * h + 2.0 * min(kv, h))  # Q, O and the grouped K, V projections
    budget = n_total - embed - attention  # what the experts hold
    if budget <= 0:
        return dense
    room = max(float(k), budget / (dense.layers * 3.0 * h * expert_ffn))
    experts = 2 ** round(math.log2(room))  # a power of two (8, 64, 128, 256), as every published MoE
    expert_ffn = budget / (dense.layers * 3.0 * h * experts)  # the experts hold exactly the budget
    k = min(k, experts)
    return dense.model_copy(
        update={
            "experts": experts,
            "top_k": k,
            "routed_k": k,
            "glu": True,
            "ffn": round(8.0 * h / 3.0),
            "expert_ffn": max(1, round(expert_ffn)),
            "qkv_out_width": h + 2.0 * min(kv, h),
            "moe_layers": dense.layers,
        }
    )
