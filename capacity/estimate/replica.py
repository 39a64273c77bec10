"""How a serving replica is configured: math and KV precision, replica size, batch limits, link, traffic.

The choices :func:`capacity.estimate.serve.estimate_serving` makes before it runs the roofline, each a small
function that records the default it used in the estimate's provenance.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from capacity.core.errors import InputError
from capacity.data.assumptions import Efficiency, ServingDefaults
from capacity.data.efficiency import peak_tflops
from capacity.data.provenance import Provenance
from capacity.estimate.decode_step import Draft, expected_tokens_per_step
from capacity.formulas.links import inter_node_gb_s, intra_node_gb_s, scale_up_domain
from capacity.records.chip import Chip, Dtype
from capacity.records.choices import KvPrecision, Traffic, WeightPrecision, sixteen_bit
from capacity.records.model_spec import ModelPreset

REPLICA_SIZES = (1, 2, 4, 8, 16, 32, 64)


def compute_dtype(chip: Chip, weights: WeightPrecision, prov: Provenance) -> Dtype:
    """Math precision: W8A8/FP8 where the chip has that peak, else 16-bit (weight-only quantisation)."""
    if weights in ("bf16", "fp16"):
        peak_tflops(chip, weights)  # raises a clear error if the chip cannot run it
        return weights
    if weights in ("fp8", "int8") and chip.dense_peak(weights) is not None:
        return weights
    sixteen: Dtype = sixteen_bit(chip)
    peak_tflops(chip, sixteen)
    prov.note(
        "compute_precision", sixteen, f"{weights} weights dequantised to {sixteen} (weight-only quantisation)"
    )
    return sixteen


def default_kv_precision(
    chip: Chip, weights: WeightPrecision, compute: Dtype, prov: Provenance
) -> KvPrecision:
    """The KV cache follows 16-bit and FP8 weights; integer (weight-only) formats keep a 16-bit cache.

    FP8 checkpoints are served with an FP8 KV cache (TensorRT-LLM's FP8 recipes quantise the KV cache with
    the weights; vLLM ``--kv-cache-dtype fp8``); on chips without FP8 math the cache stays 16-bit."""
    if weights in ("bf16", "fp16"):
        return weights
    if weights == "fp8" and compute == "fp8":
        prov.note("kv_precision", "fp8", "FP8 weights come with an FP8 KV cache (--kv-precision changes it)")
        return "fp8"
    return sixteen_bit(chip)


def batch_limit(
    b_mem: int, cap: int | None, token_budget: float, tokens_per_sequence: float
) -> tuple[int, str]:
    """(largest batch, what limits it): the KV cache, an explicit engine cap, or the engine's token budget.

    Each sequence brings ``tokens_per_sequence`` tokens to a step: its next token (plus k draft tokens
    under speculation) and, with chunked prefill, its share of the prompts the step carries
    (E · s_new / s_out on average); the engine batches at most ``max_num_tokens`` tokens per step."""
    per_step = max(1, int(token_budget // tokens_per_sequence))
    limits = [(b_mem, "memory"), (per_step, "token budget")]
    if cap is not None:
        limits.append((cap, "engine cap"))
    return min(limits, key=lambda pair: pair[0])


def link_gb_s(chip: Chip, gpus: int, node: int, eff: Efficiency, prov: Provenance) -> float:
    """Per-direction all-reduce bandwidth per chip: intra-node link, or the NIC when a replica spans nodes."""
    domain, beyond = scale_up_domain(chip)
    if gpus > node and not (domain and gpus <= domain):  # a replica beyond the scale-up domain
        if chip.inter_node_gbit_s is None:
            raise InputError(
                f"--gpus-per-replica {gpus} spans nodes but {chip.id} has no inter-node bandwidth"
            )
        raw, _ = inter_node_gb_s(chip)
    else:
        raw, warning = intra_node_gb_s(chip)
        if warning:
            prov.warnings.append(warning)
        if domain is not None and gpus > domain:  # bridged pairs: the rest of the ring crosses PCIe
            raw = beyond
    return raw * prov.pick(None, "link_efficiency", eff.link_efficiency)


def default_replica(weights: float, usable: float, heads: int, d: ServingDefaults, prov: Provenance) -> int:
    frac = prov.pick(None, "weight_fraction_of_memory", d.weight_fraction_of_memory)
    for g in REPLICA_SIZES:
        if weights <= frac * g * usable and heads % g == 0:
            return g
    raise InputError(
        f"the model's {weights / 1e9:,.0f} GB of weights fit on no replica of up to 64 chips "
        f"({usable / 1e9:,.0f} GB usable each); use lower precision or a chip with more memory"
    )


def batch_under_slo(
    top: int,
    step: Callable[[int], float],
    ttft: Callable[[int], float],
    tpot_ms: float | None,
    ttft_ms: float | None,
) -> tuple[int, bool]:
    """Largest batch ≤ ``top`` whose step time and TTFT meet the targets (both grow with the batch)."""

    def ok(b: int) -> bool:
        fast = tpot_ms is None or step(b) * 1e3 <= tpot_ms
        return fast and (ttft_ms is None or ttft(b) * 1e3 <= ttft_ms)

    if ok(top):
        return top, True
    if not ok(1):
        return 1, False
    return bisect_right(range(1, top + 1), False, key=lambda b: not ok(b)), True


def average_qps(t: Traffic, d: ServingDefaults, prov: Provenance) -> float:
    if t.qps is not None:
        return t.qps
    if t.queries_per_day is not None:
        return t.queries_per_day / 86_400
    if t.visits_per_month is not None:
        days = prov.pick(None, "days_per_month", d.days_per_month)
        return t.visits_per_month * t.queries_per_visit / (days * 86_400)
    raise InputError("traffic: give --qps, --queries-per-day or --visits-per-month")


def prefix_hit_tokens(hit_rate: float, shared_tokens: int, s_in: int) -> float:
    """Prompt tokens whose KV cache is found: the shared prefix at least, else the hit rate's share."""
    return max(hit_rate * s_in, float(shared_tokens))


def speculative_draft(
    method: str | None,
    draft_tokens: int | None,
    acceptance_rate: float | None,
    draft_params: float | None,
    m: ModelPreset,
    n_active: float,
    bytes_per_param: float,
    d: ServingDefaults,
    prov: Provenance,
) -> Draft | None:
    """The draft of a speculative method, its k and a from the flags or ``specs/serving.yaml``.

    MTP and EAGLE draft with a head of one target layer that shares the output projection: n_active / L
    plus the vocabulary × hidden LM head per pass; a separate draft model reads its own parameters."""
    if method is None:
        return None
    preset = d.speculative[method]
    k = draft_tokens or preset.draft_tokens
    a = acceptance_rate or preset.acceptance_rate
    if draft_tokens is None:
        prov.note("draft_tokens", k, preset.source)
    if acceptance_rate is None:
        prov.note("acceptance_rate", a, preset.source)
    if method == "draft":
        params = draft_params or 0.0
    else:
        params = (preset.draft_layers or 1) * n_active / m.layers + m.vocab_size * m.hidden_size
    return Draft(tokens=k, expected_accepted=expected_tokens_per_step(k, a), params=params,
                 bytes_per_param=bytes_per_param)  # fmt: skip
