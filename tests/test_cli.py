"""The command-line contract: formats, exit codes, stdout for data and stderr for messages."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_CHIP_KEYS = {
    "id", "vendor", "bf16_dense_tflops", "fp16_dense_tflops", "fp8_dense_tflops",
    "memory_gb", "memory_bandwidth_gb_s", "tdp_w", "sources",
}  # fmt: skip


def test_chips_json_has_the_documented_keys(cli: Any) -> None:
    run = cli("chips", "--format", "json")
    assert run.exit_code == 0, run.stderr
    chips = run.json()
    assert len(chips) == 50
    for chip in chips:
        assert chip.keys() >= REQUIRED_CHIP_KEYS
        assert chip["sources"], chip["id"]


def test_show_chinese_alias_gives_sourced_dense_record(cli: Any) -> None:
    run = cli("chips", "show", "昇腾910B", "--format", "json")
    assert run.exit_code == 0
    chip = run.json()
    assert chip["id"] == "ascend-910b"
    assert chip["fp16_dense_tflops"] == 376  # CSET via Epoch: dense FP16
    assert chip["dtype_status"]["fp8"] == "not supported"
    assert chip["dtype_status"]["bf16"] == "unknown"
    assert chip["sparse_headline"]["vendor_headline_is_sparse"] is False
    assert len(chip["sources"]) >= 1


def test_show_table_lists_fields_and_sources(cli: Any) -> None:
    run = cli("chips", "show", "h100")
    assert run.exit_code == 0
    assert "bf16_dense_tflops" in run.stdout and "989.4" in run.stdout
    assert "Sources" in run.stdout and "datasheet" in run.stdout.lower()


@pytest.mark.parametrize(
    ("args", "expected_ids"),
    [
        (
            ["--vendor", "huawei"],
            {"ascend-910", "ascend-910b", "ascend-910b1", "ascend-910b3", "ascend-910b4", "ascend-910c"},
        ),
        (["--domestic", "--min-memory-gb", "96"], {"ascend-910c", "kunlunxin-p800"}),
        (
            ["--vendor", "NVIDIA", "--supports", "fp8", "--min-memory-gb", "120"],
            {"b200-hgx", "h200-sxm-141gb", "gb200", "gb300", "b300-hgx"},
        ),
    ],
)
def test_filters(cli: Any, args: list[str], expected_ids: set[str]) -> None:
    run = cli("chips", *args, "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert {c["id"] for c in run.json()} == expected_ids


def test_csv_and_markdown(cli: Any) -> None:
    rows = list(csv.DictReader(io.StringIO(cli("chips", "--format", "csv").stdout)))
    assert len(rows) == 50
    v100 = next(r for r in rows if r["id"] == "v100-sxm2-32gb")
    assert v100["bf16"] == "unsupported" and v100["fp16"] == "125.0"
    md = cli("chips", "--vendor", "nvidia", "--format", "markdown").stdout
    assert "| id | FP16 | BF16 |" in md and "| h100-sxm5-80gb | 989.4 | 989.4 |" in md


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chips", "show", "H10"], "did you mean h100-sxm5-80gb"),
        (["chips", "show", "nonsense-chip-xyz"], "unknown chip 'nonsense-chip-xyz'"),
        (["models", "show", "gpt-4-secret"], "unknown model"),
        (["chips", "--vendor", "nvidiaa"], "no vendor 'nvidiaa'"),
        (["chips", "--supports", "fp4"], "unknown dtype 'fp4'"),
        (["chips", "--min-memory-gb", "-1"], "must be a number >= 0"),
        (["chips", "--min-memory-gb", "nan"], "must be a number >= 0, got nan"),  # hostile sweep: exit 0
    ],
)
def test_bad_input_exits_2_with_one_line(cli: Any, args: list[str], message: str) -> None:
    run = cli(*args)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert message in run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_usage_error_exits_2(cli: Any) -> None:
    assert cli("chips", "--no-such-flag").exit_code == 2


def test_traceback_flag_reraises(cli: Any) -> None:
    from capacity.core.errors import UnknownIdError

    with pytest.raises(UnknownIdError):
        cli("--traceback", "chips", "show", "nope")


def test_help_documents_exit_codes(cli: Any) -> None:
    out = cli("--help").stdout
    assert "Exit codes: 0 ok; 1 evaluated but a limit was violated; 2 bad input" in " ".join(out.split())


def test_every_command_has_help_with_an_example(cli: Any) -> None:
    for args in (["chips"], ["chips", "show"], ["models"], ["models", "show"]):
        out = cli(*args, "--help").stdout
        assert "Example" in out, args


def test_models_list_and_show(cli: Any) -> None:
    models = cli("models", "--format", "json").json()
    assert {"gpt3-175b", "llama2-70b", "deepseek-v3"} <= {m["id"] for m in models}
    m = cli("models", "show", "GPT-3", "--format", "json").json()
    assert m["id"] == "gpt3-175b" and m["params"] == pytest.approx(174.6e9)
    assert m["computed_params"] == pytest.approx(174.6e9, rel=0.02)


def test_fixture_catalogue_via_environment(cli: Any, tiny_specs: Path) -> None:
    assert [c["id"] for c in cli("chips", "--format", "json").json()] == ["tiny-gpu", "tiny-npu"]


def test_version(cli: Any) -> None:
    from capacity import __version__

    assert cli("--version").stdout.strip() == f"capacity {__version__}"


@pytest.mark.parametrize("entry", [["-m", "capacity"], [str(ROOT / "cli.py")]])
def test_entry_points_run_as_subprocesses(entry: list[str], tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, *entry, "chips", "show", "a100", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["bf16_dense_tflops"] == 312
    bad = subprocess.run(
        [sys.executable, *entry, "chips", "show", "zzz"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


def test_an_unexpected_exception_is_exit_4_in_one_line(cli: Any, monkeypatch: Any) -> None:
    # issue 15: a bug used to exit 1, the code for a violated limit, with a traceback
    import capacity.cli.train_cmd as train_cmd

    def broken(*_: Any, **__: Any) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(train_cmd, "estimate_training", broken)
    run = cli("train", "--model", "llama2-7b", "--tokens", "1T", "--chip", "a100", "--gpus", "8")
    assert run.exit_code == 4
    assert run.stderr.count("\n") == 1 and "internal error (ZeroDivisionError: boom)" in run.stderr


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_reader_that_stops_early_is_not_an_error(fmt: str) -> None:
    # issue 16: `capacity validate | head` exited 1, the code for a violated limit
    import subprocess
    import sys

    command = [sys.executable, "-c", "from capacity.cli import main; main()", "validate", "--format", fmt]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["chips", "show", "nvidia-h100"], "did you mean h100-sxm5-80gb"),
        (["chips", "show", "nvidia-b200"], "did you mean b200-hgx"),
        (["chips", "show", "ＮＶＩＤＩＡ Ｈ１００"], "did you mean h100-sxm5-80gb"),  # full width (review)
    ],
)
def test_suggestions_look_past_a_vendor_name(cli: Any, args: list[str], hint: str) -> None:
    # issue 16: nvidia-h100 was offered "h20, h100-nvl-94gb"
    run = cli(*args)
    assert run.exit_code == 2 and hint in run.stderr


def test_a_misspelt_field_is_matched_by_its_words() -> None:
    from capacity.core.suggest import suggest

    limits = ["max_cost_usd", "max_wall_clock_days", "max_gpus", "max_energy_mwh"]
    assert suggest("max_days", limits, n=1) == ["max_wall_clock_days"]  # spelling alone says max_gpus
    assert suggest("max_cost", limits, n=1) == ["max_cost_usd"]
    assert suggest("zzz", limits) == []


def test_check_piped_to_head_still_reports_a_violated_limit(tmp_path: Any) -> None:
    # a closed reader discards the rest of the table; the violations and exit 1 stand (review of issue 16)
    import subprocess
    import sys

    values = ", ".join(f"{1.01 + i * 0.005:.3f}" for i in range(300))
    plan = tmp_path / "over.yaml"
    head = "name: over\nkind: train\nmodel: llama2-7b\ntokens: 1e12\nhardware: {chip: h100, gpus: 64}\n"
    plan.write_text(head + f"limits: {{max_cost_usd: 1}}\nsweep:\n  economics.pue: [{values}]\n")
    command = [sys.executable, "-c", "from capacity.cli import main; main()", "check", str(plan)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1 and err.count("limit: ") == 300


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--qps", "1e"], "Invalid value for '--qps'"),
        (["serve", "--tokens", "5"], "No such option: --tokens"),
        (["schema", "x"], "unexpected extra argument"),
        (["models", "show"], "Missing argument 'name'"),
        (["nosuchcmd"], "No such command 'nosuchcmd'"),
    ],
)
def test_parser_usage_errors_are_one_line(args: list[str], message: str) -> None:
    """Issue 15: the parser's own errors (a typed option that does not parse, an unknown option or command)
    are one `error:` line naming the command's help, exit 2, not click's four-line Usage block."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "from capacity.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and message in proc.stderr
    assert "--help`" in proc.stderr and "Usage:" not in proc.stderr


WHAT_IF = ["train", "--model", "llama2-7b", "--tokens", "1T", "--chip", "a100", "--gpus", "8"]


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        ([*WHAT_IF, "--format", "json"],
         ["capacity.cli.compare_cmd", "capacity.cli.scenario_cmd", "capacity.estimate.serve", "numpy"]),
        (["chips", "show", "h100", "--format", "json"],
         ["capacity.cli.train_cmd", "capacity.estimate.train", "capacity.estimate.layout"]),
    ],
)  # fmt: skip
def test_a_command_loads_only_what_it_runs(args: list[str], absent: list[str]) -> None:
    """A what-if pays only for its own command's imports (startup is most of its 0.3 s budget)."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom capacity.cli import main\n"
        f"sys.argv = ['capacity', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "sys.stderr.write(' '.join(sorted(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    loaded = set(run.stderr.split("\n")[-1].split())
    assert f"capacity.cli.{'train' if args[0] == 'train' else 'chips'}_cmd" in loaded
    assert not loaded & set(absent)
