"""Choosing the parallel layout of a training job: tensor × pipeline × context × data (× expert) parallel.

Whatever the user pins (:class:`capacity.records.parallel.ParallelSpec`) is kept; the search fills in
the rest:

* t tensor-parallel widths that fit in one node and divide the heads; p pipeline depths 1, 2, 3, 4, 6, …
  64 and every divisor of L up to 64 (the slowest stage holds ⌈L/p⌉ layers); v virtual stages 1, 2, 4, 8
  and any v ≤ 8 dividing a stage's layers, when p > 1 and v·p ≤ L (uneven splits allowed, as Megatron-LM
  allows); c context-parallel widths up to 64 that keep at least 4,096 tokens of a sequence per rank;
  b sequences per micro-batch 1, 2 or 4, and 8 or 16 while a micro-batch holds ≤ 16,384 tokens; around
  the winner, b doubled while faster, then every size up to twice it (frameworks take any size); ZeRO-1
  or ZeRO-3 sharding; the recomputation the caller passes (the step model searches selective and full and
  keeps the faster, unless the user pins one);
* d data-parallel widths up to min(⌊G / (t·p·c)⌋, global batch / b): the widest, and the narrower width
  that minimises time per token when failures (which grow with the chips in use) cost more than the extra
  replicas give. A replica needs at least one micro-batch per step, so chips beyond that stay idle. Each
  replica runs m = (batch / s) / (d·b) micro-batches per step (the average, not rounded);
* e, MoE experts spread over the data-parallel ranks: g = gcd(E, d·c) (the largest width dividing both)
  and g/2, g/4, g/8, since a narrower e keeps more of the all-to-all inside a node.

The layout with the least wall time per token (failures included) whose memory fits wins; if none fits,
the one that misses memory by least is reported with ``fits = False``. Memory:
:mod:`capacity.formulas.memory`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from capacity.core.errors import InputError
from capacity.estimate.layout_floors import floor_table
from capacity.estimate.layout_grid import SEARCHED_SHARDING, Group, Groups
from capacity.estimate.layout_job import Candidate, Job, check_pins
from capacity.formulas import memory
from capacity.formulas.step_time import StepTerms
from capacity.records.parallel import Layout, ParallelSpec, Recompute, Sharding

MAX_MICRO_BATCH = 1024  # the winner's micro-batch is doubled up to this (and the replica's sequences)
EXPERT_WIDTHS_TRIED = 4  # e = g, g/2, g/4, g/8 with g = gcd(E, d·c): fewer experts' traffic off the node
Key = tuple[float, ...]
SLACK = 1.002  # keep groups and layouts whose bound is within the 0.1 % ties of the ranking


def rank_key(c: Candidate) -> tuple[int, int, int, int]:
    """Order of preference: time per token (to 0.1 %), then the simpler layout — less sharding, fewer
    virtual stages, smaller micro-batches — when two are as fast."""
    lay = c.layout
    shard = ("zero1", "none", "zero2", "zero3").index(lay.sharding)
    return round(math.log(c.per_token_s) * 1000), shard, lay.vp, lay.micro_batch


@dataclass(frozen=True)
class Search:
    """What the search found: the chosen layout first, then the runners-up (``--layouts N``)."""

    ranked: list[Candidate]

    @property
    def best(self) -> Candidate:
        return self.ranked[0]


def _refine_micro_batch(
    best: Candidate, seqs: int, pin: ParallelSpec, consider: Callable[[Layout], Candidate | None]
) -> None:
    """Around the grid's winner: double its micro-batch while that is faster and fits (up to the
    sequences a replica has), then try every size between the last two and both searched shardings, since
    frameworks take any micro-batch size (llm-foundry runs 3 to 128 sequences)."""
    lay, shards = best.layout, [pin.sharding] if pin.sharding else list(SEARCHED_SHARDING)
    per_replica = seqs // lay.dp
    while 2 * lay.micro_batch <= min(per_replica, MAX_MICRO_BATCH):
        b = 2 * lay.micro_batch
        up = consider(lay.split(seqs, micro_batch=b))
        if up is None or not up.fits or up.per_token_s >= best.per_token_s:
            break
        best, lay = up, up.layout
    for b in range(lay.micro_batch + 1, min(2 * lay.micro_batch, per_replica + 1)):
        for shard in shards:
            consider(replace(lay.split(seqs, micro_batch=b), sharding=shard))


def best_width(
    per_replica_work: float, fixed: float, failure_per_chip: float, chips_per_replica: int
) -> float:
    """Data-parallel width d minimising (A/d + B)·(1 + κ·d): d* = √(A / (B·κ)), κ = failure cost per replica.

    A is the step time that divides among replicas (A/d), B the part that does not (bubble, exposed
    gradient reduction), κ = failure rate × hours lost × chips per replica (see :mod:`capacity.data.goodput`).
    A ≤ 0 (communication grows faster with d than the work shrinks) gives d* = 1.
    """
    kappa = failure_per_chip * chips_per_replica
    if per_replica_work <= 0:
        return 1.0
    if fixed <= 0 or kappa <= 0:
        return math.inf
    return math.sqrt(per_replica_work / (fixed * kappa))


def _split(terms: StepTerms, lay: Layout, seqs: int) -> tuple[float, float]:
    """(A, B) with step time ≈ A/d + B around width d: A the work shared among replicas (micro-batches,
    optimizer shards, the ring's −C/d), B what is not (bubble, the exposed reduction's constant part)."""
    d = lay.dp
    per_micro = (terms.total - terms.bubble - terms.dp_comm_exposed - terms.optimizer) / lay.microbatches
    work, fixed = seqs / lay.micro_batch * per_micro + terms.optimizer * d, terms.bubble
    if terms.dp_comm_exposed > 0 and d > 1:  # exposed ≈ C·(1 − 1/d) − micro
        c = (terms.dp_comm_exposed + per_micro) / (1.0 - 1.0 / d)
        work, fixed = work - c, fixed + c - per_micro
    return work, fixed


def _narrower(job: Job, group: Group, low: int) -> float:
    """A lower bound on the time per token of the group's layouts at widths low ≤ d < widest: the group's
    bound is A·(1/widest + κ·r + β) with A the least kernels per token of one micro-batch, κ·r the
    failures of a replica and β = (p − 1)·b/(v·B) the bubble, and at width d a layout takes at least
    A·(1/d + β)·(1 + κ·r·d), least at d = √(1/(β·κ·r)) within the range."""
    least, t, p, c, v, b, _, widest = group
    failures, bubble = job.failure_per_chip * t * p * c, (p - 1) * b / (v * job.seqs)
    per_micro = least / (1.0 / widest + failures + bubble)
    best = math.sqrt(1.0 / (bubble * failures)) if bubble > 0 and failures > 0 else widest
    d = min(max(best, low), widest)
    return per_micro * (1.0 / d + bubble) * (1.0 + failures * d)


def search(
    job: Job,
    pin: ParallelSpec,
    recompute: Recompute,
    keep: int = 1,
    beat: float = math.inf,
    every_group: bool = False,
    closest_misses: bool = True,
    misses_only: bool = False,
) -> Search:
    """The best ``keep`` layouts for ``job`` with ``pin`` kept (see the module docstring). Groups whose
    bound is no better than ``beat`` (seconds per token of a layout already known) are not searched.

    Groups in which no layout can fit (:func:`capacity.estimate.layout_floors.least_memory`) are passed over
    unless ``every_group``; if then nothing fits (or :meth:`Job.too_few_chips` says nothing can), the
    search runs again, ``misses_only``, over every group to report the closest misses, or, without
    ``closest_misses``, returns no layout. ``misses_only`` visits the groups least memory first and stops
    at the first whose least memory is above the misses kept."""
    check_pins(job, pin)
    if not misses_only and job.too_few_chips():  # straight to the closest misses
        if not closest_misses:
            return Search(ranked=[])
        return search(job, pin, recompute, keep, beat, every_group=True, misses_only=True)
    sh, seqs = job.sh, job.seqs
    floors = None if job.memory_bytes is None else floor_table(job, pin, recompute)
    room = math.inf if job.memory_bytes is None else job.memory_bytes
    fitting: list[tuple[Key, int, Candidate]] = []  # a max-heap of the best `keep` (keys negated)
    misses: list[tuple[Key, int, Candidate]] = []  # the `keep` that miss memory by least
    counter = 0
    seen: set[Layout] = set()
    memories: dict[Layout, memory.MemoryBreakdown] = {}  # the zero1 check and the group's first layout

    def memory_of(lay: Layout) -> memory.MemoryBreakdown:
        if lay not in memories:
            memories[lay] = job.memory_of(lay)
        return memories[lay]

    def layouts(t: int, p: int, c: int, v: int, b: int, shard: Sharding, d: int) -> list[Layout]:
        if pin.ep or not sh.experts:
            eps = [pin.ep or 1]
        else:  # divides E and the data-parallel ranks; narrower keeps more of the all-to-all on the node
            g = math.gcd(sh.experts, d * c)
            eps = [g >> k for k in range(EXPERT_WIDTHS_TRIED) if g >> k >= 1 and g % (g >> k) == 0]
        return [
            Layout(
                tp=t,
                pp=p,
                dp=d,
                ep=ep,
                microbatches=seqs / (d * b),
                node_size=job.node_size,
                cp=c,
                vp=v,
                micro_batch=b,
                sharding=shard,
                recompute=recompute,
            )
            for ep in dict.fromkeys(eps)
        ]

    def consider_all(lays: list[Layout], beyond: float | None = None) -> Candidate | None:
        """:func:`consider` each of ``lays`` (one layout at expert widths widest first, see ``layouts``);
        the best scored. Memory only grows as the expert width narrows, so once one misses memory while
        others fit, the narrower ones are passed over (they could only be closest misses)."""
        scored = []
        for lay in lays:
            if (cand := consider(lay, beyond)) is not None:
                scored.append(cand)
            elif fitting and lay in memories and memories[lay].total > room:
                break
        return min(scored, key=lambda c: c.per_token_s) if scored else None

    def worst_kept(heap: list[tuple[Key, int, Candidate]]) -> Key:
        return tuple(-x for x in heap[0][0]) if len(heap) >= keep else (math.inf,)

    def consider(lay: Layout, beyond: float | None = None) -> Candidate | None:
        """Score ``lay`` and keep it if it ranks; None where it is not a valid layout, was seen, or misses
        memory by more than those kept, and, given ``beyond`` (seconds per token), where its bound
        (:meth:`Job.least_per_token`) is above both ``beyond`` and the fitting layouts kept."""
        nonlocal counter
        if lay in seen or (lay.ep > 1 and (lay.dp * lay.cp) % lay.ep):
            return None
        if lay.vp > 1 and lay.microbatches < lay.pp:  # interleaving needs a micro-batch per stage in flight
            return None
        if beyond is not None and len(fitting) >= keep and job.least_per_token(lay) > max(beyond, cutoff()):
            return None
        seen.add(lay)
        mem = memory_of(lay)
        need = mem.total
        fits = job.memory_bytes is None or need <= job.memory_bytes
        if not fits and (fitting or (need,) >= worst_kept(misses)):
            return None
        cand = job.score(lay, mem)
        counter += 1
        key: Key
        if fits:
            heap, key = fitting, rank_key(cand)
            misses.clear()
        else:
            heap, key = misses, (need, cand.per_token_s)  # the least memory, then the fastest
        if key < worst_kept(heap):
            heapq.heappush(heap, (tuple(-x for x in key), -counter, cand))
            if len(heap) > keep:
                heapq.heappop(heap)
        return cand

    def worst_kept_fitting() -> float:
        return max(cand.per_token_s for _, _, cand in fitting)

    def cutoff() -> float:
        """Seconds per token above which a layout cannot rank among those kept (ties included)."""
        return worst_kept_fitting() * SLACK

    def fits_at(lay: Layout, d: int) -> bool:
        at = lay.split(seqs, dp=d)
        return job.memory_bytes is None or memory_of(at).total <= job.memory_bytes

    zero1_fits: set[tuple[int, int, int, int, int]] = set()
    visit = Groups(job, pin, recompute, None if every_group else floors)
    order: Iterable[Group] = visit
    if misses_only and floors is not None:  # nothing fits: the least memory first
        order = sorted(visit, key=lambda g: floors.of(job, pin, recompute, *g[1:7]))
    beaten = False
    for least, t, p, c, v, b, shard, widest in order:
        if misses_only:
            if least > beat * SLACK:
                continue
            if (
                floors is not None
                and floors.of(job, pin, recompute, t, p, c, v, b, shard) > worst_kept(misses)[0]
            ):
                break  # every layout left needs more memory than those kept
        elif least > beat * SLACK:
            beaten = True  # the caller's layout is faster than any left: no closest misses needed
            break
        if len(fitting) >= keep and least > cutoff():
            break  # every group left is slower than the layouts kept, whatever its communication
        point, here = (t, p, c, v, b), (least, t, p, c, v, b, shard, widest)
        if shard == "zero3" and point in zero1_fits and not sh.experts:
            continue  # ZeRO-3 moves more per step than ZeRO-1: it only helps where ZeRO-1 does not fit
        if (
            shard == "zero1"
            and not sh.experts
            and fits_at(layouts(t, p, c, v, b, shard, pin.dp or widest)[0], pin.dp or widest)
        ):
            zero1_fits.add(point)  # (for the rule above, which holds for dense models only)
        if len(fitting) >= keep and visit.slower_than(here, cutoff()):
            continue  # its data-parallel traffic leaves it slower than the layouts kept
        if pin.dp:
            consider_all(layouts(t, p, c, v, b, shard, pin.dp), beyond=0.0)
            continue
        top = consider_all(layouts(t, p, c, v, b, shard, widest))
        unit = pin.ep or (1 << (min(sh.experts, widest * c).bit_length() - 1) if sh.experts else 1)
        aligned = (widest * c // unit * unit) // c  # the widest d whose d·c the experts divide evenly
        if 1 <= aligned < widest and (aligned * c) % unit == 0:  # passed over where it cannot rank
            beyond = None if top is None else 0.0
            top = min(
                (x for x in (top, consider_all(layouts(t, p, c, v, b, shard, aligned), beyond)) if x),
                key=lambda x: x.per_token_s,
                default=None,
            )
        if top is None:
            continue
        work, fixed = _split(top.terms, top.layout, seqs)
        d_star = best_width(work, fixed, job.failure_per_chip, t * p * c)
        low = max(1, math.floor(min(d_star, widest)))
        if d_star < widest and not (len(fitting) >= keep and _narrower(job, here, low) > cutoff()):
            # the full width is not worth it: try the best narrower widths that fit (and could rank)
            lo, hi = min(widest, low + 1), widest
            if not fits_at(top.layout, lo) and fits_at(top.layout, hi):
                while hi - lo > 1:  # memory per chip falls as d grows: the narrowest that fits
                    mid = (lo + hi) // 2
                    lo, hi = (lo, mid) if fits_at(top.layout, mid) else (mid, hi)
                lo = hi
            for d in {low, lo}:
                consider_all(layouts(t, p, c, v, b, shard, d), beyond=0.0)
    if visit.passed_over and not fitting and not beaten:
        if not closest_misses:
            return Search(ranked=[])
        return search(job, pin, recompute, keep, beat, every_group=True, misses_only=True)
    if fitting and not pin.micro_batch:
        best = min(fitting, key=lambda item: rank_key(item[2]))[2]
        _refine_micro_batch(best, seqs, pin, lambda lay: consider(lay, beyond=0.0))
    heap = fitting or misses
    if not heap and beat < math.inf:
        return Search(ranked=[])
    if not heap:
        raise InputError(f"no layout of {job.gpus} chips can run the job with the pinned {pin.pinned()}")
    ranked = [cand for _, _, cand in sorted(heap, reverse=True)]
    return Search(ranked=ranked)
