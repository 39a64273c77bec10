"""The serving frontier and the fewest-GPU plan: every point a full estimate, no point dominated."""

from __future__ import annotations

from typing import Any

import pytest

from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults
from capacity.estimate.serve import ServeRequest, estimate_serving
from capacity.plans.serving_search import fewest_gpus, frontier
from capacity.records.choices import Traffic
from tests.test_serve import CHIPS, MODELS

ARGS = (load_assumptions(), load_efficiency(), load_serving_defaults())


def request(**kw: Any) -> ServeRequest:
    base: dict[str, Any] = {"model": MODELS.get("llama3.1-70b"), "chip": CHIPS.get("h100")}
    base |= {"input_tokens": 1000, "output_tokens": 1000, "weight_precision": "fp8"}
    return ServeRequest(**{**base, **kw})


def test_the_frontier_is_pareto_and_each_point_reproduces_as_a_single_estimate() -> None:
    points = frontier(request(), *ARGS)
    assert len(points) >= 5
    for p in points:
        dominated = [q for q in points if q is not p and q.tokens_per_s_per_gpu >= p.tokens_per_s_per_gpu
                     and q.tokens_per_s_per_user >= p.tokens_per_s_per_user]  # fmt: skip
        assert not dominated
    # fastest per user first, and per-GPU throughput rises as per-user speed falls
    speeds = [p.tokens_per_s_per_user for p in points]
    assert speeds == sorted(speeds, reverse=True)
    p = points[-1]
    again = estimate_serving(request(gpus_per_replica=p.gpus_per_replica, max_batch=p.batch_size), *ARGS)
    assert p.mode == "aggregated" and again.tpot_ms == pytest.approx(p.tpot_ms)
    assert again.output_tokens_per_s_per_replica / again.gpus_per_replica == pytest.approx(
        p.tokens_per_s_per_gpu
    )


def test_fewest_gpus_meets_the_targets_and_no_feasible_candidate_is_smaller() -> None:
    req = request(traffic=Traffic(qps=20), tpot_ms=30, ttft_ms=2000)
    choice = fewest_gpus(req, *ARGS)
    assert choice.best.slo_met and choice.best.tpot_ms_p90 <= 30
    feasible = [c["gpus"] for c in choice.candidates if c["slo_met"]]
    assert choice.best.gpus == min(feasible)  # type: ignore[type-var]
    # the plain estimate with its default replica needs at least as many
    assert estimate_serving(req, *ARGS).gpus >= choice.best.gpus


def test_the_cli(cli: Any, tmp_path: Any) -> None:
    base = [
        "serve",
        "--model",
        "llama3.1-8b",
        "--chip",
        "h100",
        "--input-tokens",
        "500",
        "--output-tokens",
        "500",
    ]
    rows = cli(*base, "--pareto", "-f", "json").json()
    assert rows and {"tokens_per_s_per_gpu", "tokens_per_s_per_user", "layout", "batch_size"} <= set(rows[0])
    best = cli(*base, "--qps", "30", "--tpot-ms", "20", "--optimize", "gpus", "-f", "json")
    assert best.exit_code == 0 and best.json()["slo_met"] and "candidates:" in best.stderr
    missed = cli(*base, "--qps", "30", "--tpot-ms", "0.5", "--optimize", "gpus", "-f", "json")
    assert missed.exit_code == 1 and missed.json()["slo_met"] is False
    for bad in (["--optimize", "cost"], ["--plot", str(tmp_path / "f.png")], ["--optimize", "gpus"]):
        assert cli(*base, *bad).exit_code == 2, bad


def test_a_disaggregated_point_is_held_to_its_slower_pool() -> None:
    long = request(
        model=MODELS.get("llama3.1-8b"), weight_precision="bf16", input_tokens=16_000, output_tokens=200
    )
    for p in frontier(long, *ARGS):
        if p.mode == "disaggregated":
            mode = long.serving.model_copy(update={"mode": "disaggregated"})
            update = {"gpus_per_replica": p.gpus_per_replica, "max_batch": p.batch_size, "serving": mode}
            split = estimate_serving(long.model_copy(update=update), *ARGS)
            qps = min(split.queries_per_s_per_replica, split.prefill_queries_per_s_per_instance or 0.0)
            assert p.tokens_per_s_per_gpu == pytest.approx(qps * 200 / (2 * p.gpus_per_replica))
