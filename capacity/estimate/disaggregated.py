"""Disaggregated serving (xPyD): separate prefill and decode pools, sized each for its own work.

Prefill instances run prompts in chunks of the engine's token budget (per chip under DEP), compute-bound;
decode instances run only decode steps, so their TPOT carries no prompt chunks. A finished prompt's KV cache
moves from the prefill chip(s) to the decode chip(s) over the scale-out network (RDMA; DeepSeek's inference
system, Mooncake/NIXL in SGLang and Dynamo), which adds to TTFT. Each pool gets as many instances as the peak
rate needs; a TTFT target at a percentile adds prefill instances until the M/D/1 wait fits
(:mod:`capacity.estimate.latency`).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from capacity.estimate.decode_step import DecodeStep
from capacity.formulas import queueing


class Pools(BaseModel):
    """The two pools of a disaggregated deployment."""

    model_config = ConfigDict(frozen=True)

    prefill_instances: int
    prefill_gpus_per_instance: int
    prefill_gpus: int
    prefill_queries_per_s_per_instance: float
    prefill_input_tokens_per_s_per_gpu: float  # cached prompt tokens included, as DeepSeek counts them
    decode_instances: int
    decode_gpus: int
    decode_output_tokens_per_s_per_gpu: float
    kv_transfer_ms: float


def prefill_queries_per_s(step: DecodeStep, token_budget: float) -> float:
    """Prompts per second of a prefill instance: chunks of ``token_budget`` tokens per chip (DEP) or per
    instance (TP), each a roofline over the chunk plus its communication."""
    g = step.data_parallel
    per_chunk = max(1.0, token_budget * g / step.prefill_tokens)
    tokens = per_chunk * step.prefill_tokens
    compute = per_chunk * step.prefill_compute_s()
    moved = (
        step.weight_bytes(tokens)
        + (g - 1) * step.dense_bytes
        + per_chunk * step.s_in * step.kv_bytes_per_token
    )
    a2a = tokens * step.a2a_bytes_per_token / g / step.a2a_bytes_s
    talk = a2a if g > 1 else step.comm(tokens)
    return per_chunk / step.busy(compute, moved / step.bytes_per_s, talk)


def size_pools(
    prefill: DecodeStep,
    prefill_gpus: int,
    decode: DecodeStep,
    decode_gpus: int,
    batch: int,
    token_budget: float,
    kv_bytes: float,
    nic_bytes_s: float,
    qps_peak: float | None,
    ttft_service_s: float,
    ttft_ms: float | None,
    p: float,
) -> Pools:
    """Instances per pool for ``qps_peak`` (one of each without traffic)."""
    qps_prefill = prefill_queries_per_s(prefill, token_budget)
    qps_decode = decode.queries_per_s(batch)
    n_prefill = n_decode = 1
    if qps_peak is not None:
        n_prefill = max(1, math.ceil(qps_peak / qps_prefill * (1 - 1e-12)))
        n_decode = max(1, math.ceil(qps_peak / qps_decode * (1 - 1e-12)))
        if ttft_ms is not None and ttft_ms / 1e3 > ttft_service_s:
            rho = queueing.utilisation_for_wait(1.0 / qps_prefill, p, ttft_ms / 1e3 - ttft_service_s)
            n_prefill = max(n_prefill, math.ceil(qps_peak / (rho * qps_prefill) * (1 - 1e-12)))
    return Pools(
        prefill_instances=n_prefill,
        prefill_gpus_per_instance=prefill_gpus,
        prefill_gpus=n_prefill * prefill_gpus,
        prefill_queries_per_s_per_instance=qps_prefill,
        prefill_input_tokens_per_s_per_gpu=qps_prefill * prefill.s_in / prefill_gpus,
        decode_instances=n_decode,
        decode_gpus=n_decode * decode_gpus,
        decode_output_tokens_per_s_per_gpu=batch * decode.accepted / decode.step(batch) / decode_gpus,
        kv_transfer_ms=kv_bytes / nic_bytes_s * 1e3,
    )
