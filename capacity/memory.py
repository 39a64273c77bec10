"""Memory floor for training: model states plus activations → the fewest chips that can hold the job.

Model states (Rajbhandari et al. 2019, ZeRO, arXiv:1910.02054): with mixed-precision Adam each parameter
needs 2 (16-bit weights) + 2 (16-bit gradients) + 12 (fp32 master copy, momentum, variance) = 16 bytes.
Fully sharded (ZeRO-3 / FSDP, or tensor + pipeline parallel) these states divide across the chips.

Activations per layer per sequence of T tokens, 16-bit (Korthikanti et al. 2022, arXiv:2205.05198, Table 2),
h hidden size, a heads:
    none:       T·h·(34 + 5·a·T/h)      every intermediate kept
    selective:  34·T·h                  attention scores recomputed
    full:       2·T·h                   only each layer's input kept (plus one layer's working set)
"""

from __future__ import annotations

import math

from capacity.flops import Recompute


def model_state_bytes(n_total: float, bytes_per_param: float) -> float:
    """Bytes of weights, gradients and optimiser states: every parameter (all MoE experts) counts."""
    return n_total * bytes_per_param


def activation_bytes_per_layer(seq_len: int, hidden: int, heads: int, recompute: Recompute) -> float:
    """Activation bytes one layer keeps for one sequence (micro-batch of 1), 16-bit."""
    t, h, a = float(seq_len), float(hidden), float(heads)
    if recompute == "full":
        return 2.0 * t * h
    if recompute == "selective":
        return 34.0 * t * h
    return t * h * (34.0 + 5.0 * a * t / h)


def activation_bytes(layers: int, seq_len: int, hidden: int, heads: int, recompute: Recompute) -> float:
    """Activations kept for one sequence in all layers (+ one layer's working set if fully recomputed)."""
    kept = layers * activation_bytes_per_layer(seq_len, hidden, heads, recompute)
    if recompute == "full":
        kept += activation_bytes_per_layer(seq_len, hidden, heads, "none")
    return kept


def min_chips(total_bytes: float, chip_memory_gb: float, usable_fraction: float) -> int:
    """Fewest chips whose usable memory holds ``total_bytes`` (perfect sharding assumed)."""
    return max(1, math.ceil(total_bytes / (chip_memory_gb * 1e9 * usable_fraction)))
