"""A training request at a chip count: the step-time model's estimate there, and the cheaper questions a
solve over counts asks (the days there, whether any layout fits), each count evaluated once.

:func:`architecture` turns the request into the parameter counts and the shape the step model and the memory
model use; :func:`modelled_step` runs the step model (:mod:`capacity.estimate.step_model`) on one count;
:class:`ChipCounts` keeps what one estimate evaluates (a deadline solve, the fewest chips that fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from capacity.core.errors import InputError
from capacity.core.units import SECONDS_PER_DAY, TERA
from capacity.data.assumptions import Assumptions, Efficiency
from capacity.data.calibration import applies_to
from capacity.data.provenance import Provenance
from capacity.estimate import step_model
from capacity.estimate.step_model import StepEstimate
from capacity.estimate.train_io import TrainRequest
from capacity.formulas import shape
from capacity.formulas.shape import Shape
from capacity.records.choices import sixteen_bit
from capacity.records.model_spec import ModelPreset
from capacity.records.parallel import ParallelSpec

PRETRAINING_SEQ_CAP = 8192  # Llama 3 pre-trained at 8K then extended (§3.4); DeepSeek-V3 at 4K (§4.3)


def architecture(req: TrainRequest, prov: Provenance) -> tuple[float, float, Shape]:
    """(N total, N active, the shape the step model and memory use)."""
    m = req.model
    n_total = req.params or (m.params if m else 0.0)
    n_active = req.active_params or n_total
    if m is not None and req.active_params is None:
        n_active = n_total * m.n_active / m.params  # MoE keeps the preset's active share
        if req.params is not None and m.moe is not None:
            prov.note("active_params", n_active, f"{m.id}'s active/total ratio applied to --params")
    seq = req.seq_len or (training_seq_len(m) if m else shape.GUESS_SEQ_LEN)
    if m is None:
        if n_active < n_total:
            sh = shape.guess_moe(n_total, n_active, seq)
            prov.note(
                "moe_shape", f"{sh.experts} experts, top-{sh.routed_k}",
                "guessed from --params/--active-params (capacity/formulas/shape.py: DeepSeek-V3/Qwen3 "
                "ratios)",
            )  # fmt: skip
            return n_total, n_active, sh
        return n_total, n_active, shape.guess(n_active, seq)
    if seq > m.context_length:
        prov.warnings.append(f"--seq-len {seq} exceeds {m.id}'s context length of {m.context_length}")
    return n_total, n_active, shape.from_preset(m, seq)


def training_seq_len(m: ModelPreset) -> int:
    """The preset's pre-training sequence length if published, else its context up to 8,192."""
    return m.pretraining_seq_len or min(m.context_length, PRETRAINING_SEQ_CAP)


def modelled_step(
    req: TrainRequest,
    a: Assumptions,
    eff: Efficiency,
    gpus: int,
    layouts: int = 1,
    closest_misses: bool = True,
) -> StepEstimate:
    """The step-time model's prediction for ``req`` on ``gpus`` chips (``req.chip`` must be set); without
    ``closest_misses``, :class:`capacity.core.errors.NoLayoutFits` where no layout fits."""
    if req.chip is None:
        raise InputError("the step-time model needs a chip")
    prov = Provenance(a)
    n_total, n_active, sh = architecture(req, prov)
    return step_model.predict(
        sh, n_total, n_active, req.chip, req.precision or sixteen_bit(req.chip), gpus,
        req.node_size or int(prov.pick(None, "node_size")), eff, tokens=req.tokens,
        calibration=applies_to(req.calibration, req.chip, []),
        parallel=req.parallel.model_copy(update={"recompute": req.recompute_pin}),
        usable_memory_fraction=prov.pick(None, "memory_usable_fraction"), batch_tokens=req.batch_tokens,
        layouts=layouts, state_bytes_per_param=prov.pick(None, "optimizer_bytes_per_param"),
        closest_misses=closest_misses,
    )  # fmt: skip


@dataclass
class ChipCounts:
    """The step model of one request at the chip counts an estimate asks about, each evaluated once.

    ``model_flops`` on the request's convention and ``convention`` = model FLOPs / 6·N·D (the MFU on that
    convention); ``peak_tflops`` the dense peak at the request's precision."""

    req: TrainRequest
    assumptions: Assumptions
    efficiency: Efficiency
    model_flops: float
    peak_tflops: float
    convention: float
    solved: dict[tuple[int, int], StepEstimate] = field(default_factory=dict)
    fitting: dict[int, StepEstimate] = field(default_factory=dict)

    def modelled(self, n: int, layouts: int = 1) -> StepEstimate:
        """The step model on n chips, as reported: the closest misses where nothing fits."""
        if layouts == 1 and n in self.fitting and self.fitting[n].memory_fits:
            return self.fitting[n]  # where a layout fits, the solve's search found the same
        if (n, layouts) not in self.solved:
            self.solved[n, layouts] = modelled_step(self.req, self.assumptions, self.efficiency, n, layouts)
        return self.solved[n, layouts]

    def fitting_at(self, n: int) -> StepEstimate:
        """The step model on n chips for a solve, which needs only the best layout where one fits (the
        search prunes more): :class:`NoLayoutFits` (an InputError) where none does. With a given MFU the
        layout is not modelled, so the fit is any layout's, the pins set aside."""
        if n not in self.fitting:
            req = self.req
            searched = req if req.mfu is None else req.model_copy(update={"parallel": ParallelSpec()})
            self.fitting[n] = modelled_step(
                searched, self.assumptions, self.efficiency, n, 1, closest_misses=False
            )
        return self.fitting[n]

    def days_at(self, n: int) -> float:
        """Wall-clock days on n chips: at the given MFU, else the step model's; infinite where no layout
        fits (or a pinned one needs more or other chips than n)."""
        if self.req.mfu is not None:
            return self.model_flops / (n * self.peak_tflops * TERA * self.req.mfu) / SECONDS_PER_DAY
        try:
            at = self.fitting_at(n)
        except InputError:
            return math.inf
        if not at.memory_fits:
            return math.inf
        return self.model_flops / (n * self.peak_tflops * TERA * at.mfu * self.convention) / SECONDS_PER_DAY

    def used_at(self, n: int) -> int | None:
        """The chips with work on n (the batch can leave some idle), where the step model has run there."""
        at = self.fitting.get(n)
        return at.gpus_used if self.req.mfu is None and at is not None and at.memory_fits else None

    def fit_days(self, n: int) -> float:
        """0 where the layout search fits the job on n chips, else infinite: whether it fits, in the form
        :func:`capacity.estimate.deadline.fewest_that_fit` takes, for a given MFU (whose days do not depend
        on the fit)."""
        try:
            return 0.0 if self.fitting_at(n).memory_fits else math.inf
        except InputError:
            return math.inf
