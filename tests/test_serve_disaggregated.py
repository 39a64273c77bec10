"""Expert parallelism with attention data parallelism (DEP) and disaggregated prefill/decode pools."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from capacity.core.errors import InputError
from capacity.estimate.decode_step import routing_imbalance
from capacity.estimate.serving_replica import expert_split
from capacity.records.choices import ServingOptions, Traffic
from tests.test_serve import MODELS, serve

# DeepSeek "V3/R1 Inference System Overview" (open-infra-index, 2025-03-01): per H800 node, ~73.7k input
# tokens/s in prefill (cache hits included) and ~14.8k output tokens/s in decode; prefill EP32 (4 nodes),
# decode EP144 (18 nodes); 56.3 % of input tokens hit the KV cache; 4,989 tokens of KV per output token on
# average; 20-22 tokens/s per user; FP8 GEMMs and dispatch, BF16 core MLA.
DEEPSEEK: dict[str, Any] = {
    "model": "deepseek-v3", "chip": "h800", "weight_precision": "fp8", "kv_precision": "bf16",
    "input_tokens": 4384, "output_tokens": 1211,  # 608B in / 168B out a day; 4,384 + 1,211 / 2 = 4,989
    "tpot_ms": 47.0,  # about 21 tokens/s per user
    "serving": ServingOptions(mode="disaggregated", expert_parallel=144, prefill_gpus=32,
                              prefix_hit_rate=0.563),
}  # fmt: skip


def test_routing_imbalance_matches_a_simulated_router() -> None:
    rng = np.random.default_rng(3)
    for tokens, k, chips in ((512, 8, 8), (4096, 8, 32), (20_000, 8, 144)):
        loads = rng.multinomial(tokens * k, [1 / chips] * chips, size=400)
        simulated = float(np.mean(loads.max(axis=1))) / (tokens * k / chips)
        assert routing_imbalance(tokens, k, chips) == pytest.approx(simulated, rel=0.03)
    assert routing_imbalance(100, 8, 1) == 1.0


def test_dep_keeps_the_dense_part_on_every_chip_and_spreads_the_experts() -> None:
    est = serve(
        model="deepseek-v3", chip="h800", weight_precision="fp8", serving=ServingOptions(expert_parallel=32)
    )
    m = MODELS.get("deepseek-v3")
    experts, dense = expert_split(m, 671e9)  # FP8: a byte per parameter
    # 58 MoE layers x 256 experts x 3 x 7,168 x 2,048 = 654 B routed parameters; 17 B elsewhere
    assert experts == pytest.approx(58 * 256 * 3 * 7168 * 2048, rel=1e-9)
    assert est.memory_per_gpu_gb.weights == pytest.approx((dense + experts / 32) / 1e9)
    assert est.layout == "DEP32" and est.gpus_per_replica == 32


def test_dep_needs_an_moe_model_and_prefill_gpus_need_disaggregation() -> None:
    with pytest.raises(InputError, match="expert parallelism needs an MoE"):
        serve(model="llama3.1-70b", chip="h100", serving=ServingOptions(expert_parallel=8))
    with pytest.raises(ValueError, match="needs mode: disaggregated"):
        ServingOptions(prefill_gpus=8)


def test_disaggregated_pools_by_hand() -> None:
    kw: dict[str, Any] = {"model": "llama3.1-70b", "chip": "h100", "weight_precision": "fp8",
                          "gpus_per_replica": 4, "input_tokens": 4000, "output_tokens": 500,
                          "traffic": Traffic(qps=10)}  # fmt: skip
    split = serve(**kw, serving=ServingOptions(mode="disaggregated", prefill_gpus=2))
    together = serve(**kw)
    assert split.gpus == split.prefill_gpus + split.decode_gpus  # type: ignore[operator]
    assert split.prefill_gpus_per_instance == 2 and split.aggregated_gpus == together.gpus
    # the decode pool's steps carry no prompt chunks, so the same batch decodes faster
    idle = {k: v for k, v in kw.items() if k != "traffic"}
    decode_only = serve(**idle, serving=ServingOptions(mode="disaggregated"))
    mixed = serve(**idle, max_batch=decode_only.batch_size)
    assert decode_only.tpot_ms < mixed.tpot_ms
    # the cache of 4,000 tokens (80 x 8 x 128 x 2 x 1 byte each) crosses two 400 Gbit/s NICs
    assert split.kv_transfer_ms == pytest.approx(4000 * 163_840 / (2 * 50e9) * 1e3)
    assert split.prefill_queries_per_s_per_instance * split.prefill_instances >= 10  # type: ignore[operator]


def test_deepseek_inference_system_prefill_within_a_quarter_decode_gap_bounded() -> None:
    est = serve(**DEEPSEEK)
    prefill_node = est.prefill_input_tokens_per_s_per_gpu * 8  # type: ignore[operator]
    decode_node = est.decode_output_tokens_per_s_per_gpu * 8  # type: ignore[operator]
    assert prefill_node == pytest.approx(73_700, rel=0.25)
    # decode is optimistic (docs/serving.md: MoE decode gap); the bound keeps the gap from growing unnoticed
    assert 14_800 < decode_node < 2 * 14_800
    assert est.tpot_ms <= 47.0


def test_a_dep_sequence_must_fit_on_one_chip() -> None:
    # each chip holds the caches of its own sequences: 100k tokens of BF16 MLA latent (7 GB) do not fit
    # in the room one H100 has left beside DeepSeek-V3's dense part and 1/32 of its experts
    with pytest.raises(InputError, match="no room for one sequence"):
        serve(model="deepseek-v3", chip="h100", weight_precision="bf16", kv_precision="bf16",
              input_tokens=100_000, output_tokens=2000,
              serving=ServingOptions(expert_parallel=32))  # fmt: skip


def test_the_kv_transfer_runs_over_the_smaller_sides_nics() -> None:
    est = serve(model="llama3.1-70b", chip="h100", weight_precision="fp8", gpus_per_replica=2,
                input_tokens=32_000, output_tokens=500,
                serving=ServingOptions(mode="disaggregated", prefill_gpus=8))  # fmt: skip
    assert est.kv_transfer_ms == pytest.approx(32_000 * 163_840 / (2 * 50e9) * 1e3)  # 2 receiving NICs


def test_a_draft_model_takes_memory_and_one_token_answers_gain_nothing() -> None:
    kw: dict[str, Any] = {"model": "llama3.1-70b", "chip": "h100", "weight_precision": "fp8",
                          "gpus_per_replica": 2}  # fmt: skip
    plain = serve(**kw)
    drafted = serve(**kw, serving=ServingOptions(speculative="draft", draft_params=8e9))
    assert drafted.memory_per_gpu_gb.weights == pytest.approx(plain.memory_per_gpu_gb.weights + 8e9 / 2 / 1e9)
    one: dict[str, Any] = {"model": "llama3.1-8b", "chip": "h100", "input_tokens": 100,
                           "output_tokens": 1, "max_batch": 1}  # fmt: skip
    fast = serve(**one, serving=ServingOptions(speculative="eagle")).queries_per_s_per_replica
    assert fast <= serve(**one).queries_per_s_per_replica


def test_conflicting_serving_options_are_refused(cli: Any, tmp_path: Any) -> None:
    base = ["serve", "--model", "deepseek-v3", "--chip", "h800", "--precision", "fp8",
            "--input-tokens", "1000", "--output-tokens", "100"]  # fmt: skip
    assert cli(*base, "--dep", "32", "--gpus-per-replica", "16").exit_code == 2
    assert cli(*base, "--speculative", "mtp", "--draft-params", "1B").exit_code == 2
    assert cli(*base, "--dep", "32", "--pareto", "--plot", str(tmp_path / "no" / "x.png")).exit_code == 2
    train = ["compare", "--chips", "h100", "--model", "llama2-7b", "--tokens", "1T", "--gpus", "64"]
    assert cli(*train, "--optimize", "gpus").exit_code == 2
