"""`capacity compare`: one workload on several chips, sorted, with the best values marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from capacity.plans.compare import best_index

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ["compare", "--model", "glm-130b", "--tokens", "400B", "--days", "60", "--precision", "fp16"]
SERVE = ["compare", "--model", "llama3.1-70b", "--input-tokens", "2000", "--output-tokens", "500",
         "--precision", "fp16", "--qps", "50"]  # fmt: skip


def test_training_comparison_json(cli: Any) -> None:
    run = cli(*TRAIN, "--chips", "a100,h800,910B,mlu370", "-f", "json")
    assert run.exit_code == 0, run.stderr
    rows = run.json()
    # by cost: chips with a dated price first (the A100), then those on the placeholder, each cheapest first
    assert rows[0]["chip"] == "a100-sxm4-80gb" and rows[0]["price_assumed"] is False
    assumed = [r["cost_usd"] for r in rows if r["price_assumed"]]
    assert assumed == sorted(assumed) and all(r["price_assumed"] for r in rows[1:])
    for r in rows:
        assert {"chip", "gpus", "wall_clock_days", "cost_usd", "energy_mwh", "tokens_per_usd"} <= r.keys()
        assert r["wall_clock_days"] <= 60 and r["gpus"] % 8 == 0
    assert {r["us_licence_for_china"] for r in rows} == {"required", "not-applicable"}


def test_same_count_comparison_sorted_by_time(cli: Any) -> None:
    args = ["--model", "llama2-7b", "--tokens", "1T", "--gpus", "256", "--chips", "v100,a100,h100"]
    rows = cli("compare", *args, "--sort", "time", "-f", "json").json()
    assert [r["chip"] for r in rows] == ["h100-sxm5-80gb", "a100-sxm4-80gb", "v100-sxm2-32gb"]


def test_serving_comparison_and_domestic_filter(cli: Any) -> None:
    rows = cli(*SERVE, "--domestic", "-f", "json").json()
    assert rows and all(r["us_licence_for_china"] == "not-applicable" for r in rows)
    ok = [r for r in rows if r["error"] is None]
    assert ok and all(r["cost_usd_per_million_output_tokens"] > 0 for r in ok)
    failed = [r for r in rows if r["error"]]  # chips without memory data or fp16 peaks say why
    assert all(r["error"] for r in failed)


def test_chips_that_cannot_run_get_a_reason(cli: Any) -> None:
    rows = cli("compare", "--model", "llama2-7b", "--tokens", "1T", "--gpus", "64", "--precision", "bf16",
               "--chips", "a100,v100", "-f", "json").json()  # fmt: skip
    v100 = next(r for r in rows if r["chip"] == "v100-sxm2-32gb")
    assert "does not support bf16" in v100["error"] and rows[-1]["chip"] == "v100-sxm2-32gb"


def test_scenario_workload(cli: Any) -> None:
    plan = str(ROOT / "specs/scenarios/ci-plan-with-limits.yaml")
    rows = cli("compare", "--chips", "h800,a800", "--scenario", plan, "-f", "json").json()
    assert {r["chip"] for r in rows} == {"h800-sxm5-80gb", "a800-sxm4-80gb"}


def test_table_marks_best_values_and_draws_bars(cli: Any) -> None:
    out = cli(*TRAIN, "--chips", "a100,h800", "-f", "markdown").stdout
    assert "**" in out and "█" in out


def test_best_index() -> None:
    rows = [{"a": 3.0, "b": 1}, {"a": 1.0, "b": 1}, {"a": None, "b": 1}]
    assert best_index(rows, "a", higher_is_better=False) == 1
    assert best_index(rows, "a", higher_is_better=True) == 0
    assert best_index(rows, "b", higher_is_better=False) is None  # all equal: nothing to single out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "glm-130b", "--tokens", "400B", "--gpus", "8"], "choose chips"),
        (["--chips", "a100,zz9", "--model", "glm-130b", "--tokens", "4e11", "--gpus", "8"], "unknown chip"),
        (["--chips", "a100", "--model", "glm-130b"], "give a workload"),
        (["--chips", "a100", "--model", "glm-130b", "--tokens", "400B"], "give --gpus N or --days T"),
        (["--chips", "a100", "--model", "glm-130b", "--tokens", "4e11", "--gpus", "8", "--sort", "x"],
         "--sort: 'x' is not one of"),
    ],
)  # fmt: skip
def test_bad_input_exits_2(cli: Any, args: list[str], message: str) -> None:
    run = cli("compare", *args)
    assert run.exit_code == 2 and message in run.stderr, run.stderr


def test_plot(cli: Any, tmp_path: Path) -> None:
    png = tmp_path / "c.png"
    run = cli(*TRAIN, "--chips", "a100,h800,910B", "--plot", str(png))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert run.exit_code == 3 and "pip install 'capacity[plot]'" in run.stderr
        return
    assert run.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rows_missing_the_latency_target_say_so_and_sort_last(cli: Any) -> None:
    rows = cli(*SERVE, "--chips", "a100,h100", "--tpot-ms", "25", "-f", "json").json()
    a100 = next(r for r in rows if r["chip"] == "a100-sxm4-80gb")
    assert a100["slo_met"] is False and "misses the latency target" in a100["error"]
    assert rows[-1]["chip"] == "a100-sxm4-80gb"


def test_serving_comparison_falls_back_to_fp16_without_bf16(cli: Any) -> None:
    args = ["--model", "llama3.1-70b", "--input-tokens", "2000", "--output-tokens", "500", "--qps", "10"]
    rows = cli("compare", *args, "--chips", "910B,h100", "-f", "json").json()
    ascend = next(r for r in rows if r["chip"] == "ascend-910b")
    assert ascend["error"] is None and ascend["weight_precision"] == "fp16"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chips", ",,"], "no chip ids"),
        (["--chips", "a100", "--all"], "--chips and --all: choose the chips one way"),
        (["--chips", "a100", "--model", "llama2-7b", "--params", "700B"], "--model and --params"),
    ],
)
def test_empty_or_conflicting_selections_are_refused(cli: Any, args: list[str], message: str) -> None:
    base = ["--tokens", "1T", "--gpus", "64"] + ([] if "--model" in args else ["--model", "llama2-7b"])
    run = cli("compare", *args, *base)
    assert run.exit_code == 2 and message in run.stderr


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--mfu", "nan"), ("--days", "0"), ("--mfu", "1.5"), ("--pue", "0.5"), ("--gpu-hour-usd", "-2")],
)
def test_compare_checks_numbers_once_before_any_chip(cli: Any, flag: str, value: str) -> None:
    # issue 15: these became one error row per chip and exit 0
    args = ["--chips", "a100,h100", "--model", "llama2-7b", "--tokens", "1T"]
    args += [] if flag == "--days" else ["--gpus", "64"]
    run = cli("compare", *args, flag, value)
    assert run.exit_code == 2 and run.stderr.startswith(f"error: {flag}:")


def test_a_request_every_chip_refuses_alike_is_bad_input_not_a_table(cli: Any) -> None:
    # review: --gpus with --days gave a table of identical error rows and exit 0
    run = cli("compare", "--model", "gpt3-175b", "--tokens", "300B", "--chips", "a100,h100", "--gpus", "1024",
              "--days", "30")  # fmt: skip
    assert run.exit_code == 2 and run.stdout == "" and "--gpus and --days" in run.stderr
    # a chip-specific refusal stays a row: FP8 on an A100 beside an H100 that has it
    mixed = cli("compare", "--model", "gpt3-175b", "--tokens", "300B", "--chips", "a100,h100",
                "--gpus", "1024", "--precision", "fp8", "-f", "json")  # fmt: skip
    assert mixed.exit_code == 0
    errors = {r["chip"]: r["error"] for r in mixed.json()}
    assert errors["h100-sxm5-80gb"] is None and errors["a100-sxm4-80gb"] is not None


def test_the_chart_has_four_panels_with_units_and_the_workload_in_the_title() -> None:
    """Issue 16: small multiples (time, cost, energy, chips) with units on the axes, not one bar chart of
    cost_usd with a 1e6 offset."""
    pytest.importorskip("matplotlib")
    from capacity.cli.charts import PANELS, count_text, workload_title

    assert [label for _, label, _ in PANELS["train"]] == ["days", "cost, USD M", "energy, MWh", "chips"]
    assert all(len(panels) == 4 for panels in PANELS.values())
    assert (
        workload_title("train", {"model": "glm-130b", "tokens": 4e11}) == "Training glm-130b on 400B tokens"
    )
    assert count_text(1.4e12) == "1.4T" and count_text(2048) == "2,048"


@pytest.mark.parametrize("path", ["/dev/null", "chart.jpg", "-", "/nonexistent-folder/c.png"])
def test_a_chart_goes_only_to_a_png_file(cli: Any, path: str) -> None:
    """matplotlib wrote /dev/null.png for --plot /dev/null and a JPEG for .jpg (hostile sweep)."""
    run = cli(*TRAIN, "--chips", "a100,h800", "--plot", path)
    assert run.exit_code == 2 and "--plot" in run.stderr and run.stderr.count("\n") == 1


def test_image_compare_refuses_the_other_workloads_flags(cli: Any) -> None:
    """review: --gpus was dropped silently when comparing image serving, --steps when comparing training."""
    serve = cli("compare", "--chips", "h100,a100", "--model", "sdxl", "--steps", "30", "--gpus", "8")
    train = cli("compare", "--chips", "h100,a100", "--model", "sd-1.5", "--images", "1B", "--gpus", "8",
                "--steps", "3")  # fmt: skip
    assert serve.exit_code == 2 and "--gpus does not apply" in serve.stderr
    assert train.exit_code == 2 and "--steps does not apply" in train.stderr


def test_image_serving_without_a_load_does_not_claim_a_missing_power_figure(cli: Any) -> None:
    rows = cli("compare", "--chips", "h100,a100", "--model", "sdxl", "--steps", "30", "-f", "json").json()
    assert all(r["note"] is None or "no power figure" not in r["note"] for r in rows)
    assert all(r["energy_wh_per_image"] > 0 for r in rows)


def test_fractions_keep_their_digits_on_chart_labels() -> None:
    pytest.importorskip("matplotlib")
    from capacity.cli.charts import count_text

    assert [count_text(x) for x in (1.5, 2.0, 0.4, 2048)] == ["1.5", "2", "0.4", "2,048"]
