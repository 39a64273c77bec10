"""Invariants users rely on across commands (issue 15): energy = time x power, more tokens never faster,
a strictly better chip never slower, compare = train, a scenario = the same flags, JSON always valid."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips
from capacity.estimate.requests import training_request
from capacity.estimate.train import estimate_training

CHIPS = load_chips()
NVIDIA = [CHIPS.get(c) for c in ("a100", "h100", "h800", "h20", "b200-hgx", "l40s-48gb")]
params = st.sampled_from([1.3e9, 7e9, 13e9, 70e9])
tokens = st.floats(min_value=1e10, max_value=2e12, allow_nan=False)
gpus = st.sampled_from([8, 64, 256, 1024])
chips = st.sampled_from(NVIDIA)


def train(**kw: Any) -> Any:
    return estimate_training(training_request(**kw), load_assumptions(), load_efficiency())


@settings(max_examples=25, deadline=None)
@given(params, tokens, chips, gpus)
def test_energy_is_time_times_facility_power(n: float, d: float, chip: Any, g: int) -> None:
    est = train(params=n, tokens=d, chip=chip, gpus=g)
    if est.energy_mwh is not None and est.facility_power_mw is not None:
        assert est.energy_mwh == _approx(est.facility_power_mw * est.wall_clock_days * 24.0, 1e-6)


@settings(max_examples=25, deadline=None)
@given(params, tokens, chips, gpus)
def test_more_tokens_never_finish_sooner(n: float, d: float, chip: Any, g: int) -> None:
    one = train(params=n, tokens=d, chip=chip, gpus=g)
    more = train(params=n, tokens=d * 1.5, chip=chip, gpus=g)
    assert more.wall_clock_days >= one.wall_clock_days * (1 - 1e-9)


@settings(max_examples=20, deadline=None)
@given(params, tokens, gpus, st.floats(min_value=1.05, max_value=3.0))
def test_a_strictly_better_chip_is_never_slower(n: float, d: float, g: int, k: float) -> None:
    h100 = CHIPS.get("h100")
    better = h100.model_copy(update={
        "bf16_dense_tflops": h100.bf16_dense_tflops * k, "fp16_dense_tflops": h100.fp16_dense_tflops * k,
        "memory_bandwidth_gb_s": h100.memory_bandwidth_gb_s * k, "memory_gb": h100.memory_gb * k,
        "intra_node": h100.intra_node.model_copy(update={"bandwidth_gb_s": 900.0 * k}),
        "inter_node_gbit_s": h100.inter_node_gbit_s * k,
    })  # fmt: skip
    base = train(params=n, tokens=d, chip=h100, gpus=g)
    fast = train(params=n, tokens=d, chip=better, gpus=g)
    if base.memory_fits:
        assert fast.wall_clock_days <= base.wall_clock_days * (1 + 1e-9)


def test_compare_and_a_scenario_give_what_train_gives(cli: Any, tmp_path: Any) -> None:
    flags = ["--model", "llama2-7b", "--tokens", "1T", "--gpus", "64", "--gpu-hour-usd", "2"]
    alone = cli("train", *flags, "--chip", "h100", "-f", "json").json()
    row = next(
        r
        for r in cli("compare", *flags, "--chips", "h100,a100", "-f", "json").json()
        if r["chip"] == "h100-sxm5-80gb"
    )
    plan = tmp_path / "p.yaml"
    plan.write_text("name: p\nkind: train\nmodel: llama2-7b\ntokens: 1e12\nhardware: {chip: h100, gpus: 64}\n"
                    "economics: {gpu_hour_usd: 2}\n")  # fmt: skip
    (point,) = cli("run", str(plan), "-f", "json").json()
    for field in ("wall_clock_days", "cost_usd", "energy_mwh", "gpus"):
        assert row[field] == _approx(alone[field], 1e-9) and point["result"][field] == _approx(
            alone[field], 1e-9
        )


@settings(max_examples=15, deadline=None)
@given(
    st.sampled_from(["llama3.1-8b", "llama3.1-70b", "mixtral-8x7b", "deepseek-v3"]),
    st.sampled_from(["h100", "a100", "910b", "mi300x", "h20"]),
    st.integers(1, 50_000),
    st.integers(1, 8_000),
    st.floats(min_value=0.01, max_value=1e6),
)
def test_serving_json_is_always_valid(model: str, chip: str, s_in: int, s_out: int, qps: float) -> None:
    from typer.testing import CliRunner

    from capacity.cli import app

    args = ["serve", "--model", model, "--chip", chip, "--input-tokens", str(s_in), "--output-tokens",
            str(s_out), "--qps", repr(qps), "-f", "json"]  # fmt: skip
    run = CliRunner().invoke(app, args)
    assert run.exception is None or isinstance(run.exception, SystemExit), run.exception
    assert run.exit_code in (0, 1, 2), run.stderr
    if run.exit_code != 2:
        json.loads(run.stdout, parse_constant=_no_constants)


def _no_constants(name: str) -> Any:
    raise AssertionError(f"JSON holds {name}")


def _approx(value: float, rel: float) -> Any:
    import pytest

    return pytest.approx(value, rel=rel)


@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from(["llama2-7b", "llama2-70b", "mixtral-8x7b", "deepseek-v2"]),
    st.floats(min_value=1e11, max_value=2e12),
    chips,
    st.floats(min_value=5.0, max_value=120.0),
)
def test_a_deadline_answer_rerun_at_its_count_is_the_same_plan(
    model: str, d: float, chip: Any, days: float
) -> None:
    """The `--days` solve reuses the searches it ran; the plan it reports must be the one `--gpus` at the
    count it found gives (same days, layout and cost), meeting the deadline, one node fewer missing it."""
    from capacity.core.errors import InputError

    try:
        solved = train(model=model, tokens=d, chip=chip, deadline_days=days)
    except InputError as exc:
        assert "not met even with" in str(exc)
        return
    direct = train(model=model, tokens=d, chip=chip, gpus=solved.gpus)
    assert solved.wall_clock_days <= days * (1 + 1e-9)
    assert direct.wall_clock_days == solved.wall_clock_days and direct.layout == solved.layout
    assert direct.cost_usd == solved.cost_usd and direct.memory_fits is True
    if solved.gpus > 8 and solved.gpus > (solved.min_gpus_for_memory or 0):
        fewer = train(model=model, tokens=d, chip=chip, gpus=solved.gpus - 8)
        assert fewer.memory_fits is False or fewer.wall_clock_days > days
