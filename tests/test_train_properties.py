"""Hypothesis invariants of the training planner (issue: more GPUs never slower; cost = hours × price)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips
from capacity.estimate.train import TrainRequest, estimate_training
from capacity.records.chip import DTYPES
from capacity.records.choices import Economics

CHIPS = load_chips()
TRAINABLE = [c for c in CHIPS if c.fp16_dense_tflops or c.bf16_dense_tflops]
params = st.floats(min_value=1e8, max_value=2e12, allow_nan=False, allow_infinity=False)
tokens = st.floats(min_value=1e9, max_value=5e13, allow_nan=False, allow_infinity=False)
gpus = st.integers(min_value=1, max_value=100_000)
chips = st.sampled_from(TRAINABLE)


def run(**kw: object) -> object:
    return estimate_training(TrainRequest(**kw), load_assumptions(), load_efficiency())  # type: ignore[arg-type]


@settings(max_examples=120, deadline=None)
@given(params, tokens, chips, gpus, gpus)
# found by Hypothesis: 1.7T params on 2,337 BR100s fits only with full recomputation (352 days); on 4,096 a
# selective ZeRO-3 layout fits and is taken although it is 9x slower (3,081 days)
@example(n=1722610800538.9084, d=1722610800538.9084, chip=CHIPS.get("biren-br100"), g1=2337, g2=4096)
# found by Hypothesis: on 3,967 chips (a prime) the interleaved group that wins on 2,975 was dropped
@example(n=6315937523.0, d=1033478191.0, chip=CHIPS.get("a100-sxm4-80gb"), g1=2975, g2=3967)
def test_more_gpus_never_lengthen_the_run(n: float, d: float, chip: object, g1: int, g2: int) -> None:
    lo, hi = sorted((g1, g2))
    a, b = run(params=n, tokens=d, chip=chip, gpus=lo), run(params=n, tokens=d, chip=chip, gpus=hi)
    if any("fits the job in memory" in w for w in a.warnings):  # type: ignore[attr-defined]
        return  # the smaller cluster cannot hold the job: its time is for a layout that does not fit
    assert b.wall_clock_days <= a.wall_clock_days * (1 + 1e-12)  # type: ignore[attr-defined]


@given(params, tokens)
def test_doubling_tokens_doubles_flops(n: float, d: float) -> None:
    assert run(params=n, tokens=2 * d).training_flops == 2 * run(params=n, tokens=d).training_flops  # type: ignore[attr-defined]


@given(params, tokens, chips, gpus, st.floats(min_value=0.05, max_value=50))
def test_cost_is_gpu_hours_times_price(n: float, d: float, chip: object, g: int, price: float) -> None:
    est = run(params=n, tokens=d, chip=chip, gpus=g, economics=Economics(gpu_hour_usd=price))
    assert abs(est.cost_usd - est.gpu_hours * price) <= 1e-9 * est.cost_usd  # type: ignore[attr-defined]


# a deadline solve runs the layout search at each cluster size it bisects over: tens of them, up to a few
# hundred ms in all: no per-example time limit (speed is measured in benchmarks/)
@settings(max_examples=50, deadline=None)
@given(params, tokens, chips, st.floats(min_value=0.5, max_value=400))
def test_deadline_is_met_with_whole_nodes(n: float, d: float, chip: object, days: float) -> None:
    from capacity.core.errors import InputError

    try:
        est = run(params=n, tokens=d, chip=chip, deadline_days=days)
    except InputError as exc:  # past the batch's width extra chips have no work: said, not hidden
        assert "not met even with" in str(exc)
        return
    assert est.gpus % 8 == 0  # type: ignore[attr-defined]
    assert est.wall_clock_days <= days * (1 + 1e-9)  # type: ignore[attr-defined]


@settings(max_examples=120)
@given(chips, st.sampled_from(DTYPES), params, tokens, gpus)
def test_any_chip_and_precision_either_estimates_or_says_why(
    chip: object, dtype: str, n: float, d: float, g: int
) -> None:
    from capacity.core.errors import InputError

    try:
        est = run(params=n, tokens=d, chip=chip, gpus=g, precision=dtype)
    except InputError as exc:
        assert "--precision" in str(exc)
        return
    assert est.wall_clock_days > 0 and est.gpu_hours > 0  # type: ignore[attr-defined]
    assert 0 < est.mfu <= 1  # type: ignore[attr-defined]
