"""--explain: every factor of the chain with its value and source, and elasticities that are true."""

from __future__ import annotations

from typing import Any

import pytest

from capacity.assumptions import load_assumptions, load_efficiency
from capacity.catalog import load_chips, load_models
from capacity.explain import explain_training
from capacity.train import TrainRequest, estimate_training
from capacity.uncertainty import load_spreads


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
    expected += ["matmul fraction of peak", "whole-model factor", "price per GPU-hour", "TDP", "PUE"]
    assert set(expected) <= set(names)
    assert all(f.source for f in factors)


def test_elasticities_are_what_the_model_does() -> None:
    chip, model = load_chips().get("h100"), load_models().get("llama2-70b")
    base, factors = _explain(model=model, tokens=2e12, chip=chip, gpus=512)
    doubled, _ = _explain(model=model, tokens=4e12, chip=chip, gpus=512)
    more_gpus, _ = _explain(model=model, tokens=2e12, chip=chip, gpus=1024)
    by_name = {f.factor: f for f in factors}
    assert doubled.wall_clock_days / base.wall_clock_days == pytest.approx(
        2 ** by_name["training tokens D"].elasticity
    )
    assert more_gpus.wall_clock_days / base.wall_clock_days == pytest.approx(2 ** by_name["GPUs"].elasticity)
    assert "x0.66" in (by_name["whole-model factor"].range_effect or "")


def test_given_values_are_reported_as_given(cli: Any) -> None:
    args = ["--params", "70B", "--tokens", "2T", "--chip", "h100", "--gpus", "512", "--mfu", "0.4"]
    data = cli("train", *args, "--gpu-hour-usd", "2", "--explain", "-f", "json").json()
    by_name = {f["factor"]: f for f in data["explanation"]}
    assert by_name["MFU"]["source"] == "given (--mfu)" and by_name["MFU"]["range_effect"] is None
    assert by_name["price per GPU-hour"]["source"] == "given (--gpu-hour-usd)"
