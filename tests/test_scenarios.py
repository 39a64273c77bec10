"""Scenario files: examples evaluate and validate against the shipped schema; broken input exits 2 with
file:line; limits exit 1; the GitHub step summary is written."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from capacity.plans.scenario import load_scenarios
from capacity.plans.scenario_run import evaluate
from capacity.plans.scenario_schema import scenario_json_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "specs" / "scenarios").glob("*.yaml"))
EXAMPLES += sorted((ROOT / "specs" / "scenarios" / "reports").glob("*.yaml"))  # the reports' S-1 to S-15
GOOD = (ROOT / "specs" / "scenarios" / "ci-plan-with-limits.yaml").read_text()
BILLION_LAUGHS = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcd", "bcde", strict=True)
)


def test_there_are_at_least_six_examples() -> None:
    assert len(EXAMPLES) >= 6


def test_every_report_scenario_has_its_plan() -> None:
    """Issue 17: S-1 to S-15 each have a plan with a report block naming it."""
    ids = {
        sc.report.id
        for path in (ROOT / "specs" / "scenarios" / "reports").glob("*.yaml")
        for sc in load_scenarios(path)
        if sc.report is not None
    }
    assert ids == {f"S-{i}" for i in range(1, 16)}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_evaluates_within_its_limits(path: Path) -> None:
    for sc in load_scenarios(path):
        results = evaluate(sc, str(path))
        assert results and all(not r.violations for r in results), [
            v.message for r in results for v in r.violations
        ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_schema_validates_every_example(path: Path) -> None:
    schema = json.loads((ROOT / "schema" / "scenario.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    doc = YAML(typ="safe", pure=True).load(path.read_text())
    jsonschema.Draft7Validator(schema).validate(doc)
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (path.parent / first.split("$schema=")[1]).resolve() == ROOT / "schema" / "scenario.schema.json"


def test_shipped_schema_is_current() -> None:
    shipped = json.loads((ROOT / "schema" / "scenario.schema.json").read_text())
    assert shipped == scenario_json_schema(), "regenerate: capacity schema > schema/scenario.schema.json"
    assert shipped["$schema"] == "http://json-schema.org/draft-07/schema#" and "$defs" not in json.dumps(
        shipped
    )


@pytest.mark.parametrize(
    "text", ["300B", "1.4T", "2,048", "10_000", " 7e9 ", "6.7b", "300Q", "1,,0", "1,00", "B"]
)
def test_the_schema_takes_counts_as_the_loader_does(text: str) -> None:
    # review: the schema typed tokens as a number, so an editor flagged `tokens: 300B` that capacity reads
    from capacity.core.counts import parse_count

    schema = json.loads((ROOT / "schema" / "scenario.schema.json").read_text())
    doc = {"name": "x", "kind": "train", "model": "llama2-7b", "tokens": text,
           "hardware": {"chip": "a100-sxm4-80gb", "gpus": 64}}  # fmt: skip
    try:
        parse_count(text)
        readable = True
    except ValueError:
        readable = False
    assert jsonschema.Draft7Validator(schema).is_valid(doc) == readable


def test_examples_reproduce_the_reports(cli: Any) -> None:
    data = cli("run", str(ROOT / "specs/scenarios/gpt3-10k-v100.yaml"), "-f", "json").json()
    assert data[0]["result"]["wall_clock_days"] == pytest.approx(14.8, rel=0.03)
    assert data[0]["result"]["pf_days"] == pytest.approx(3640, rel=0.01)


def _write(tmp_path: Path, text: str | bytes, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_limits_violated_exit_1_with_the_amount(cli: Any, tmp_path: Path) -> None:
    # a cost limit at half of whatever the plan costs: exceeded by 100%, whatever the model predicts
    (sc,) = load_scenarios(_write(tmp_path, GOOD, "good.yaml"))
    (good,) = evaluate(sc, "good.yaml")
    cost = good.result["cost_usd"]
    path = _write(tmp_path, GOOD.replace("max_cost_usd: 5e6", f"max_cost_usd: {cost / 2:.6e}"))
    run = cli("check", str(path))
    assert run.exit_code == 1
    assert f"max_cost_usd {cost / 2:,.4g} exceeded: cost_usd = {cost:,.4g} (+100%)" in run.stderr


def test_check_passes_and_writes_the_step_summary(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run = cli("check", *map(str, EXAMPLES))
    assert run.exit_code == 0, run.stderr
    text = summary.read_text()
    assert text.startswith("## capacity check: ✅ all limits hold") and "| scenario |" not in text
    # issue 16: one table per scenario, headed by its name
    names = {sc.name for path in EXAMPLES for sc in load_scenarios(path)}
    headings = set(re.findall(r"^### (.+)$", text, re.M))
    assert len(headings) == len(names)


def test_violation_wins_over_a_broken_file(cli: Any, tmp_path: Path) -> None:
    over = _write(tmp_path, GOOD.replace("max_gpus: 2048", "max_gpus: 10"), "over.yaml")
    broken = _write(tmp_path, "name: [unclosed\n", "broken.yaml")
    run = cli("check", str(over), str(broken))
    assert run.exit_code == 1 and "error: " in run.stderr and "limit: " in run.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("max_cost_usd:", "max_cost_usdd:"),
         ":11:10: limits.max_cost_usdd: unknown field; did you mean 'max_cost_usd'?"),
        (GOOD.replace("chip: h800-sxm5-80gb", "chip: h8000"),
         ":9:18: hardware.chip: unknown chip 'h8000'; did you mean"),
        (GOOD.replace("model: llama2-70b", "model: llama2-700b"),
         ":7:8: model: unknown model 'llama2-700b'; did you mean"),
        (GOOD.replace("tokens: 2e12", "tokens: -2e12"), ":8:9: tokens: Input should be greater than 0"),
        (GOOD.replace("kind: train", "kind: trian"), ":6:7: kind: Input should be 'train' or 'serve'"),
        (GOOD.replace("name: 70B on 2T tokens, H800 cluster", 'name: "two\\nlines"'),
         ":5:7: name: must be printable"),
        ("name: [unclosed\nkind: train\n", ":2:5: YAML syntax error"),
        ("", ":1:1: the file is empty"),
        (b"\x00\x01binary", ":1:1: binary file"),
        ("a: !!python/object/apply:os.system ['echo pwned']\n", "explicit YAML tag"),
        (BILLION_LAUGHS, "alias bomb"),
    ],
)  # fmt: skip
def test_broken_files_exit_2_with_file_and_line(
    cli: Any, tmp_path: Path, text: str | bytes, expected: str
) -> None:
    path = _write(tmp_path, text)
    run = cli("check", str(path))
    assert run.exit_code == 2, run.stderr
    assert f"error: {path}" in run.stderr and expected in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_missing_and_oversized_files(cli: Any, tmp_path: Path) -> None:
    run = cli("check", str(tmp_path / "nope.yaml"))
    assert run.exit_code == 2 and "no such file" in run.stderr
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 1_100_000 + "\n")
    run = cli("run", str(big))
    assert run.exit_code == 2 and "over the 1,000,000-byte limit" in run.stderr


def test_nothing_is_written_on_failure(cli: Any, tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("tokens: 2e12", "tokens: lots"))
    before = sorted(tmp_path.iterdir())
    assert cli("run", str(path)).exit_code == 2
    assert sorted(tmp_path.iterdir()) == before and path.read_text().count("tokens: lots") == 1


SWEEP_BASE = (
    "schema_version: 1\nname: s\nkind: train\nmodel: llama2-7b\ntokens: 1e12\n"
    "hardware: {chip: a100, gpus: 64}\n"
)


HUGE = (
    "sweep:\n  hardware.gpus: ["
    + ", ".join(["8"] * 3000)
    + "]\n  tokens: ["
    + ", ".join(["1e12"] * 2000)
    + "]\n"
)
BAD_SWEEPS = [
    (
        'sweep:\n  hardware.gpus: [64, "abc"]\n',
        ":8:23: sweep.hardware.gpus.1: 'abc' is not a number; use e.g.",
    ),
    ("sweep:\n  hardware.gpus: [64, 2.5]\n", ":8:23: sweep.hardware.gpus.1: Input should be a valid integer"),
    ("sweep:\n  economics.pue: [1.2, 0.5]\n", ":8:24: sweep.economics.pue.1: Input should be greater than"),
    ("sweep:\n  hardware.foo: [1]\n", ":8:18: sweep.hardware.foo.0: 'hardware.foo' is not a scenario field"),
    ("sweep:\n  tokens: [-1]\n", ":8:12: sweep.tokens.0: Input should be greater than 0"),
    (HUGE, "sweep has 6,000,000 points, over the 5,000,000-point limit"),
    ("limits: {max_tpot_ms: 50}\n", "max_tpot_ms do(es) not apply to a train scenario"),
]


@pytest.mark.parametrize(("sweep", "expected"), BAD_SWEEPS)
def test_bad_sweeps_and_limits_exit_2_at_their_line(
    cli: Any, tmp_path: Path, sweep: str, expected: str
) -> None:
    path = _write(tmp_path, SWEEP_BASE + sweep)
    run = cli("check", str(path))
    assert run.exit_code == 2, run.stderr
    assert expected in run.stderr and "Traceback" not in run.stderr, run.stderr


@pytest.mark.parametrize("vectorised", [True, False])
def test_a_chip_that_cannot_run_is_an_error_on_both_paths(cli: Any, tmp_path: Path, vectorised: bool) -> None:
    extra = (
        "sweep: {hardware.chip: [a100, v100]}\n"
        if vectorised
        else "sweep: {hardware.chip: [a100, v100], efficiency.mfu: [0.4]}\n"
    )
    path = _write(tmp_path, SWEEP_BASE.replace("gpus: 64}", "gpus: 64, precision: bf16}") + extra)
    run = cli("check", str(path))
    assert run.exit_code == 2 and "v100" in run.stderr and "does not support bf16" in run.stderr
    over = _write(tmp_path, GOOD.replace("max_gpus: 2048", "max_gpus: 10"), "over.yaml")
    assert cli("check", str(path), str(over)).exit_code == 1  # a violation still wins


def test_a_scenario_pins_its_layout_under_parallel(tmp_path: Path) -> None:
    plan = """\
name: pinned
kind: train
model: llama3-70b
tokens: 1e12
hardware: {chip: h100, gpus: 256}
parallel: {tp: 8, pp: 2, sharding: fsdp, micro_batch: 1}
"""
    (sc,) = load_scenarios(_write(tmp_path, plan))
    (res,) = evaluate(sc, "pinned.yaml")
    par = res.result["parallel"]
    assert (par["tp"], par["pp"], par["dp"], par["sharding"], par["micro_batch"]) == (8, 2, 16, "zero3", 1)
    bad = plan.replace("tp: 8", "tp: 3")
    (sc,) = load_scenarios(_write(tmp_path, bad, "bad.yaml"))
    (res,) = evaluate(sc, "bad.yaml")
    assert res.error is not None and "--tp 3 does not divide the model's 64 attention heads" in res.error


def test_limits_declare_their_metric_once_and_the_readme_lists_them() -> None:
    """Each limit names the estimate field it bounds in its own metadata; the docs list that set."""
    from capacity.estimate.image_serve import ImageServeEstimate
    from capacity.estimate.serve import ServeEstimate
    from capacity.estimate.train_io import TrainEstimate
    from capacity.plans.scenario import Limits

    fields = (
        set(TrainEstimate.model_fields)
        | set(ServeEstimate.model_fields)
        | set(ImageServeEstimate.model_fields)
    )
    for limit in Limits.model_fields:
        assert Limits.metric(limit) in fields, limit
    schema = scenario_json_schema()["definitions"]["Limits"]["properties"]
    assert {k: v["metric"] for k, v in schema.items()} == {k: Limits.metric(k) for k in Limits.model_fields}
    docs = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    readme = docs.split("Limits: ", 1)[1].split(";", 1)[0]
    assert set(re.findall(r"`(max_\w+)`", readme)) == set(Limits.model_fields)


def test_check_fails_a_plan_that_does_not_fit_in_memory(cli: Any, tmp_path: Path) -> None:
    plan = _write(tmp_path, "name: too big\nkind: train\nmodel: {params: 1e12}\ntokens: 1e12\n"
                  "hardware: {chip: a100-sxm4-80gb, gpus: 1}\n")  # fmt: skip
    run = cli("check", str(plan))
    assert run.exit_code == 1 and "does not fit in the chips' memory" in run.stdout + run.stderr


@pytest.mark.parametrize("where", ["dir", "missing"])
def test_an_unusable_step_summary_is_a_warning_not_an_exit_code(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    target = tmp_path if where == "dir" else tmp_path / "no" / "such" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    run = cli("check", str(EXAMPLES[0]))
    assert run.exit_code in (0, 1) and "warning: GITHUB_STEP_SUMMARY" in run.stderr
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert cli("check", str(EXAMPLES[0])).exit_code == run.exit_code


def test_markdown_in_names_is_escaped_in_the_step_summary(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    plan = _write(tmp_path, GOOD.replace("name: ", "name: a|b *bold* <script> ", 1))
    cli("check", str(plan))
    text = summary.read_text()
    assert "a\\|b \\*bold\\* \\<script\\>" in text and "<script>" not in text


@pytest.mark.parametrize(
    ("field", "where"),
    [("gpus: true", "hardware.gpus"), ("gpu_hour_usd: false", "economics.gpu_hour_usd")],
)
def test_a_boolean_is_not_a_number(cli: Any, tmp_path: Path, field: str, where: str) -> None:
    # issue 15: YAML's `gpus: true` became one GPU
    hardware = "hardware: {chip: a100-sxm4-80gb, %s}"
    block = hardware if "gpus" in field else hardware % "gpus: 8" + "\neconomics: {%s}"
    plan = _write(tmp_path, "name: x\nkind: train\nmodel: llama2-7b\ntokens: 1e12\n" + block % field + "\n")
    run = cli("run", str(plan))
    assert run.exit_code == 2 and f"{where}: " in run.stderr and "yes/no" in run.stderr


def test_a_file_asking_for_too_much_work_is_refused_before_any_is_done(cli: Any, tmp_path: Path) -> None:
    # issue 15: aliases and long sweeps asked for millions of evaluations (an hour, 11 GB); now refused
    sizes = ", ".join(str(64 * i) for i in range(1, 1001))
    head = (
        "name: big\nkind: train\nmodel: llama2-7b\ntokens: 1e12\nhardware: {chip: a100-sxm4-80gb, gpus: 64}\n"
    )
    plan = _write(tmp_path, head + "sweep:\n  hardware.gpus: [" + sizes + "]\n")
    started = time.perf_counter()
    run = cli("run", str(plan))
    assert run.exit_code == 2 and time.perf_counter() - started < 5
    assert (
        f"{plan}:6:1: the file asks for about 3,005 estimator runs" in run.stderr  # 1,000 x (3 + 1/200)
        and "--max-work" in run.stderr
    )
    assert cli("run", str(plan), "--max-work", "10", "-f", "json").exit_code == 2


def test_a_large_models_points_weigh_more(cli: Any, tmp_path: Path) -> None:
    # review: 490 DeepSeek-V3 points counted 490 units (the budget's 5 s) and took 47 s
    sizes = ", ".join(str(1024 + 64 * i) for i in range(40))
    head = "name: big\nkind: train\nmodel: deepseek-v3\ntokens: 14.8T\nhardware: {chip: h800, gpus: 2048}\n"
    plan = _write(tmp_path, head + "sweep:\n  hardware.gpus: [" + sizes + "]\n")
    run = cli("run", str(plan))  # 40 points x 671B / 50B = 537 units
    assert run.exit_code == 2 and "about 537 estimator runs" in run.stderr, run.stderr


def test_a_grid_counts_its_points_as_well_as_its_layout_searches(cli: Any, tmp_path: Path) -> None:
    # review: a grid counted only 3 layout searches per (chip, size): 4M points counted 300 (69 s, 4 GB)
    chips = "[a100-sxm4-80gb, h100-sxm5-80gb]"
    tokens = ", ".join(f"{1e9 * i:.0f}" for i in range(1, 10_001))
    plan = _write(tmp_path, "name: big\nkind: train\nmodel: llama2-7b\ntokens: 1e12\n"
                  "hardware: {chip: a100-sxm4-80gb, gpus: 64}\nsweep:\n  hardware.chip: " + chips + "\n"
                  "  hardware.gpus: [64, 128, 256, 512, 1024]\n  tokens: [" + tokens + "]\n")  # fmt: skip
    run = cli("run", str(plan))  # 100,000 points: 30 layout searches + 500 units of grid points
    assert run.exit_code == 2 and "about 530 estimator runs" in run.stderr and "--max-work 530" in run.stderr


def test_counts_in_yaml_read_as_on_the_command_line(cli: Any, tmp_path: Path) -> None:
    # issue 16: `tokens: 300B` was refused although the CLI and README teach it
    plan = _write(tmp_path, "name: x\nkind: train\nmodel: llama2-7b\ntokens: 300B\n"
                  "hardware: {chip: a100-sxm4-80gb, gpus: 2048}\nsweep:\n  tokens: [300B, 1T]\n")  # fmt: skip
    rows = cli("run", str(plan), "-f", "json").json()
    assert [r["result"]["tokens"] for r in rows] == [300e9, 1e12]
    bad = _write(tmp_path, "name: x\nkind: train\nmodel: llama2-7b\ntokens: 300Q\n"
                 "hardware: {chip: a100-sxm4-80gb, gpus: 64}\n", "bad.yaml")  # fmt: skip
    run = cli("run", str(bad))
    assert run.exit_code == 2 and f"{bad}:4:9: tokens: '300Q' is not a number; use e.g." in run.stderr


def test_a_text_zero_follows_the_fields_own_bound(cli: Any, tmp_path: Path) -> None:
    # review: '0' as text was refused as "must be positive" even where the field takes 0
    base = "name: x\nkind: serve\nmodel: llama3.1-8b\ninput_tokens: 1000\noutput_tokens: 200\n"
    plan = _write(tmp_path, base + "hardware: {chip: h100-sxm5-80gb}\nserving: {shared_prefix_tokens: '0'}\n")
    assert cli("run", str(plan), "-f", "json").exit_code == 0
    gpus = _write(tmp_path, base + "hardware: {chip: h100-sxm5-80gb, gpus: '0'}\n", "gpus.yaml")
    run = cli("run", str(gpus))
    assert run.exit_code == 2
    assert "6:40: hardware.gpus: Input should be greater than or equal to 1" in run.stderr
    flag = ["serve", "--model", "llama3.1-8b", "--chip", "h100", "--input-tokens", "1000",
            "--output-tokens", "200"]  # fmt: skip
    assert cli(*flag, "--shared-prefix-tokens", "0").exit_code == 0
    assert cli(*flag, "--shared-prefix-tokens", "-5").exit_code == 2


def test_an_inline_model_error_names_the_field_not_the_union_branch(cli: Any, tmp_path: Path) -> None:
    # review: `model: {params: true}` ran a one-parameter model; once refused it said "model.str: Input
    # should be a valid string" beside "model.InlineModel.params: ..."
    base = "name: x\nkind: train\ntokens: 1T\nhardware: {chip: h100-sxm5-80gb, gpus: 64}\n"
    plan = _write(tmp_path, base + "model: {params: true}\n")
    run = cli("run", str(plan))
    assert run.exit_code == 2
    message = f"error: {plan}:5:17: model.params: true is a yes/no value; give a number or a name"
    assert run.stderr.strip() == message
    assert cli("run", str(_write(tmp_path, base + "model: {params: 7B}\n", "ok.yaml"))).exit_code == 0


def test_the_step_summary_formats_numbers_and_counts(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 16: raw floats (24.620465823116835) and "1 results"
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    cli("check", str(ROOT / "specs" / "scenarios" / "gpt3-10k-v100.yaml"))
    text = summary.read_text()
    assert "1 result, 0 over a limit, 0 errors." in text
    assert not re.search(r"\d\.\d{6,}", text) and "10,000" in text


def test_a_request_level_error_in_a_scenario_says_why(cli: Any, tmp_path: Path) -> None:
    # review: it printed only "1 validation error for TrainRequest"
    plan = _write(tmp_path, "name: x\nkind: train\nmodel: llama2-7b\ntokens: 1e12\n"
                  "hardware: {chip: a100-sxm4-80gb, gpus: 1024, deadline_days: 30}\n")  # fmt: skip
    run = cli("run", str(plan))
    assert (
        run.exit_code == 2
        and "give one of --gpus, --days" in run.stderr
        and "validation error" not in run.stderr
    )


def test_a_file_with_many_problems_shows_the_first_ten_and_counts_the_rest(cli: Any, tmp_path: Path) -> None:
    # hostile sweep: 200 nameless scenarios printed 200 error lines
    plan = _write(tmp_path, "scenarios:\n" + "  - {kind: serve, model: llama3.1-8b}\n" * 50)
    run = cli("check", str(plan))
    lines = run.stderr.strip().splitlines()
    assert run.exit_code == 2 and len(lines) == 11
    assert lines[-1] == "error: ... and 40 more problems in the file"
