"""Hypothesis: more traffic never needs fewer GPUs; a tighter latency target never raises throughput."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults
from capacity.data.catalog import load_chips, load_models
from capacity.estimate.serve import ServeEstimate, ServeRequest, estimate_serving
from capacity.records.choices import Traffic

CHIPS, MODELS = load_chips(), load_models()
models = st.sampled_from(["llama3.1-8b", "llama3.1-70b", "mixtral-8x7b", "llama2-13b"])
chips = st.sampled_from(["h100", "a100", "h20", "h800", "mi300x", "910B"])
tokens = st.integers(min_value=1, max_value=4000)


def serve(model: str, chip: str, i: int, o: int, **kw: object) -> ServeEstimate:
    req = ServeRequest(model=MODELS.get(model), chip=CHIPS.get(chip), input_tokens=i, output_tokens=o,
                       weight_precision="fp16", **kw)  # type: ignore[arg-type]  # fmt: skip
    return estimate_serving(req, load_assumptions(), load_efficiency(), load_serving_defaults())


@settings(max_examples=60, deadline=None)
@given(models, chips, tokens, tokens, st.floats(0.01, 1e4), st.floats(1.0, 10.0))
def test_more_traffic_never_fewer_gpus(
    model: str, chip: str, i: int, o: int, qps: float, more: float
) -> None:
    low = serve(model, chip, i, o, traffic=Traffic(qps=qps))
    high = serve(model, chip, i, o, traffic=Traffic(qps=qps * more))
    assert high.gpus >= low.gpus


@settings(max_examples=60, deadline=None)
@given(models, chips, tokens, tokens, st.floats(1, 500), st.floats(0.1, 1.0))
def test_tighter_latency_never_raises_throughput(
    model: str, chip: str, i: int, o: int, tpot: float, k: float
) -> None:
    loose = serve(model, chip, i, o, tpot_ms=tpot)
    tight = serve(model, chip, i, o, tpot_ms=tpot * k)
    assert tight.output_tokens_per_s_per_replica <= loose.output_tokens_per_s_per_replica * (1 + 1e-9)
