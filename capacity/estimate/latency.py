"""TTFT and TPOT percentiles of a serving deployment, and the replicas a TTFT target at a percentile needs.

The queueing formulas are in :mod:`capacity.formulas.queueing`; this module applies them to one replica's
operating point (its batch, step time, prefill time and throughput) and the traffic it is given.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from capacity.formulas import queueing

PERCENTILES = (0.5, 0.9, 0.99)


class Latency(BaseModel):
    """Latency at P50/P90/P99, ms. TTFT percentiles are None when the queue is unstable (utilisation ≥ 1)."""

    model_config = ConfigDict(frozen=True)

    ttft_ms_p50: float | None
    ttft_ms_p90: float | None
    ttft_ms_p99: float | None
    tpot_ms_p50: float
    tpot_ms_p90: float
    tpot_ms_p99: float
    queueing: str


def slo_detail(lat: Latency, ttft_ms: float | None, tpot_ms: float | None, percentile: float) -> str | None:
    """Each target beside the value it is held against, and by how much it is missed: "TPOT P90 20.3 ms >
    5 ms (4.1x)"; None without targets."""
    tag = f"P{percentile:g}"
    parts = []
    for name, target, value in (("TTFT", ttft_ms, at_percentile(lat, "ttft", percentile)),
                                ("TPOT", tpot_ms, at_percentile(lat, "tpot", percentile))):  # fmt: skip
        if target is None:
            continue
        if value is None:
            parts.append(f"{name} {tag} unbounded > {target:g} ms")
        elif value <= target:
            parts.append(f"{name} {tag} {value:.3g} ms <= {target:g} ms")
        else:
            parts.append(f"{name} {tag} {value:.3g} ms > {target:g} ms ({value / target:.2g}x)")
    return "; ".join(parts) or None


def at_percentile(lat: Latency, what: str, percentile: float) -> float | None:
    """The reported percentile nearest the target's (P50, P90 or P99)."""
    nearest = min((50, 90, 99), key=lambda p: abs(p - percentile))
    value: float | None = getattr(lat, f"{what}_ms_p{nearest}")
    return value


def batch_at_load(rate_qps: float, tpot_s: Callable[[int], float], s_out: int, top: int) -> int:
    """Sequences decoding at once when queries arrive at ``rate_qps``: Little's law, b = λ · s_out · TPOT(b),
    solved on the integers (TPOT grows with b); the largest batch ``top`` when the load saturates it."""
    if rate_qps * s_out * tpot_s(top) > top:
        return top
    low, high = 1, top  # λ·s_out·TPOT(high) ≤ high holds; find the smallest such batch
    while low < high:
        mid = (low + high) // 2
        if rate_qps * s_out * tpot_s(mid) <= mid:
            high = mid
        else:
            low = mid + 1
    return low


def tpot_at(p: float, step_s: float, prefill_compute_s: float, batch: int, s_out: int, load: float) -> float:
    """TPOT at percentile p: each step carries Poisson-many prompts, batch / s_out · load on average."""
    return queueing.tpot_percentile_s(step_s, prefill_compute_s, batch / s_out * load, s_out, p)


def prefill_queue(rate_qps: float, prefill_s: float) -> tuple[float, float]:
    """(utilisation, service s) of a replica's prompt queue. A replica runs many sequences' decode at once,
    so queries do not wait for a free slot until the batch is full; what they contend for is the prefill
    compute, one prompt's worth (``prefill_s``) at a time, while decode steps run alongside (their cost is
    in the step time a prompt waits through)."""
    return rate_qps * prefill_s, prefill_s


def fewest_replicas(start: int, ok: Callable[[int], bool]) -> int:
    """The smallest count ≥ ``start`` for which ``ok`` holds (``ok`` true from some count on): doubling,
    then bisection; ``start`` itself when nothing up to 1,024 times it is ok (the target is out of reach)."""
    if ok(start):
        return start
    high = start * 2
    while not ok(high):
        if high > start * 1024:
            return start
        high *= 2
    low = high // 2  # not ok
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return high


def percentiles(
    ttft_service_s: float,
    work_s: float,
    step_s: float,
    prefill_compute_s: float,
    batch: int,
    s_out: int,
    utilisation: float | None,
) -> Latency:
    """TTFT = the request's own prefill and the step in flight, plus the M/D/1 wait at the utilisation
    (each query bringing ``work_s`` = 1 / the replica's queries per second); TPOT = the mean step plus the
    spread of the prompt chunks each step carries."""
    tpot = [tpot_at(p, step_s, prefill_compute_s, batch, s_out, 1.0) * 1e3 for p in PERCENTILES]
    if utilisation is None:
        ttft: list[float | None] = [ttft_service_s * 1e3] * 3
        how = "none: no traffic given, so TTFT has no queueing wait (a request arriving at an idle slot)"
    elif utilisation >= 1.0:
        ttft = [None, None, None]
        how = f"M/D/1 at utilisation {utilisation:.2f}: the queue grows without bound"
    else:
        ttft = [
            (ttft_service_s + queueing.wait_percentile_s(utilisation, work_s, p)) * 1e3 for p in PERCENTILES
        ]
        how = (
            f"M/D/1 admission of Poisson arrivals at utilisation {utilisation:.2f} "
            "(Pollaczek-Khinchine mean, Kingman exponential tail); TPOT spread from Poisson prompt chunks"
        )
    return Latency(
        ttft_ms_p50=ttft[0], ttft_ms_p90=ttft[1], ttft_ms_p99=ttft[2],
        tpot_ms_p50=tpot[0], tpot_ms_p90=tpot[1], tpot_ms_p99=tpot[2],
        queueing=how,
    )  # fmt: skip
