"""Latency under load: the M/D/1 formulas against a simulated queue and hand arithmetic, and the serving
planner's percentile targets."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from capacity.formulas.queueing import mean_wait_s, tpot_percentile_s, utilisation_for_wait, wait_percentile_s
from capacity.records.choices import Traffic
from tests.test_serve import serve


def simulated_waits(rho: float, service_s: float, n: int = 400_000, seed: int = 7) -> np.ndarray:
    """Lindley's recursion W_{k+1} = max(0, W_k + S − A_{k+1}) for Poisson arrivals and fixed service."""
    gaps = np.random.default_rng(seed).exponential(service_s / rho, n)
    waits = np.empty(n)
    w = 0.0
    for k in range(n):  # a plain loop: this is a test oracle, not a sweep
        waits[k] = w
        w = max(0.0, w + service_s - gaps[k])
    return waits[n // 10 :]


def test_pollaczek_khinchine_mean_by_hand_and_against_a_simulation() -> None:
    assert mean_wait_s(0.5, 1.0) == pytest.approx(0.5)  # 0.5 · 1 / (2 · 0.5)
    assert math.isinf(mean_wait_s(1.0, 1.0))
    waits = simulated_waits(0.8, 0.1)
    assert mean_wait_s(0.8, 0.1) == pytest.approx(waits.mean(), rel=0.05)


@pytest.mark.parametrize("rho", [0.6, 0.8, 0.9])
def test_kingman_tail_matches_the_simulated_percentiles(rho: float) -> None:
    waits = simulated_waits(rho, 0.1)
    for p in (0.9, 0.99):
        assert wait_percentile_s(rho, 0.1, p) == pytest.approx(np.quantile(waits, p), rel=0.15)


def test_no_wait_below_the_percentile_and_the_inverse_is_consistent() -> None:
    assert wait_percentile_s(0.05, 1.0, 0.9) == 0.0  # 95 % of arrivals find the server idle
    rho = utilisation_for_wait(0.2, 0.9, 0.5)
    assert wait_percentile_s(rho, 0.2, 0.9) == pytest.approx(0.5, rel=1e-6)
    assert tpot_percentile_s(0.05, 0.2, 4.0, 100, 0.5) == 0.05  # the median of a normal is its mean
    # z(0.9) = 1.2816; spread 0.2 · sqrt(4 / 100) = 0.04
    assert tpot_percentile_s(0.05, 0.2, 4.0, 100, 0.9) == pytest.approx(0.05 + 1.2816 * 0.04, rel=1e-3)


def test_percentiles_are_ordered_and_a_ttft_target_holds_at_its_percentile() -> None:
    kw = {"model": "llama3.1-70b", "chip": "h100", "weight_precision": "fp8", "input_tokens": 2000,
          "output_tokens": 500, "traffic": Traffic(qps=20)}  # fmt: skip
    loose = serve(**kw)
    assert loose.ttft_ms_p50 <= loose.ttft_ms_p90 <= loose.ttft_ms_p99  # type: ignore[operator]
    assert loose.tpot_ms_p99 > loose.tpot_ms_p90 > loose.tpot_ms_p50
    # under a lighter load than the largest batch serves, the replica runs a smaller batch, faster per token
    assert loose.batch_at_load < loose.batch_size and loose.tpot_ms_p50 == pytest.approx(loose.tpot_ms)
    unloaded = serve(**{**kw, "traffic": None})
    assert loose.tpot_ms < unloaded.tpot_ms  # the largest batch's TPOT is what the target is checked against
    p90 = serve(**kw, ttft_ms=1000)
    assert p90.ttft_ms_p90 is not None and p90.ttft_ms_p90 <= 1000 and p90.replicas >= loose.replicas
    p99 = serve(**kw, ttft_ms=1000, slo_percentile=99)
    assert p99.ttft_ms_p99 is not None and p99.ttft_ms_p99 <= 1000 and p99.replicas > p90.replicas


def test_without_traffic_there_is_no_queueing_wait() -> None:
    est = serve(model="llama3.1-8b", chip="h100")
    assert est.ttft_ms_p50 == est.ttft_ms_p99 == pytest.approx(est.ttft_ms)
    assert est.queueing.startswith("none")


def test_the_batch_under_load_satisfies_littles_law() -> None:
    est = serve(model="llama3.1-8b", chip="h100", input_tokens=500, output_tokens=500, traffic=Traffic(qps=5),
                replicas=1)  # fmt: skip
    b = est.batch_at_load
    # sequences decoding = arrival rate x decode time per query (the smallest integer batch that keeps up)
    assert b == pytest.approx(5 * 500 * est.tpot_ms_p50 / 1e3, abs=1.0)
    heavier = serve(model="llama3.1-8b", chip="h100", input_tokens=500, output_tokens=500,
                    traffic=Traffic(qps=20), replicas=1)  # fmt: skip
    assert heavier.batch_at_load > b and heavier.tpot_ms_p50 > est.tpot_ms_p50


def test_a_missed_target_says_by_how_much() -> None:
    # issue 16: `serve --tpot-ms 5` printed GPUs that miss the target with only a stderr warning
    missed = serve(model="llama3.1-70b", chip="h100", tpot_ms=5)
    assert not missed.slo_met and missed.slo_detail is not None
    assert missed.slo_detail.startswith("TPOT P90 ") and "> 5 ms (" in missed.slo_detail
    met = serve(model="llama3.1-8b", chip="h100", tpot_ms=100)
    assert met.slo_met and met.slo_detail is not None and "<= 100 ms" in met.slo_detail
    assert serve(model="llama3.1-8b", chip="h100").slo_detail is None


def test_a_pinned_fleet_that_queues_past_the_ttft_target_misses_it() -> None:
    # review: --replicas 6 at 60 qps reported slo_met true beside "TTFT P90 644 ms > 300 ms"
    kw: dict[str, Any] = {"model": "llama3.1-70b", "chip": "h100", "input_tokens": 1000, "output_tokens": 200,
                          "traffic": Traffic(qps=60), "ttft_ms": 300}  # fmt: skip
    pinned = serve(**kw, replicas=6)
    assert not pinned.slo_met and "> 300 ms" in (pinned.slo_detail or "")
    sized = serve(**kw)
    assert sized.slo_met and sized.replicas > 6
