"""The least memory per chip of each group of the layout search (:mod:`capacity.estimate.layout_grid`), by
which the search passes over the groups that cannot fit: kept between searches of the same model, since it
depends on neither the chip count, the batch nor the chip's memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from capacity.records.parallel import Layout, ParallelSpec, Recompute, Sharding

if TYPE_CHECKING:
    from capacity.estimate.layout_job import Job

MAX_SHARED = 512  # models (or model and chip pairs) whose grids, floors and kernel tables are kept


@dataclass
class Floors:
    """:func:`least_memory` of each group (t, p, c, v, b, sharding) and the least of each family (t, p, c,
    b), shared by every search of the same model, memory model and pins: they depend on neither the chip
    count, the batch nor the chip's memory."""

    groups: dict[tuple[int, int, int, int, int, Sharding], float] = field(default_factory=dict)
    families: dict[tuple[int, int, int, int], float] = field(default_factory=dict)

    def of(
        self, job: Job, pin: ParallelSpec, recompute: Recompute, t: int, p: int, c: int, v: int, b: int,
        shard: Sharding,
    ) -> float:  # fmt: skip
        """:func:`least_memory` of the group, computed once."""
        if (t, p, c, v, b, shard) not in self.groups:
            self.groups[t, p, c, v, b, shard] = least_memory(job, pin, recompute, t, p, c, v, b, shard)
        return self.groups[t, p, c, v, b, shard]


FLOORS: dict[tuple[object, ...], Floors] = {}


def floor_table(job: Job, pin: ParallelSpec, recompute: Recompute) -> Floors:
    """The :class:`Floors` of this model, memory model and pins."""
    if len(FLOORS) > MAX_SHARED:
        FLOORS.clear()
    key = (
        job.sh, job.n_total, job.optimizer_bytes_per_param, job.gradient_bytes, job.precision, pin.ep,
        recompute,
    )  # fmt: skip
    return FLOORS.setdefault(key, Floors())


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
