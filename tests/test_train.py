"""Training planner against independent numbers: the GPT-3 paper, Patterson et al. 2021, and the
hand arithmetic in ../shared/reference/seed-facts.md (scenarios S-1, S-2, S-4, S-6, S-7)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from capacity.core.errors import InputError
from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips, load_models
from capacity.estimate.train import TrainEstimate, TrainRequest, estimate_training
from capacity.formulas.flops import attention_flops_per_token, training_flops_6nd
from capacity.formulas.memory import activation_bytes, activation_bytes_per_token_layer
from capacity.formulas.shape import from_preset
from capacity.records.choices import Economics

CHIPS, MODELS = load_chips(), load_models()


def train(**kw: Any) -> TrainEstimate:
    if isinstance(kw.get("chip"), str):
        kw["chip"] = CHIPS.get(kw["chip"])
    if isinstance(kw.get("model"), str):
        kw["model"] = MODELS.get(kw["model"])
    return estimate_training(TrainRequest(**kw), load_assumptions(), load_efficiency())


def test_gpt3_is_3640_pf_days() -> None:
    # Brown et al. 2020, Table D.1: 3.14e23 FLOPs = 3.64e3 PF-days.
    est = train(model="gpt3-175b", tokens=300e9)
    assert est.pf_days == pytest.approx(3640, rel=0.01)
    assert est.training_flops == pytest.approx(3.14e23, rel=0.01)
    assert est.gpus is None and est.cost_usd is None  # no chip: hardware-independent figures only


def test_gpt3_on_10k_v100_matches_patterson() -> None:
    # Patterson et al. 2021: 10,000 V100, 14.8 days, 1,287 MWh, 552 tCO2e at PUE 1.1, 0.429 kg/kWh.
    est = train(
        model="gpt3-175b",
        tokens=300e9,
        chip="v100",
        gpus=10_000,
        mfu=0.197,
        economics=Economics(pue=1.1, grid_kgco2e_per_kwh=0.429, power_basis="gpu"),
    )  # fmt: skip  (Patterson counts the accelerators' power: --power-basis gpu)
    assert est.wall_clock_days == pytest.approx(14.8, rel=0.03)
    assert est.energy_mwh == pytest.approx(1287, rel=0.15)
    assert est.co2e_t == pytest.approx(552, rel=0.15)
    assert est.gpu_days == pytest.approx(148_000, rel=0.03)  # seed-facts S-2: 148,000 GPU-days


def test_gpt3_at_full_utilisation_takes_2_91_days() -> None:
    est = train(model="gpt3-175b", tokens=300e9, chip="v100", gpus=10_000, mfu=1.0)
    assert est.wall_clock_days == pytest.approx(2.91, rel=0.01)  # seed-facts §2.2
    assert est.aggregate_peak_pflops == pytest.approx(1250)


def test_175b_model_states_need_at_least_37_a100_80gb() -> None:
    est = train(params=175e9, tokens=300e9, chip="a100", gpus=1024)
    # 18 bytes/param: 2 (bf16 weights) + 4 (fp32 main gradients, Megatron) + 12 (Adam states, ZeRO paper)
    assert est.model_state_gb == pytest.approx(3150)
    # fully sharded (ZeRO-3/FSDP) no 16-bit copy stays: 16 bytes/param, 2800 GB / (0.9 x 80 GiB) = 36.2;
    # an "80 GB" A100 holds 80 x 2^30 bytes (nvidia-smi: 81,920 MiB)
    assert est.min_gpus_for_memory is not None and est.min_gpus_for_memory >= 37


def test_too_few_chips_warns() -> None:
    est = train(model="gpt3-175b", tokens=300e9, chip="a100", gpus=16)
    assert est.memory_fits is False
    assert any("cannot hold the job" in w for w in est.warnings)


def test_deadline_solve_inverts_the_forward_estimate() -> None:
    solved = train(model="llama2-70b", tokens=2e12, chip="h800", deadline_days=30, mfu=0.4)
    assert solved.gpus is not None and solved.gpus % 8 == 0
    assert solved.wall_clock_days is not None and solved.wall_clock_days <= 30
    fewer = train(model="llama2-70b", tokens=2e12, chip="h800", gpus=solved.gpus - 8, mfu=0.4)
    assert fewer.wall_clock_days is not None and fewer.wall_clock_days > 30
    forward = train(model="llama2-70b", tokens=2e12, chip="h800", gpus=solved.gpus, mfu=0.4)
    assert forward.wall_clock_days == pytest.approx(solved.wall_clock_days)


def test_data_centre_days_for_the_reports_500p_claim() -> None:
    # seed-facts §2.3 / S-4: 3640 PF-days / 500 PFLOPS = 7.28 data-centre days, not "7-8 data centres".
    est = train(params=175e9, tokens=300e9, capacity_pflops=500)
    assert est.data_centre_days_at_peak == pytest.approx(7.29, abs=0.02)
    at_20 = train(params=175e9, tokens=300e9, capacity_pflops=500, mfu=0.2)
    assert at_20.wall_clock_days == pytest.approx(36.4, rel=0.01)  # S-4: 7.28 / 0.2


@pytest.mark.parametrize(
    ("chip", "device_days"),
    [
        ("a100", 11_667),
        ("v100", 29_120),
        ("h100-pcie-80gb", 4_815),
        ("mlu370-x8", 37_917),
        ("ascend-910", 14_219),
    ],
)
def test_seed_facts_device_days_at_full_utilisation(chip: str, device_days: float) -> None:
    # seed-facts S-6: GPT-3-size job (3.145e23 FLOP) in device-days at 100% of dense FP16 peak.
    est = train(params=174.7e9, tokens=300e9, chip=chip, gpus=1, mfu=1.0, precision="fp16")
    assert est.gpu_days == pytest.approx(device_days, rel=0.01)


def test_glm_130b_is_3611_pf_days() -> None:
    assert train(params=130e9, tokens=400e9).pf_days == pytest.approx(3611, rel=0.005)  # seed-facts S-7


def test_moe_uses_active_parameters_for_flops_and_total_for_memory() -> None:
    est = train(model="deepseek-v3", tokens=14.8e12, chip="h800", gpus=2048)
    m = MODELS.get("deepseek-v3")
    assert est.training_flops == pytest.approx(6 * m.n_active * 14.8e12)
    assert est.model_state_gb == pytest.approx(18 * m.params / 1e9)  # 2 + 4 (fp32 grads) + 12 bytes


def test_palm_convention_adds_the_attention_term() -> None:
    # Kaplan et al.: per-token forward 2N + 2·L·T·d_attn, so the ratio is 1 + 2·L·T·d/N = 1.0277 for GPT-3.
    six = train(model="gpt3-175b", tokens=300e9)
    palm = train(model="gpt3-175b", tokens=300e9, flops_convention="palm", seq_len=2048)
    assert palm.training_flops / six.training_flops == pytest.approx(
        1 + 2 * 96 * 2048 * 12288 / 174.6e9, rel=1e-3
    )
    assert attention_flops_per_token(96, 12288, 2048) == 12 * 96 * 12288 * 2048


def test_full_recompute_raises_hfu_by_a_third_of_6n() -> None:
    est = train(params=10e9, tokens=1e9, chip="h100", gpus=8, mfu=0.4, recompute="full")
    assert est.hfu == pytest.approx(0.4 * 8 / 6)


def test_activation_formula_matches_korthikanti() -> None:
    # Korthikanti et al. 2022 (arXiv:2205.05198) Table 2, no parallelism, selective recomputation:
    # 34·s·b·h bytes per layer, of which 2·s·b·h are the two dropout masks (1 byte each per element) that
    # modern recipes leave out: 32·h per token for GPT-3's shape (q = 3h, w = h, f = 4h, no GLU).
    # FlashAttention never stores the s×s scores, so none keeps the same bytes as selective.
    sh = from_preset(MODELS.get("gpt3-175b"), 2048)
    h = sh.hidden
    assert activation_bytes_per_token_layer(sh, "selective") == (34 - 2) * h
    assert activation_bytes_per_token_layer(sh, "none") == activation_bytes_per_token_layer(sh, "selective")
    assert activation_bytes_per_token_layer(sh, "full") == 2 * h  # only the 16-bit layer input
    # a whole sequence: L layers; full recomputation adds one layer's working set while it recomputes
    s, layers = sh.seq_len, sh.layers
    assert activation_bytes(sh, "selective") == layers * 32 * h * s
    assert activation_bytes(sh, "full") == layers * 2 * h * s + 32 * h * s


def test_cloud_cost_is_gpu_hours_times_price_and_cny_conversion() -> None:
    est = train(params=7e9, tokens=1e12, chip="h100", gpus=256, economics=Economics(gpu_hour_usd=2.5))
    assert est.cost_usd == pytest.approx(est.gpu_hours * 2.5)  # type: ignore[operator]
    cny = train(params=7e9, tokens=1e12, chip="h100", gpus=256,
                economics=Economics(gpu_hour_usd=2.5, currency="CNY", cny_per_usd=7.0))  # fmt: skip
    assert cny.cost == pytest.approx(est.cost_usd * 7.0)  # type: ignore[operator]


def test_catalogue_cloud_price_is_the_median_snapshot() -> None:
    """The rule: median of the dated USD on-demand and marketplace quotes of the 12 months up to the
    newest (reserved and spot quotes, and older snapshots, are kept but not averaged in)."""
    import statistics

    est = train(params=7e9, tokens=1e12, chip="h100", gpus=256)
    chip = CHIPS.get("h100")
    kinds = ("on-demand", "marketplace")
    recent = [p.usd_per_gpu_hour for p in chip.cloud_prices
              if p.kind in kinds and p.usd_per_gpu_hour and p.date >= "2025-12"]  # fmt: skip
    assert len(recent) >= 10
    assert est.gpu_hour_usd == pytest.approx(statistics.median(recent))
    assert not any("no cloud price" in w for w in est.warnings)


def test_owned_cost_by_hand() -> None:
    # 1,000 H20 at 12,000 USD × 1.7 server × 1.2 network = 24.48 M USD capex, 4-year straight line.
    est = train(params=7e9, tokens=1e12, chip="h20", gpus=1000, mfu=0.4, economics=Economics(pricing="owned"))
    hours = est.wall_clock_days * 24  # type: ignore[operator]
    capex = 1000 * 12_000 * 1.7 * 1.2
    electricity = est.energy_mwh * 1000 * 0.0806  # type: ignore[operator]
    assert est.capex_usd == pytest.approx(capex)
    assert est.cost_usd == pytest.approx(capex * hours / (4 * 8760) + electricity)


def test_energy_chain_by_hand() -> None:
    """Facility basis: a DGX A100 draws at most 6.5 kW for 8 GPUs (its datasheet), 812.5 W per GPU; the GPU
    basis counts the A100's 400 W TDP only (Meta's and BLOOM's accounting)."""
    est = train(params=7e9, tokens=1e12, chip="a100", gpus=100, mfu=0.5, economics=Economics(pue=1.2))
    hours = est.wall_clock_days * 24  # type: ignore[operator]
    assert est.facility_power_mw == pytest.approx(100 * 6500 / 8 * 1.2 / 1e6)
    assert est.energy_mwh == pytest.approx(100 * 0.8125 * 1.2 * hours / 1000)
    gpu = train(params=7e9, tokens=1e12, chip="a100", gpus=100, mfu=0.5,
                economics=Economics(pue=1.2, power_basis="gpu"))  # fmt: skip
    assert gpu.facility_power_mw == pytest.approx(100 * 400 * 1.2 / 1e6)
    assert gpu.energy_mwh == pytest.approx(100 * 0.4 * 1.2 * hours / 1000)


def test_1024_h100_draw_dgx_power_times_pue() -> None:
    """Issue 13: 1,024 H100s are 128 DGX H100 at 10.2 kW each (NVIDIA's user guide), times PUE 1.25."""
    est = train(params=70e9, tokens=2e12, chip="h100", gpus=1024)
    assert est.facility_power_mw == pytest.approx(128 * 10.2e3 * 1.25 / 1e6, rel=0.10)
    # a chip with no reference server in the catalogue: TDP x 1.8 (Epoch AI's chip-to-server ratio)
    h800 = train(params=70e9, tokens=2e12, chip="h800", gpus=1024)
    assert h800.facility_power_mw == pytest.approx(1024 * 700 * 1.8 * 1.25 / 1e6)


def test_default_precision_falls_back_to_fp16_where_bf16_is_missing() -> None:
    assert train(params=7e9, tokens=1e9, chip="v100", gpus=8).precision == "fp16"
    assert train(params=7e9, tokens=1e9, chip="910B", gpus=8).precision == "fp16"  # bf16 peak unknown
    assert train(params=7e9, tokens=1e9, chip="h100", gpus=8).precision == "bf16"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"chip": "v100", "precision": "bf16"}, "does not support bf16"),
        ({"chip": "910B", "precision": "bf16"}, "has no published dense peak for bf16"),
        ({"chip": "a100", "pricing": "owned"}, "no launch price"),
    ],
)
def test_bad_requests_raise_input_errors(kw: dict[str, Any], message: str) -> None:
    econ = Economics(pricing=kw.pop("pricing")) if "pricing" in kw else Economics()
    with pytest.raises(InputError, match=message):
        train(params=7e9, tokens=1e9, gpus=8, economics=econ, **kw)


def test_six_n_d() -> None:
    assert training_flops_6nd(1e9, 1e9) == 6e18
    assert math.isclose(train(params=1e9, tokens=1e9).pf_days, 6e18 / 8.64e19)


def test_mla_attention_uses_qk_and_v_head_dims() -> None:
    # DeepSeek-V3: QKᵀ head dim 128+64, AV head dim 128, 128 heads: 6·L·T·H·(d_qk + d_v) per token.
    m = MODELS.get("deepseek-v3")
    est = train(model="deepseek-v3", tokens=14.8e12, flops_convention="palm", seq_len=4096)
    by_hand = (6 * m.n_active + 6 * 61 * 4096 * 128 * (192 + 128)) * 14.8e12
    assert est.training_flops == pytest.approx(by_hand, rel=1e-9)


def test_deadline_solve_respects_the_memory_floor() -> None:
    est = train(params=70e9, tokens=100e9, chip="h100", deadline_days=365)
    assert est.memory_fits and est.gpus is not None and est.min_gpus_for_memory is not None
    assert est.gpus >= est.min_gpus_for_memory
    # at the fewest chips only full recomputation fits: said, not hidden; nothing else is wrong
    assert all("full activation recomputation assumed" in w for w in est.warnings)


def test_hfu_above_one_is_refused() -> None:
    with pytest.raises(InputError, match="hardware FLOPs utilisation"):
        train(params=7e9, tokens=1e12, chip="h100", gpus=8, mfu=0.9, recompute="full")


def test_integer_training_is_refused() -> None:
    with pytest.raises(InputError, match="integer training"):
        train(params=7e9, tokens=1e12, chip="h100", gpus=8, precision="int8")


def test_params_override_keeps_the_moe_active_share() -> None:
    m = MODELS.get("deepseek-v3")
    est = train(model="deepseek-v3", params=700e9, tokens=1e12)
    assert est.active_params == pytest.approx(700e9 * m.n_active / m.params)
    assert any(a.name == "active_params" for a in est.assumptions)


def test_published_comparison_uses_the_runs_own_precision() -> None:
    chip = CHIPS.get("h800")
    est = estimate_training(
        TrainRequest(model=MODELS.get("deepseek-v3"), tokens=14.8e12, chip=chip, gpus=2048, precision="fp8"),
        load_assumptions(),
        load_efficiency(),
        [("a-bf16-run", 0.4, "bf16")],
    )
    expected = est.training_flops / (2048 * 989.4e12 * 0.4) / 86_400
    assert est.published_runs_on_chip[0].wall_clock_days_at_that_mfu == pytest.approx(expected)


def test_long_context_warns_that_6nd_undercounts() -> None:
    short = train(model="llama3.1-70b", tokens=1e12, seq_len=4096)  # 12LHQT / 6N = 7.6 %
    long = train(model="llama3.1-8b", tokens=1e12, seq_len=4096)  # 13 %
    assert not any("--flops palm" in w for w in short.warnings)
    assert any("--flops palm" in w for w in long.warnings)


def test_fp32_training_keeps_four_byte_activations() -> None:
    bf16 = train(model="llama2-7b", tokens=1e12, chip="a100", gpus=8, precision="bf16")
    fp32 = train(model="llama2-7b", tokens=1e12, chip="a100", gpus=8, precision="fp32")
    assert fp32.activation_gb == pytest.approx(2 * bf16.activation_gb)  # type: ignore[operator]
