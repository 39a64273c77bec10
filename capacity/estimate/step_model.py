"""The default training efficiency: MFU predicted from the model, the chip, the cluster and the layout.

    steady-state time per token = step time / tokens per step   (layout from :mod:`capacity.estimate.layout`,
                                                                 terms from
                                                                 :mod:`capacity.formulas.step_time`)
    wall time per token         = steady-state time / goodput   (:mod:`capacity.data.goodput`)
    MFU = 6·N_active / (wall time per token × GPUs × dense peak)

One code path for every job: nothing here depends on a model's, a run's, a framework's or a vendor's name.
Each constant is in ``specs/efficiency.yaml`` (``step_model`` and ``goodput``) with its source.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from capacity.core.errors import NoLayoutFits
from capacity.core.units import MEMORY_BYTES_PER_GB, TERA
from capacity.data.assumptions import Efficiency, load_assumptions
from capacity.data.calibration import Calibration
from capacity.data.efficiency import matmul_fraction, peak_tflops
from capacity.data.goodput import Goodput, failure_overhead, goodput
from capacity.estimate.layout import Search, rank_key, search
from capacity.estimate.layout_grid import micro_batches
from capacity.estimate.layout_job import Candidate, Job
from capacity.formulas import memory
from capacity.formulas.links import inter_node_gb_s, intra_node_gb_s, scale_up_domain
from capacity.formulas.shape import Shape
from capacity.formulas.step_time import ChipRates, Share
from capacity.records.chip import Chip, Dtype
from capacity.records.parallel import GradReduce, ParallelSpec, ResolvedParallel

FALLBACK_FLOP_PER_BYTE = 150.0  # A100's dense BF16 peak over its HBM bandwidth, for chips without a figure


TERM_LABELS: dict[str, Share] = {  # StepTerms field -> the share it is reported under
    "matmul": Share.MATMUL,
    "attention": Share.ATTENTION,
    "memory_bound": Share.MEMORY_BOUND,
    "optimizer": Share.MEMORY_BOUND,
    "tp_comm": Share.TENSOR_PARALLEL,
    "cp_comm": Share.CONTEXT_PARALLEL,
    "expert_comm": Share.EXPERT_ALL_TO_ALL,
    "pp_comm": Share.PIPELINE,
    "fsdp_comm": Share.FSDP,
    "bubble": Share.BUBBLE,
    "dp_comm_exposed": Share.DATA_PARALLEL,
}


class LayoutOption(BaseModel):
    """One layout of ``--layouts N``: its step time, memory and the term that limits it."""

    model_config = ConfigDict(frozen=True)

    parallel: ResolvedParallel
    step_time_s: float
    tokens_per_s_per_gpu: float
    memory_per_gpu_gb: float
    fits: bool
    limiting_term: str


class StepEstimate(BaseModel):
    """What the step model predicts for one job, and the layout it assumed."""

    model_config = ConfigDict(frozen=True)

    mfu: float  # 6·N_active·tokens / (GPUs × peak × wall time), against the job's precision
    steady_state_mfu: float  # the same at steady state (goodput 1)
    goodput: Goodput
    parallel: ResolvedParallel
    microbatches: float
    gpus_used: int
    global_batch_tokens: float
    step_time_s: float
    tokens_per_s_per_gpu: float  # steady state, per GPU of the job (idle ones included)
    memory_per_gpu_gb: dict[str, float]
    memory_fits: bool
    time_shares: dict[str, float]  # share of wall time per term; sums to 1
    layouts: list[LayoutOption]
    matmul_fraction: float
    matmul_source: str
    notes: list[str]

    @property
    def layout(self) -> str:
        q = self.parallel
        extra = "".join(f" x {k.upper()}{getattr(q, k)}" for k in ("cp", "ep", "vp") if getattr(q, k) > 1)
        bubble = self.time_shares.get(Share.BUBBLE, 0.0)
        return (
            f"TP{q.tp} x PP{q.pp} x DP{q.dp}{extra}, {q.sharding}, micro-batch {q.micro_batch}, "
            f"{self.microbatches:.0f} micro-batches per step, bubble {bubble:.0%} of time"
        )


def optimal_batch_tokens(training_flops: float, eff: Efficiency) -> float:
    """Compute-optimal global batch, B = 0.292 · C^0.3271 tokens (DeepSeek LLM, arXiv:2401.02954, §3.1).

    A team sizes its batch to the run's compute C; the data-parallel width cannot exceed B / s sequences.
    """
    sm = eff.step_model
    return float(sm.batch_size_coefficient.value * training_flops**sm.batch_size_exponent.value)


def chip_rates(
    chip: Chip, precision: Dtype, eff: Efficiency, calibration: Calibration | None, notes: list[str]
) -> tuple[ChipRates, float, str]:
    """Achievable rates of ``chip`` (rates, GEMM fraction at ``precision``, its source)."""
    sm = eff.step_model
    frac = matmul_fraction(chip, precision, eff, calibration)
    linear = peak_tflops(chip, precision) * TERA * frac.value
    wide: Dtype = "bf16" if precision == "fp8" else precision
    if wide == "bf16" and chip.dense_peak("bf16") is None:
        wide = "fp16"
    narrow = (
        linear
        if wide == precision
        else peak_tflops(chip, wide) * TERA * matmul_fraction(chip, wide, eff, calibration).value
    )
    hbm_eff = calibration.memory.fraction if calibration and calibration.memory else eff.hbm_efficiency.value
    if chip.memory_bandwidth_gb_s is None:
        notes.append(
            f"{chip.id}: no memory bandwidth known; assumed A100's {FALLBACK_FLOP_PER_BYTE:g} FLOP/byte"
        )
        peak16 = chip.dense_peak("bf16") or chip.dense_peak("fp16") or peak_tflops(chip, precision)
        hbm = peak16 * TERA / FALLBACK_FLOP_PER_BYTE  # against a 16-bit peak, like A100's 312
    else:
        hbm = chip.memory_bandwidth_gb_s * 1e9
    intra, w1 = intra_node_gb_s(chip)
    domain, beyond = scale_up_domain(chip)
    inter, w2 = inter_node_gb_s(chip)
    notes.extend(w for w in (w1, w2) if w)
    kernels = sm.training_kernel_efficiency.value  # in-training kernels vs the best microbenchmark
    rates = ChipRates(
        linear_flop_s=linear * kernels,
        bf16_flop_s=narrow * kernels,
        attention_fraction=sm.attention_fraction_of_gemm.value,
        hbm_bytes_s=hbm * hbm_eff * kernels,
        intra_bytes_s=intra * 1e9 * eff.link_efficiency.value,
        domain=domain,
        mesh_peers=(domain or 1) - 1 if chip.intra_node.topology == "full-mesh" else 0,
        beyond_domain_bytes_s=beyond * 1e9 * eff.link_efficiency.value,
        inter_bytes_s=inter * 1e9 * sm.network_efficiency.value,
        gemm_half_size=sm.gemm_half_size.value,
        fp8_casts=precision == "fp8",
    )
    return rates, frac.value, frac.source


def _full_may_win(found: Search, seq_len: int) -> bool:
    """Whether full recomputation could beat the best selective layout. Recomputing costs one more forward
    pass and saves only memory, so it can win only by unlocking a layout that memory ruled out: when
    nothing fits, or when the selective winner splits the model at all (tensor, pipeline or context
    parallelism, ZeRO-2/3, fewer than the largest micro-batch), since a less split layout might then fit."""
    best = found.best
    if not best.fits:
        return True
    lay = best.layout
    unsplit = lay.tp == 1 and lay.pp == 1 and lay.cp == 1 and lay.sharding in ("none", "zero1")
    return not (unsplit and lay.micro_batch >= max(micro_batches(seq_len)))


def _better(a: Search, b: Search) -> Search:
    """Both searches' layouts in one ranking, by the same rule as each search (fitting ones by time per
    token to 0.1 %, then the simpler; then those that miss memory, by how much)."""

    def key(c: Candidate) -> tuple[bool, tuple[float, ...]]:
        return (not c.fits, tuple(rank_key(c)) if c.fits else (c.memory.total,))

    merged = sorted([*a.ranked, *b.ranked], key=key)
    return Search(ranked=merged[: max(len(a.ranked), len(b.ranked))])


def _option(c: Candidate, seq_len: int, gpus: int, grad_reduce: GradReduce) -> LayoutOption:
    lay = c.layout
    tokens = lay.microbatches * lay.dp * lay.micro_batch * seq_len
    return LayoutOption(
        parallel=lay.resolved(grad_reduce),
        step_time_s=c.terms.total,
        tokens_per_s_per_gpu=tokens / (c.terms.total * gpus),
        memory_per_gpu_gb=c.memory.total / 1e9,
        fits=c.fits,
        limiting_term=TERM_LABELS[c.terms.limiting],
    )


def predict(
    sh: Shape,
    n_total: float,
    n_active: float,
    chip: Chip,
    precision: Dtype,
    gpus: int,
    node_size: int,
    eff: Efficiency,
    *,
    tokens: float,
    calibration: Calibration | None = None,
    parallel: ParallelSpec | None = None,
    usable_memory_fraction: float = 0.9,
    batch_tokens: float | None = None,
    layouts: int = 1,
    state_bytes_per_param: float | None = None,
    closest_misses: bool = True,
) -> StepEstimate:
    """Predict the steady state, goodput and wall-clock MFU of training ``sh`` on ``gpus`` × ``chip``.

    Where no layout fits, the fastest of those that miss memory by least is returned (``memory_fits``
    false), or, without ``closest_misses``, :class:`NoLayoutFits` is raised (cheaper: a solve over chip
    counts needs only whether a count fits)."""
    sm = eff.step_model
    pin = parallel or ParallelSpec()
    usable_frac = usable_memory_fraction
    if state_bytes_per_param is None:  # weights + gradients + optimizer states, specs/assumptions.yaml
        state_bytes_per_param = load_assumptions().optimizer_bytes_per_param.value
    # the part ZeRO-1 shards: what is left after the 16-bit weights and the fp32 main gradients; with
    # bf16 gradients the distributed optimizer keeps an fp32 copy of its shard's (Megatron-LM's
    # distributed optimizer guide: 4 + 16/d bytes per parameter for 16-bit weights and gradients)
    optimizer_bytes = state_bytes_per_param - memory.WEIGHT_BYTES - memory.GRADIENT_BYTES
    gradient_bytes = memory.GRADIENT_BYTES
    if pin.grad_reduce == "bf16":
        optimizer_bytes += memory.GRADIENT_BYTES
        gradient_bytes = memory.GRADIENT_BYTES_BF16
    notes: list[str] = []
    rates, frac, frac_source = chip_rates(chip, precision, eff, calibration, notes)
    batch = batch_tokens or optimal_batch_tokens(6.0 * n_active * tokens, eff)
    job = Job(
        sh=sh, n_total=n_total, n_active=n_active, gpus=gpus, node_size=node_size, rates=rates,
        seqs=max(1, round(batch / sh.seq_len)),
        memory_bytes=None if chip.memory_gb is None else chip.memory_gb * MEMORY_BYTES_PER_GB * usable_frac,
        optimizer_bytes_per_param=optimizer_bytes,
        optimizer_step_bytes_per_param=sm.optimizer_step_bytes_per_param.value,
        elementwise_passes=sm.elementwise_passes.value,
        loss_bytes_per_vocab=sm.loss_bytes_per_vocab.value,
        failure_per_chip=failure_overhead(eff.goodput, 1),
        gradient_bytes=gradient_bytes, precision=precision,
    )  # fmt: skip
    if pin.recompute is not None:
        found = search(job, pin, pin.recompute, keep=layouts, closest_misses=closest_misses)
    else:  # what a team does: recompute everything when that is faster or the only way to fit
        found = search(job, pin, "selective", keep=layouts, closest_misses=closest_misses)
        if not found.ranked or _full_may_win(found, sh.seq_len):  # only layouts that could beat these
            beat = found.best.per_token_s if found.ranked and found.best.fits and layouts == 1 else math.inf
            found = _better(
                found, search(job, pin, "full", keep=layouts, beat=beat, closest_misses=closest_misses)
            )
    if not found.ranked:
        raise NoLayoutFits(f"no layout of {gpus} x {chip.id} fits the job in memory")
    if pin.recompute is None and found.best.layout.full_recompute:
        notes.append(
            "full activation recomputation assumed, the faster (or the only) way to fit; its extra "
            "forward pass is in the step time (pass --recompute full to count it in HFU, or pin another)"
        )
    best = found.best
    lay, terms = best.layout, best.terms
    used = lay.chips
    tokens_per_step = lay.microbatches * lay.dp * lay.micro_batch * sh.seq_len
    good = goodput(eff.goodput, used)
    steady = terms.total
    wall = steady / good.goodput
    peak = peak_tflops(chip, precision) * TERA
    shares: dict[str, float] = {}
    for name, label in TERM_LABELS.items():
        shares[label] = shares.get(label, 0.0) + getattr(terms, name) / wall
    shares.update(
        {Share.FAILURES: good.failures, Share.CHECKPOINTS: good.checkpoints, Share.OTHER_PAUSES: good.other}
    )
    if gpus - used >= lay.tp * lay.pp * lay.cp:  # a whole replica's worth of chips idle
        notes.append(
            f"only {used} of {gpus} chips have work: a {batch / 1e6:.3g}M-token batch of {sh.seq_len}-token "
            "sequences gives each data-parallel replica at least one micro-batch "
            "(more would only add failures)"
        )
    if not best.fits:
        notes.append(
            f"no layout of {gpus} x {chip.id} fits the job in memory (the closest needs "
            f"{best.memory.total / 1e9:,.1f} GB per chip); the fastest one is shown"
        )
    return StepEstimate(
        mfu=6.0 * n_active * tokens_per_step / (wall * gpus * peak),
        steady_state_mfu=6.0 * n_active * tokens_per_step / (steady * gpus * peak),
        goodput=good,
        parallel=lay.resolved(pin.grad_reduce or "fp32"),
        microbatches=lay.microbatches,
        gpus_used=used,
        global_batch_tokens=float(tokens_per_step),
        step_time_s=steady,
        tokens_per_s_per_gpu=tokens_per_step / (steady * gpus),
        memory_per_gpu_gb=best.memory.gb(),
        memory_fits=best.fits,
        time_shares={k: v for k, v in shares.items() if v > 0},
        layouts=[_option(c, sh.seq_len, gpus, pin.grad_reduce or "fp32") for c in found.ranked],
        matmul_fraction=frac,
        matmul_source=frac_source,
        notes=notes,
    )
