"""The deadline solve: the fewest chips, in whole nodes, whose modelled wall-clock time meets ``--days``.

Time falls with the chip count but not smoothly (layouts change at node and divisor boundaries), so the
solve brackets the answer by doubling (or a power-law jump), then narrows it with a power-law step
(days ∝ n^slope between two evaluated counts) and bisection; every count it tries is evaluated by the
caller's ``days_at``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from capacity.core.errors import InputError

MAX_SOLVE_GPUS = 10_000_000
FLAT_JUMPS = 2  # the bracketing gives up after this many jumps in a row that do not shorten the run


def _power_step(n: int, days_n: float, deadline: float, slope: float, most: float) -> float:
    """n · (deadline / days_n)^(1/slope): where days = a·n^slope meets the deadline, at most ``most``·n."""
    exponent = min(math.log(deadline / days_n) / slope, math.log(most))
    return n * math.exp(exponent)


def solve_gpus(
    days_at: Callable[[int], float], deadline: float, node: int, start: int,
    used_at: Callable[[int], int | None] | None = None,
) -> int:  # fmt: skip
    """Fewest whole nodes (at least ``start`` chips) whose modelled days meet ``deadline``.

    Days fall roughly as a power of the node count, so once the answer is bracketed (the largest count
    known to miss, the smallest known to meet) each guess is the secant in log-log space through the two
    counts evaluated last (the nearest the answer), moved strictly inside the bracket: on a power law the
    first guess is the answer and the next (one node fewer) proves it, and on a smooth curve each step is
    a fraction of the one before. Near the answer days are not smooth (layouts change at node and divisor
    boundaries) and the secant creeps a node at a time, so the first step not under half the one before
    hands the rest to bisection. Exact: the answer meets the deadline and one node fewer does not.

    ``used_at`` (the chips with work on a count, where the batch leaves some idle) shortens the plateau a
    batch-limited run reaches: a count that meets the deadline on fewer chips than it has is followed by
    the nodes those chips fill, and one node fewer.
    """
    first = max(1, math.ceil(start / node))
    known: dict[int, float] = {}

    def days(n_nodes: int) -> float:
        if n_nodes not in known:
            known[n_nodes] = days_at(n_nodes * node)
        return known[n_nodes]

    if days(first) <= deadline:
        return first * node

    def linear(n: int) -> int:
        """Where days ∝ 1/n would meet the deadline (the step model rarely scales much better, so this
        most often undershoots and the secant jumps on), between 2·n and 1024·n; 2·n where n does not fit."""
        if not math.isfinite(days(n)):
            return 2 * n
        return max(2 * n, math.ceil(n * min(days(n) / deadline, 1024.0)))

    lo, hi = first, linear(first)  # lo misses; find an hi that meets
    flat: list[int] = []  # the counts of the jumps in a row after which the run was no shorter
    while days(hi) > deadline:
        flat = [*flat, lo] if math.isfinite(days(hi)) and days(hi) >= days(lo) else []
        if len(flat) >= FLAT_JUMPS:
            raise InputError(
                f"--days {deadline:g}: not met even with {hi * node:,} chips: {days(hi):.4g} days, no "
                f"shorter than on {flat[0] * node:,} (the batch leaves the extra chips without work); "
                "allow more days"
            )
        if math.isfinite(days(lo)) and math.isfinite(days(hi)) and days(hi) < days(lo):
            slope = math.log(days(hi) / days(lo)) / math.log(hi / lo)  # < 0
            jump = _power_step(hi, days(hi), deadline, slope, 8.0) if slope < 0 else hi * 2
            nxt = max(hi + 1, math.ceil(jump * 1.02))
        else:
            nxt = linear(hi)
        lo, hi = hi, nxt
        if hi * node > MAX_SOLVE_GPUS:
            raise InputError(
                f"--days {deadline:g}: not met even with {MAX_SOLVE_GPUS:,} chips (the batch leaves "
                "the extra chips without work); allow more days"
            )

    def shrink(lo: int, hi: int) -> tuple[int, int]:
        """Where the chips with work on ``hi`` fill fewer nodes, try those, and one node fewer."""
        used = used_at(hi * node) if used_at is not None else None
        for n in () if used is None else (math.ceil(used / node), math.ceil(used / node) - 1):
            if not lo < n < hi:
                break
            if days(n) > deadline:
                return n, hi
            hi = n
        return lo, hi

    lo, hi = shrink(lo, hi)
    (n_a, _), (n_b, _) = list(known.items())[-2:]
    last_step, secant = abs(n_b - n_a), True  # the secant's until it stops converging, then bisection
    while hi - lo > 1:
        mid = (lo + hi) // 2
        (n_a, d_a), (n_b, d_b) = list(known.items())[-2:]  # the two latest: nearest the answer
        if secant and all(math.isfinite(x) and x > 0 for x in (d_a, d_b)) and d_a != d_b:
            slope = math.log(d_b / d_a) / math.log(n_b / n_a)
            if slope < 0:  # the secant's count, kept strictly inside the bracket
                guess = math.ceil(_power_step(n_b, d_b, deadline, slope, hi / n_b))
                mid = min(max(guess, lo + 1), hi - 1)
                secant, last_step = 2 * abs(mid - n_b) < last_step, abs(mid - n_b)
        lo, hi = shrink(lo, mid) if days(mid) <= deadline else (mid, hi)
    return hi * node


def fewest_that_fit(days_at: Callable[[int], float], node: int, start: int, floor: int) -> int:
    """Fewest whole nodes (at least ``start`` chips) on which the layout search finds a layout that fits in
    memory (``days_at`` finite there, infinite where nothing fits), so the count a refusal suggests is one
    the search accepts rather than the memory floor it can exceed (layouts divide chips into whole
    tensor, pipeline and context groups). ``floor`` when no count up to MAX_SOLVE_GPUS fits."""
    try:
        return solve_gpus(days_at, sys.float_info.max, node, start)
    except InputError:
        return floor
