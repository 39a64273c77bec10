"""The job a layout search scores layouts for (:mod:`capacity.estimate.layout`): the model, chips, batch and
memory, each layout's score (step time per token with failures, memory, fit), and the lower bounds the search
prunes by: the kernel time of a micro-batch (what no pipeline depth, width or sharding removes) and a
layout's least time per token; and the check that pinned widths can exist for the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from capacity.core.errors import InputError
from capacity.estimate.layout_floors import MAX_SHARED
from capacity.formulas import memory
from capacity.formulas.shape import Shape
from capacity.formulas.step_time import ChipRates, StepTerms, step_terms
from capacity.records.parallel import Layout, ParallelSpec, Recompute


@dataclass(frozen=True)
class Candidate:
    """One scored layout."""

    per_token_s: float  # wall seconds per token, failures included
    layout: Layout
    terms: StepTerms
    memory: memory.MemoryBreakdown
    fits: bool


_KERNELS: dict[tuple[object, ...], dict[tuple[int, int, int, int, str], float]] = {}


@dataclass(frozen=True)
class Job:
    """Everything about the job the search needs besides the layout."""

    sh: Shape
    n_total: float
    n_active: float
    gpus: int
    node_size: int
    rates: ChipRates
    seqs: int  # global batch in sequences
    memory_bytes: float | None
    optimizer_bytes_per_param: float  # fp32 optimizer states (12 for mixed-precision Adam)
    optimizer_step_bytes_per_param: float  # HBM traffic of the optimizer step
    elementwise_passes: float
    loss_bytes_per_vocab: float
    failure_per_chip: float  # failures per chip-hour × hours lost each
    gradient_bytes: float = memory.GRADIENT_BYTES  # per gradient: 4 fp32, 2 with bf16 reduction
    precision: str | None = None  # the training precision: the bytes of the kept activations

    def score(self, lay: Layout, mem: memory.MemoryBreakdown | None = None) -> Candidate:
        terms = step_terms(
            self.sh, self.n_total, self.n_active, lay, self.rates, self.elementwise_passes,
            self.loss_bytes_per_vocab, self.optimizer_step_bytes_per_param, self.gradient_bytes,
        )  # fmt: skip
        mem = mem or self.memory_of(lay)
        fits = self.memory_bytes is None or mem.total <= self.memory_bytes
        per_token = terms.total * (1.0 + self.failure_per_chip * lay.chips) / (self.seqs * self.sh.seq_len)
        return Candidate(per_token, lay, terms, mem, fits)

    def kernel_seconds(self, t: int, c: int, b: int, ep: int, recompute: Recompute) -> float:
        """Kernel time (matmul, attention, memory-bound) plus the exposed tensor- and context-parallel
        collectives and the MoE all-to-all of one micro-batch through every layer on one chip: what no
        pipeline depth, data-parallel width or sharding removes (each scales with the layers a stage
        holds), for the search's bound."""
        key = (t, c, b, ep, recompute)
        table = self._kernel_table
        if key not in table:
            lay = Layout(
                tp=t, pp=1, dp=max(1, ep // c), ep=ep, microbatches=1.0, node_size=self.node_size, cp=c,
                micro_batch=b, recompute=recompute,
            )  # fmt: skip
            x = step_terms(
                self.sh, self.n_total, self.n_active, lay, self.rates, self.elementwise_passes,
                self.loss_bytes_per_vocab, self.optimizer_step_bytes_per_param, self.gradient_bytes,
            )  # fmt: skip
            table[key] = x.matmul + x.attention + x.memory_bound + x.tp_comm + x.cp_comm + x.expert_comm
        return table[key]

    @cached_property
    def _kernel_table(self) -> dict[tuple[int, int, int, int, str], float]:
        """Kernel times shared by every search of the same model on the same chip (deadline solves,
        sweeps): keyed on what they depend on, not on the chip count, the batch or the memory."""
        if len(_KERNELS) > MAX_SHARED:
            _KERNELS.clear()
        key = (
            self.sh, self.n_total, self.n_active, self.rates, self.node_size, self.elementwise_passes,
            self.loss_bytes_per_vocab, self.optimizer_step_bytes_per_param, self.gradient_bytes,
        )  # fmt: skip
        return _KERNELS.setdefault(key, {})

    def least_per_token(self, lay: Layout) -> float:
        """A lower bound on :meth:`score`'s seconds per token for ``lay``, from the kernel table alone: the
        stage's share of :meth:`kernel_seconds` over m micro-batches plus the (p − 1)/v of the bubble, with
        the failures of its chips; what the layout adds (pipeline sends, sharding, the data-parallel
        reduction, the optimizer step) only lengthens it."""
        stage = self.sh.stage_share(lay.pp)
        micro = self.kernel_seconds(lay.tp, lay.cp, lay.micro_batch, lay.ep, lay.recompute) * stage
        step = micro * (lay.microbatches + (lay.pp - 1) / lay.vp)
        return step * (1.0 + self.failure_per_chip * lay.chips) / (self.seqs * self.sh.seq_len)

    def too_few_chips(self) -> bool:
        """Whether no layout on these chips can fit: every layout's chips hold at least the gradients and
        optimizer states of all N parameters between them (ZeRO-3 over every rank shards them N/chips
        each; expert parallelism e divides d·c, so the experts' share is no smaller), whatever else
        they hold (:func:`capacity.formulas.memory.per_gpu`)."""
        if self.memory_bytes is None:
            return False
        states = (self.gradient_bytes + self.optimizer_bytes_per_param) * self.n_total
        return states / self.gpus > self.memory_bytes

    def memory_of(self, lay: Layout) -> memory.MemoryBreakdown:
        return memory.per_gpu(
            self.sh, self.n_total, lay, self.optimizer_bytes_per_param, self.precision, self.gradient_bytes,
        )  # fmt: skip


def check_pins(job: Job, pin: ParallelSpec) -> None:
    """Raise :class:`InputError` (exit 2) when the pinned layout cannot exist for these chips and model."""
    sh = job.sh
    t, p, c, d = pin.tp or 1, pin.pp or 1, pin.cp or 1, pin.dp or 1
    if t * p * c * d > job.gpus:
        raise InputError(
            f"--tp {t} x --pp {p} x --cp {c} x --dp {d} = {t * p * c * d} chips, more than --gpus {job.gpus}"
        )
    if sh.heads % t:
        raise InputError(f"--tp {t} does not divide the model's {sh.heads} attention heads")
    if p > sh.layers:
        raise InputError(f"--pp {p} is more pipeline stages than the model's {sh.layers} layers")
    if pin.vp and pin.vp > 1 and p * pin.vp > sh.layers:
        raise InputError(f"--vp {pin.vp} x --pp {p} is more model chunks than the model's {sh.layers} layers")
    if pin.vp and pin.vp > 1 and pin.pp == 1:
        raise InputError("--vp needs a pipeline (--pp 2 or more)")
    if pin.vp and pin.vp > 1 and pin.pp and pin.dp and job.seqs / (pin.dp * (pin.micro_batch or 1)) < pin.pp:
        raise InputError(
            f"--vp {pin.vp}: the interleaved schedule needs at least --pp {pin.pp} micro-batches per "
            "replica; raise --batch-tokens, or lower --dp or --micro-batch"
        )
    if sh.seq_len % c:
        raise InputError(f"--cp {c} does not divide the sequence length {sh.seq_len}")
    if pin.ep and pin.ep > 1:
        if not sh.experts:
            raise InputError("--ep: the model has no experts (dense model)")
        if sh.experts % pin.ep:
            raise InputError(f"--ep {pin.ep} does not divide the model's {sh.experts} experts")
        if pin.dp and (pin.dp * c) % pin.ep:
            raise InputError(f"--ep {pin.ep} does not divide the data-parallel ranks dp x cp = {pin.dp * c}")
    if d * (pin.micro_batch or 1) > job.seqs:
        raise InputError(
            f"--dp {d} x --micro-batch {pin.micro_batch or 1} is more sequences than the global batch of "
            f"{job.seqs}; raise --batch-tokens or lower --dp"
        )
