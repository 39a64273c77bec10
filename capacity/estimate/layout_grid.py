"""The candidates of the layout search (:mod:`capacity.estimate.layout`): the grid of groups (t, p, c, v,
b, sharding) it tries and each group's lower bound on wall time per token, by which it visits them (and,
with :mod:`capacity.estimate.layout_floors`, passes over those that cannot fit). The grid is kept between
searches of the same model (deadline solves, sweeps, ``compare``): only the chip count, the batch and the
chip's memory change between them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from capacity.estimate.layout_floors import MAX_SHARED, Floors
from capacity.formulas.shape import Shape
from capacity.formulas.step_time import BYTES_16BIT
from capacity.records.parallel import ParallelSpec, Recompute, Sharding

if TYPE_CHECKING:
    from capacity.estimate.layout_job import Job

PIPELINE_DEPTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # and every divisor of L up to 64
TENSOR_WIDTHS = (1, 2, 4, 8, 16, 32, 64)
VIRTUAL_STAGES = (1, 2, 4, 8)
CONTEXT_WIDTHS = (1, 2, 4, 8, 16, 32, 64)
MICRO_BATCHES = (1, 2, 4, 8, 16)
MICRO_BATCH_TOKENS = 16384  # beyond 4 sequences, the grid's micro-batches hold at most this many tokens
SEARCHED_SHARDING: tuple[Sharding, ...] = ("zero1", "zero3")
MIN_CONTEXT_CHUNK = 4096  # context parallelism keeps at least this many tokens of a sequence per rank


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


Group = tuple[float, int, int, int, int, int, Sharding, int]  # bound, t, p, c, v, b, sharding, widest d
Member = tuple[int, tuple[Sharding, ...], int]  # v, shardings, position of its first in the grid
# t, p, c, b, ⌈L/p⌉/L, the largest v, the members, and (t, p, c, b) as one key for the floors
Family = tuple[int, int, int, int, float, int, list[Member], tuple[int, int, int, int]]
GRIDS: dict[tuple[object, ...], list[Family]] = {}


def families(job: Job, pin: ParallelSpec) -> list[Family]:
    """The points of :func:`grid` for any chip count, in families of the same (t, p, c, b) that differ in
    v and sharding, each member with its position in grid order (shardings innermost): shared by every
    search of the same shape, node size and pins (only the chip count and the batch change between them)."""
    key = (job.sh, job.node_size, pin)
    if key not in GRIDS:
        if len(GRIDS) > MAX_SHARED:
            GRIDS.clear()
        rows: dict[tuple[int, int, int, int, int], list[Sharding]] = {}
        for t, p, c, v, b, shard in grid(job.sh, job.node_size, pin):
            rows.setdefault((t, p, c, v, b), []).append(shard)
        members: dict[tuple[int, int, int, int], list[Member]] = {}
        position = 0
        for (t, p, c, v, b), shards in rows.items():
            members.setdefault((t, p, c, b), []).append((v, tuple(shards), position))
            position += len(shards)
        GRIDS[key] = [
            (t, p, c, b, job.sh.stage_share(p), max(v for v, _, _ in vs), vs, (t, p, c, b))
            for (t, p, c, b), vs in members.items()
        ]
    return GRIDS[key]


class Groups:
    """(bound, t, p, c, v, b, sharding, widest d) of every group of the grid that has a replica's worth of
    chips and, given the floors, may fit the chip's memory, least bound first (ties in grid order: ZeRO-1
    before ZeRO-3 at the same point); ``passed_over`` says whether a group was left out for memory.

    The bound is the least wall time per token any width d ≤ widest of the group can reach: its kernels,
    exposed tensor- and context-parallel collectives and all-to-all alone, at the best expert width it
    may use, over m micro-batches plus the (p − 1)/v of the bubble, with the failures of the widest:
    (m + (p−1)/v)·K·(1 + κ·d) / (B·s) with m = B/(d·b) is at least K/(b·s)·(1/widest + κ + (p−1)·b/(v·B)).

    A search visits only the first few groups, so a family of groups (the same t, p, c, b) enters the
    queue as one entry, under a bound no member goes below (the widest d and the most virtual stages of
    any member), and its members are bounded only when it is reached; a family comes out before a group
    of equal bound, so the order is the same as bounding every group. A family none of whose members can
    fit (:func:`least_memory`, kept in ``floors``) does not enter the queue. :meth:`slower_than` bounds
    a ZeRO-1 or ZeRO-3 group again, tighter, for a search to pass it over (the order stays the same)."""

    def __init__(self, job: Job, pin: ParallelSpec, recompute: Recompute, floors: Floors | None) -> None:
        self.job, self.pin, self.recompute, self.floors = job, pin, recompute, floors
        self.kernels: dict[tuple[int, int, int, int], float] = {}  # (t, c, b, widest expert width) -> s
        self.expert_kernels: dict[tuple[int, int, int, int], list[tuple[float, float]]] = {}  # (1/e, s)
        self.passed_over = False

    def _widest(self, t: int, p: int, c: int, v: int, b: int) -> int:
        job = self.job
        widest = min(job.gpus // (t * p * c), job.seqs // b)
        return min(widest, job.seqs // (b * p)) if v > 1 else widest  # interleaving: m = B/(d·b) ≥ p

    def _bound(self, t: int, p: int, c: int, v: int, b: int, share: float, widest: int) -> float:
        job, pin = self.job, self.pin
        sh = job.sh
        width = pin.dp or widest
        kernel_key = (t, c, b, 1 if pin.ep or not sh.experts else min(sh.experts, width * c))
        if kernel_key not in self.kernels:
            self.kernels[kernel_key] = least_kernels(job, pin, self.recompute, *kernel_key)
        bubble = (p - 1) * b / (v * job.seqs)
        return (
            self.kernels[kernel_key] * share / (b * sh.seq_len)
            * (1.0 / width + job.failure_per_chip * t * p * c + bubble)
        )  # fmt: skip

    def slower_than(self, group: Group, cutoff: float) -> bool:
        """Whether the group's bound with the data-parallel traffic of ZeRO-1 and ZeRO-3 (:meth:`_sharded`)
        is above ``cutoff``. ZeRO-1 adds at most all its traffic over the slowest link once a step, so
        where even that stays under the cutoff the tighter bound is not worked out."""
        least, t, p, c, v, b, shard, widest = group
        if shard not in ("zero1", "zero3"):
            return least > cutoff
        job, sh = self.job, self.job.sh
        if shard == "zero1":
            slowest = min(
                x
                for x in (job.rates.intra_bytes_s, job.rates.beyond_domain_bytes_s, job.rates.inter_bytes_s)
                if x > 0
            )
            traffic = job.n_total / (t * p) * (job.gradient_bytes + BYTES_16BIT) / slowest
            if least + traffic / (job.seqs * sh.seq_len) <= cutoff:
                return False
        share = sh.stage_share(p)
        return self._sharded(t, p, c, v, b, share, widest, least, shard, stop=cutoff) > cutoff

    def _sharded(
        self, t: int, p: int, c: int, v: int, b: int, share: float, widest: int, base: float, shard: Sharding,
        stop: float = math.inf,
    ) -> float:  # fmt: skip
        """The bound of a ZeRO-1 or ZeRO-3 group: ``base`` (:meth:`_bound`) or, where more, with the
        data-parallel traffic no width hides (:func:`capacity.formulas.step_time.step_terms`).

        Over n = d·c ranks (e, the expert width, divides n) a reduce-scatter of the gradients takes RS ≥
        g/ρ · (D·(1 − 1/n) + X·(1/e − 1/n)): g bytes per gradient, D and X the dense and expert parameters
        a chip holds before sharding, ρ the fastest link inside the scale-up domain or node and beyond it
        at most (reach / t) network links (:func:`capacity.formulas.step_time.ring_link`); an all-gather
        of the 16-bit weights is 2/g of it. RS grows with d, and a narrow e trades the all-to-all for
        moving the experts. Each is hidden at most behind one micro-batch's compute C ≤ K_e (kernel time
        of the stage's layers at width e). ZeRO-3 gathers twice and reduce-scatters every micro-batch,
        which takes at least max(K_e, R₃), R₃ = (1 + 4/g)·RS; ZeRO-1 reduce-scatters and gathers once a
        step, adding at least max(0, R₁ − K_e), R₁ = (1 + 2/g)·RS, to the step. Per token, with B
        sequences of s tokens and m = B/(d·b) micro-batches: max(K_e, R₃)·(1/d + κ·r + bubble)/(b·s), or
        K_e·(1/d + κ·r + bubble)/(b·s) + max(0, R₁ − K_e)/(B·s). For any split d₀ no width does better
        than the least of K_min·(1/(d₀ − 1) + …)/(b·s) (narrower, no traffic counted) and the least over
        e at n = d₀·c, d = widest (wider); the bound is the best split, or the first found above ``stop``."""
        job, pin, sh = self.job, self.pin, self.job.sh
        rates = job.rates
        fastest = max(rates.intra_bytes_s, rates.beyond_domain_bytes_s)
        reach = max(job.node_size, rates.domain or 0)
        across = min(fastest, max(1, reach // t) * rates.inter_bytes_s)  # a ring that leaves the node
        gathers = 2.0 if shard == "zero3" else 1.0
        per_param = job.gradient_bytes + gathers * BYTES_16BIT  # RS + the all-gathers, per parameter
        dense = (job.n_total - sh.expert_params) / (t * p) * per_param
        experts = sh.expert_params / (t * p) * per_param
        rest = job.failure_per_chip * t * p * c + (p - 1) * b / (v * job.seqs)
        scale, per_step = 1.0 / (b * sh.seq_len), 1.0 / (job.seqs * sh.seq_len)
        width = pin.dp or widest
        cap = 1 if pin.ep or not sh.experts else min(sh.experts, width * c)
        if (t, c, b, cap) not in self.expert_kernels:  # the widths the group's layouts may use
            useful: list[tuple[float, float]] = []  # a narrower e moves more: only if its kernels are less
            for e in sorted(expert_widths(job.sh, pin, cap), reverse=True):
                k = job.kernel_seconds(t, c, b, e, self.recompute)
                if not useful or k < useful[-1][1]:
                    useful.append((1.0 / e, k))
            self.expert_kernels[t, c, b, cap] = useful
        kernels = [(inverse, k * share) for inverse, k in self.expert_kernels[t, c, b, cap]]
        least = min(k for _, k in kernels)

        def wider(n: int, d: int) -> float:
            link = fastest if n * t <= reach else across
            spread, moved = experts / link, dense * (1.0 - 1.0 / n) / link
            inverse_n, width_term = 1.0 / n, scale * (1.0 / d + rest)
            if shard == "zero3":  # every micro-batch: at least the kernels or the traffic
                return width_term * min(
                    max(k, moved + spread * max(0.0, inverse - inverse_n)) for inverse, k in kernels
                )  # fmt: skip
            return min(
                k * width_term + max(0.0, moved + spread * max(0.0, inverse - inverse_n) - k) * per_step
                for inverse, k in kernels
            )  # fmt: skip

        if pin.dp:
            return max(base, wider(pin.dp * c, pin.dp))
        splits = sorted({1 << k for k in range(widest.bit_length())} | {widest})
        tried: dict[int, tuple[float, float]] = {}

        def split(i: int) -> tuple[float, float]:  # (narrower, wider): one falls as d0 grows, one grows
            if i not in tried:
                d0 = splits[i]
                narrower = least * scale * (1.0 / (d0 - 1) + rest) if d0 >= 2 else math.inf
                tried[i] = narrower, wider(d0 * c, widest)
            return tried[i]

        lo, hi = 0, len(splits) - 1  # the best split is where the two cross: bisect for it
        if min(split(hi)) > stop:
            return min(split(hi))  # already above: no need for the best
        while hi - lo > 1:
            mid = (lo + hi) // 2
            narrower, wide = split(mid)
            if min(narrower, wide) > stop:
                return min(narrower, wide)
            lo, hi = (mid, hi) if wide < narrower else (lo, mid)
        return max(base, min(split(lo)), min(split(hi)))

    def _floor(self, t: int, p: int, c: int, v: int, b: int, shard: Sharding) -> float:
        floors = self.floors
        assert floors is not None
        return floors.of(self.job, self.pin, self.recompute, t, p, c, v, b, shard)

    def __iter__(self) -> Iterator[Group]:
        job, pin, floors, room = self.job, self.pin, self.floors, self.job.memory_bytes
        least = None if floors is None or room is None else floors.families
        gpus, seqs, dp, kappa, kernels = job.gpus, job.seqs, pin.dp, job.failure_per_chip, self.kernels
        experts, tokens = 0 if pin.ep else job.sh.experts, job.sh.seq_len
        queued: list[Family] = []
        heap: list[tuple[float, int, int]] = []  # (bound, grid position or −1 for a family, its index)
        for family in families(job, pin):  # inline (the hot loop): _widest and _bound at v = 1 and most v
            t, p, c, b, share, most_v, _, key = family
            replica = t * p * c
            widest = min(gpus // replica, seqs // b)  # a member with v > 1 is never wider than v = 1
            if widest < 1 or (dp and replica * dp > gpus):
                continue
            if least is not None and least.get(key, 0.0) > room:  # type: ignore[operator]
                self.passed_over = True
                continue
            width = dp or widest
            kernel_key = (t, c, b, min(experts, width * c) if experts else 1)
            if kernel_key not in kernels:
                kernels[kernel_key] = least_kernels(job, pin, self.recompute, *kernel_key)
            bubble = (p - 1) * b / (most_v * seqs)
            bound = kernels[kernel_key] * share / (b * tokens) * (1.0 / width + kappa * t * p * c + bubble)
            heap.append((bound, -1, len(queued)))
            queued.append(family)
        heapq.heapify(heap)
        bounded: dict[int, Group] = {}  # by grid position
        while heap:
            _, position, index = heapq.heappop(heap)
            if position >= 0:
                yield bounded.pop(position)
                continue
            t, p, c, b, share, _, members, key = queued[index]
            if least is not None and key not in least:
                least[key] = min(
                    self._floor(t, p, c, v, b, shard) for v, shards, _ in members for shard in shards
                )
            for v, shards, first in members:
                widest = self._widest(t, p, c, v, b)
                if widest < 1:
                    continue
                x = self._bound(t, p, c, v, b, share, widest)
                for k, shard in enumerate(shards):
                    if least is not None and self._floor(t, p, c, v, b, shard) > room:  # type: ignore[operator]
                        self.passed_over = True
                        continue
                    heapq.heappush(heap, (x, first + k, 0))
                    bounded[first + k] = (x, t, p, c, v, b, shard, widest)


def least_kernels(
    job: Job, pin: ParallelSpec, recompute: Recompute, t: int, c: int, b: int, cap: int
) -> float:
    """The least kernel time of a micro-batch over every expert width the search may pick (the divisors of
    E up to ``cap``), :meth:`Job.kernel_seconds`."""
    return min(job.kernel_seconds(t, c, b, ep, recompute) for ep in expert_widths(job.sh, pin, cap))


def expert_widths(sh: Shape, pin: ParallelSpec, cap: int) -> list[int]:
    """The expert widths a group's layouts may use: the pinned one, 1 for a dense model, else every divisor
    of E up to ``cap`` (the widest d·c the group allows, at most E)."""
    if pin.ep or not sh.experts:
        return [pin.ep or 1]
    return [e for e in range(1, cap + 1) if sh.experts % e == 0]
