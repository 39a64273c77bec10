"""Serving validation as a regression test, and the engine factor kept equal to what the rows give."""

from __future__ import annotations

import pytest

from capacity.data.assumptions import (
    load_assumptions,
    load_efficiency,
    load_serving_benchmarks,
    load_serving_defaults,
)
from capacity.data.catalog import load_chips, load_models
from capacity.plans.validate_serving import engine_factor, validate_serving

# Documented in README ("capacity validate"): median |throughput error| of the compared rows stays below this.
MEDIAN_ERROR_BOUND = 0.20


def _args() -> tuple:  # type: ignore[type-arg]
    return (load_chips(), load_models(), load_assumptions(), load_efficiency(), load_serving_defaults())


def test_engine_factor_matches_the_rows() -> None:
    rows = load_serving_benchmarks().benchmarks
    factor = engine_factor(rows, "tensorrt-llm", *_args())
    assert factor is not None
    assert load_serving_defaults().stack("tensorrt-llm").value == pytest.approx(factor, abs=0.01)


def test_median_throughput_error_within_bound() -> None:
    report = validate_serving(load_serving_benchmarks().benchmarks, *_args())
    assert report.compared >= 10
    assert report.median_abs_error is not None and report.median_abs_error <= MEDIAN_ERROR_BOUND
