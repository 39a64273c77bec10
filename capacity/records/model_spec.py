"""A model preset: what one file in ``specs/models/`` holds (architecture plus sources).

Symbols follow the papers: L layers, h hidden size (d_model), a attention heads, g key/value
heads (GQA groups; g = a is multi-head, g = 1 multi-query), f FFN intermediate size, V vocabulary.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from capacity.core.strict_numbers import InputModel
from capacity.records.chip import Source

ModelId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+([.-][a-z0-9]+)*$")]
PosInt = Annotated[int, Field(gt=0)]


class _Strict(InputModel):
    """A record users may write: unknown fields refused, a YAML boolean never a number, ``13B`` read as a
    count (:mod:`capacity.core.strict_numbers`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MoE(_Strict):
    """Mixture-of-experts feed-forward layers."""

    experts: PosInt = Field(description="routed experts per MoE layer")
    top_k: PosInt = Field(description="routed experts active per token")
    shared_experts: int = Field(default=0, ge=0, description="always-active experts per MoE layer")
    expert_ffn_size: PosInt = Field(description="FFN intermediate size of one expert")
    moe_layers: PosInt | None = Field(default=None, description="layers with MoE FFN; default all")


class MLA(_Strict):
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank compressed queries and keys/values."""

    q_lora_rank: PosInt | None
    kv_lora_rank: PosInt
    qk_nope_head_dim: PosInt
    qk_rope_head_dim: PosInt
    v_head_dim: PosInt


class ModelPreset(_Strict):
    """A published transformer's architecture, with the parameter count its authors state."""

    id: ModelId
    name: str
    aliases: list[str] = Field(default_factory=list)
    family: str
    organisation: str
    year: int = Field(ge=2017, le=2035)
    params: float = Field(gt=0, description="stated total parameters")
    active_params: float | None = Field(
        default=None, gt=0, description="stated active parameters per token (MoE)"
    )
    layers: PosInt
    hidden_size: PosInt
    heads: PosInt
    kv_heads: PosInt
    head_dim: PosInt | None = Field(default=None, description="default hidden_size / heads")
    ffn_size: PosInt = Field(description="dense FFN intermediate size (dense layers of an MoE model)")
    glu: bool = Field(description="gated linear unit FFN (SwiGLU/GeGLU: three matrices instead of two)")
    vocab_size: PosInt
    context_length: PosInt
    pretraining_seq_len: PosInt | None = Field(
        default=None, description="sequence length of pre-training, when shorter than the context"
    )
    tied_embeddings: bool
    position_embedding: Literal["learned", "rope", "alibi"]
    moe: MoE | None = None
    mla: MLA | None = None
    training_tokens: float | None = Field(default=None, gt=0, description="tokens the published model saw")
    notes: str | None = None
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ModelPreset:
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        if (self.moe is None) != (self.active_params is None):
            raise ValueError("active_params is given exactly when moe is")
        if self.moe and self.moe.moe_layers and self.moe.moe_layers > self.layers:
            raise ValueError("moe.moe_layers cannot exceed layers")
        return self

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden_size // self.heads

    @property
    def attention_width(self) -> float:
        """Mean of the QKᵀ and AV widths, a·(d_qk + d_v)/2, so attention costs 4·L·c·width FLOPs per token.

        Equals a·d for standard attention; MLA has d_qk = nope + rope, d_v = v_head_dim (DeepSeek-V2 §2.1).
        """
        if self.mla is not None:
            d_qk = self.mla.qk_nope_head_dim + self.mla.qk_rope_head_dim
            return self.heads * (d_qk + self.mla.v_head_dim) / 2.0
        return float(self.heads * self.d_head)

    @property
    def decode_attention_width(self) -> float:
        """The attention width one generated token pays against its cached context: ``attention_width``,
        except under MLA, which decodes in the latent space with the up-projections absorbed into the query
        and output (DeepSeek-V2 §2.1.2; FlashMLA): scores over d_c + d_R, values of d_c, per head."""
        if self.mla is not None:
            latent = self.mla.kv_lora_rank
            return self.heads * (latent + self.mla.qk_rope_head_dim + latent) / 2.0
        return self.attention_width

    @property
    def n_active(self) -> float:
        """Parameters used per token: ``active_params`` for MoE, else ``params``."""
        return self.active_params or self.params


class ModelFile(ModelPreset):
    """A model a user writes as YAML (``--model my.yaml``): the architecture as a preset has it, but the
    catalogue's metadata may be left out. Left out, ``name`` is the id, ``tied_embeddings`` false (a separate
    output matrix, as most models since Llama), ``position_embedding`` rope; family, organisation, year and
    sources say the file is the user's."""

    name: str = ""
    family: str = "custom"
    organisation: str = "(model file)"
    year: int = Field(default=2026, ge=2017, le=2035)
    tied_embeddings: bool = False
    position_embedding: Literal["learned", "rope", "alibi"] = "rope"
    sources: list[Source] = Field(default_factory=lambda: [Source(title="a model file given by the user")])

    @model_validator(mode="after")
    def _named(self) -> ModelFile:
        if not self.name:
            object.__setattr__(self, "name", self.id)
        return self
