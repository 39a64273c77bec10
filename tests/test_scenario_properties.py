"""Hypothesis: scenario → YAML → scenario round-trips; any catalogue chip × a random valid scenario either
evaluates or fails with a clean InputError (never a crash)."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from capacity.core.errors import InputError
from capacity.data.catalog import load_chips, load_models
from capacity.plans.scenario import Hardware, Limits, Scenario, load_scenarios
from capacity.plans.scenario_run import evaluate_one

CHIP_IDS = sorted(c.id for c in load_chips())
MODEL_IDS = sorted(m.id for m in load_models())
pos = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)

train_scenarios = st.builds(
    Scenario,
    name=st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=20).filter(
        lambda s: s.strip() != ""
    ),
    kind=st.just("train"),
    model=st.sampled_from(MODEL_IDS),
    tokens=st.floats(min_value=1e6, max_value=1e14, allow_nan=False),
    hardware=st.builds(
        Hardware,
        chip=st.sampled_from(CHIP_IDS),
        gpus=st.integers(1, 100_000),
        precision=st.sampled_from([None, "bf16", "fp16", "fp8", "tf32", "fp32"]),
    ),
    limits=st.builds(Limits, max_cost_usd=st.none() | pos, max_wall_clock_days=st.none() | pos),
)
serve_scenarios = st.builds(
    Scenario,
    name=st.just("serve"),
    kind=st.just("serve"),
    model=st.sampled_from(["llama3.1-8b", "llama3.1-70b", "mixtral-8x7b", "deepseek-v3", "gpt3-175b"]),
    input_tokens=st.integers(1, 8000),
    output_tokens=st.integers(1, 4000),
    hardware=st.builds(
        Hardware,
        chip=st.sampled_from(CHIP_IDS),
        precision=st.sampled_from([None, "bf16", "fp16", "fp8", "int8", "int4"]),
    ),
)


def _dump(sc: Scenario) -> str:
    buf = io.StringIO()
    YAML().dump(sc.model_dump(mode="json", exclude_defaults=True), buf)
    return buf.getvalue()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(train_scenarios | serve_scenarios)
def test_yaml_round_trip(tmp_path_factory: object, sc: Scenario) -> None:
    path = Path(tmp_path_factory.mktemp("rt")) / "s.yaml"  # type: ignore[attr-defined]
    path.write_text(_dump(sc), encoding="utf-8")
    assert load_scenarios(path) == [sc]


@settings(max_examples=150, deadline=None)
@given(train_scenarios | serve_scenarios)
def test_any_chip_and_scenario_never_crashes(sc: Scenario) -> None:
    try:
        result = evaluate_one(sc)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert result["gpus"] is None or result["gpus"] >= 1
