"""`capacity train` on the command line: the documented JSON keys, and one-line errors with exit 2."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

REQUIRED_KEYS = {
    "training_flops", "pf_days", "gpus", "gpu_hours", "gpu_days", "wall_clock_days", "mfu",
    "min_gpus_for_memory", "cost_usd", "energy_mwh", "facility_power_mw", "co2e_t",
}  # fmt: skip


def test_json_has_the_documented_keys(cli: Any) -> None:
    run = cli(
        "train", "--model", "gpt3-175b", "--tokens", "300B", "--chip", "v100", "--gpus", "10000", "-f", "json"
    )
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data.keys() >= REQUIRED_KEYS
    assert data["pf_days"] == pytest.approx(3640, rel=0.01)
    assert data["flops_convention"] == "6nd" and "modelled" in data["mfu_source"]
    assert {r["run"] for r in data["published_runs_on_chip"]} == {"gpt3-175b"}
    days_at_openai_mfu = data["published_runs_on_chip"][0]["wall_clock_days_at_that_mfu"]
    assert days_at_openai_mfu == pytest.approx(14.8, rel=0.03)
    assert "no cloud price for v100" in run.stderr  # the assumed price is flagged


def test_without_chip_only_hardware_independent_figures(cli: Any) -> None:
    data = cli("train", "--params", "175e9", "--tokens", "300e9", "-f", "json").json()
    assert data["pf_days"] == pytest.approx(3646, rel=0.002)
    assert data["gpus"] is None and data["wall_clock_days"] is None and data["cost_usd"] is None


def test_capacity_mode_reports_data_centre_days(cli: Any) -> None:
    data = cli(
        "train", "--model", "gpt3", "--tokens", "300B", "--capacity-pflops", "500", "-f", "json"
    ).json()
    assert data["data_centre_days_at_peak"] == pytest.approx(7.28, abs=0.01)


def test_deadline_and_cny(cli: Any) -> None:
    args = ["--params", "70B", "--tokens", "2T", "--chip", "h800", "--days", "30", "--mfu", "0.4"]
    data = cli(
        "train", *args, "--gpu-hour-usd", "2", "--currency", "cny", "--cny-per-usd", "7", "-f", "json"
    ).json()
    assert data["gpus"] % 8 == 0 and data["wall_clock_days"] <= 30
    assert data["cost"] == pytest.approx(data["cost_usd"] * 7) and data["currency"] == "CNY"


def test_table_groups_and_assumptions(cli: Any) -> None:
    out = cli("train", "--model", "llama2-70b", "--tokens", "2T", "--chip", "a100", "--gpus", "2048").stdout
    for word in ("compute", "time", "memory", "money", "energy", "Assumptions", "pf_days", "mfu"):
        assert word in out


def test_csv_is_one_row(cli: Any) -> None:
    lines = cli(
        "train", "--params", "7B", "--tokens", "1T", "--chip", "h100", "--gpus", "64", "-f", "csv"
    ).stdout
    assert len(lines.strip().splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params", "-5", "--tokens", "1T"], "--params: must be positive"),
        (["--params", "abc", "--tokens", "1T"], "--params: 'abc' is not a number"),
        (["--params", "7B", "--tokens", "1T", "--chip", "h100", "--gpus", "0"], "--gpus: must be positive"),
        (["--params", "7B", "--tokens", "1T", "--chip", "h100", "--gpus", "2.5"], "whole number"),
        (["--params", "7B", "--tokens", "1T", "--chip", "h1000", "--gpus", "8"], "unknown chip 'h1000'"),
        (["--params", "7B", "--tokens", "1T", "--chip", "v100", "--gpus", "8", "--precision", "bf16"],
         "v100-sxm2-32gb does not support bf16"),
        (["--params", "7B", "--tokens", "1T", "--chip", "a100", "--gpus", "8", "--precision", "fp4"],
         "--precision: 'fp4' is not one of"),
        (["--params", "7B", "--tokens", "1T", "--chip", "a100", "--gpus", "8", "--mfu", "1.5"], "--mfu:"),
        (["--params", "7B", "--tokens", "1T", "--gpus", "8"], "needs a chip"),
        (["--params", "7B", "--tokens", "1T", "--chip", "a100", "--gpus", "8", "--days", "3"],
         "--gpus and --days: give one of"),
        (["--tokens", "1T"], "give a model preset or a parameter count"),
        (["--params", "7B", "--tokens", "1T", "--flops", "palm"], "--flops palm needs the architecture"),
        (["--params", "7B", "--tokens", "1T", "--chip", "a100", "--gpus", "8", "--pue", "0.5"], "--pue:"),
        (["--model", "gpt-5", "--tokens", "1T"], "unknown model 'gpt-5'"),
        (["--params", "7B", "--tokens", "1T", "--chip", "a100", "--gpus", "8", "--mfu", "nan"], "--mfu:"),
        (["--params", "7B", "--tokens", "1T", "--capacity-pflops", "inf"], "--capacity-pflops:"),
        (["--params", "7B", "--tokens", "1T", "--chip", "a100", "--gpus", "8", "--gpu-hour-usd", "1e309"],
         "--gpu-hour-usd:"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(cli: Any, args: list[str], message: str) -> None:
    run = cli("train", *args)
    assert run.exit_code == 2, run.stdout
    assert message in run.stderr
    assert run.stdout == "" and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_a_plan_that_cannot_fit_exits_1_with_the_floor(cli: Any) -> None:
    # 1T parameters on one A100: fully sharded, 16 bytes per parameter of model state is 16 TB (issue 15);
    # the floor is 208 chips and the search's fewest whole nodes that fit are 28
    run = cli("train", "--params", "1T", "--tokens", "1T", "--chip", "a100", "--gpus", "1")
    assert run.exit_code == 1
    assert "cannot hold the job" in run.stderr and "at least 224 chips" in run.stderr  # 28 whole nodes
    assert cli("train", "--params", "1T", "--tokens", "1T", "--chip", "a100", "--gpus", "512").exit_code == 0


@pytest.mark.parametrize(
    ("base", "gpus"),
    [
        (["--model", "llama3.1-405b", "--chip", "v100"], 238),  # floor 238 chips, yet 238 to 255 do not fit
        (["--model", "llama3.1-405b", "--chip", "v100"], 1),
        (["--params", "1T", "--tokens", "1T", "--chip", "a100"], 200),
    ],
)
def test_the_count_a_refusal_suggests_fits(cli: Any, base: list[str], gpus: int) -> None:
    """Issue 15: the memory floor (bytes / usable memory per chip) is a lower bound the layout search can
    exceed, since layouts split chips into whole tensor, pipeline and context groups. A refusal names the
    fewest whole nodes on which the search finds a layout that fits, and that count then runs."""
    refused = cli("train", *base, "--gpus", str(gpus))
    assert refused.exit_code == 1
    suggested = int(re.findall(r"use at least ([\d,]+) chips", refused.stderr)[0].replace(",", ""))
    ok = cli("train", *base, "--gpus", str(suggested), "--format", "json")
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["memory_fits"] is True
    node = 8
    fewer = cli("train", *base, "--gpus", str(suggested - node))
    assert suggested - node < gpus or fewer.exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "gpt3-175b", "--tokens", "1e300", "--chip", "a100", "--gpus", "1024"],
        ["--model", "gpt3-175b", "--tokens", "300B", "--chip", "a100", "--capacity-pflops", "1e308"],
        ["--params", "1e308", "--tokens", "300B", "--chip", "a100", "--gpus", "1024"],
        ["--params", "5e-324", "--tokens", "1T", "--chip", "a100", "--gpus", "8"],
        ["--model", "gpt3-175b", "--tokens", "300B", "--chip", "a100", "--days", "5e-324"],
        ["--model", "gpt3-175b", "--tokens", "300B", "--chip", "a100", "--gpus", "1e9"],
    ],
)
def test_numbers_out_of_any_plans_range_are_bad_input_not_an_internal_error(
    cli: Any, args: list[str]
) -> None:
    # review: each of these overflowed or divided by zero inside the model (exit 4)
    run = cli("train", *args)
    assert run.exit_code == 2 and run.stderr.count("\n") == 1, run.stderr


def test_explain_and_a_given_mfu_refuse_a_plan_that_does_not_fit(cli: Any) -> None:
    # review: explain exited 0 with a warning; --mfu printed "closest layout (None)"
    base = ["--model", "gpt3-175b", "--tokens", "300B", "--chip", "a100", "--gpus", "8"]
    assert cli("explain", *base).exit_code == 1
    given = cli("train", *base, "--mfu", "0.4")
    # with --mfu the time is not modelled but the fit is: the refusal names the count the layout search
    # accepts (40: five nodes), not the 37 chips that 2,800 GB of perfectly sharded state would need, and
    # the same count as without --mfu (issue 15: the floor and the fit cannot disagree)
    assert given.exit_code == 1 and "(None)" not in given.stderr and "at least 40 chips" in given.stderr
    assert "at least 40 chips" in cli("train", *base).stderr
    assert cli("train", *base[:-1], "40", "--mfu", "0.4").exit_code == 0
    assert cli("train", *base[:-1], "37", "--mfu", "0.4").exit_code == 1  # the floor alone does not fit


def test_a_data_centre_plan_says_whether_the_job_fits(cli: Any) -> None:
    # review: --capacity-pflops plans left memory_fits unset, so a 1-PFLOPS hall "trained" GPT-3
    base = ["train", "--model", "gpt3-175b", "--tokens", "300B", "--chip", "a100"]
    big = cli(*base, "--capacity-pflops", "500", "-f", "json")
    assert big.exit_code == 0 and big.json()["memory_fits"] is True
    small = cli(*base, "--capacity-pflops", "1")  # 1 PFLOPS of A100s at 312 TFLOPS: 3 chips, 40 needed
    assert small.exit_code == 1
    assert "the --capacity-pflops data centre (3 x a100-sxm4-80gb) cannot hold the job" in small.stderr
    assert "None" not in small.stderr and "at least 40 chips" in small.stderr


def test_the_table_shows_the_layout_the_gpus_used_and_p50(cli: Any) -> None:
    # issue 16: the table hid the layout, the GPUs with work and P50 (only P10/P90 were shown)
    args = ["train", "--model", "gpt3-175b", "--tokens", "300B", "--chip", "a100", "--gpus", "1024"]
    table = cli(*args, "--uncertainty").stdout
    data = cli(*args, "--uncertainty", "-f", "json").json()
    from capacity.records.parallel import ResolvedParallel

    short = ResolvedParallel(**data["parallel"]).describe()  # e.g. TP8 PP4 DP32 VP8 mb4
    grid = " ".join(short.split()[:3])  # a narrow terminal wraps the sharding onto the next line
    assert grid.startswith(f"TP{data['parallel']['tp']} ") and grid in table and "gpus_used" in table
    assert "wall_clock_days_p50" in table and f"{data['wall_clock_days_p50']:.2f}" in table


def test_a_given_mfu_sets_pins_aside_for_the_fit_as_for_the_time(cli: Any) -> None:
    """With --mfu the layout is not modelled and the pins are ignored, for the memory fit too: 70B on 64
    H100s fits (some layout does) although TP1 PP1 ZeRO-1 would need 434 GB a chip; without --mfu the pinned
    layout is the plan and it exits 1 with its breakdown."""
    base = ["train", "--model", "llama2-70b", "--tokens", "2T", "--chip", "h100", "--gpus", "64"]
    pins = ["--tp", "1", "--pp", "1", "--sharding", "zero1"]
    given = cli(*base, *pins, "--mfu", "0.4")
    assert given.exit_code == 0 and "pinned layout is ignored" in given.stderr
    assert cli(*base, *pins).exit_code == 1


def test_a_deadline_a_pinned_width_cannot_meet_says_so(cli: Any) -> None:
    """--dp fixes the layout's width: past it extra chips get no work, which is the pin's doing, not the
    batch's (the message used to blame the batch after a climb to ten million chips)."""
    base = ["train", "--model", "llama2-70b", "--tokens", "2T", "--chip", "h100", "--tp", "8", "--pp", "8"]
    run = cli(*base, "--dp", "2", "--days", "10")
    assert run.exit_code == 2 and "--dp 2 pins the data-parallel width" in run.stderr
    assert "batch" not in run.stderr and run.stderr.count("\n") == 1
    met = cli(*base, "--dp", "2", "--days", "1000", "-f", "json")
    assert met.exit_code == 0 and met.json()["gpus"] == 128
