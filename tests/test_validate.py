"""`capacity validate` as a regression test: documented bounds on the median GPU-hour error, fitting and
held-out runs apart, and the step-time model beating a flat 40% MFU on the runs it was not fitted to."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips, load_runs, load_steady_runs
from capacity.plans.validate import ValidationReport, validate_runs
from capacity.plans.validate_steady import fit_kernel_efficiency


@functools.cache
def _report() -> ValidationReport:
    """The published-run validation, computed once per test session (it runs every deadline solve)."""
    return validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())


# Documented in docs/validation.md and enforced by .ci/run (`capacity validate --max-median-error 0.3`):
# the median |GPU-hours error| of the fitting runs and of the held-out runs each stays below this.
MEDIAN_ERROR_BOUND = 0.3


def test_median_error_within_documented_bound() -> None:
    report = _report()
    assert report.fitted.runs >= 8 and report.held_out.runs >= 8
    assert report.fitted.median_abs_error <= MEDIAN_ERROR_BOUND
    assert report.held_out.median_abs_error <= MEDIAN_ERROR_BOUND


def test_model_beats_the_flat_baseline_on_held_out_runs() -> None:
    report = _report()
    held = report.held_out
    assert held.median_abs_error < held.baseline_median_abs_error


@pytest.mark.xfail(
    strict=True,
    reason="without the fitted wall-clock factor the end-to-end model beats a flat 40% MFU on the fitting "
    "runs (12% vs 15%) but not by the old margin on the held-out runs: 25% vs 34% flat, bar 0.6x = 20% "
    "(docs/validation.md); published runs took more GPU-hours than steady state plus goodput explain",
)
def test_model_beats_the_flat_baseline_by_a_margin() -> None:
    report = _report()
    held = report.held_out
    assert held.median_abs_error <= 0.6 * held.baseline_median_abs_error
    assert report.fitted.median_abs_error <= report.fitted.baseline_median_abs_error


def test_fitting_runs_are_named_in_the_data_and_exist() -> None:
    eff = load_efficiency()
    ids = {r.id for r in load_runs()}
    assert set(eff.fitting_runs.runs) <= ids
    report = validate_runs(load_runs(), load_chips(), load_assumptions(), eff)
    assert {c.run for c in report.checks if c.in_fit} == set(eff.fitting_runs.runs)


def test_stored_kernel_efficiency_is_the_fit() -> None:
    # the one fitted constant of the step model (the wall-clock factor is gone; goodput is sourced): it
    # zeroes the median signed tokens/s error over the steady-state fitting sources, published layouts
    value, at_stored, _ = fit_kernel_efficiency(load_steady_runs())
    stored = load_efficiency().step_model.training_kernel_efficiency.value
    assert stored == pytest.approx(value, abs=0.01), (
        "update step_model.training_kernel_efficiency in specs/efficiency.yaml "
        "(python benchmarks/fit_kernel_efficiency.py)"
    )
    assert abs(at_stored) < 0.02  # the median signed error at the stored value, within 2%


def test_runs_off_catalogue_are_skipped_with_a_reason() -> None:
    report = _report()
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
    report = _report()
    for c in report.checks:
        if c.in_fit and c.mwh_error is not None and c.gpu_hours_error is not None:
            assert abs(c.mwh_error - c.gpu_hours_error) < 0.03, c.run


@pytest.mark.parametrize("flag", ["--max-median-error", "--max-serving-error", "--max-steady-error"])
def test_a_bound_that_cannot_be_checked_is_refused(cli: Any, flag: str) -> None:
    # NaN compares false with everything: a gate of "nan" would pass any error (issue 15)
    for bad in ("nan", "inf", "-0.1"):
        run = cli("validate", flag, bad)
        assert run.exit_code == 2 and flag in run.stderr


def test_json_never_holds_nan_or_infinity() -> None:
    import io
    import json
    import sys

    from capacity.cli.output import emit_json

    out, sys.stdout = sys.stdout, io.StringIO()
    try:
        emit_json({"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": -float("inf")}})
        text = sys.stdout.getvalue()
    finally:
        sys.stdout = out
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": {"d": None}}
