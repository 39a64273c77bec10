"""Training memory: one model for the layout search, the memory floor and the output.

Model states (Rajbhandari et al. 2019, ZeRO, arXiv:1910.02054), mixed-precision Adam as Megatron-LM runs it:
2 bytes of 16-bit weights, 4 of fp32 main gradients (what the data-parallel reduction moves) and 12 of fp32
optimizer states (master copy, momentum, variance) per parameter, 18 in all (Megatron-LM's distributed
optimizer guide: 6 + 12/d bytes per parameter). ZeRO-1 shards the 12 over the data-parallel ranks, ZeRO-2
the gradients too, ZeRO-3 (FSDP) the weights too: its shard is the fp32 master copy, so it keeps no 16-bit
shard (16/d bytes per parameter; PyTorch FSDP keeps sharded parameters in fp32 and gathers them in 16 bits),
and a ZeRO-3 chip holds the gathered 16-bit weights of the layers in flight (the one computing and the one
prefetched, PyTorch FSDP's default prefetch of one layer ahead).

Activations a layer keeps for its backward pass, per token, 16-bit, derived from the shape (h hidden, q the
fused Q/K/V output width, w the attention output width, f the FFN width, g = 2 for a GLU else 1): the
inputs of the two layer norms and of the four GEMMs, Q/K/V and the attention output that FlashAttention's
backward reads, the FFN pre-activation(s) and the activation output:

    2 · (4·h + q + w + (g + 1)·f) bytes

With FP8 linear layers the four GEMM inputs (the two layer-norm outputs, the attention output and the
activation output: 2·h + w + f elements) are kept as the FP8 copies the forward GEMM already made, one byte
each, for the weight-gradient GEMM of the backward (Transformer Engine's ``Linear``/``LayerNormLinear``/
``LayerNormMLP`` save their quantised input; NVIDIA's FP8 primer: "FP8 ... also reduces the memory for
activations saved for the backward pass"), so they cost 2·h + w + f bytes less. FP32 and TF32 training
keeps every activation in 4 bytes: twice the 16-bit count, ``full``'s layer inputs included (TF32 is a
tensor-core format for fp32 tensors).

For GPT-3's shape (q = 3h, w = h, f = 4h) this is 32·h, Korthikanti et al.'s 34·h (arXiv:2205.05198,
Table 2) less the dropout masks modern recipes leave out. FlashAttention (Dao et al. 2022) never stores
the s×s scores, which is all that Korthikanti's *selective* recomputation drops, so ``none`` and
``selective`` keep the same bytes (and cost the same time: the scores are recomputed inside FlashAttention's
backward either way). ``full`` keeps only each layer's 16-bit input (2·h per token) plus one layer's working
set during its recomputation. With sequence parallelism activations divide by t, with context parallelism
by c.

Micro-batches in flight on the first pipeline stage (the one that holds most): 1F1B keeps min(p, m) of
them, each ⌈L/p⌉ layers (Narayanan et al. 2021); the interleaved schedule keeps L·(1 + (p − 1)/(p·v))
layers' worth (Korthikanti et al. 2022, §4.2.3). Logits take fp32 s·V/t per micro-batch on the last stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from capacity.core.units import MEMORY_BYTES_PER_GB
from capacity.formulas.shape import Shape
from capacity.records.parallel import Layout, Recompute

WEIGHT_BYTES = 2.0  # 16-bit weights
FOUR_BYTE_ACTIVATIONS = ("fp32", "tf32")  # training precisions whose activations take 4 bytes, not 2
GRADIENT_BYTES = 4.0  # fp32 main gradients (Megatron-LM's distributed optimizer; NeMo's grad_reduce_in_fp32)
GRADIENT_BYTES_BF16 = 2.0  # grad_reduce_in_fp32 = False (the optimizer keeps an fp32 copy of its shard)
PREFETCHED_LAYERS = 2  # ZeRO-3: the layer computing and the one gathered ahead


@dataclass(frozen=True, slots=True)
class MemoryBreakdown:
    """Bytes one chip holds, by part (GB in the output: ``memory_per_gpu_gb``)."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    buffers: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations + self.buffers

    def gb(self) -> dict[str, float]:
        parts = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**{k: v / 1e9 for k, v in parts.items()}, "total": self.total / 1e9}


def model_state_bytes(n_total: float, bytes_per_param: float) -> float:
    """Bytes of weights, gradients and optimiser states: every parameter (all MoE experts) counts."""
    return n_total * bytes_per_param


def least_state_bytes(n_total: float, bytes_per_param: float) -> float:
    """The least model state any layout spreads over its chips: fully sharded (ZeRO-3 / FSDP) it keeps no
    16-bit copy of the weights, only gradients and optimiser states (:func:`layout_memory`), so the memory
    floor and the layout search use the same bytes."""
    return n_total * (bytes_per_param - WEIGHT_BYTES)


def activation_bytes_per_token_layer(sh: Shape, recompute: Recompute, precision: str | None = None) -> float:
    """Bytes of activations one layer keeps per token, before tensor/context parallel splits.

    ``precision`` of the training (None: 16-bit): ``fp8`` linear layers keep their inputs in one byte,
    ``fp32``/``tf32`` keep every value in four (module docstring)."""
    wide = 2.0 if precision in FOUR_BYTE_ACTIVATIONS else 1.0
    if recompute == "full":
        return wide * WEIGHT_BYTES * sh.hidden
    glu = 2.0 if sh.glu else 1.0
    ffn = sh.expert_ffn * sh.top_k if sh.experts else sh.ffn  # an MoE token keeps its experts' activations
    kept = 2.0 * (4.0 * sh.hidden + sh.qkv_out_width + sh.attention_width + (glu + 1.0) * ffn)
    if precision == "fp8":  # the GEMM inputs kept as their FP8 copies: 1 byte instead of 2
        kept -= 2.0 * sh.hidden + sh.attention_width + ffn
    return wide * kept


def activation_bytes(sh: Shape, recompute: Recompute, precision: str | None = None) -> float:
    """Activations of one sequence through all layers (+ one layer's working set when fully recomputed)."""
    kept = sh.layers * activation_bytes_per_token_layer(sh, recompute, precision) * sh.seq_len
    if recompute == "full":
        kept += activation_bytes_per_token_layer(sh, "none", precision) * sh.seq_len
    return kept


@dataclass(frozen=True, slots=True)
class LocalParams:
    """Parameters one chip of a layout holds before any sharding, and the ranks that share them."""

    dense: float  # (N − N_expert) / (t·p)
    expert: float  # N_expert / (t·p·e)
    group: int  # d·c: context-parallel ranks hold the same weights and reduce gradients together
    expert_group: int  # max(1, d·c / e): the ranks holding the same experts

    def bytes(self, per_param: float, sharded: bool) -> float:
        """A per-parameter state on one chip, divided over its group when ZeRO shards it."""
        return per_param * (
            self.dense / (self.group if sharded else 1) + self.expert / (self.expert_group if sharded else 1)
        )


def local_params(sh: Shape, n_total: float, lay: Layout) -> LocalParams:
    """What one chip of ``lay`` holds of ``n_total`` parameters (experts split e ways, the rest t·p ways)."""
    t, p, group = lay.tp, lay.pp, lay.dp * lay.cp
    experts = sh.expert_params
    return LocalParams(
        dense=(n_total - experts) / (t * p),
        expert=experts / (t * p * lay.ep),
        group=group,
        expert_group=max(1, group // lay.ep),
    )


def per_gpu(
    sh: Shape,
    n_total: float,
    lay: Layout,
    optimizer_bytes_per_param: float,
    precision: str | None = None,
    gradient_bytes: float = GRADIENT_BYTES,
) -> MemoryBreakdown:
    """Bytes one chip of layout ``lay`` holds, by part (see the module docstring).

    ``optimizer_bytes_per_param``: the fp32 states per parameter the optimizer shards (12 for
    mixed-precision Adam, 16 with bf16 gradients); ``precision``: the training precision, which sets the
    bytes of the kept activations (:func:`activation_bytes_per_token_layer`); ``gradient_bytes``: the
    gradient buffer per parameter (4 fp32, 2 bf16).
    """
    t, p, c = lay.tp, lay.pp, lay.cp
    local = local_params(sh, n_total, lay)
    shard_w = lay.sharding == "zero3"
    shard_g = lay.sharding in ("zero2", "zero3")
    shard_o = lay.sharding != "none"
    # ZeRO-3 keeps no 16-bit shard: the fp32 master copy (in the optimizer's 12 bytes) is the shard, and the
    # 16-bit weights exist only for the layers in flight (buffers below), 16 bytes per parameter over d in
    # all (PyTorch FSDP's MixedPrecision keeps sharded parameters in fp32; Zhao et al. 2023, arXiv:2304.11277)
    weights = 0.0 if shard_w else WEIGHT_BYTES * (local.dense + local.expert)
    grads = local.bytes(gradient_bytes, shard_g)
    optim = local.bytes(optimizer_bytes_per_param, shard_o)
    tokens = lay.micro_batch * sh.seq_len / (t * c)  # per chip per micro-batch
    per_layer = activation_bytes_per_token_layer(sh, lay.recompute, precision) * tokens
    stage_layers = math.ceil(sh.layers / p)
    if lay.vp > 1:
        held = sh.layers * (1.0 + (p - 1) / (p * lay.vp))
    else:
        held = min(p, math.ceil(lay.microbatches)) * stage_layers
    acts = held * per_layer
    if lay.full_recompute:
        acts += activation_bytes_per_token_layer(sh, "none", precision) * tokens
    acts += 4.0 * tokens * sh.vocab  # fp32 logits (divided over t by the vocabulary-parallel head)
    buffers = 0.0
    if shard_w:  # the gathered 16-bit weights of the layers in flight (this chip's experts only)
        per_layer_params = (local.dense + local.expert) / max(1, stage_layers)
        buffers += PREFETCHED_LAYERS * WEIGHT_BYTES * per_layer_params
    if sh.experts:  # all-to-all dispatch and combine buffers of the routed tokens
        buffers += 2.0 * WEIGHT_BYTES * tokens * sh.routed_k * sh.hidden
    return MemoryBreakdown(
        weights=weights, gradients=grads, optimizer=optim, activations=acts, buffers=buffers
    )


def min_chips(total_bytes: float, chip_memory_gb: float, usable_fraction: float) -> int:
    """Fewest chips whose usable memory holds ``total_bytes`` (perfect sharding assumed)."""
    return max(1, math.ceil(total_bytes / (chip_memory_gb * MEMORY_BYTES_PER_GB * usable_fraction)))
