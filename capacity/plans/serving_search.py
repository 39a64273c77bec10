"""Search serving configurations: the throughput/interactivity frontier, and the fewest GPUs that meet a load.

Candidates are the replica layouts the model and chip allow — tensor parallel over 1–64 chips that divide
the attention heads and hold the weights, and for MoE models attention data parallel + expert parallel
(DEP) over 2–256 chips — each served aggregated or disaggregated (prefill and decode pools of the same
size), and for the frontier every batch on a geometric ladder up to the largest that fits. Every point is a
full :func:`capacity.estimate.serve.estimate_serving` run, so the frontier and the chosen plan carry the
same model as a single ``serve``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from capacity.core.errors import InputError
from capacity.data.assumptions import Assumptions, Efficiency, ServingDefaults
from capacity.estimate.serve import ServeEstimate, ServeRequest, estimate_serving

TP_SIZES = (1, 2, 4, 8, 16, 32, 64)
DEP_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
BATCH_STEPS = 16  # batches per layout on the frontier's geometric ladder


class FrontierPoint(BaseModel):
    """One operating point: per-GPU throughput against per-user speed, and the configuration."""

    model_config = ConfigDict(frozen=True)

    tokens_per_s_per_gpu: float
    tokens_per_s_per_user: float  # 1 / TPOT
    layout: str
    gpus_per_replica: int
    mode: str
    batch_size: int
    tpot_ms: float
    ttft_ms: float | None


class GpuChoice(BaseModel):
    """The fewest-GPU plan and every candidate tried (layout, mode, GPUs, whether it met the targets)."""

    model_config = ConfigDict(frozen=True)

    best: ServeEstimate
    candidates: list[dict[str, object]]


def _layouts(req: ServeRequest) -> list[ServeRequest]:
    """Every replica layout and serving mode worth trying for this model."""
    out = []
    modes = ("aggregated", "disaggregated")
    for g in TP_SIZES:
        if req.model.heads % g == 0:
            for mode in modes:
                serving = req.serving.model_copy(
                    update={"expert_parallel": None, "mode": mode, "prefill_gpus": None}
                )
                out.append(req.model_copy(update={"gpus_per_replica": g, "serving": serving}))
    if req.model.moe is not None:
        for g in DEP_SIZES:
            for mode in modes:
                serving = req.serving.model_copy(
                    update={"expert_parallel": g, "mode": mode, "prefill_gpus": None}
                )
                out.append(req.model_copy(update={"gpus_per_replica": None, "serving": serving}))
    return out


def _try(
    req: ServeRequest, a: Assumptions, e: Efficiency, d: ServingDefaults, why: list[str] | None = None
) -> ServeEstimate | None:
    try:
        return estimate_serving(req, a, e, d)
    except (
        InputError
    ) as exc:  # this layout cannot hold the model (or the chip cannot run it): not a candidate
        if why is not None:
            why.append(str(exc))
        return None


def frontier(req: ServeRequest, a: Assumptions, e: Efficiency, d: ServingDefaults) -> list[FrontierPoint]:
    """Pareto frontier of tokens/s per GPU against tokens/s per user over layouts, modes and batches.

    A disaggregated point counts one prefill instance of the decode replica's size with it (1P1D)."""
    base = req.model_copy(update={"traffic": None, "ttft_ms": None, "tpot_ms": None})
    points: list[FrontierPoint] = []
    why: list[str] = []
    for layout in _layouts(base):
        top = _try(layout, a, e, d, why)
        if top is None:
            continue
        ladder = sorted(
            {max(1, round(top.batch_size ** (i / (BATCH_STEPS - 1)))) for i in range(BATCH_STEPS)}
        )
        for b in ladder:
            est = top if b == top.batch_size else _try(layout.model_copy(update={"max_batch": b}), a, e, d)
            if est is None:
                continue
            gpus = est.gpus_per_replica + (est.prefill_gpus_per_instance or 0)
            # one prefill and one decode instance: the slower pool sets the rate
            qps = min(est.queries_per_s_per_replica, est.prefill_queries_per_s_per_instance or float("inf"))
            points.append(
                FrontierPoint(
                    tokens_per_s_per_gpu=qps * est.output_tokens / gpus,
                    tokens_per_s_per_user=1e3 / est.tpot_ms,
                    layout=est.layout,
                    gpus_per_replica=est.gpus_per_replica,
                    mode=est.mode,
                    batch_size=est.batch_size,
                    tpot_ms=est.tpot_ms,
                    ttft_ms=est.ttft_ms,
                )
            )
    if not points:
        reason = f" ({why[-1]})" if why else ""
        raise InputError(f"no layout of {req.chip.id} serves {req.model.id}{reason}")
    return pareto_front(points)


def pareto_front(points: list[FrontierPoint]) -> list[FrontierPoint]:
    """The points no other point beats on both axes, fastest per user first."""
    ranked = sorted(points, key=lambda p: (-p.tokens_per_s_per_user, -p.tokens_per_s_per_gpu))
    front: list[FrontierPoint] = []
    for p in ranked:
        if not front or p.tokens_per_s_per_gpu > front[-1].tokens_per_s_per_gpu:
            front.append(p)
    return front


def fewest_gpus(req: ServeRequest, a: Assumptions, e: Efficiency, d: ServingDefaults) -> GpuChoice:
    """The layout and mode that meet the traffic and latency targets on the fewest GPUs (ties: cheaper
    per query, then fewer GPUs per replica). When none meets them, the fewest-GPU miss (``slo_met`` false)."""
    if req.traffic is None:
        raise InputError("--optimize gpus needs traffic: give --qps, --queries-per-day or --visits-per-month")
    tried = [(layout, _try(layout, a, e, d)) for layout in _layouts(req)]
    candidates = [
        {"layout": est.layout, "mode": est.mode, "gpus": est.gpus, "slo_met": est.slo_met}
        for _, est in tried
        if est is not None
    ]
    estimates = [est for _, est in tried if est is not None]
    if not estimates:
        raise InputError(
            f"no layout of {req.chip.id} holds {req.model.id}; use lower precision or another chip"
        )
    feasible = [
        est for est in estimates if est.slo_met
    ] or estimates  # none meets them: the best miss, flagged
    best = min(feasible, key=lambda est: (est.gpus, est.cost_usd_per_query or 0.0, est.gpus_per_replica))
    return GpuChoice(best=best, candidates=candidates)
