"""--uncertainty: intervals that come from the published runs' scatter, and cover about 8 in 10 of them."""

from __future__ import annotations

import functools
import math
import statistics
from typing import Any

import pytest

from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips, load_models, load_runs
from capacity.data.uncertainty import load_spreads
from capacity.estimate.train import TrainRequest, estimate_training
from capacity.plans.validate import ValidationReport, validate_runs
from capacity.records.choices import Economics


@functools.cache
def _report() -> ValidationReport:
    """The published-run validation, computed once per test session (it runs every deadline solve)."""
    return validate_runs(load_runs(), CHIPS, load_assumptions(), load_efficiency())


CHIPS, MODELS = load_chips(), load_models()


def _train(**kw: Any) -> Any:
    base = {"model": MODELS.get("gpt3-175b"), "tokens": 3e11, "chip": CHIPS.get("a100"), "gpus": 1024}
    return estimate_training(
        TrainRequest(**{**base, **kw}, uncertainty=True), load_assumptions(), load_efficiency()
    )


def test_stored_spread_is_the_fitting_runs_scatter() -> None:
    report = _report()
    logs = [
        math.log1p(c.gpu_hours_error) for c in report.checks if c.in_fit and c.gpu_hours_error is not None
    ]
    assert len(logs) >= 8
    sd = statistics.stdev(logs)
    assert load_spreads().unmodelled_log_sd.value == pytest.approx(sd, abs=0.015), (
        "update specs/uncertainty.yaml"
    )


def test_percentiles_bracket_the_point_estimate() -> None:
    est = _train()
    assert est.gpu_hours_p10 < est.gpu_hours < est.gpu_hours_p90
    assert est.gpu_hours_p50 == pytest.approx(est.gpu_hours, rel=0.03)
    # at least the unmodelled log-normal's width, exp(2 x 1.2816 x sigma_u); the kernel and overhead draws
    # widen it a little
    sd = load_spreads().unmodelled_log_sd.value
    ratio = est.gpu_hours_p90 / est.gpu_hours_p10
    assert math.exp(2 * 1.2816 * sd) * 0.97 <= ratio <= math.exp(2 * 1.2816 * (sd + 0.1))
    for name in ("wall_clock_days", "cost_usd", "energy_mwh"):
        assert getattr(est, f"{name}_p10") < getattr(est, f"{name}_p90")


def test_inputs_you_give_are_taken_as_exact() -> None:
    econ = Economics(gpu_hour_usd=2.0, pue=1.2, server_power_factor=1.0)
    est = _train(mfu=0.4, economics=econ)
    assert est.gpu_hours_p10 == est.gpu_hours_p90 == pytest.approx(est.gpu_hours)
    assert est.cost_usd_p10 == est.cost_usd_p90 and est.energy_mwh_p10 == est.energy_mwh_p90


def test_about_eight_in_ten_fitting_runs_fall_inside() -> None:
    report = _report()
    part = report.fitted
    assert part.interval_coverage is not None and 0.65 <= part.interval_coverage <= 0.95


def test_about_eight_in_ten_held_out_runs_fall_inside() -> None:
    report = _report()
    part = report.held_out
    assert part.interval_coverage is not None and 0.65 <= part.interval_coverage <= 0.95


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
