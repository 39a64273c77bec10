"""One decode step of a continuously batched replica: its compute, memory traffic and communication.

A step of batch b runs every sequence's next token(s) through the model, and carries the prompts of the
queries that finish in it (chunked prefill: b · E / s_out of them, E tokens accepted per sequence and
step). With speculative decoding the target verifies k draft tokens per sequence in the same pass — its
weights and KV cache are read once for k + 1 tokens — after k passes of the draft; E follows Leviathan et
al. 2023 (arXiv:2211.17192, eq. 1) for a per-token acceptance rate a:

    E = (1 − a^(k+1)) / (1 − a)

Prefix caching skips the cached part of each prompt: the prefill computes the new tokens only, attending
over the whole prompt, i.e. prefill(s_in) − prefill(s_hit) (the difference of two causal prefills).
"""

from __future__ import annotations

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

    @property
    def accepted(self) -> float:
        """Tokens each sequence gains per step (1 without speculation)."""
        return 1.0 if self.draft is None else self.draft.expected_accepted

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

    def parts(self, b: int, with_prefill: bool = True) -> tuple[float, float, float]:
        """(compute s, memory s, communication s) of the target's pass at batch b (+ its prefill share)."""
        per_seq = 1 + (0 if self.draft is None else self.draft.tokens)
        share = b * self.accepted / self.s_out if with_prefill else 0.0
        tokens = b * per_seq + share * self.prefill_tokens
        decode = (
            b
            * per_seq
            * roofline.decode_flops_per_token(self.n_active, self.layers, self.width, self.context)
        )
        flops = decode + share * self.prefill_flops
        moved = self.weight_bytes(tokens) + (b * self.context + tokens) * self.kv_bytes_per_token
        return flops / self.flops_per_s, moved / self.bytes_per_s, self.comm(tokens)

    def draft_s(self, b: int) -> float:
        """The k sequential draft passes of one step (each a roofline over the draft's weights)."""
        if self.draft is None:
            return 0.0
        d = self.draft
        one = roofline.roofline_s(2.0 * d.params * b, d.params * d.bytes_per_param, self.flops_per_s,
                                  self.bytes_per_s)  # fmt: skip
        return d.tokens * one

    def step(self, b: int) -> float:
        compute, memory, talk = self.parts(b)
        return max(compute, memory) + talk + self.draft_s(b)

    def tpot(self, b: int) -> float:
        """Mean time per output token: the step over the tokens it yields per sequence."""
        return self.step(b) / self.accepted

    def queries_per_s(self, b: int) -> float:
        return b * self.accepted / self.s_out / self.step(b)

    def prefill_alone(self) -> float:
        moved = self.weight_bytes(self.prefill_tokens) + self.s_in * self.kv_bytes_per_token
        return roofline.roofline_s(self.prefill_flops, moved, self.flops_per_s, self.bytes_per_s) + self.comm(
            self.prefill_tokens
        )

    def ttft(self, b: int) -> float:
        """A new query's prefill, after the step in flight (without its prefill chunks) finishes."""
        compute, memory, talk = self.parts(b, with_prefill=False)
        return self.prefill_alone() + max(compute, memory) + talk + self.draft_s(b)
