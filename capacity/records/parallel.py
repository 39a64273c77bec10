"""How a training job is laid out over its chips: what a user pins, and what the planner resolves.

Megatron-LM's names (Narayanan et al. 2021, arXiv:2104.04473; Korthikanti et al. 2022, arXiv:2205.05198):
t tensor-parallel width (with sequence parallelism), p pipeline stages, v virtual stages per pipeline rank
(interleaved 1F1B), c context-parallel width (the sequence split over c chips, ring attention), d
data-parallel replicas, e expert-parallel width (experts spread over e of the d·c data-parallel ranks), b
sequences per micro-batch. Chips used = t·p·c·d.

Sharding of the model states over the data-parallel ranks (Rajbhandari et al. 2019, ZeRO, arXiv:1910.02054):
``none`` replicates everything (plain data parallel), ``zero1`` shards the optimizer states (Megatron's
distributed optimizer), ``zero2`` also the gradients, ``zero3`` also the weights (PyTorch FSDP's full
sharding; ``fsdp`` is accepted as its name).

Gradients are reduced in ``fp32`` (Megatron-LM's default with bf16 weights) or ``bf16`` (Megatron's
``grad_reduce_in_fp32 = False``, which NVIDIA's Megatron-Bridge performance recipes set): half the
data-parallel traffic and gradient buffer, while the distributed optimizer keeps an fp32 copy of its shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from capacity.core.strict_numbers import InputModel

Recompute = Literal["none", "selective", "full"]  # activation recomputation (Korthikanti et al. 2022)
Sharding = Literal["none", "zero1", "zero2", "zero3"]
SHARDINGS: tuple[str, ...] = get_args(Sharding)
GradReduce = Literal["fp32", "bf16"]
GRAD_REDUCES: tuple[str, ...] = get_args(GradReduce)
RECOMPUTES: tuple[str, ...] = get_args(Recompute)


def describe(
    tp: int | None, pp: int | None, dp: int | None, cp: int | None, ep: int | None, vp: int | None,
    micro_batch: int | None, sharding: str | None, recompute: str | None, grad_reduce: str | None = None,
) -> str:  # fmt: skip
    """A layout in one short line, e.g. ``TP8 PP2 DP64 VP4 mb1 zero1 selective``; ``?`` where not known
    (``bf16-grads`` appended when gradients are reduced in bf16)."""
    widths = [f"TP{tp or '?'}", f"PP{pp or '?'}", f"DP{dp or '?'}"]
    widths += [f"{k}{n or '?'}" for k, n in (("CP", cp), ("EP", ep), ("VP", vp)) if n != 1]
    tail = ["bf16-grads"] if grad_reduce == "bf16" else []
    return " ".join([*widths, f"mb{micro_batch or '?'}", sharding or "?", recompute or "?", *tail])


class ParallelSpec(InputModel):
    """A layout as far as the user pins it; ``None`` leaves that choice to the search."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tp: int | None = Field(default=None, ge=1, description="tensor-parallel width (sequence parallel on)")
    pp: int | None = Field(default=None, ge=1, description="pipeline stages")
    dp: int | None = Field(default=None, ge=1, description="data-parallel replicas")
    cp: int | None = Field(default=None, ge=1, description="context-parallel width (ring attention)")
    ep: int | None = Field(default=None, ge=1, description="expert-parallel width (MoE)")
    vp: int | None = Field(default=None, ge=1, description="virtual stages per pipeline rank (interleaved)")
    micro_batch: int | None = Field(default=None, ge=1, description="sequences per micro-batch")
    sharding: Sharding | None = Field(default=None, description="none, zero1, zero2, zero3 (fsdp)")
    recompute: Recompute | None = Field(default=None, description="activation recomputation")
    grad_reduce: GradReduce | None = Field(
        default=None, description="gradient reduction precision: fp32 (default) or bf16"
    )

    @field_validator("sharding", mode="before")
    @classmethod
    def _fsdp(cls, value: object) -> object:
        return "zero3" if isinstance(value, str) and value.lower() == "fsdp" else value

    def describe(self) -> str:
        return describe(**self.model_dump())

    def pinned(self) -> list[str]:
        """Names of the pinned fields, for messages."""
        return [k for k, v in self.model_dump().items() if v is not None]


class ResolvedParallel(BaseModel):
    """The layout an estimate used, every field resolved (``parallel`` in the JSON output)."""

    model_config = ConfigDict(frozen=True)

    tp: int
    pp: int
    dp: int
    cp: int
    ep: int
    vp: int
    micro_batch: int
    sharding: Sharding
    recompute: Recompute
    grad_reduce: GradReduce = "fp32"

    def describe(self) -> str:
        return describe(**self.model_dump())


@dataclass(frozen=True)
class Layout:
    """One candidate layout, as the step-time and memory models take it."""

    tp: int
    pp: int
    dp: int
    ep: int
    microbatches: float  # micro-batches per replica per step (average)
    node_size: int
    cp: int = 1
    vp: int = 1
    micro_batch: int = 1
    sharding: Sharding = "zero1"
    recompute: Recompute = "selective"

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.cp * self.dp

    @property
    def full_recompute(self) -> bool:
        return self.recompute == "full"

    def split(self, seqs: int, dp: int | None = None, micro_batch: int | None = None) -> Layout:
        """This layout with ``dp`` replicas and/or ``micro_batch`` sequences per micro-batch, the global
        batch of ``seqs`` sequences then giving each replica seqs / (dp · micro_batch) micro-batches."""
        d, b = dp or self.dp, micro_batch or self.micro_batch
        return Layout(
            tp=self.tp, pp=self.pp, dp=d, ep=self.ep, microbatches=seqs / (d * b), node_size=self.node_size,
            cp=self.cp, vp=self.vp, micro_batch=b, sharding=self.sharding, recompute=self.recompute,
        )  # fmt: skip

    def resolved(self, grad_reduce: GradReduce = "fp32") -> ResolvedParallel:
        return ResolvedParallel(
            tp=self.tp, pp=self.pp, dp=self.dp, cp=self.cp, ep=self.ep, vp=self.vp,
            micro_batch=self.micro_batch, sharding=self.sharding, recompute=self.recompute,
            grad_reduce=grad_reduce,
        )  # fmt: skip
