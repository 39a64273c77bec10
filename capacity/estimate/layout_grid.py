"""The candidates of the layout search (:mod:`capacity.estimate.layout`): the grid of groups (t, p, c, v,
b, sharding) it tries, each group's lower bound on wall time per token, by which it visits them, and each
group's least memory per chip, by which it passes over those that cannot fit. The grid and the floors are
kept between searches of the same model (deadline solves, sweeps, ``compare``): only the chip count, the
batch and the chip's memory change between them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING

from capacity.formulas.shape import Shape
from capacity.records.parallel import Layout, ParallelSpec, Recompute, Sharding

if TYPE_CHECKING:
    from capacity.estimate.layout import Job

PIPELINE_DEPTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # and every divisor of L up to 64
TENSOR_WIDTHS = (1, 2, 4, 8, 16, 32, 64)
VIRTUAL_STAGES = (1, 2, 4, 8)
CONTEXT_WIDTHS = (1, 2, 4, 8, 16, 32, 64)
MICRO_BATCHES = (1, 2, 4, 8, 16)
MICRO_BATCH_TOKENS = 16384  # beyond 4 sequences, the grid's micro-batches hold at most this many tokens
SEARCHED_SHARDING: tuple[Sharding, ...] = ("zero1", "zero3")
MIN_CONTEXT_CHUNK = 4096  # context parallelism keeps at least this many tokens of a sequence per rank
MAX_SHARED = 512  # models (or model and chip pairs) whose grids and memory floors are kept


def micro_batches(seq_len: int) -> list[int]:
    """Sequences per micro-batch to try: 1, 2 and 4 always, and larger ones while a micro-batch holds at most
    :data:`MICRO_BATCH_TOKENS` tokens (short sequences: fewer, larger GEMMs and fewer passes over the
    sharded weights per step, as FSDP recipes for small models use)."""
    return [b for b in MICRO_BATCHES if b <= 4 or b * seq_len <= MICRO_BATCH_TOKENS]


def grid(sh: Shape, node_size: int, pin: ParallelSpec) -> Iterator[tuple[int, int, int, int, int, Sharding]]:
    """(t, p, c, v, b, sharding) tuples to try, pins kept, for any chip count (:func:`groups` keeps those
    with a replica's worth of chips)."""
    tps = [pin.tp] if pin.tp else [t for t in TENSOR_WIDTHS if t <= node_size and sh.heads % t == 0]
    divisors = {p for p in range(1, min(sh.layers, 64) + 1) if sh.layers % p == 0}
    pps = [pin.pp] if pin.pp else sorted(p for p in set(PIPELINE_DEPTHS) | divisors if p <= sh.layers)
    cps = [pin.cp] if pin.cp else [
        c for c in CONTEXT_WIDTHS
        if c == 1 or (sh.seq_len % (2 * c) == 0 and sh.seq_len // c >= MIN_CONTEXT_CHUNK)
    ]  # fmt: skip
    bs = [pin.micro_batch] if pin.micro_batch else micro_batches(sh.seq_len)
    shards = [pin.sharding] if pin.sharding else list(SEARCHED_SHARDING)
    for t in tps:
        for p in pps:
            per_stage = -(-sh.layers // p)  # and every v that splits a stage's layers evenly, up to 8
            even = {v for v in range(2, 9) if per_stage % v == 0}
            vs = (
                [pin.vp]
                if pin.vp
                else sorted(v for v in set(VIRTUAL_STAGES) | even if v == 1 or p * v <= sh.layers)
            )
            for c in cps:
                for v in vs:
                    if v > 1 and p == 1:
                        continue
                    for b in bs:
                        for shard in shards:
                            yield t, p, c, v, b, shard


GridRow = tuple[int, int, int, int, int, tuple[Sharding, ...], float]  # t, p, c, v, b, shardings, ⌈L/p⌉/L
Group = tuple[float, int, int, int, int, int, Sharding, int]  # bound, t, p, c, v, b, sharding, widest d
GRIDS: dict[tuple[object, ...], list[GridRow]] = {}


def grid_rows(job: Job, pin: ParallelSpec) -> list[GridRow]:
    """The points of :func:`grid` for any chip count, each with its shardings and the share of the layers
    in its slowest pipeline stage: shared by every search of the same shape, node size and pins (only the
    chip count and the batch change between them)."""
    key = (job.sh, job.node_size, pin)
    if key not in GRIDS:
        if len(GRIDS) > MAX_SHARED:
            GRIDS.clear()
        layers = job.sh.layers
        rows: dict[tuple[int, int, int, int, int], list[Sharding]] = {}
        for t, p, c, v, b, shard in grid(job.sh, job.node_size, pin):  # shardings innermost
            rows.setdefault((t, p, c, v, b), []).append(shard)
        GRIDS[key] = [
            (*point, tuple(shards), -(-layers // point[1]) / layers) for point, shards in rows.items()
        ]
    return GRIDS[key]


def groups(job: Job, pin: ParallelSpec, recompute: Recompute) -> Iterator[Group]:
    """(bound, t, p, c, v, b, sharding, widest d) of every group of the grid that has a replica's worth of
    chips, least bound first (ties in grid order: ZeRO-1 before ZeRO-3 at the same point).

    The bound is the least wall time per token any width d ≤ widest of the group can reach: its kernels,
    exposed tensor- and context-parallel collectives and all-to-all alone, at the best expert width it
    may use, over m micro-batches plus the (p − 1)/v of the bubble, with the failures of the widest:
    (m + (p−1)/v)·K·(1 + κ·d) / (B·s) with m = B/(d·b) is at least K/(b·s)·(1/widest + κ + (p−1)·b/(v·B))."""
    sh, seqs, gpus, kappa = job.sh, job.seqs, job.gpus, job.failure_per_chip
    kernels: dict[tuple[int, int, int, int], float] = {}  # (t, c, b, widest expert width) -> seconds
    heap: list[tuple[float, int, int, int, int, int, int, Sharding, int]] = []  # + grid order, for ties
    for t, p, c, v, b, shards, stage_share in grid_rows(job, pin):
        replica = t * p * c
        if replica > gpus or (pin.dp and replica * pin.dp > gpus):
            continue
        widest = min(gpus // replica, seqs // b)
        if v > 1:  # interleaving needs a micro-batch per stage in flight: m = B/(d·b) ≥ p
            widest = min(widest, seqs // (b * p))
        if widest < 1:
            continue
        width = pin.dp or widest
        key = (t, c, b, 1 if pin.ep or not sh.experts else min(sh.experts, width * c))
        if key not in kernels:
            kernels[key] = least_kernels(job, pin, recompute, *key)
        bubble = (p - 1) * b / (v * seqs)
        bound = kernels[key] * stage_share / (b * sh.seq_len) * (1.0 / width + kappa * t * p * c + bubble)
        for shard in shards:
            heap.append((bound, len(heap), t, p, c, v, b, shard, widest))
    heapq.heapify(heap)  # a search visits only the first few groups: popped in order, not all sorted
    while heap:
        bound, _, t, p, c, v, b, shard, widest = heapq.heappop(heap)
        yield bound, t, p, c, v, b, shard, widest


def least_kernels(
    job: Job, pin: ParallelSpec, recompute: Recompute, t: int, c: int, b: int, cap: int
) -> float:
    """The least kernel time of a micro-batch over every expert width the search may pick (the divisors of
    E up to ``cap``), :meth:`Job.kernel_seconds`."""
    experts = job.sh.experts
    eps = [pin.ep or 1] if pin.ep or not experts else [e for e in range(1, cap + 1) if experts % e == 0]
    return min(job.kernel_seconds(t, c, b, ep, recompute) for ep in eps)


FLOORS: dict[tuple[object, ...], dict[tuple[int, int, int, int, int, Sharding], float]] = {}


def floor_table(
    job: Job, pin: ParallelSpec, recompute: Recompute
) -> dict[tuple[int, int, int, int, int, Sharding], float]:
    """:func:`least_memory` of each group, shared by every search of the same model, memory model and
    pins: it depends on neither the chip count, the batch nor the chip's memory."""
    if len(FLOORS) > MAX_SHARED:
        FLOORS.clear()
    key = (
        job.sh, job.n_total, job.optimizer_bytes_per_param, job.gradient_bytes, job.precision, pin.ep,
        recompute,
    )  # fmt: skip
    return FLOORS.setdefault(key, {})


def least_memory(
    job: Job, pin: ParallelSpec, recompute: Recompute, t: int, p: int, c: int, v: int, b: int, shard: Sharding
) -> float:
    """The fewest bytes a chip holds in any layout of the group (t, p, c, v, b, sharding), whatever its
    width d and expert width e: memory per chip never grows with d (the sharded states divide by d·c, a
    replica holds fewer micro-batches in flight) nor with e, and a replica runs at least one micro-batch,
    so the group's layout with d → ∞, e = E and one micro-batch per step holds the least. A group whose
    least exceeds the chip's memory has no layout that fits."""
    lay = Layout(
        tp=t, pp=p, dp=2**40, ep=pin.ep or max(1, job.sh.experts), microbatches=1.0, node_size=job.node_size,
        cp=c, vp=v, micro_batch=b, sharding=shard, recompute=recompute,
    )  # fmt: skip
    return job.memory_of(lay).total
