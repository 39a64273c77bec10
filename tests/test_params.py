"""Parameter counts from architecture, checked against hand arithmetic and an independent count."""

from __future__ import annotations

from capacity.data.catalog import load_models
from capacity.formulas.params import active_params, attention_params, ffn_params, total_params
from conftest import FIXTURE_SPECS


def test_gpt2_small_shape_matches_nanogpt_count() -> None:
    # nanoGPT's transformer_sizing notebook: GPT-2 124M without biases has 124,337,664 weights.
    m = load_models(FIXTURE_SPECS).get("tiny-dense")
    assert total_params(m) == 124_337_664


def test_moe_counts_by_hand() -> None:
    m = load_models(FIXTURE_SPECS).get("tiny-moe")
    # attention: h·a·d + 2·h·g·d + a·d·h = 64·64 + 2·64·32 + 64·64 = 12,288 per layer (GQA, g = 2)
    assert attention_params(m) == 12_288
    # one SwiGLU expert: 3·64·128 = 24,576
    assert ffn_params(64, 128, glu=True) == 24_576
    # 2 layers × (12,288 + 128 norms + 4 experts × 24,576 + 64·4 router) + 2·1000·64 untied embeddings + 64
    assert total_params(m) == 2 * (12_288 + 128 + 4 * 24_576 + 256) + 128_000 + 64 == 350_016
    # a token uses 1 of 4 experts: drop 3 experts per layer
    assert active_params(m) == 350_016 - 2 * 3 * 24_576


def test_dense_model_active_equals_total() -> None:
    m = load_models(FIXTURE_SPECS).get("tiny-dense")
    assert active_params(m) == total_params(m)
