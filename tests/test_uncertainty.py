"""--uncertainty: intervals that come from the published runs' scatter, and cover about 8 in 10 of them."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest

from capacity.assumptions import load_assumptions, load_efficiency
from capacity.catalog import load_chips, load_models, load_runs
from capacity.efficiency import whole_model_factor_from_runs
from capacity.train import Economics, TrainRequest, estimate_training
from capacity.uncertainty import load_spreads
from capacity.validate import validate_runs

CHIPS, MODELS = load_chips(), load_models()


def _train(**kw: Any) -> Any:
    base = {"model": MODELS.get("gpt3-175b"), "tokens": 3e11, "chip": CHIPS.get("a100"), "gpus": 1024}
    return estimate_training(
        TrainRequest(**{**base, **kw}, uncertainty=True), load_assumptions(), load_efficiency()
    )


def test_stored_spread_is_the_runs_scatter() -> None:
    factor = load_efficiency().whole_model_factor.value
    _, per_run = whole_model_factor_from_runs(load_runs(), CHIPS, load_efficiency())
    sd = statistics.stdev(math.log(v / factor) for v in per_run.values())
    assert load_spreads().mfu_log_sd.value == pytest.approx(sd, abs=0.01), "update specs/uncertainty.yaml"


def test_percentiles_bracket_the_point_estimate() -> None:
    est = _train()
    assert est.gpu_hours_p10 < est.gpu_hours < est.gpu_hours_p90
    assert est.gpu_hours_p50 == pytest.approx(est.gpu_hours, rel=0.03)
    # log-normal with sigma 0.33: P90 / P10 = exp(2 x 1.2816 x 0.33) = 2.33
    assert est.gpu_hours_p90 / est.gpu_hours_p10 == pytest.approx(math.exp(2 * 1.2816 * 0.33), rel=0.05)
    for name in ("wall_clock_days", "cost_usd", "energy_mwh"):
        assert getattr(est, f"{name}_p10") < getattr(est, f"{name}_p90")


def test_inputs_you_give_are_taken_as_exact() -> None:
    econ = Economics(gpu_hour_usd=2.0, pue=1.2, server_power_factor=1.0)
    est = _train(mfu=0.4, economics=econ)
    assert est.gpu_hours_p10 == est.gpu_hours_p90 == pytest.approx(est.gpu_hours)
    assert est.cost_usd_p10 == est.cost_usd_p90 and est.energy_mwh_p10 == est.energy_mwh_p90


def test_about_eight_in_ten_published_runs_fall_inside() -> None:
    report = validate_runs(load_runs(), CHIPS, load_assumptions(), load_efficiency())
    assert report.interval_coverage is not None and 0.7 <= report.interval_coverage <= 0.95


def test_cli_json_keys(cli: Any) -> None:
    data = cli("train", "--params", "175B", "--tokens", "300B", "--chip", "a100", "--gpus", "1024",
               "--uncertainty", "-f", "json").json()  # fmt: skip
    for key in ("gpu_hours_p10", "gpu_hours_p90", "wall_clock_days_p10", "wall_clock_days_p90",
                "cost_usd_p10", "cost_usd_p90", "energy_mwh_p10", "energy_mwh_p90"):  # fmt: skip
        assert data[key] is not None
    plain = cli(
        "train", "--params", "175B", "--tokens", "300B", "--chip", "a100", "--gpus", "1024", "-f", "json"
    )
    assert plain.json()["gpu_hours_p10"] is None
