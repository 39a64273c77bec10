"""Latency percentiles of a continuously batched replica under Poisson arrivals.

**Time to first token.** A new request waits for the prefill compute, then runs its own prefill (plus the
decode step in flight). A replica decodes many sequences at once, so arrivals do not queue for a batch slot
until the batch is full; they contend for the prefill, one prompt's worth τ at a time. With Poisson
arrivals λ per replica and prompts of one length, that is an M/D/1 queue at utilisation ρ = λ·τ
(a disaggregated prefill instance likewise, τ its time per prompt). Pollaczek–Khinchine gives the mean
wait (Kleinrock 1975, *Queueing Systems* Vol. 1, ch. 5, the M/G/1 queue with zero service variance):

    E[W] = ρ · τ / (2 · (1 − ρ))

and the waiting time's tail is close to exponential — P(W > t) ≈ ρ · exp(−ρ t / E[W]), Kingman's
heavy-traffic approximation (Kingman 1962, "On queues in heavy traffic") — so the p-th percentile is

    W_p = (E[W] / ρ) · ln(ρ / (1 − p))   where ρ > 1 − p, else 0.

**Time per output token.** Each decode step also carries the chunks of the prompts that arrived meanwhile:
m prompts per step on average, a Poisson count, each adding its prefill compute τ_p. A request's TPOT is
the mean of its s_out steps, so by the central limit theorem

    TPOT_p = TPOT_mean + z_p · τ_p · sqrt(m / s_out)            z_p: the standard normal quantile.
"""

from __future__ import annotations

import math
from statistics import NormalDist


def mean_wait_s(utilisation: float, service_s: float) -> float:
    """E[W] of an M/D/1 queue (Pollaczek–Khinchine); infinite at or above full utilisation."""
    if utilisation >= 1.0:
        return math.inf
    return utilisation * service_s / (2.0 * (1.0 - utilisation))


def wait_percentile_s(utilisation: float, service_s: float, p: float) -> float:
    """W_p under Kingman's exponential tail; 0 when fewer than 1 − p of arrivals wait at all."""
    if utilisation <= 1.0 - p or utilisation <= 0.0:
        return 0.0
    mean = mean_wait_s(utilisation, service_s)
    return mean / utilisation * math.log(utilisation / (1.0 - p))


def utilisation_for_wait(service_s: float, p: float, wait_budget_s: float) -> float:
    """The highest utilisation whose p-th percentile wait stays within ``wait_budget_s`` (bisection)."""
    if wait_budget_s <= 0.0:
        return 1.0 - p
    low, high = 1.0 - p, 1.0 - 1e-9
    if wait_percentile_s(high, service_s, p) <= wait_budget_s:
        return high
    for _ in range(60):
        mid = (low + high) / 2.0
        if wait_percentile_s(mid, service_s, p) <= wait_budget_s:
            low = mid
        else:
            high = mid
    return low


def tpot_percentile_s(
    mean_s: float, prefill_s: float, prefills_per_step: float, steps: int, p: float
) -> float:
    """TPOT_p: the mean plus z_p standard deviations of a request's mean step time (Poisson prefills)."""
    if p <= 0.5:
        return mean_s
    z = NormalDist().inv_cdf(p)
    return mean_s + z * prefill_s * math.sqrt(prefills_per_step / steps)
