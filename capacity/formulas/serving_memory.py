"""Memory of one serving replica: what the engine keeps before the KV cache gets the rest.

Per chip of a tensor-parallel replica of g chips (all sizes in bytes):

    visible    = C · v                       v: the share of HBM the CUDA driver exposes
    runtime    = r + (g > 1) · n             r: CUDA context and library workspaces; n: NCCL buffers
    workspace  = T · (3·f + 4·d) · 2 / g     one layer's live 16-bit activations at T batched tokens
    KV cache   = φ · (g · (visible − runtime − workspace) − W)      TensorRT-LLM's rule: φ of the free memory

C is the chip's memory (binary, see :mod:`capacity.core.units`), W the replica's weights, T the engine's
token budget per step (``max_num_tokens``), f the FFN width (the widest expert's when experts are wider),
d the hidden size. TensorRT-LLM allocates ``free_gpu_memory_fraction`` (φ, default 0.9) "of free GPU memory
after allocating model weights and buffers" (trtllm-serve docs), and sizes activations as "max number of
input tokens × some constant factor" for one layer at a time (TensorRT-LLM docs, reference/memory.md).
The constants and their sources are in ``specs/serving.yaml`` (``engine_memory``).

A paged cache wastes on average half a block per sequence (Kwon et al. 2023, vLLM, §4.2: the waste is
confined to a sequence's last block), so a sequence of c tokens takes c + block/2 token slots.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ReplicaMemory(BaseModel):
    """Per-chip memory of a serving replica in GB (10**9 bytes); the estimate's ``memory_per_gpu_gb``."""

    model_config = ConfigDict(frozen=True)

    visible: float
    weights: float
    runtime: float
    activations: float
    kv_cache: float
    headroom: float


def activation_workspace_bytes(max_tokens: float, hidden: int, ffn: int, tp: int) -> float:
    """One layer's live 16-bit activations at ``max_tokens`` batched tokens, per chip of a TP-``tp`` replica.

    Gate, up and down projections (3·f) plus attention input, output and residual (4·d) values per token,
    2 bytes each. Checked against vLLM's profile of Llama-3-8B on an H100 (1.26 GiB peak activations at
    8,192 tokens, vLLM PR #10511): this gives 0.91 GiB, the rest being sampler logits."""
    return max_tokens * (3.0 * ffn + 4.0 * hidden) * 2.0 / tp


def replica_memory(
    capacity_bytes: float,
    visible_fraction: float,
    runtime_bytes: float,
    collective_bytes: float,
    workspace_bytes: float,
    weights_bytes: float,
    chips: int,
    kv_free_fraction: float,
) -> ReplicaMemory:
    """Split each chip's memory into weights, runtime, activations, KV cache and the engine's headroom."""
    visible = capacity_bytes * visible_fraction
    runtime = runtime_bytes + (collective_bytes if chips > 1 else 0.0)
    free = visible - runtime - workspace_bytes - weights_bytes / chips
    kv = kv_free_fraction * max(free, 0.0)
    return ReplicaMemory(
        visible=visible / 1e9,
        weights=weights_bytes / chips / 1e9,
        runtime=runtime / 1e9,
        activations=workspace_bytes / 1e9,
        kv_cache=kv / 1e9,
        headroom=(max(free, 0.0) - kv) / 1e9,
    )


def sequences_in_cache(kv_bytes: float, kv_bytes_per_token: float, context: float, block_tokens: int) -> int:
    """Sequences of mean ``context`` tokens a paged cache of ``kv_bytes`` holds (half a block wasted each)."""
    return int(kv_bytes // (kv_bytes_per_token * (context + block_tokens / 2.0)))
