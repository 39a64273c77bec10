"""`capacity validate` as a regression test: documented bounds on the median GPU-hour error, fitting and
held-out runs apart, and the step-time model beating a flat 40% MFU on the runs it was not fitted to."""

from __future__ import annotations

from typing import Any

import pytest

from capacity.assumptions import load_assumptions, load_efficiency
from capacity.catalog import load_chips, load_runs
from capacity.validate import validate_runs

# Documented in README ("Validation"): the median |GPU-hours error| of the fitting runs and of the held-out
# runs each stays below this.
MEDIAN_ERROR_BOUND = 0.25


def test_median_error_within_documented_bound() -> None:
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    assert report.fitted.runs >= 8 and report.held_out.runs >= 8
    assert report.fitted.median_abs_error <= MEDIAN_ERROR_BOUND
    assert report.held_out.median_abs_error <= MEDIAN_ERROR_BOUND


def test_model_beats_the_flat_baseline_on_held_out_runs() -> None:
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    held = report.held_out
    assert held.median_abs_error <= 0.6 * held.baseline_median_abs_error
    assert report.fitted.median_abs_error <= report.fitted.baseline_median_abs_error


def test_fitting_runs_are_named_in_the_data_and_exist() -> None:
    eff = load_efficiency()
    ids = {r.id for r in load_runs()}
    assert set(eff.fitting_runs.runs) <= ids
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), eff)
    assert {c.run for c in report.checks if c.in_fit} == set(eff.fitting_runs.runs)


def test_stored_wall_clock_factor_is_the_fit() -> None:
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    assert report.wall_clock_factor_used == pytest.approx(report.wall_clock_factor_from_runs, abs=0.01), (
        "update step_model.wall_clock_factor in specs/efficiency.yaml"
    )


def test_runs_off_catalogue_are_skipped_with_a_reason() -> None:
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    gopher = next(c for c in report.checks if c.run == "gopher-280b")
    assert gopher.skipped and "not in catalogue" in gopher.skipped


def test_cli_bound_exits_1_when_exceeded(cli: Any) -> None:
    assert cli("validate", "--max-median-error", "0.01").exit_code == 1
    ok = cli("validate", "--max-median-error", str(MEDIAN_ERROR_BOUND), "--format", "json")
    assert (
        ok.exit_code == 0
        and ok.json()["training"]["held_out"]["runs"] >= 8
        and ok.json()["serving"]["compared"] >= 10
    )


def test_energy_error_tracks_the_time_error_when_accounting_matches() -> None:
    # Each run's own PUE and power per chip are used, so the MWh error is the GPU-hours error.
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    for c in report.checks:
        if c.in_fit and c.mwh_error is not None and c.gpu_hours_error is not None:
            assert abs(c.mwh_error - c.gpu_hours_error) < 0.03, c.run
