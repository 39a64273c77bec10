"""`capacity validate` as a regression test: the documented bound on the median GPU-hour error."""

from __future__ import annotations

from typing import Any

from capacity.assumptions import load_assumptions, load_efficiency
from capacity.catalog import load_chips, load_runs
from capacity.validate import validate_runs

# Documented in README ("Validation"): the median |GPU-hours error| over the fitted runs stays below this.
MEDIAN_ERROR_BOUND = 0.25


def test_median_error_within_documented_bound() -> None:
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    assert report.compared >= 10
    assert report.median_abs_gpu_hours_error <= MEDIAN_ERROR_BOUND


def test_runs_off_catalogue_are_skipped_with_a_reason() -> None:
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    gopher = next(c for c in report.checks if c.run == "gopher-280b")
    assert gopher.skipped and "not in catalogue" in gopher.skipped


def test_cli_bound_exits_1_when_exceeded(cli: Any) -> None:
    assert cli("validate", "--max-median-error", "0.01").exit_code == 1
    ok = cli("validate", "--max-median-error", str(MEDIAN_ERROR_BOUND), "--format", "json")
    assert (
        ok.exit_code == 0
        and ok.json()["training"]["compared"] >= 10
        and ok.json()["serving"]["compared"] >= 10
    )


def test_energy_error_tracks_the_time_error_when_accounting_matches() -> None:
    # Each run's own PUE and power per chip are used, so the MWh error is the GPU-hours error.
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    for c in report.checks:
        if c.in_fit and c.mwh_error is not None and c.gpu_hours_error is not None:
            assert abs(c.mwh_error - c.gpu_hours_error) < 0.03, c.run
