"""Parameter counts from an architecture (weights only; biases and norm gains are counted too,
approximately, since they are < 0.1 % of a large model).

Dense transformer block (Kaplan et al. 2020, arXiv:2001.08361, Table 1, generalised to GQA and GLU):
    attention  = h·(a·d) + 2·h·(g·d) + (a·d)·h          Q, K, V, O projections; d = head dim
    FFN        = m·h·f,  m = 3 for GLU (SwiGLU/GeGLU) else 2
    norms      ≈ 2·h
With a = g and f = 4h this is the familiar 12·h² per layer. Embeddings add V·h (twice when the output
projection is untied) plus T·h for learned positions. MoE layers hold E routed + S shared experts of
size m·h·f_e and a router h·E; a token uses k routed + S shared.
MLA (multi-head latent attention) follows DeepSeek-V2 (arXiv:2405.04434) §2.1.
"""

from __future__ import annotations

from typing import Any

from capacity.records.model_spec import ModelPreset


def attention_params(m: ModelPreset) -> int:
    """Weights of one attention block (Q, K, V, O), GQA- and MLA-aware."""
    h, a = m.hidden_size, m.heads
    if m.mla is not None:
        x = m.mla
        qk = x.qk_nope_head_dim + x.qk_rope_head_dim
        q = h * x.q_lora_rank + x.q_lora_rank * a * qk + x.q_lora_rank if x.q_lora_rank else h * a * qk
        kv = h * (x.kv_lora_rank + x.qk_rope_head_dim) + x.kv_lora_rank * a * (
            x.qk_nope_head_dim + x.v_head_dim
        )
        return q + kv + x.kv_lora_rank + a * x.v_head_dim * h
    d = m.d_head
    return h * a * d + 2 * h * m.kv_heads * d + a * d * h


def ffn_params(hidden: int, ffn: int, glu: bool) -> int:
    """Weights of one feed-forward block: 3·h·f with a GLU, else 2·h·f."""
    return (3 if glu else 2) * hidden * ffn


def embedding_params(m: ModelPreset) -> int:
    """Token embedding, output projection when untied, and learned position table."""
    n = m.vocab_size * m.hidden_size * (1 if m.tied_embeddings else 2)
    if m.position_embedding == "learned":
        n += m.context_length * m.hidden_size
    return n


def _layer_counts(m: ModelPreset) -> tuple[int, int]:
    """(dense FFN layers, MoE FFN layers)."""
    if m.moe is None:
        return m.layers, 0
    moe_layers = m.moe.moe_layers or m.layers
    return m.layers - moe_layers, moe_layers


def total_params(m: ModelPreset) -> float:
    """All weights, every expert included (what memory must hold)."""
    dense_layers, moe_layers = _layer_counts(m)
    h = m.hidden_size
    per_layer_common = attention_params(m) + 2 * h
    n = m.layers * per_layer_common + dense_layers * ffn_params(h, m.ffn_size, m.glu)
    if m.moe is not None:
        expert = ffn_params(h, m.moe.expert_ffn_size, m.glu)
        n += moe_layers * ((m.moe.experts + m.moe.shared_experts) * expert + h * m.moe.experts)
    return float(n + embedding_params(m) + h)


def active_params(m: ModelPreset) -> float:
    """Weights one token passes through (= total for a dense model; top-k + shared experts for MoE)."""
    if m.moe is None:
        return total_params(m)
    _, moe_layers = _layer_counts(m)
    idle = (m.moe.experts - m.moe.top_k) * ffn_params(m.hidden_size, m.moe.expert_ffn_size, m.glu)
    return total_params(m) - moe_layers * idle


def counted_preset(**fields: Any) -> ModelPreset:
    """A preset built from its architecture ``fields`` (no ``params``/``active_params``), the two counts
    computed from the shapes above; validation errors are pydantic's."""
    draft = ModelPreset(**fields, params=1.0, active_params=1.0 if fields.get("moe") else None)
    moe_active = active_params(draft) if draft.moe else None
    return ModelPreset(**fields, params=total_params(draft), active_params=moe_active)
