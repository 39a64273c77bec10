"""The deadline solve (capacity/estimate/deadline.py): exact on any curve, and few evaluations on the
smooth ones the step model gives (each evaluation is a layout search, ~10 ms)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capacity.core.errors import InputError
from capacity.estimate.deadline import solve_gpus

Days = Callable[[int], float]


def power_law(a: float, slope: float) -> tuple[Days, list[int]]:
    """days(n chips) = a·n^slope, and the list of counts it was evaluated at."""
    calls: list[int] = []

    def days_at(n: int) -> float:
        calls.append(n)
        return a * n**slope

    return days_at, calls


def check_exact(days_at: Days, deadline: float, node: int, answer: int) -> None:
    assert answer % node == 0
    assert days_at(answer) <= deadline
    assert answer == node or days_at(answer - node) > deadline


@pytest.mark.parametrize("slope", [-1.0, -0.9, -0.7, -1.1])
@pytest.mark.parametrize("ratio", [3.0, 150.0, 4000.0])
def test_a_power_law_is_solved_exactly_in_few_evaluations(slope: float, ratio: float) -> None:
    """Days ∝ n^slope from 8 chips missing the deadline by ``ratio``: the answer is ⌈8·ratio^(−1/slope)⌉
    rounded up to whole nodes (to rounding), found in at most 8 evaluations (a bisection over ~4,000
    nodes takes 12 or more)."""
    days_at, calls = power_law(30.0 * ratio * 8.0 ** (-slope), slope)
    n = solve_gpus(days_at, 30.0, 8, 8)
    evaluations = len(set(calls))
    check_exact(days_at, 30.0, 8, n)
    assert n - 8 - 1e-6 < 8 * ratio ** (-1.0 / slope) <= n + 1e-6
    assert evaluations <= 8, calls


@given(
    steps=st.lists(st.floats(min_value=0.5, max_value=1.2), min_size=2, max_size=40),
    deadline=st.floats(min_value=0.05, max_value=50.0),
    node=st.sampled_from([1, 4, 8]),
)
def test_any_curve_gives_an_answer_that_meets_and_one_node_fewer_misses(
    steps: list[float], deadline: float, node: int
) -> None:
    """Not monotone (layouts change at node and divisor boundaries): the solve still returns a count that
    meets the deadline with one node fewer missing it, and evaluates a bounded number of counts."""
    factors = [math.prod(steps[: i + 1]) for i in range(len(steps))]

    def days_at(n: int) -> float:
        nodes = n // node
        return 100.0 / nodes * factors[nodes % len(factors)]

    calls: list[int] = []

    def counting(n: int) -> float:
        calls.append(n)
        return days_at(n)

    try:
        n = solve_gpus(counting, deadline, node, node)
    except InputError:
        return  # not met within the chip cap
    check_exact(days_at, deadline, node, n)
    assert len(set(calls)) <= 4 * 24 + 40


def test_a_plateau_is_refused_not_looped() -> None:
    """Days that stop falling (the batch leaves chips idle) never meet a shorter deadline: a clear error,
    after two jumps that did not shorten the run rather than a climb to ten million chips."""
    days_at, calls = power_law(1e5, -1.0)
    with pytest.raises(InputError, match=r"not met even with .* 40 days, no shorter than on"):
        solve_gpus(lambda n: max(40.0, days_at(n)), 30.0, 8, 8)
    assert len(calls) <= 6 and max(calls) < 100_000


def test_counts_that_do_not_fit_are_skipped() -> None:
    """Infinite days (no layout fits) below 64 chips: the answer is the first count that fits and meets."""
    n = solve_gpus(lambda n: math.inf if n < 64 else 1e3 / n, 30.0, 8, 8)
    assert n == 64


def test_the_chips_with_work_shorten_a_plateau() -> None:
    """A batch-limited run: past 4,096 chips the extra ones idle and days stop falling. Told the chips with
    work on a count that meets, the solve tries the nodes they fill and one node fewer, and stops: exact,
    in a handful of evaluations rather than a bisection across the plateau."""
    node, busy = 8, 4096

    def days_at(n: int) -> float:
        return 1e5 / min(n, busy) * (1.0 if n >= busy else 1.3)  # the full width also packs better

    calls: list[int] = []

    def counting(n: int) -> float:
        calls.append(n)
        return days_at(n)

    n = solve_gpus(counting, 25.0, node, node, used_at=lambda n: min(n, busy))
    check_exact(days_at, 25.0, node, n)
    assert n == busy and len(set(calls)) <= 8
    without: list[int] = []
    assert solve_gpus(lambda n: without.append(n) or days_at(n), 25.0, node, node) == busy
    assert len(set(without)) > len(set(calls))
