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

# Documented in docs/validation.md: median |throughput error| of the compared rows stays below this.
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


# Documented in docs/validation.md: the held-out rows' median, a regression bar (target 15 %, not met).
HELD_OUT_MEDIAN_BOUND = 0.30


def test_the_engine_factor_sees_only_the_fitting_rows() -> None:
    rows = load_serving_benchmarks().benchmarks
    fitting = [r for r in rows if r.role == "fitting"]
    assert len(rows) > 900 > len(fitting)
    assert engine_factor(rows, "tensorrt-llm", *_args()) == engine_factor(fitting, "tensorrt-llm", *_args())


def test_held_out_rows_carry_their_sources_and_are_reported_apart() -> None:
    rows = load_serving_benchmarks().benchmarks
    held = [r for r in rows if r.role == "held-out"]
    assert all(r.source and r.url and r.note and r.source_group != "reference-notes" for r in held)
    report = validate_serving(rows, *_args())
    assert report.held_out.compared >= 900 and len(report.by_source) >= 10
    assert report.held_out.median_abs_error is not None
    assert report.held_out.median_abs_error <= HELD_OUT_MEDIAN_BOUND
    assert sum(p.compared for p in report.by_source) == report.held_out.compared


# Documented in docs/validation.md: mean TTFT and TPOT at a published Poisson rate (held out, not fitted).
LATENCY_MEDIAN_BOUND = 0.20


def test_latency_under_load_against_the_published_online_table() -> None:
    report = validate_serving(load_serving_benchmarks().benchmarks, *_args())
    for part in (report.ttft_under_load, report.tpot_under_load):
        assert part.compared >= 50
        assert part.median_abs_error is not None and part.median_abs_error <= LATENCY_MEDIAN_BOUND
    saturated = [c for c in report.checks if c.request_rate_qps and c.skipped]
    assert (
        all("exceeds the modelled capacity" in (c.skipped or "") for c in saturated) and len(saturated) <= 10
    )
