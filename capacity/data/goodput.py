"""Goodput: the share of a training run's wall-clock time that makes progress, apart from steady state.

    wall time = steady-state time × (1 + λ·G·t_lost) / ((1 − checkpoint share) · (1 − other share))

* failures: λ interruptions per GPU-hour on G chips, each costing t_lost hours = restart and reload time
  + the work since the last checkpoint (half an interval on average);
* checkpoint stalls: the share of time the job waits while a checkpoint is written;
* other pauses: evaluation, data stalls, stragglers and slow steps, as one published share.

Each constant is in ``specs/efficiency.yaml`` (``goodput``) with its source. Steady state
(:mod:`capacity.formulas.step_time`) has no catch-all factor: what slows a step is a named term there, and
what stops the run is here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from capacity.data.assumptions import GoodputConstants


class Goodput(BaseModel):
    """The goodput of one run and its parts (each a fraction of wall time, summing with progress to 1)."""

    model_config = ConfigDict(frozen=True)

    goodput: float  # progress / wall time
    failures: float
    checkpoints: float
    other: float


def hours_lost_per_failure(g: GoodputConstants) -> float:
    """t_lost = restart + reload time + half a checkpoint interval of recomputed work."""
    return g.restart_hours.value + g.checkpoint_interval_hours.value / 2.0


def failure_overhead(g: GoodputConstants, gpus: int) -> float:
    """λ·G·t_lost: wall time added by interruptions per unit of progress time."""
    return g.failures_per_gpu_hour.value * gpus * hours_lost_per_failure(g)


def goodput(g: GoodputConstants, gpus: int) -> Goodput:
    """Goodput of a run on ``gpus`` chips (see the module docstring)."""
    fail = failure_overhead(g, gpus)
    keep = (1.0 - g.checkpoint_stall_share.value) * (1.0 - g.other_pause_share.value)
    good = keep / (1.0 + fail)
    fail_share = fail / (1.0 + fail) * keep
    ckpt_share = g.checkpoint_stall_share.value
    return Goodput(
        goodput=good, failures=fail_share, checkpoints=ckpt_share, other=1.0 - good - fail_share - ckpt_share
    )
