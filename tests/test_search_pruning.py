"""The layout search passes over groups that cannot fit (capacity/estimate/layout.py): the least memory of a
group bounds every layout in it, and passing those groups over changes no answer."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from capacity.core.errors import NoLayoutFits
from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips, load_models
from capacity.estimate import layout, layout_floors, layout_grid, layout_job
from capacity.estimate.requests import training_request
from capacity.estimate.train_step import modelled_step
from capacity.formulas import memory, shape
from capacity.records.parallel import Layout, ParallelSpec

A, EFF = load_assumptions(), load_efficiency()
MODELS = load_models()


def job_for(model: str, chip: str, gpus: int, tokens: float = 2e12) -> layout_job.Job:
    """The search's job for a preset on a chip, built as the step model builds it."""
    captured: list[layout_job.Job] = []
    original = layout.search

    def spy(job: layout_job.Job, *args: object, **kw: object) -> layout.Search:
        captured.append(job)
        return original(job, *args, **kw)  # type: ignore[arg-type]

    layout_search = "capacity.estimate.step_model.search"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(layout_search, spy)
        modelled_step(training_request(model=model, chip=chip, gpus=gpus, tokens=tokens), A, EFF, gpus)
    return captured[0]


@settings(max_examples=60)
@given(
    model=st.sampled_from(["llama2-70b", "deepseek-v3", "mixtral-8x7b", "llama3.1-405b"]),
    t=st.sampled_from([1, 2, 4, 8]),
    p=st.sampled_from([1, 2, 4, 8]),
    c=st.sampled_from([1, 2]),
    v=st.sampled_from([1, 2]),
    b=st.sampled_from([1, 2, 4]),
    shard=st.sampled_from(["zero1", "zero3"]),
    d=st.integers(min_value=1, max_value=4096),
    e_shift=st.integers(min_value=0, max_value=8),
    m=st.floats(min_value=1.0, max_value=512.0),
    recompute=st.sampled_from(["selective", "full"]),
)
def test_a_groups_least_memory_bounds_every_layout_in_it(
    model: str, t: int, p: int, c: int, v: int, b: int, shard: str, d: int, e_shift: int, m: float,
    recompute: str,
) -> None:  # fmt: skip
    """Any width d, expert width e dividing E and micro-batches m ≥ 1 hold at least the group's least."""
    preset = MODELS.get(model)
    sh = shape.from_preset(preset, 4096)
    if v > 1 and p == 1:
        v = 1
    experts = sh.experts
    e = 1 if not experts else max(1, experts >> e_shift)
    job = layout_job.Job(
        sh=sh, n_total=preset.params, n_active=preset.n_active, gpus=10**6, node_size=8,
        rates=None, seqs=10**6, memory_bytes=80e9, optimizer_bytes_per_param=12.0,  # type: ignore[arg-type]
        optimizer_step_bytes_per_param=16.0, elementwise_passes=8.0, loss_bytes_per_vocab=10.0,
        failure_per_chip=0.0,
    )  # fmt: skip
    lay = Layout(
        tp=t, pp=p, dp=d, ep=e, microbatches=m, node_size=8, cp=c, vp=v, micro_batch=b,
        sharding=shard, recompute=recompute,  # type: ignore[arg-type]
    )  # fmt: skip
    least = layout_floors.least_memory(job, ParallelSpec(), recompute, t, p, c, v, b, shard)  # type: ignore[arg-type]
    assert memory.per_gpu(sh, preset.params, lay, 12.0).total >= least * (1 - 1e-12)


@pytest.mark.parametrize(
    ("model", "chip", "gpus"),
    [
        ("llama3.1-405b", "h100", 1024),
        ("llama3.1-405b", "a100", 16384),
        ("deepseek-v3", "h100", 2048),
        ("llama2-70b", "v100", 64),
        ("gpt3-175b", "a100-sxm4-40gb", 96),
    ],
)
@pytest.mark.parametrize("recompute", ["selective", "full"])
def test_passing_over_groups_that_cannot_fit_changes_no_answer(
    model: str, chip: str, gpus: int, recompute: str
) -> None:
    job = job_for(model, chip, gpus)
    fast = layout.search(job, ParallelSpec(), recompute, keep=3)  # type: ignore[arg-type]
    every = layout.search(job, ParallelSpec(), recompute, keep=3, every_group=True)  # type: ignore[arg-type]
    assert [c.layout for c in fast.ranked] == [c.layout for c in every.ranked]
    assert [c.per_token_s for c in fast.ranked] == [c.per_token_s for c in every.ranked]


def test_where_nothing_fits_the_closest_miss_or_a_clear_signal() -> None:
    """405B on 8 V100s: the report shows the layout that misses by least; a solve over chip counts, which
    asks only whether a count fits, gets NoLayoutFits instead (and does not search every group twice)."""
    req = training_request(model="llama3.1-405b", chip="v100", gpus=8, tokens=1e12)
    shown = modelled_step(req, A, EFF, 8)
    assert not shown.memory_fits and shown.memory_per_gpu_gb["total"] > 32
    with pytest.raises(NoLayoutFits):
        modelled_step(req, A, EFF, 8, closest_misses=False)
    assert modelled_step(req, A, EFF, 512, closest_misses=False).memory_fits


def test_the_chip_memory_is_what_separates_fitting_groups() -> None:
    """The same group fits an H200's 141 GB and not a V100's 32 GB: the least memory is the chip's test."""
    job = job_for("llama2-70b", "h200", 64)
    least = layout_floors.least_memory(job, ParallelSpec(), "selective", 4, 1, 1, 1, 1, "zero1")
    v100 = load_chips().get("v100").memory_gb * memory.MEMORY_BYTES_PER_GB * 0.9  # type: ignore[operator]
    assert v100 < least < job.memory_bytes  # type: ignore[operator]
    assert math.isfinite(least)


JOBS = {
    key: job_for(*key)
    for key in [
        ("deepseek-v3", "h100-nvl-94gb", 24888),
        ("llama3.1-405b", "a100", 4096),
        ("mixtral-8x7b", "mi300x", 512),
    ]
}


@settings(max_examples=80, deadline=None)
@given(
    key=st.sampled_from(sorted(JOBS)),
    t=st.sampled_from([1, 2, 4, 8]),
    p=st.sampled_from([1, 2, 3, 8, 61]),
    c=st.sampled_from([1, 2]),
    v=st.sampled_from([1, 2]),
    b=st.sampled_from([1, 2, 4]),
    shard=st.sampled_from(["zero1", "zero3", "none"]),
    d=st.integers(min_value=1, max_value=4096),
    e_shift=st.integers(min_value=0, max_value=8),
    recompute=st.sampled_from(["selective", "full"]),
)
def test_a_layouts_bound_is_below_its_score(
    key: tuple[str, str, int], t: int, p: int, c: int, v: int, b: int, shard: str, d: int, e_shift: int,
    recompute: str,
) -> None:  # fmt: skip
    """The search passes over a layout whose bound (kernels, tensor/context collectives and all-to-all
    over m micro-batches and the bubble, with failures) cannot beat those kept: that bound never exceeds
    the layout's scored time per token, whatever it adds (pipeline sends, sharding, the reduction)."""
    job = JOBS[key]
    if v > 1 and p == 1:
        v = 1
    experts = job.sh.experts
    e = 1 if not experts else max(1, experts >> e_shift)
    lay = Layout(
        tp=t, pp=min(p, job.sh.layers), dp=d, ep=e, microbatches=max(1.0, job.seqs / (d * b)), node_size=8,
        cp=c, vp=v, micro_batch=b, sharding=shard, recompute=recompute,  # type: ignore[arg-type]
    )  # fmt: skip
    bound, scored = job.least_per_token(lay), job.score(lay).per_token_s
    assert 0 < bound <= scored * (1 + 1e-12)
    if t == 1 and p == 1 and c == 1 and d == 1 and not experts:
        assert bound == pytest.approx(scored, rel=0.05)  # one chip: only the optimizer step is not bounded


@settings(max_examples=80, deadline=None)
@given(
    key=st.sampled_from(sorted(JOBS)),
    t=st.sampled_from([1, 2, 4, 8]),
    p=st.sampled_from([1, 2, 3, 8, 61]),
    c=st.sampled_from([1, 2]),
    d=st.integers(min_value=1, max_value=4096),
    e_shift=st.integers(min_value=0, max_value=8),
    shard=st.sampled_from(["zero1", "zero2", "zero3", "none"]),
)
def test_a_layout_holds_at_least_its_share_of_the_states(
    key: tuple[str, str, int], t: int, p: int, c: int, d: int, e_shift: int, shard: str
) -> None:
    """Job.too_few_chips sends a search straight to the closest misses when the gradients and optimizer
    states of all N parameters, spread evenly over the chips, already overflow one: that is a floor of
    every layout's memory, whatever its widths and sharding."""
    job = JOBS[key]
    experts = job.sh.experts
    e = 1 if not experts else math.gcd(max(1, experts >> e_shift), d * c)
    lay = Layout(
        tp=t, pp=min(p, job.sh.layers), dp=d, ep=e, microbatches=4.0, node_size=8, cp=c,
        sharding=shard,  # type: ignore[arg-type]
    )  # fmt: skip
    mem = job.memory_of(lay)
    share = (job.gradient_bytes + job.optimizer_bytes_per_param) * job.n_total / lay.chips
    assert mem.gradients + mem.optimizer >= share * (1 - 1e-12)


@pytest.mark.parametrize(
    ("model", "chip", "gpus"),
    [("llama3.1-405b", "v100", 8), ("llama2-70b", "v100", 32), ("deepseek-v3", "a100", 64)],
)
def test_where_nothing_fits_the_quick_pass_finds_the_exhaustive_closest_misses(
    model: str, chip: str, gpus: int
) -> None:
    """The closest-miss pass visits groups least memory first and stops at the first that cannot beat
    the misses kept: the same misses as visiting every group in bound order."""
    job = job_for(model, chip, gpus)
    quick = layout.search(job, ParallelSpec(), "selective", keep=3)
    slow = layout.search(job, ParallelSpec(), "selective", keep=3, every_group=True)
    assert not quick.best.fits and [c.layout for c in quick.ranked] == [c.layout for c in slow.ranked]
    assert [c.memory.total for c in quick.ranked] == sorted(c.memory.total for c in slow.ranked)


@pytest.mark.parametrize(
    ("model", "chip", "gpus"), [("llama2-70b", "h100", 1024), ("deepseek-v3", "h800", 2048)]
)
def test_groups_come_least_bound_first_and_all_of_them(model: str, chip: str, gpus: int) -> None:
    """Families enter the queue under one bound and are split when reached: every group with a replica's
    worth of chips still comes out once, in order of bound."""
    job = job_for(model, chip, gpus)
    visited = list(layout_grid.Groups(job, ParallelSpec(), "selective", None))
    bounds = [g[0] for g in visited]
    assert bounds == sorted(bounds)
    expected = {
        (t, p, c, v, b, shard)
        for t, p, c, v, b, shard in layout_grid.grid(job.sh, job.node_size, ParallelSpec())
        if t * p * c <= gpus
        and min(gpus // (t * p * c), job.seqs // b, job.seqs // (b * p) if v > 1 else gpus) >= 1
    }
    assert [g[1:7] for g in visited] == list(dict.fromkeys(g[1:7] for g in visited))
    assert {g[1:7] for g in visited} == expected


# a group (t, p, c, v, b) of one of JOBS, drawn by the bound tests below
GROUP = {
    "key": st.sampled_from(sorted(JOBS)),
    "t": st.sampled_from([1, 2, 4, 8]),
    "p": st.sampled_from([1, 2, 3, 8, 61]),
    "c": st.sampled_from([1, 2]),
    "v": st.sampled_from([1, 2]),
    "b": st.sampled_from([1, 2]),
    "e_shift": st.integers(min_value=0, max_value=8),
}


def in_range(job: layout_job.Job, p: int, v: int) -> tuple[int, int]:
    """(p, v) of a group the grid can hold: at most L stages, interleaving only with a pipeline."""
    p = min(p, job.sh.layers)
    return p, 1 if p == 1 else v


def layout_at(
    job: layout_job.Job, t: int, p: int, c: int, v: int, b: int, d: int, e_shift: int, shard: str,
    recompute: str,
) -> Layout:  # fmt: skip
    """The group's layout at width d, with an expert width that divides E and d·c."""
    experts = job.sh.experts
    e = 1 if not experts else math.gcd(max(1, experts >> e_shift), d * c)
    return Layout(
        tp=t, pp=p, dp=d, ep=e, microbatches=job.seqs / (d * b), node_size=job.node_size, cp=c, vp=v,
        micro_batch=b, sharding=shard, recompute=recompute,  # type: ignore[arg-type]
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    **GROUP,
    at=st.floats(min_value=0.0, max_value=1.0),
    recompute=st.sampled_from(["selective", "full"]),
    pinned=st.booleans(),
    shard=st.sampled_from(["zero1", "zero3"]),
)
def test_a_sharded_groups_bound_is_below_every_layout_in_it(
    key: tuple[str, str, int], t: int, p: int, c: int, v: int, b: int, at: float, e_shift: int,
    recompute: str, pinned: bool, shard: str,
) -> None:  # fmt: skip
    """A ZeRO-1 or ZeRO-3 group is visited under a bound that counts the data-parallel traffic no width
    hides (ZeRO-3's all-gathers and reduce-scatter each micro-batch, ZeRO-1's once a step, against the
    kernels): no layout of the group, at any width up to the group's widest or at a pinned width, and any
    expert width, is faster."""
    job = JOBS[key]
    p, v = in_range(job, p, v)
    widest = layout_grid.Groups(job, ParallelSpec(), recompute, None)._widest(t, p, c, v, b)  # type: ignore[arg-type]
    assume(widest >= 1)
    d = max(1, round(widest * at))  # any width of the group, or the one pinned
    visit = layout_grid.Groups(job, ParallelSpec(dp=d) if pinned else ParallelSpec(), recompute, None)  # type: ignore[arg-type]
    base = visit._bound(t, p, c, v, b, job.sh.stage_share(p), widest)
    bound = visit._sharded(t, p, c, v, b, job.sh.stage_share(p), widest, base, shard)  # type: ignore[arg-type]
    lay = layout_at(job, t, p, c, v, b, d, e_shift, shard, recompute)
    assert base <= bound <= job.score(lay).per_token_s * (1 + 1e-12)
    group = (base, t, p, c, v, b, shard, widest)
    for cutoff in (base * 0.99, (base + bound) / 2, bound * 0.999999, bound * 1.000001):
        assert visit.slower_than(group, cutoff) == (bound > cutoff)  # ZeRO-1's shortcut hides no prune


@settings(max_examples=200, deadline=None)
@given(**GROUP, low_at=st.floats(min_value=0.0, max_value=1.0), at=st.floats(min_value=0.0, max_value=1.0))
# the least of the bound inside the range, not at the widest: a deep pipeline's bubble against failures
@example(key=("deepseek-v3", "h100-nvl-94gb", 24888), t=1, p=61, c=1, v=1, b=2, e_shift=0, low_at=0.0, at=0.5)
def test_the_narrower_widths_bound_is_below_them(
    key: tuple[str, str, int], t: int, p: int, c: int, v: int, b: int, low_at: float, at: float, e_shift: int
) -> None:
    """The search tries widths narrower than the widest (where failures make fewer replicas faster) only
    where their bound can rank: no layout of the group at a width from ``low`` to the widest beats it."""
    job = JOBS[key]
    p, v = in_range(job, p, v)
    visit = layout_grid.Groups(job, ParallelSpec(), "selective", None)
    widest = visit._widest(t, p, c, v, b)
    assume(widest >= 1)
    low = max(1, round(widest * low_at))
    d = low + round((widest - low) * at)
    group = (visit._bound(t, p, c, v, b, job.sh.stage_share(p), widest), t, p, c, v, b, "zero1", widest)
    lay = layout_at(job, t, p, c, v, b, d, e_shift, "zero1", "selective")
    assert layout._narrower(job, group, low) <= job.least_per_token(lay) * (1 + 1e-12)  # type: ignore[arg-type]
