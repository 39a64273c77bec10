"""The Python API (docs/python-api.md) and the one construction site per request (issue 12)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import capacity
from capacity.core.errors import InputError
from capacity.data.model_source import InlineModel
from capacity.estimate.requests import serving_request, training_request

ROOT = Path(__file__).resolve().parent.parent


def _readme_python() -> str:
    text = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match, "docs/python-api.md has a python example"
    return match.group(1)


def test_readme_example_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _readme_python()], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    days, gpu_hours = re.search(r"(\d+) days, ([\d,]+) GPU-hours", out.stdout).groups()  # type: ignore[union-attr]
    # 6·N·D = 6 × 70.6e9 × 15e12 = 6.4e24 FLOPs over 1024 H100 (989 TFLOPS bf16) is 73 days at 100% MFU
    assert 73 / 0.7 < int(days) < 73 / 0.2
    assert int(gpu_hours.replace(",", "")) == pytest.approx(int(days) * 24 * 1024, rel=0.02)
    assert "fp16" in out.stdout


def test_import_is_light() -> None:
    """``import capacity`` alone does not load the planner (PEP 562 lazy attributes)."""
    code = "import sys, capacity; print('capacity.estimate.train' in sys.modules, capacity.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split()[0] == "False"
    with pytest.raises(AttributeError):
        _ = capacity.no_such_name  # type: ignore[attr-defined]


def test_api_equals_the_cli_request() -> None:
    """The same choices through the API and through the request builder give the same estimate."""
    est = capacity.estimate_training(params=7e9, tokens=1e12, chip="a100", gpus=64, mfu=0.4)
    req = training_request(params=7e9, tokens=1e12, chip="a100", gpus=64, mfu=0.4)
    assert capacity.estimate_training(req) == est
    # hand arithmetic: 6 × 7e9 × 1e12 / (64 × 312e12 × 0.4) s
    assert est.wall_clock_days == pytest.approx(6 * 7e9 * 1e12 / (64 * 312e12 * 0.4) / 86400, rel=1e-9)


def test_serving_falls_back_to_fp16_like_training() -> None:
    """The 910B has no published bf16 peak: serve used to reject it where train fell back to fp16."""
    req = serving_request(model="llama3.1-70b", chip="910B", input_tokens=100, output_tokens=100)
    assert req.weight_precision == "fp16"
    assert training_request(params=7e9, tokens=1e9, chip="910B", gpus=8).precision is None  # planner decides
    with pytest.raises(InputError, match="not a serving weight format"):
        serving_request(model="llama3.1-70b", chip="h100", input_tokens=1, output_tokens=1, precision="fp32")


def test_inline_models_and_their_checks() -> None:
    inline = InlineModel(params=7e9, active_params=1e9)
    req = training_request(model=inline, tokens=1e12)
    assert (req.params, req.active_params, req.model) == (7e9, 1e9, None)
    with pytest.raises(InputError, match="once"):
        training_request(model=inline, params=7e9, tokens=1e12)
    with pytest.raises(InputError, match="architecture"):
        serving_request(model=inline, chip="h100", input_tokens=1, output_tokens=1)
    with pytest.raises(InputError, match="int4"):
        training_request(params=7e9, tokens=1e12, precision="int4")


def test_compare_takes_every_train_and_serve_flag(cli: object) -> None:
    run = cli(  # type: ignore[operator]
        "compare", "--chips", "a100,h100", "--model", "llama3-8b", "--tokens", "1T", "--gpus", "64",
        "--currency", "CNY", "--sharding", "zero3", "--tp", "1", "--grad-reduce", "bf16", "--format", "json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    rows = __import__("json").loads(run.stdout)
    assert {r["currency"] for r in rows} == {"CNY"}
    assert {r["parallel"]["sharding"] for r in rows} == {"zero3"}
    run = cli(  # type: ignore[operator]
        "compare", "--chips", "910B,h20", "--model", "llama3.1-70b", "--input-tokens", "1k",
        "--output-tokens", "200", "--kv-precision", "fp8", "--max-batch", "64", "--format", "json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    rows = __import__("json").loads(run.stdout)
    assert [r["weight_precision"] for r in rows] == ["fp16", "bf16"]
    assert all(r["batch_size"] <= 64 for r in rows)


def test_compare_refuses_mixed_workloads_and_input_errors(cli: object) -> None:
    """Chip-independent mistakes exit 2 once instead of one error row per chip (review of issue 12)."""
    base = ["compare", "--chips", "h100,a100", "--model", "llama3.1-70b"]
    mixed = cli(*base, "--tokens", "2T", "--gpus", "64", "--input-tokens", "1k", "--output-tokens", "100")  # type: ignore[operator]
    assert mixed.exit_code == 2 and "one workload at a time" in mixed.stderr
    bad = cli(*base, "--tokens", "2T", "--gpus", "64", "--power-basis", "foo")  # type: ignore[operator]
    assert bad.exit_code == 2 and "--power-basis" in bad.stderr
    weights = cli(*base, "--input-tokens", "1k", "--output-tokens", "100", "--precision", "fp32")  # type: ignore[operator]
    assert weights.exit_code == 2 and "--precision" in weights.stderr
