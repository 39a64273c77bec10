"""Costs say which price they rest on, and comparisons never rank on a placeholder (issue 13, item 2)."""

from __future__ import annotations

import json
from typing import Any

import capacity

ARGS = ["--params", "70B", "--tokens", "2T", "--gpus", "1024"]


def test_estimates_name_their_price() -> None:
    h100 = capacity.estimate_training(params=70e9, tokens=2e12, chip="h100", gpus=1024)
    h800 = capacity.estimate_training(params=70e9, tokens=2e12, chip="h800", gpus=1024)
    given = capacity.estimate_training(
        params=70e9, tokens=2e12, chip="h800", gpus=1024, economics=capacity.Economics(gpu_hour_usd=1.5)
    )
    assert h100.price_assumed is False and (h100.price_date or "") >= "2026"  # the newest dated quote
    assert "on-demand/marketplace quotes within 12 months" in (h100.price_source or "")
    assert h800.price_assumed is True and "placeholder" in (h800.price_source or "")
    assert given.price_assumed is False and given.cost_usd == given.gpu_hours * 1.5  # type: ignore[operator]
    srv = capacity.estimate_serving(model="llama3.1-70b", chip="h20", input_tokens=100, output_tokens=100)
    assert srv.price_assumed is True


def test_compare_ranks_real_prices_before_placeholders(cli: Any) -> None:
    run = cli("compare", "--chips", "h100,h800,h20,910b,a100", *ARGS, "--format", "json")
    assert run.exit_code == 0, run.stderr
    rows = json.loads(run.stdout)
    flags = [r["price_assumed"] for r in rows]
    assert flags == sorted(flags)  # every dated price before every placeholder
    priced = [r for r in rows if not r["price_assumed"]]
    assumed = [r for r in rows if r["price_assumed"]]
    assert {r["chip"] for r in priced} == {"h100-sxm5-80gb", "a100-sxm4-80gb"}
    # H800 at the placeholder would be cheaper than H100 at its real price; it still ranks after it
    h800 = next(r for r in rows if r["chip"] == "h800-sxm5-80gb")
    h100 = next(r for r in rows if r["chip"] == "h100-sxm5-80gb")
    assert h800["cost_usd"] < h100["cost_usd"] and h800["price_assumed"] is True
    for group in (priced, assumed):
        assert [r["cost_usd"] for r in group] == sorted(r["cost_usd"] for r in group)
    # every row has a power figure or says why not (the 910B's 350 W is inside its sources' 310-400 W)
    assert all(r["facility_power_mw"] is not None or "no power figure" in (r["note"] or "") for r in rows)
    run = cli("compare", "--chips", "h100,tpu-v5e", *ARGS, "--format", "json")
    tpu = next(r for r in json.loads(run.stdout) if r["chip"] == "tpu-v5e")
    assert tpu["facility_power_mw"] is None and "no power figure" in tpu["note"]  # Google gives no TDP


def test_a_given_price_ranks_on_cost_alone(cli: Any) -> None:
    run = cli("compare", "--chips", "h100,h800,a100", *ARGS, "--gpu-hour-usd", "2", "--format", "json")
    rows = json.loads(run.stdout)
    assert not any(r["price_assumed"] for r in rows)
    assert [r["cost_usd"] for r in rows] == sorted(r["cost_usd"] for r in rows)
