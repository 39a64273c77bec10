"""Roofline timing of LLM inference on one replica of g chips (tensor parallel).

    t = max(FLOPs / (g · peak · η_c), bytes / (g · BW · η_m)) + t_comm
(Williams et al. 2009 roofline, as applied per operator by LLM-Viewer and llm-analysis.) η_c is the chip's
achievable GEMM fraction times a software-stack factor, η_m the achieved HBM fraction times that factor.

FLOPs per token: 2·N_active for the weights (Kaplan et al. 2020) plus 4·L·c·d_attn for attention over a
context of c tokens (QKᵀ and AV, as in PaLM's 12·L·H·Q·T training term = 3 × forward). A causal prefill of
s tokens costs 2·N·s + 2·L·s²·d_attn. Decode turns compute-bound at batch b* ≈ peak·bytes_per_weight/(2·BW).

Tensor parallelism all-reduces the activations twice per layer (Megatron); a ring all-reduce of M bytes
over g chips takes α + 2·(g−1)/g · M / link bandwidth (GenZ / NCCL), not overlapped with compute here.
"""

from __future__ import annotations


def decode_flops_per_token(n_active: float, layers: int, attention_width: float, context: float) -> float:
    """Forward FLOPs to generate one token with ``context`` tokens already cached."""
    return 2.0 * n_active + 4.0 * layers * attention_width * context


def prefill_flops(n_active: float, layers: int, attention_width: float, prompt: float) -> float:
    """Forward FLOPs to process a prompt of ``prompt`` tokens (causal attention)."""
    return 2.0 * n_active * prompt + 2.0 * layers * attention_width * float(prompt) ** 2


def experts_touched_fraction(experts: int, top_k: int, tokens: float) -> float:
    """Expected share of an MoE layer's experts that ``tokens`` tokens route to (uniform routing)."""
    return 1.0 - float((1.0 - top_k / experts) ** tokens)


def allreduce_s(message_bytes: float, gpus: int, link_gb_s: float, latency_us: float) -> float:
    """Ring all-reduce time of ``message_bytes`` over ``gpus`` chips at ``link_gb_s`` per direction."""
    if gpus <= 1:
        return 0.0
    return latency_us * 1e-6 + 2.0 * (gpus - 1) / gpus * message_bytes / (link_gb_s * 1e9)


def roofline_s(flops: float, bytes_moved: float, flops_per_s: float, bytes_per_s: float) -> float:
    """Time bounded by the slower of compute and memory traffic (they overlap)."""
    return max(flops / flops_per_s, bytes_moved / bytes_per_s)


def compute_bound_batch(peak_flops_per_s: float, bytes_per_weight: float, bandwidth_b_per_s: float) -> float:
    """Batch at which weight-streaming decode turns compute-bound: peak·bytes/(2·BW), KV traffic ignored."""
    return peak_flops_per_s * bytes_per_weight / (2.0 * bandwidth_b_per_s)
