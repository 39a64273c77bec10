"""Choosing the parallel layout of a training job: tensor × pipeline × data (× expert) parallel.

The search tries tensor-parallel widths t that fit in one node and divide the heads, pipeline depths p
of 1, 2, 3, 4, 6, … 64 up to the layer count (the slowest stage holds ⌈L/p⌉ layers), and data-parallel
widths d up to min(⌊G / (t·p)⌋, global batch / s): the widest, and the narrower width that minimises
time per token when failures (which grow with the chips in use) cost more than the extra replicas give.
A replica needs at least one sequence per step, so chips beyond that stay idle. Each replica runs
m = (batch / s) / d micro-batches per step (the average, not rounded). MoE experts are spread over the
data-parallel ranks (expert-parallel width e = the largest divisor of E up to d). The layout with the
least wall time per token (failures included) whose memory fits wins; if none fits, the one that misses memory
by least is reported with ``fits = False``.

Memory per chip (Megatron-LM with a distributed optimizer, i.e. ZeRO-1; Rajbhandari et al. 2019):
16-bit weights and gradients of the chip's share of the model, plus the fp32 optimizer states sharded over
the d replicas (an expert's over the d / e replicas that hold it); activations of the micro-batches in
flight (1F1B keeps up to p of them on the first stage,
each ⌈L/p⌉ layers: Narayanan et al. 2021), 34·s·h/t bytes per layer with selective recomputation and
2·s·h/t with full recomputation (Korthikanti et al. 2022, sequence parallel); fp32 logits s·V·4/t.
"""

from __future__ import annotations

import math

from capacity.shape import Shape
from capacity.step_time import ChipRates, Layout, StepTerms, step_terms

SELECTIVE_BYTES_PER_HIDDEN = 34.0
FULL_BYTES_PER_HIDDEN = 2.0
PIPELINE_DEPTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
WEIGHT_AND_GRAD_BYTES = 4.0  # 16-bit weights + 16-bit gradients, replicated across data parallel


def memory_per_chip_bytes(
    sh: Shape, n_total: float, lay: Layout, full_recompute: bool, state_bytes_per_param: float
) -> float:
    """Bytes one chip holds on layout ``lay`` (see the module docstring)."""
    t, p, d = lay.tp, lay.pp, lay.dp
    experts = sh.expert_params
    dense, expert = (n_total - experts) / (t * p), experts / (t * p * lay.ep)
    sharded = state_bytes_per_param - WEIGHT_AND_GRAD_BYTES
    states = dense * (WEIGHT_AND_GRAD_BYTES + sharded / d)
    states += expert * (WEIGHT_AND_GRAD_BYTES + sharded / max(1, d // lay.ep))  # expert states: over d / e
    per_layer = (
        (FULL_BYTES_PER_HIDDEN if full_recompute else SELECTIVE_BYTES_PER_HIDDEN) * sh.seq_len * sh.hidden / t
    )
    layers_held = min(p, math.ceil(lay.microbatches)) * math.ceil(sh.layers / p)
    working = SELECTIVE_BYTES_PER_HIDDEN * sh.seq_len * sh.hidden / t if full_recompute else 0.0
    logits = 4.0 * sh.seq_len * sh.vocab / t
    return states + layers_held * per_layer + working + logits


def _largest_divisor_up_to(n: int, cap: int) -> int:
    return max(k for k in range(1, min(n, cap) + 1) if n % k == 0)


def pairs(sh: Shape, gpus: int, node_size: int) -> list[tuple[int, int]]:
    """Every (t, p) the search considers for ``gpus`` chips."""
    tps = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= node_size and sh.heads % t == 0 and t <= gpus]
    return [(t, p) for t in tps for p in PIPELINE_DEPTHS if p <= sh.layers and t * p <= gpus]


def best_width(
    per_replica_work: float, fixed: float, failure_per_chip: float, chips_per_replica: int
) -> float:
    """Data-parallel width d minimising (A/d + B)·(1 + κ·d): d* = √(A / (B·κ)), κ = failure cost per replica.

    A is the step time that divides among replicas (A/d), B the part that does not (bubble, exposed
    gradient reduction), κ = failure rate × hours lost × chips per replica (see :mod:`capacity.step_model`).
    A ≤ 0 (communication grows faster with d than the work shrinks) gives d* = 1.
    """
    kappa = failure_per_chip * chips_per_replica
    if per_replica_work <= 0:
        return 1.0
    if fixed <= 0 or kappa <= 0:
        return math.inf
    return math.sqrt(per_replica_work / (fixed * kappa))


def _split(terms: StepTerms, seqs: int, d: int) -> tuple[float, float]:
    """(A, B) with step time = A/d + B around width ``d``: A the work shared among replicas (micro-batches,
    optimizer shards, and the ring's −c/d), B what is not (bubble, the exposed reduction's constant part).
    Exact for dense models; for MoE the expert-parallel width also moves with d and this is the local slope.
    """
    per_micro = terms.matmul + terms.attention + terms.memory_bound + terms.tp_comm + terms.expert_comm
    micro = (per_micro + terms.pp_comm) * d / seqs  # one micro-batch: m = seqs / d of them per step
    work, fixed = seqs * micro + terms.optimizer * d, terms.bubble
    if terms.dp_comm_exposed > 0 and d > 1:  # exposed = c·(1 − 1/d) − (2/3)·micro
        c = (terms.dp_comm_exposed + 2.0 / 3.0 * micro) / (1.0 - 1.0 / d)
        work, fixed = work - c, fixed + c - 2.0 / 3.0 * micro
    return work, fixed


def choose_layout(
    sh: Shape,
    n_total: float,
    n_active: float,
    gpus: int,
    node_size: int,
    rates: ChipRates,
    *,
    batch_tokens: float,
    memory_bytes: float | None,
    state_bytes_per_param: float,
    full_recompute: bool,
    elementwise_bytes_per_hidden: float,
    loss_bytes_per_vocab: float,
    optimizer_bytes_per_param: float,
    failure_per_chip: float,
) -> tuple[Layout, StepTerms, bool]:
    """(layout, its step terms, whether it fits in memory): the least wall time per token among those that
    fit, counting time lost to failures (``failure_per_chip`` = failures per chip-hour × hours lost each)."""
    seqs = max(1, round(batch_tokens / sh.seq_len))
    best: tuple[float, Layout, StepTerms] | None = None
    fallback: tuple[float, Layout, StepTerms] | None = None

    def _layout(t: int, p: int, d: int) -> Layout:
        ep = _largest_divisor_up_to(sh.experts, d) if sh.experts else 1
        return Layout(tp=t, pp=p, dp=d, ep=ep, microbatches=seqs / d, node_size=node_size)

    def fits_at(t: int, p: int, d: int) -> bool:
        used = memory_per_chip_bytes(sh, n_total, _layout(t, p, d), full_recompute, state_bytes_per_param)
        return memory_bytes is None or used <= memory_bytes

    def _narrowest_fitting(t: int, p: int, lo: int, hi: int) -> int:
        """Smallest d in [lo, hi] whose memory fits (memory per chip falls as d grows), else hi."""
        if fits_at(t, p, lo):
            return lo
        if not fits_at(t, p, hi):
            return hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if fits_at(t, p, mid) else (mid, hi)
        return hi

    def consider(t: int, p: int, d: int) -> StepTerms | None:
        """Score one layout; None when it does not fit and a fitting one, or one that misses memory by
        less, is already known."""
        nonlocal best, fallback
        lay = _layout(t, p, d)
        need = memory_per_chip_bytes(sh, n_total, lay, full_recompute, state_bytes_per_param)
        fits = memory_bytes is None or need <= memory_bytes
        if not fits and (best is not None or (fallback is not None and need >= fallback[0])):
            return None
        terms = step_terms(
            sh, n_total, n_active, lay, rates,
            elementwise_bytes_per_hidden, loss_bytes_per_vocab, optimizer_bytes_per_param, full_recompute,
        )  # fmt: skip
        per_token = terms.total * (1.0 + failure_per_chip * t * p * d) / (seqs * sh.seq_len)
        if fits and (best is None or per_token < best[0]):
            best = (per_token, lay, terms)
        elif not fits:  # keep the layout that misses memory by least
            fallback = (need, lay, terms)
        return terms

    for t, p in pairs(sh, gpus, node_size):
        widest = min(gpus // (t * p), seqs)
        terms = consider(t, p, widest)
        if terms is None:
            continue
        work, fixed = _split(terms, seqs, widest)
        d_star = best_width(work, fixed, failure_per_chip, t * p)
        if d_star < widest:  # the full width is not worth it: try the best narrower widths that fit
            low = max(1, math.floor(d_star))
            for d in {low, _narrowest_fitting(t, p, min(widest, low + 1), widest)}:
                consider(t, p, d)
    if best is not None:
        return best[1], best[2], True
    if fallback is None:  # unreachable: t = p = 1 is always a candidate
        raise ValueError("no layout")
    return fallback[1], fallback[2], False
