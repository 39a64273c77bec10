"""KV-cache size (Pope et al. 2022, arXiv:2211.05102; kipply, "Transformer Inference Arithmetic").

Per token, every layer caches a key and a value vector for each *KV* head:
    bytes/token = 2 · L · g · d · b          (2 = K and V; g = KV heads, not attention heads, under GQA/MQA)
With DeepSeek's multi-head latent attention (MLA, arXiv:2405.04434 §2.1.2) one compressed latent of size
d_c plus the decoupled RoPE key d_R is cached per layer, shared by K and V:
    bytes/token = L · (d_c + d_R) · b
"""

from __future__ import annotations

from capacity.records.model_spec import ModelPreset

BYTES_PER_ELEMENT = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}


def kv_bytes_per_token(m: ModelPreset, kv_bytes_per_element: float) -> float:
    """Bytes of KV cache one token occupies across all layers."""
    if m.mla is not None:
        return m.layers * (m.mla.kv_lora_rank + m.mla.qk_rope_head_dim) * kv_bytes_per_element
    return 2.0 * m.layers * m.kv_heads * m.d_head * kv_bytes_per_element
