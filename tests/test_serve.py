"""Serving planner against hand arithmetic and physics (issue 4 checks)."""

from __future__ import annotations

from typing import Any

import pytest

from capacity.core.errors import InputError
from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults
from capacity.data.catalog import load_chips, load_models
from capacity.estimate.serve import ServeEstimate, ServeRequest, estimate_serving
from capacity.formulas.kv_cache import kv_bytes_per_token
from capacity.formulas.roofline import allreduce_s, compute_bound_batch, decode_flops_per_token, prefill_flops
from capacity.records.choices import Economics, Traffic

CHIPS, MODELS = load_chips(), load_models()


def serve(**kw: Any) -> ServeEstimate:
    kw["model"] = MODELS.get(kw["model"])
    kw["chip"] = CHIPS.get(kw["chip"])
    kw.setdefault("input_tokens", 1000)
    kw.setdefault("output_tokens", 1000)
    return estimate_serving(
        ServeRequest(**kw), load_assumptions(), load_efficiency(), load_serving_defaults()
    )


def test_kv_cache_bytes_for_gqa_by_hand() -> None:
    # Llama 3.1 70B: 80 layers, 8 KV heads (not 64 query heads), head dim 128, K and V, 2 bytes.
    assert kv_bytes_per_token(MODELS.get("llama3.1-70b"), 2) == 2 * 80 * 8 * 128 * 2 == 327_680
    # Llama 2 7B is multi-head: 32 layers × 32 heads × 128 × 2 × 2 bytes = 0.5 MiB per token.
    assert kv_bytes_per_token(MODELS.get("llama2-7b"), 2) == 524_288


def test_kv_cache_for_mla_caches_the_latent() -> None:
    # DeepSeek-V3: 61 layers × (512 latent + 64 RoPE key) × 2 bytes, shared by K and V.
    assert kv_bytes_per_token(MODELS.get("deepseek-v3"), 2) == 61 * (512 + 64) * 2


def test_crossover_batch_matches_the_reference() -> None:
    # peers-and-formulas.md B.6: H100 SXM bf16, 989e12 · 2 / (2 · 3.35e12) ≈ 295 concurrent sequences.
    assert compute_bound_batch(989e12, 2, 3.35e12) == pytest.approx(295, abs=1)


def test_decode_memory_bound_at_batch_1_and_compute_bound_at_large_batch() -> None:
    small = serve(model="llama3.1-8b", chip="h100", max_batch=1, input_tokens=128, output_tokens=128)
    assert small.batch_size == 1 and small.decode_regime == "memory-bound"
    big = serve(model="llama3.1-8b", chip="h100", max_batch=4096, input_tokens=128, output_tokens=128)
    assert big.batch_size > big.compute_bound_batch and big.decode_regime == "compute-bound"
    # and batch 1 runs at about weights / bandwidth per token: 16 GB / (3.35 TB/s · 0.85 · 0.64)
    assert small.tpot_ms == pytest.approx(16.06e9 / (3.35e12 * 0.85 * 0.64) * 1e3, rel=0.1)


def test_flops_per_query_by_hand() -> None:
    est = serve(model="llama3.1-8b", chip="h100", input_tokens=100, output_tokens=10)
    m = MODELS.get("llama3.1-8b")
    width = m.heads * m.d_head
    expected = prefill_flops(m.params, m.layers, width, 100) + sum(
        decode_flops_per_token(m.params, m.layers, width, 100 + i) for i in range(10)
    )
    assert est.flops_per_query == pytest.approx(expected, rel=1e-9)
    assert decode_flops_per_token(8e9, 32, 4096, 0) == 16e9  # 2·N per token with no context


def test_ring_allreduce_by_hand() -> None:
    # 2·(g−1)/g · M / B + α: 8 GPUs, 16 MB, 100 GB/s, 5 µs → 280 µs + 5 µs.
    assert allreduce_s(16e6, 8, 100, 5) == pytest.approx(2 * 7 / 8 * 16e6 / 100e9 + 5e-6)
    assert allreduce_s(16e6, 1, 100, 5) == 0


def test_default_replica_size_follows_memory() -> None:
    assert serve(model="llama3.1-70b", chip="h100", weight_precision="fp8").gpus_per_replica == 2
    assert serve(model="llama3.1-70b", chip="h100").gpus_per_replica == 4
    assert serve(model="llama3.1-8b", chip="h100").gpus_per_replica == 1


def test_cost_per_query_times_queries_is_the_monthly_bill() -> None:
    est = serve(
        model="llama3.1-70b", chip="h100", traffic=Traffic(qps=40), economics=Economics(gpu_hour_usd=2)
    )
    queries_per_month = 40 * 86_400 * 30.44
    assert est.cost_usd_per_query * queries_per_month == pytest.approx(est.cost_usd_per_month)  # type: ignore[operator]
    assert est.cost_usd_per_month == pytest.approx(est.gpus * 2 * 24 * 30.44)  # type: ignore[operator]


def test_traffic_sets_replicas() -> None:
    one = serve(model="llama3.1-8b", chip="h100")
    est = serve(model="llama3.1-8b", chip="h100", traffic=Traffic(qps=10 * one.queries_per_s_per_replica))
    assert est.replicas == 10
    peak = serve(model="llama3.1-8b", chip="h100", traffic=Traffic(qps=10 * one.queries_per_s_per_replica,
                                                                     peak_to_average=2))  # fmt: skip
    assert peak.replicas == 20 and peak.utilisation == pytest.approx(0.5)


def test_visits_per_month() -> None:
    est = serve(model="gpt3-175b", chip="a100", input_tokens=500, output_tokens=500,
                traffic=Traffic(visits_per_month=616e6, queries_per_visit=5))  # fmt: skip
    assert est.queries_per_s_average == pytest.approx(616e6 * 5 / (30.44 * 86_400))


def test_latency_target_limits_the_batch_and_misses_are_reported() -> None:
    free = serve(model="llama3.1-70b", chip="h100", weight_precision="fp8")
    tight = serve(model="llama3.1-70b", chip="h100", weight_precision="fp8", tpot_ms=free.tpot_ms / 2)
    assert tight.batch_size < free.batch_size and tight.tpot_ms <= free.tpot_ms / 2
    assert tight.batch_limited_by == "latency target" and tight.slo_met
    impossible = serve(model="llama3.1-70b", chip="h100", weight_precision="fp8", tpot_ms=0.1)
    assert not impossible.slo_met and impossible.warnings


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"model": "llama3.1-8b", "chip": "v100", "weight_precision": "bf16"}, "does not support bf16"),
        ({"model": "deepseek-v3", "chip": "enflame-i20"}, "fit on no replica of up to 64 chips"),
        ({"model": "llama3.1-70b", "chip": "h100", "gpus_per_replica": 1}, "leave no room"),
        ({"model": "llama3.1-8b", "chip": "iluvatar-bi-v150"}, "no published memory size"),
    ],
)
def test_bad_requests(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        serve(**kw)


def test_weight_only_quantisation_on_chips_without_fp8() -> None:
    est = serve(model="llama3.1-70b", chip="a100", weight_precision="fp8", gpus_per_replica=2)
    assert est.compute_precision == "bf16" and est.weights_gb == pytest.approx(70.55, rel=0.01)
    assert any(a.name == "compute_precision" for a in est.assumptions)


def test_kv_cache_is_copied_when_tp_exceeds_kv_heads_and_for_mla() -> None:
    # DeepSeek-V3's MLA latent is held whole on every rank (reviewer's hand check: ~285 sequences, not 4,563)
    est = serve(model="deepseek-v3", chip="h800", weight_precision="fp8", gpus_per_replica=16,
                input_tokens=1000, output_tokens=1000)  # fmt: skip
    # Per rank (hand arithmetic): 99% of 80 GiB visible, less 1.79 GiB runtime and 1.79 GiB NCCL buffers, one
    # layer's activations at 8,192 tokens (3 x 18,432 + 4 x 7,168 values x 2 B / 16 ranks) and 1/16 of the
    # FP8 weights; TensorRT-LLM gives 90% of that to the cache. FP8 weights bring an FP8 cache (35,136 B
    # per token); each sequence of mean context 1,500 wastes half a 32-token block.
    workspace = 8192 * (3 * 18_432 + 4 * 7_168) * 2 / 16
    per_rank_free = 80 * 2**30 * 0.99 - 2 * 1.79 * 2**30 - workspace - 671.03e9 / 16
    assert est.kv_precision == "fp8"
    assert est.max_batch_for_memory == pytest.approx(0.9 * per_rank_free / (35_136 * (1500 + 16)), rel=0.01)
    # Llama 3.1 70B has 8 KV heads: on 4 ranks the cache splits, no copies
    llama = serve(model="llama3.1-70b", chip="h100", gpus_per_replica=4)
    assert not any(a.name == "kv_cache_copies" for a in llama.assumptions)


def test_tensor_parallel_size_must_divide_the_heads() -> None:
    with pytest.raises(InputError, match=r"split llama3\.1-70b's 64 attention heads evenly"):
        serve(model="llama3.1-70b", chip="h100", gpus_per_replica=3)
    assert serve(model="falcon-180b", chip="h100").gpus_per_replica in (1, 2, 4, 8)  # 232 heads: not 16


@pytest.mark.parametrize(
    "traffic",
    [{"qps": 10, "queries_per_day": 100}, {"qps": 10, "queries_per_visit": 3}, {}],
)
def test_traffic_takes_exactly_one_rate(traffic: dict[str, float]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Traffic(**traffic)


def test_ttft_is_prefill_plus_an_in_flight_decode_step() -> None:
    est = serve(model="llama3.1-8b", chip="h100", input_tokens=1000, output_tokens=1)
    assert est.ttft_ms < 1000  # a one-token answer is no longer charged 256 prefills before its own


def test_fp8_weights_bring_an_fp8_kv_cache_where_the_chip_has_fp8() -> None:
    h100 = serve(model="llama3.1-70b", chip="h100", weight_precision="fp8", gpus_per_replica=2)
    assert h100.kv_precision == "fp8" and h100.kv_bytes_per_token == 2 * 80 * 8 * 128 * 1
    assert any(a.name == "kv_precision" for a in h100.assumptions)
    a100 = serve(model="llama3.1-70b", chip="a100", weight_precision="fp8", gpus_per_replica=2)
    assert a100.kv_precision == "bf16"  # no FP8 math: weight-only quantisation keeps a 16-bit cache
    kept = serve(
        model="llama3.1-70b", chip="h100", weight_precision="fp8", gpus_per_replica=2, kv_precision="bf16"
    )
    assert kept.kv_precision == "bf16" and kept.max_batch_for_memory < h100.max_batch_for_memory


def test_memory_parts_add_up_and_the_cache_gets_ninety_percent_of_the_free_memory() -> None:
    est = serve(model="llama3.1-70b", chip="h100", weight_precision="fp8", gpus_per_replica=1)
    mem = est.memory_per_gpu_gb
    assert mem.visible == pytest.approx(80 * 2**30 * 0.99 / 1e9)
    assert mem.weights == pytest.approx(70.55, rel=0.01) and mem.runtime == pytest.approx(1.79 * 2**30 / 1e9)
    # one layer at 8,192 tokens: (3 x 28,672 + 4 x 8,192) values x 2 bytes
    assert mem.activations == pytest.approx(8192 * (3 * 28_672 + 4 * 8_192) * 2 / 1e9)
    parts = mem.weights + mem.runtime + mem.activations + mem.kv_cache + mem.headroom
    assert parts == pytest.approx(mem.visible)
    assert mem.kv_cache == pytest.approx(9 * mem.headroom)
    # the 70B model nearly fills one H100, yet the cache holds tens of 1,500-token sequences (was 13)
    assert est.max_batch_for_memory >= 30


def test_the_batch_is_limited_by_the_token_budget_or_an_explicit_cap_not_a_default_cap() -> None:
    long_prompts = serve(model="llama3.1-8b", chip="h100", input_tokens=1000, output_tokens=10)
    assert long_prompts.batch_limited_by == "token budget"
    assert long_prompts.batch_size == 8192 // (1 + 1000 // 10)  # 8,192 tokens per step, 101 per sequence
    free = serve(model="llama3.1-8b", chip="h100", input_tokens=128, output_tokens=1000)
    assert free.batch_size > 256  # no hidden engine cap
    capped = serve(model="llama3.1-8b", chip="h100", input_tokens=128, output_tokens=1000, max_batch=64)
    assert capped.batch_size == 64 and capped.batch_limited_by == "engine cap"
