"""Published steady-state training throughput: what the files in ``specs/steady_state/`` hold.

One file per source group (a paper's table, a framework's performance page). Each record is one measured
configuration: chip and chip count, the model (a preset id, or an inline ``architecture`` for the custom
GPT sizes of Megatron's benchmarks), sequence length, global batch, parallel layout, recomputation,
precision, and what the source published. ``measured.tokens_per_s_per_gpu`` is the ground truth the
step-time model is validated against; ``measured.derived_from`` says how it was obtained (published
directly, from the step time, or from a TFLOP/s figure divided by *that source's* FLOPs per token,
:func:`source_flops_per_token`). ``verify`` is V (read in the primary text) or S (a secondary source
quoting it). ``benchmarks/import_steady_state.py`` converts the reference file into these records.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from capacity.formulas.flops import Recompute
from capacity.formulas.params import counted_preset
from capacity.records.chip import ChipId, Source
from capacity.records.model_spec import ModelId, ModelPreset, MoE
from capacity.records.parallel import GradReduce, Sharding

RunId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+([.-][a-z0-9]+)*$")]
GroupId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+([.-][a-z0-9]+)*$")]
PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0)]
Pct = Annotated[float, Field(gt=0, le=100)]

Precision = Literal["bf16", "fp16", "fp8"]
FlopsDefinition = Literal[
    "narayanan-2021",
    "korthikanti-2022",
    "megatron-lm-2024",
    "megatron-bridge",
    "nemo-2024",
    "palm",
    "llm-foundry",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Architecture(_Strict):
    """A model shape given inline (Megatron's benchmark GPTs, which are not published models)."""

    layers: PosInt
    hidden_size: PosInt
    heads: PosInt
    kv_heads: PosInt
    head_dim: PosInt | None = Field(default=None, description="default hidden_size / heads")
    ffn_size: PosInt
    glu: bool
    vocab_size: PosInt
    tied_embeddings: bool
    position_embedding: Literal["learned", "rope", "alibi"] = "learned"
    moe: MoE | None = None

    @model_validator(mode="after")
    def _heads_divide(self) -> Architecture:
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        return self


class Parallel(_Strict):
    """The layout: tp·pp·cp·dp = chips; ep is carved out of tp·cp·dp (Megatron's MoE parallel folding)."""

    tp: PosInt
    pp: PosInt
    dp: PosInt
    cp: PosInt = 1
    ep: PosInt = 1
    vp: PosInt | None = Field(
        default=None,
        description="virtual pipeline stages per rank (1: not interleaved); null: not stated",
    )
    dp_implied: bool = Field(
        default=False, description="true when the source has no DP column and dp = chips / (tp·pp·cp)"
    )
    sharding: Sharding = Field(
        description="none: replicated; zero1: optimizer state sharded (Megatron distributed optimizer); "
        "zero2: + gradients; zero3: + parameters (FSDP)"
    )
    sharding_note: str | None = None
    grad_reduce: GradReduce = Field(
        default="fp32", description="gradient reduction precision (fp32 unless the source says otherwise)"
    )
    grad_reduce_note: str | None = None

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.cp * self.dp


class Measured(_Strict):
    """What the source published, and the tokens/s per GPU taken or derived from it."""

    tokens_per_s_per_gpu: PosFloat = Field(description="ground truth: training tokens per second per GPU")
    derived_from: str = Field(min_length=3, description="how tokens_per_s_per_gpu was obtained")
    flops_definition: FlopsDefinition | None = Field(
        default=None, description="whose FLOP count the published TFLOP/s and MFU use"
    )
    tflops_per_gpu: PosFloat | None = Field(
        default=None, description="TFLOP/s per GPU under flops_definition"
    )
    model_tflops_per_gpu: PosFloat | None = Field(
        default=None, description="model TFLOP/s per GPU (no recompute)"
    )
    mfu_pct: Pct | None = None
    hfu_pct: Pct | None = None
    pct_of_peak: Pct | None = Field(default=None, description="TFLOP/s per GPU as a % of the 16-bit peak")
    aggregate_pflops: PosFloat | None = None
    step_time_s: PosFloat | None = None
    step_time_verify: str | None = None
    tokens_per_s_total: PosFloat | None = None
    tflops_per_gpu_best_config_without_cp: PosFloat | None = None
    speedup_cp_vs_no_cp: PosFloat | None = None
    est_days_10t_tokens_1k_gpus: PosFloat | None = None


class SteadyRun(_Strict):
    """One measured steady-state configuration."""

    id: RunId
    source: str = Field(
        min_length=3, description="the source in full: repository@commit:path, or paper and table"
    )
    source_group: GroupId
    verify: Literal["V", "S"]
    verify_note: str | None = None
    verify_fields_secondary: str | None = None
    year: int = Field(ge=2017, le=2035, description="year of the publication or container release")
    framework: str
    hardware: str = Field(description="the chip as the source names it")
    chip: ChipId = Field(description="catalogue chip id")
    chips: PosInt
    interconnect: str | None = None
    model: ModelId | None = Field(default=None, description="model preset id")
    model_name: str = Field(description="the model as the source names it")
    architecture: Architecture | None = None
    moe_token_drop: bool | None = Field(
        default=None, description="MoE: tokens dropped at capacity (null: dense)"
    )
    multi_token_prediction: bool | None = Field(
        default=None, description="DeepSeek-V3 MTP module trained; null: not stated"
    )
    seq_len: PosInt
    global_batch_seqs: PosInt
    micro_batch: PosInt | None = None
    grad_accum: PosInt | None = None
    parallel: Parallel
    recompute: Recompute | None = Field(
        description="activation recomputation; null when the source does not say"
    )
    recompute_note: str | None = None
    precision: Precision
    precision_note: str | None = None
    comm_overlap: str | None = None
    measured: Measured
    mfu_definition: str | None = None
    variant: Literal["primary", "parenthesized-alt"] | None = Field(
        default=None, description="Megatron-Bridge: the table's main value or the one in parentheses"
    )
    consistency_note: str | None = Field(
        default=None, description="what does not add up in the source row (the row is kept)"
    )
    notes: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SteadyRun:
        if (self.model is None) == (self.architecture is None):
            raise ValueError("give exactly one of model (a preset id) or architecture")
        p = self.parallel
        if p.chips != self.chips:
            raise ValueError(f"tp·pp·cp·dp = {p.chips} but chips = {self.chips}")
        if (p.tp * p.cp * p.dp) % p.ep:
            raise ValueError(f"ep ({p.ep}) must divide tp·cp·dp ({p.tp * p.cp * p.dp})")
        if self.global_batch_seqs % p.dp:
            raise ValueError(f"global_batch_seqs ({self.global_batch_seqs}) is not a multiple of dp ({p.dp})")
        per_rank = self.global_batch_seqs // p.dp
        if self.micro_batch is not None and per_rank % self.micro_batch:
            raise ValueError(
                f"micro_batch ({self.micro_batch}) does not divide the {per_rank} sequences per DP rank"
            )
        if self.micro_batch and self.grad_accum and self.micro_batch * self.grad_accum != per_rank:
            raise ValueError(
                f"micro_batch·grad_accum = {self.micro_batch * self.grad_accum}, "
                f"but global_batch_seqs / dp = {per_rank}"
            )
        return self

    @property
    def global_batch_tokens(self) -> int:
        return self.global_batch_seqs * self.seq_len


class SteadyRunFile(_Strict):
    """One file of ``specs/steady_state/``: a source group and its runs."""

    source_group: GroupId
    title: str = Field(min_length=3)
    citation: str = Field(min_length=3)
    url: str | None = None
    runs: list[SteadyRun] = Field(min_length=1)

    @model_validator(mode="after")
    def _runs_belong(self) -> SteadyRunFile:
        seen: set[str] = set()
        for run in self.runs:
            if run.source_group != self.source_group:
                raise ValueError(
                    f"run {run.id!r} has source_group {run.source_group!r}, not {self.source_group!r}"
                )
            if run.id in seen:
                raise ValueError(f"run id {run.id!r} appears twice")
            seen.add(run.id)
        return self


def steady_model(run: SteadyRun) -> ModelPreset:
    """The run's model: its preset, or one built from the inline architecture (id ``steady-<run id>``)."""
    from capacity.data.catalog import load_models  # here: the catalogue imports this module lazily

    if run.model is not None:
        return load_models().get(run.model)
    arch = run.architecture
    assert arch is not None  # the validator guarantees one of the two
    return counted_preset(
        id=f"steady-{run.id}",
        name=run.model_name,
        family="steady-state-benchmark",
        organisation=run.framework,
        year=run.year,
        context_length=run.seq_len,
        notes=run.notes,
        sources=[Source(title=run.source)],
        **arch.model_dump(),
    )


def source_flops_per_token(definition: FlopsDefinition, model: ModelPreset, seq_len: int) -> float | None:
    """Training FLOPs per token as the source counts them (forward + backward), or None when not reproduced.

    Symbols: L layers, h hidden, a heads, g KV heads, d head dim, f FFN size, V vocabulary, s sequence length.

    * ``narayanan-2021`` (arXiv:2104.04473, appendix): 96·L·h²·(1 + s/(6h) + V/(16·L·h)); includes the
      recomputed forward pass (full recomputation), so it is closer to hardware FLOPs.
    * ``korthikanti-2022`` (arXiv:2205.05198): 72·L·h²·(1 + s/(6h) + V/(12·h·L)); model FLOPs.
    * ``megatron-lm-2024`` (Megatron-LM ``num_floating_point_operations``, 2024, non-causal attention):
      12·L·h²·[(1 + g/a + s/h)·(a·d/h) + (f/h)·k·m + V/(2·L·h)], m = 3/2 with a GLU, k = top-k for MoE.
    * ``megatron-bridge``: the same with causal attention (s/(2h)); reproduced for dense models only.
    * ``nemo-2024`` (NeMo 2.0 ``flops_formulas``, llama/nemotron/gpt3 families):
      L·h²·(12 + 12·g/a + (18 with a GLU, else 12)·f/h + 12·s/h + 6·V/(L·h)).
    * ``palm`` (Chowdhery et al. 2022, appendix B): 6·N + 12·L·a·d·s, N the stated parameter count.
    * ``llm-foundry`` (llm-foundry ``scripts/train/benchmarking/README.md``, "MFU"): 6·N + 12·L·h·s, N every
      parameter (embeddings and learned positions too), attention counted non-causally from the model width.
    """
    n_layers, h, a, g = model.layers, model.hidden_size, model.heads, model.kv_heads
    d, s, vocab = model.d_head, seq_len, model.vocab_size
    if definition == "narayanan-2021":
        return 96.0 * n_layers * h * h * (1 + s / (6 * h) + vocab / (16 * n_layers * h))
    if definition == "korthikanti-2022":
        return 72.0 * n_layers * h * h * (1 + s / (6 * h) + vocab / (12 * h * n_layers))
    if definition == "palm":
        return 6.0 * model.params + 12.0 * n_layers * a * d * s
    if definition == "llm-foundry":
        return 6.0 * model.params + 12.0 * n_layers * h * s
    if model.mla is not None:
        return None
    if definition == "nemo-2024":
        if model.moe is not None:
            return None
        ffn_factor = 18 if model.glu else 12
        terms = 12 + 12 * g / a + ffn_factor * model.ffn_size / h + 12 * s / h + 6 * vocab / (n_layers * h)
        return float(n_layers * h * h * terms)
    causal = definition == "megatron-bridge"
    if causal and model.moe is not None:
        return None
    ffn, top_k = (model.moe.expert_ffn_size, model.moe.top_k) if model.moe else (model.ffn_size, 1)
    glu = 1.5 if model.glu else 1.0
    attention = (1 + g / a + (s / (2 * h) if causal else s / h)) * (a * d / h)
    return 12.0 * n_layers * h * h * (attention + ffn / h * top_k * glu + vocab / (2 * n_layers * h))
