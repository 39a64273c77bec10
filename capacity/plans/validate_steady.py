"""Validate the step-time model on published steady-state throughputs (``specs/steady_state/``).

Each record gives a chip, a chip count, a model, a sequence length, a global batch, the layout the team
used and the measured tokens per second per GPU. The model predicts it three ways:

* **published layout**: everything the record gives is pinned (tp, pp, dp, cp, ep, vp, micro-batch,
  sharding, recomputation where stated) — this tests the step-time terms themselves;
* **own layout**: only the chips, the batch and the sequence length are given; the planner searches;
* **flat baseline**: a flat MFU (``flat_baseline_mfu``) of the dense peak at the record's precision,
  tokens/s = MFU · peak / (6·N_active), what a peer tool without a step model assumes.

Sources are split into a fitting and a held-out set in ``specs/efficiency.yaml``
(``steady_state_sets``), decided by source before any constant was set, and reported apart.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from capacity.core.errors import InputError
from capacity.core.memo import same_arguments
from capacity.core.parallel import ordered_map
from capacity.core.units import TERA
from capacity.data.assumptions import Efficiency
from capacity.data.catalog import load_chips
from capacity.data.efficiency import peak_tflops
from capacity.data.steady_spec import SteadyRun, steady_model
from capacity.estimate.step_model import predict
from capacity.formulas import shape
from capacity.records.parallel import ParallelSpec

NODE_SIZE = 8  # every record is on 8-GPU HGX/DGX nodes


class SteadyCheck(BaseModel):
    """One record: measured and predicted tokens/s per GPU."""

    model_config = ConfigDict(frozen=True)

    id: str
    source_group: str
    in_fit: bool
    chip: str
    chips: int
    model: str
    precision: str
    published_layout: str
    measured: float
    predicted: float | None
    error: float | None  # predicted / measured − 1
    own: float | None
    own_error: float | None
    own_layout: str | None
    baseline: float
    baseline_error: float
    limiting_term: str | None
    skipped: str | None = None


class SteadySummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    group: str
    rows: int
    median_abs_error: float
    worst_ratio: float  # max(pred/meas, meas/pred)
    bias: float  # median signed error
    own_median_abs_error: float
    own_slower_than_published: int
    baseline_median_abs_error: float


def error_ratio(err: float) -> float:
    """How many times off a relative error is, either way: +100% and -50% are both 2x."""
    return max(1.0 + err, 1.0 / (1.0 + err))


def summarise(group: str, checks: Iterable[SteadyCheck]) -> SteadySummary | None:
    rows = [c for c in checks if c.error is not None]
    if not rows:
        return None
    errs = [c.error for c in rows if c.error is not None]
    own = [abs(c.own_error) for c in rows if c.own_error is not None]
    return SteadySummary(
        group=group,
        rows=len(rows),
        median_abs_error=statistics.median(abs(e) for e in errs),
        worst_ratio=max(error_ratio(e) for e in errs),
        bias=statistics.median(errs),
        own_median_abs_error=statistics.median(own) if own else math.nan,
        own_slower_than_published=sum(
            1 for c in rows if c.own is not None and c.predicted is not None and c.own < c.predicted * 0.999
        ),
        baseline_median_abs_error=statistics.median(abs(c.baseline_error) for c in rows),
    )


def published_spec(run: SteadyRun) -> ParallelSpec:
    p = run.parallel
    return ParallelSpec(
        tp=p.tp, pp=p.pp, dp=p.dp, cp=p.cp, ep=p.ep, vp=p.vp, micro_batch=run.micro_batch,
        sharding=p.sharding, recompute=run.recompute, grad_reduce=p.grad_reduce,
    )  # fmt: skip


def check(run: SteadyRun, eff: Efficiency, in_fit: bool, own: bool = True) -> SteadyCheck:
    """Predict one record with the published layout, with the planner's own, and by the flat baseline."""
    chip = load_chips().get(run.chip)
    m = steady_model(run)
    sh = shape.from_preset(m, run.seq_len)
    spec = published_spec(run)
    peak = peak_tflops(chip, run.precision) * TERA
    baseline = eff.flat_baseline_mfu.value * peak / (6.0 * m.n_active)
    measured = run.measured.tokens_per_s_per_gpu
    base = SteadyCheck(
        id=run.id, source_group=run.source_group, in_fit=in_fit, chip=run.chip, chips=run.chips,
        model=run.model or run.model_name, precision=run.precision, published_layout=spec.describe(),
        measured=measured, predicted=None, error=None, own=None, own_error=None, own_layout=None,
        baseline=baseline, baseline_error=baseline / measured - 1.0, limiting_term=None,
    )  # fmt: skip

    def run_model(pin: ParallelSpec) -> tuple[float, str, str]:
        est = predict(
            sh, m.params, m.n_active, chip, run.precision, run.chips, NODE_SIZE, eff, tokens=1.0,
            parallel=pin, batch_tokens=float(run.global_batch_tokens),
        )  # fmt: skip
        return est.tokens_per_s_per_gpu, est.layout, est.layouts[0].limiting_term

    try:
        predicted, _, limiting = run_model(spec)
    except InputError as exc:
        return base.model_copy(update={"skipped": str(exc)})
    update: dict[str, object] = {
        "predicted": predicted,
        "error": predicted / measured - 1.0,
        "limiting_term": limiting,
    }
    if own:
        # the planner's own layout for the same run: only the gradient precision, not a layout choice, kept
        mine, layout, _ = run_model(ParallelSpec(grad_reduce=run.parallel.grad_reduce))
        update.update({"own": mine, "own_error": mine / measured - 1.0, "own_layout": layout})
    return base.model_copy(update=update)


class SteadyReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    checks: list[SteadyCheck]
    groups: list[SteadySummary]
    fitting: SteadySummary | None
    held_out: SteadySummary | None
    baseline_mfu: float


@same_arguments
def validate_steady(runs: Iterable[SteadyRun], eff: Efficiency) -> SteadyReport:
    """Every record predicted with its published layout (and the planner's own), summarised by source."""
    sets = eff.steady_state_sets
    checks = ordered_map(lambda r: check(r, eff, r.source_group in sets.fitting), list(runs))
    groups = [
        s
        for g in dict.fromkeys(c.source_group for c in checks)
        if (s := summarise(g, (c for c in checks if c.source_group == g))) is not None
    ]
    return SteadyReport(
        checks=checks,
        groups=groups,
        fitting=summarise("fitting sources", (c for c in checks if c.in_fit)),
        held_out=summarise("held-out sources", (c for c in checks if c.source_group in sets.held_out)),
        baseline_mfu=eff.flat_baseline_mfu.value,
    )


def fit_kernel_efficiency(runs: Iterable[SteadyRun]) -> tuple[float, float, float]:
    """(k, median signed error at the stored k, at the fitted k) over the fitting sources only.

    Kernel time scales as 1/k and the rest of a step does not, so the median error rises with k; a
    bisection on k in [0.3, 1.5] finds the zero of the median signed error.
    """
    from capacity.data.assumptions import load_efficiency

    eff = load_efficiency()
    fit = [r for r in runs if r.source_group in eff.steady_state_sets.fitting]

    def median_error(k: float) -> float:
        sm = eff.step_model
        tuned = eff.model_copy(
            update={
                "step_model": sm.model_copy(
                    update={
                        "training_kernel_efficiency": sm.training_kernel_efficiency.model_copy(
                            update={"value": k}
                        )
                    }
                )
            }
        )
        errs = [c.error for r in fit if (c := check(r, tuned, True, own=False)).error is not None]
        return statistics.median(errs)

    lo, hi = 0.3, 1.5
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if median_error(mid) < 0 else (lo, mid)
    k = (lo + hi) / 2
    return k, median_error(eff.step_model.training_kernel_efficiency.value), median_error(k)
