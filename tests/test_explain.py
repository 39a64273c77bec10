"""--explain: every factor of the chain with its value and source, and elasticities that are true."""

from __future__ import annotations

import math
from typing import Any

import pytest

from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips, load_models
from capacity.data.uncertainty import load_spreads
from capacity.estimate.explain import explain_training
from capacity.estimate.train import TrainRequest, estimate_training

GOODPUT_ROW = "goodput: checkpoint stalls and other pauses"


def _explain(**kw: Any) -> tuple[Any, list[Any]]:
    req = TrainRequest(**kw)
    est = estimate_training(req, load_assumptions(), load_efficiency())
    return est, explain_training(req, est, load_assumptions(), load_efficiency(), load_spreads())


def test_the_chain_names_every_factor_with_a_source() -> None:
    _, factors = _explain(
        model=load_models().get("gpt3-175b"), tokens=3e11, chip=load_chips().get("a100"), gpus=1024
    )
    names = [f.factor for f in factors]
    expected = ["parameters per token N", "training tokens D", "dense peak (bf16)", "GPUs"]
    expected += ["parallel layout", "matmul: GEMM fraction of peak", GOODPUT_ROW]
    expected += ["failures and restarts: failures per GPU-hour"]
    expected += ["price per GPU-hour", "power per accelerator (facility basis)", "PUE"]
    assert set(expected) <= set(names)
    assert all(f.source for f in factors)


def test_elasticities_are_what_the_model_does() -> None:
    chip, model = load_chips().get("h100"), load_models().get("llama2-70b")
    base, factors = _explain(model=model, tokens=2e12, chip=chip, gpus=512)
    by_name = {f.factor: f for f in factors}
    # checkpoint stalls and other pauses divide the whole time by (1 − c)(1 − o): halving that keeps
    # the layout and doubles the days, elasticity −1 exactly
    eff = load_efficiency()
    g = eff.goodput
    keep = (1 - g.checkpoint_stall_share.value) * (1 - g.other_pause_share.value)
    assert by_name[GOODPUT_ROW].value == pytest.approx(keep, abs=1e-4)
    other = 1 - (1 - g.other_pause_share.value) / 2
    slower = eff.model_copy(
        update={"goodput": g.model_copy(update={"other_pause_share": g.other_pause_share.model_copy(
            update={"value": other})})}
    )  # fmt: skip
    half = estimate_training(
        TrainRequest(model=model, tokens=2e12, chip=chip, gpus=512), load_assumptions(), slower
    )
    assert half.wall_clock_days / base.wall_clock_days == pytest.approx(2 ** -by_name[GOODPUT_ROW].elasticity)
    # failures add λ·G·t_lost of the steady-state time: elasticity f / (1 + f) in the failure rate
    more = eff.model_copy(
        update={"goodput": g.model_copy(update={"failures_per_gpu_hour": g.failures_per_gpu_hour.model_copy(
            update={"value": g.failures_per_gpu_hour.value * 1.01})})}
    )  # fmt: skip
    failing = estimate_training(
        TrainRequest(model=model, tokens=2e12, chip=chip, gpus=512), load_assumptions(), more
    )
    assert math.log(failing.wall_clock_days / base.wall_clock_days) / math.log(1.01) == pytest.approx(
        by_name["failures and restarts: failures per GPU-hour"].elasticity, abs=1e-3
    )
    # a term's share of time is its first-order elasticity: 1% faster GEMMs move days by -share %
    measured = [
        m.model_copy(update={"measured_tflops": m.measured_tflops * 1.01}) for m in eff.matmul_measurements
    ]
    faster = estimate_training(
        TrainRequest(model=model, tokens=2e12, chip=chip, gpus=512), load_assumptions(),
        eff.model_copy(update={"matmul_measurements": measured}),
    )  # fmt: skip
    elasticity = by_name["matmul: GEMM fraction of peak"].elasticity
    assert math.log(faster.wall_clock_days / base.wall_clock_days) / math.log(1.01) == pytest.approx(
        elasticity, abs=0.02
    )
    # what the model leaves out: the P10-P90 spread of unmodelled_log_sd (specs/uncertainty.yaml)
    sd = load_spreads().unmodelled_log_sd.value
    assert f"x{math.exp(-1.2816 * sd):.2f} to x{math.exp(1.2816 * sd):.2f}" in (
        by_name[GOODPUT_ROW].range_effect or ""
    )


def test_given_values_are_reported_as_given(cli: Any) -> None:
    args = ["--params", "70B", "--tokens", "2T", "--chip", "h100", "--gpus", "512", "--mfu", "0.4"]
    data = cli("train", *args, "--gpu-hour-usd", "2", "--explain", "-f", "json").json()
    by_name = {f["factor"]: f for f in data["explanation"]}
    assert by_name["MFU"]["source"] == "given (--mfu)" and by_name["MFU"]["range_effect"] is None
    assert by_name["price per GPU-hour"]["source"] == "given (--gpu-hour-usd)"


def test_the_peaks_elasticity_is_measured_not_assumed() -> None:
    """Issue 16: where the GEMM rate is a measured TFLOPS figure (A100: 271.2 TFLOPS, stas00) a higher
    datasheet peak does not make the job faster, so its elasticity is 0, not -1; where the rate is a
    fraction of the peak (910B: no measurement, a fallback fraction) it is close to -1."""
    measured = {f.factor: f for f in _explain(model=load_models().get("gpt3-175b"), tokens=3e11,
                                              chip=load_chips().get("a100"), gpus=1024)[1]}  # fmt: skip
    fraction = {f.factor: f for f in _explain(model=load_models().get("gpt3-175b"), tokens=3e11,
                                              chip=load_chips().get("910b"), gpus=1024)[1]}  # fmt: skip
    assert measured["dense peak (bf16)"].elasticity == pytest.approx(0.0, abs=0.01)
    assert -1.0 <= fraction["dense peak (fp16)"].elasticity < -0.85
