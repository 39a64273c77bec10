"""Training compute: how many floating-point operations a run takes.

Conventions (state which one an estimate used):
* ``6nd`` — C = 6·N·D (Kaplan et al. 2020, arXiv:2001.08361, §2.1): 2 FLOPs per parameter per token
  forward, 4 backward; N = parameters used per token (active parameters for MoE), D = tokens. This is
  the convention of the GPT-3 paper's 3.14e23 FLOPs = 3640 PF-days and of most reports.
* ``palm`` — per token 6·N + 12·L·H·Q·T (Chowdhery et al. 2022, arXiv:2204.02311, App. B): adds the
  attention-score and attention-value matmuls; L layers, H heads, Q head dim, T sequence length.
Both are *model* FLOPs (the basis of MFU). Activation recomputation adds *hardware* FLOPs (HFU) but no
model FLOPs, counted on the same basis as the model FLOPs: full recomputation re-runs the forward pass
(+2·N, plus +4·L·H·Q·T per token under ``palm``); selective recomputation (Korthikanti et al. 2022,
arXiv:2205.05198) re-runs only the attention core: +0 under ``6nd`` (no attention term),
+4·L·H·Q·T under ``palm``.
"""

from __future__ import annotations

from capacity.core.units import PF_DAY_FLOP
from capacity.records.choices import FlopsConvention as FlopsConvention
from capacity.records.parallel import Recompute as Recompute


def training_flops_6nd(n_active: float, tokens: float) -> float:
    """C = 6·N·D model FLOPs."""
    return 6.0 * n_active * tokens


def attention_flops_per_token(layers: int, attention_width: float, seq_len: int) -> float:
    """12·L·(H·Q)·T: the forward + backward attention matmuls per token (PaLM App. B)."""
    return 12.0 * layers * attention_width * seq_len


def training_flops_palm(
    n_active: float, tokens: float, layers: int, attention_width: float, seq_len: int
) -> float:
    """C = (6·N + 12·L·H·Q·T)·D model FLOPs."""
    return (6.0 * n_active + attention_flops_per_token(layers, attention_width, seq_len)) * tokens


def recompute_flops(
    recompute: Recompute, n_active: float, tokens: float, attention_fwd_per_token: float
) -> float:
    """Extra hardware FLOPs spent re-running forward work; ``attention_fwd_per_token`` is 4·L·H·Q·T under
    ``palm`` and 0 under ``6nd`` (whose model count has no attention term to re-run)."""
    if recompute == "full":
        return (2.0 * n_active + attention_fwd_per_token) * tokens
    if recompute == "selective":
        return attention_fwd_per_token * tokens
    return 0.0


def pf_days(flops: float) -> float:
    """FLOPs in PF-days: 1 PF-day = 10^15 FLOP/s sustained for 86 400 s = 8.64e19 FLOP."""
    return flops / PF_DAY_FLOP
