"""One decode step of a continuously batched replica: its compute, memory traffic and communication.

A step of batch b runs every sequence's next token(s) through the model, and carries the prompts of the
queries that finish in it (chunked prefill: b · E / s_out of them, E tokens accepted per sequence and
step). With speculative decoding the target verifies k draft tokens per sequence in the same pass — its
weights and KV cache are read once for k + 1 tokens — after k passes of the draft; E follows Leviathan et
al. 2023 (arXiv:2211.17192, eq. 1) for a per-token acceptance rate a:

    E = (1 − a^(k+1)) / (1 − a)

Prefix caching skips the cached part of each prompt: the prefill computes the new tokens only, attending
over the whole prompt, i.e. prefill(s_in) − prefill(s_hit) (the difference of two causal prefills).

Under attention data parallelism with expert parallelism (DEP, ``data_parallel`` = g chips) each chip reads
its own copy of the dense weights, the all-to-all overlaps with compute (two micro-batches), and the chip
with the most routed tokens sets the pace of the expert GEMMs and the all-to-all (:func:`routing_imbalance`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from capacity.formulas import roofline


@dataclass(frozen=True)
class Draft:
    """Speculative decoding: k draft tokens per step, E accepted on average, the draft's size per pass."""

    tokens: int  # k
    expected_accepted: float  # E, counting the target's own token
    params: float  # parameters one draft pass reads and multiplies
    bytes_per_param: float


def expected_tokens_per_step(draft_tokens: int, acceptance_rate: float) -> float:
    """E = (1 − a^(k+1)) / (1 − a): tokens a sequence gains per verification step (Leviathan et al. 2023)."""
    a, k = acceptance_rate, draft_tokens
    return (1.0 - a ** (k + 1)) / (1.0 - a)


def routing_imbalance(tokens: float, top_k: int, chips: int) -> float:
    """Busiest chip's routed tokens / the mean, for tokens routed uniformly at random over ``chips``.

    Each chip's load is binomial with mean μ = tokens·k/g and variance ≈ μ(1 − 1/g); the largest of g such
    loads sits about sqrt(2 ln g) standard deviations above the mean (the Gaussian maximum). Real routing is
    more skewed; load balancers (DeepSeek's EPLB, redundant experts) bring it back towards this floor."""
    if chips <= 1 or tokens <= 0:
        return 1.0
    mean = tokens * top_k / chips
    return 1.0 + math.sqrt(2.0 * math.log(chips)) * math.sqrt((1.0 - 1.0 / chips) / mean)


@dataclass(frozen=True)
class DecodeStep:
    flops_per_s: float
    bytes_per_s: float
    n_active: float
    layers: int
    width: float  # attention width (heads × head dim)
    context: float  # mean cached tokens per sequence
    s_in: int
    s_out: int
    prefill_flops: float  # per query, cached prefix excluded
    prefill_tokens: float  # prompt tokens computed per query
    kv_bytes_per_token: float  # across the replica
    dense_bytes: float
    expert_bytes: float
    experts: int  # 0: dense
    top_k: int
    tp: int
    link_gb_s: float
    allreduce_latency_us: float
    act_bytes_per_token: float
    draft: Draft | None = None
    data_parallel: int = 1  # DEP: chips each running their own sequences on a full copy of the dense weights
    expert_active_params: float = 0.0  # DEP: routed-expert parameters one token uses (its top-k)
    a2a_bytes_per_token: float = 0.0  # DEP: sent off-chip and back per token, all MoE layers
    a2a_bytes_s: float = 1.0  # DEP: per-chip all-to-all bandwidth
    attention_flops_per_s: float = 0.0  # attention's rate (16-bit kernels); 0: the same as flops_per_s

    @property
    def accepted(self) -> float:
        """Tokens a sequence gains per step (1 without speculation; at most the answer's length)."""
        return 1.0 if self.draft is None else min(self.draft.expected_accepted, float(self.s_out))

    def weight_bytes(self, tokens: float) -> float:
        if self.experts == 0:
            return self.dense_bytes
        touched = roofline.experts_touched_fraction(self.experts, self.top_k, tokens)
        return self.dense_bytes + self.expert_bytes * touched

    def comm(self, tokens: float) -> float:
        """Two all-reduces of the activations per layer (Megatron tensor parallelism)."""
        one = roofline.allreduce_s(tokens * self.act_bytes_per_token, self.tp, self.link_gb_s,
                                   self.allreduce_latency_us)  # fmt: skip
        return 2 * self.layers * one

    def compute_s(self, linear_flops: float, attention_flops: float) -> float:
        """GEMMs at the weights' rate; attention (scores and weighted values) at the 16-bit rate: the
        FlashAttention and FlashMLA kernels engines use compute in BF16/FP16, and DeepSeek keeps its core
        MLA in BF16 while its GEMMs run in FP8 (DeepSeek inference-system overview)."""
        return linear_flops / self.flops_per_s + attention_flops / (
            self.attention_flops_per_s or self.flops_per_s
        )

    def prefill_compute_s(self) -> float:
        """One prompt's prefill compute on the whole replica (its new tokens, attending over all)."""
        linear = 2.0 * self.n_active * self.prefill_tokens
        return self.compute_s(linear, self.prefill_flops - linear)

    def parts(self, b: int, with_prefill: bool = True) -> tuple[float, float, float]:
        """(compute s, memory s, communication s) of the target's pass at batch b (+ its prefill share)."""
        per_seq = 1 + (0 if self.draft is None else self.draft.tokens)
        share = b * self.accepted / self.s_out if with_prefill else 0.0
        tokens = b * per_seq + share * self.prefill_tokens
        attention = b * per_seq * 4.0 * self.layers * self.width * self.context
        compute = (
            self.compute_s(b * per_seq * 2.0 * self.n_active, attention) + share * self.prefill_compute_s()
        )
        copies = (self.data_parallel - 1) * self.dense_bytes
        moved = self.weight_bytes(tokens) + copies + (b * self.context + tokens) * self.kv_bytes_per_token
        if self.data_parallel == 1:
            return compute, moved / self.bytes_per_s, self.comm(tokens)
        excess = routing_imbalance(tokens, self.top_k, self.data_parallel) - 1.0
        compute += excess * 2.0 * self.expert_active_params * tokens / self.flops_per_s  # the busiest chip
        a2a = tokens * self.a2a_bytes_per_token * (1.0 + excess) / self.data_parallel / self.a2a_bytes_s
        return compute, moved / self.bytes_per_s, a2a

    def busy(self, compute: float, memory: float, talk: float) -> float:
        """TP: the all-reduces follow each layer's GEMMs; DEP: the all-to-all overlaps them."""
        if self.data_parallel > 1:
            return max(compute, memory, talk)
        return max(compute, memory) + talk

    def draft_s(self, b: int) -> float:
        """The k sequential draft passes of one step (each a roofline over the draft's weights)."""
        if self.draft is None:
            return 0.0
        d = self.draft
        g = self.data_parallel  # DEP: every chip runs its own copy of the draft over its own sequences
        one = roofline.roofline_s(2.0 * d.params * b, d.params * d.bytes_per_param * g, self.flops_per_s,
                                  self.bytes_per_s)  # fmt: skip
        return d.tokens * one

    def step(self, b: int) -> float:
        return self.busy(*self.parts(b)) + self.draft_s(b)

    def tpot(self, b: int) -> float:
        """Mean time per output token: the step over the tokens it yields per sequence."""
        return self.step(b) / self.accepted

    def queries_per_s(self, b: int) -> float:
        return b * self.accepted / self.s_out / self.step(b)

    def prefill_alone(self) -> float:
        """One prompt's prefill on an idle replica (DEP: on one chip, its experts spread over all)."""
        kv = self.s_in * self.kv_bytes_per_token
        if self.data_parallel > 1:
            g, tokens = self.data_parallel, self.prefill_tokens
            expert = 2.0 * self.expert_active_params * tokens  # the routed GEMMs, spread over every chip
            linear = 2.0 * self.n_active * tokens - expert  # attention projections, dense and shared layers
            compute = (
                self.compute_s(linear, self.prefill_flops - linear - expert) * g + expert / self.flops_per_s
            )
            memory = (self.dense_bytes + kv) / (self.bytes_per_s / g)
            # the prompt's chip sends its FP8 dispatch (1 byte a value) out and takes the BF16 combine (2) in:
            # the busier direction carries 2 of the 3 bytes the all-to-all moves per value
            a2a = tokens * self.a2a_bytes_per_token * 2.0 / 3.0 / self.a2a_bytes_s
            return max(compute, memory, a2a)
        moved = self.weight_bytes(self.prefill_tokens) + kv
        return max(self.prefill_compute_s(), moved / self.bytes_per_s) + self.comm(self.prefill_tokens)

    def ttft(self, b: int) -> float:
        """A new query's prefill, after the step in flight (without its prefill chunks) finishes."""
        return self.prefill_alone() + self.busy(*self.parts(b, with_prefill=False)) + self.draft_s(b)
