"""`capacity serve` on the command line: documented JSON keys, exit 1 on a missed SLO, exit 2 on bad input."""

from __future__ import annotations

from typing import Any

import pytest

REQUIRED = {
    "flops_per_query", "batch_size", "ttft_ms", "tpot_ms", "output_tokens_per_s_per_replica",
    "gpus_per_replica", "replicas", "gpus", "cost_usd_per_query", "cost_usd_per_million_output_tokens",
    "energy_wh_per_query",
    "facility_power_mw",
}  # fmt: skip
BASE = [
    "serve",
    "--model",
    "llama3.1-70b",
    "--chip",
    "h100",
    "--input-tokens",
    "1000",
    "--output-tokens",
    "1000",
]


def test_max_throughput_point(cli: Any) -> None:
    run = cli(*BASE, "--format", "json")
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data.keys() >= REQUIRED
    assert data["replicas"] == 1 and data["gpus"] == data["gpus_per_replica"] == 4
    # NVIDIA's TensorRT-LLM table: 4,205 tok/s for this model in FP8 on 2 H100s (2,100 per GPU)
    assert 1000 < data["output_tokens_per_s_per_replica"] / data["gpus"] < 3000


def test_traffic_and_slo_give_a_fleet_and_a_bill(cli: Any) -> None:
    data = cli(*BASE, "--precision", "fp8", "--qps", "100", "--tpot-ms", "40", "--ttft-ms", "2000",
               "--gpu-hour-usd", "2", "-f", "json").json()  # fmt: skip
    assert data["replicas"] > 1 and data["gpus"] == data["replicas"] * data["gpus_per_replica"]
    assert data["tpot_ms"] <= 40 and data["ttft_ms"] <= 2000 and data["slo_met"]
    assert data["cost_usd_per_month"] == pytest.approx(data["gpus"] * 2 * 24 * 30.44)


def test_missed_slo_exits_1(cli: Any) -> None:
    run = cli(*BASE, "--tpot-ms", "0.5", "-f", "json")
    assert run.exit_code == 1 and "no batch meets the latency targets" in run.stderr
    assert run.json()["slo_met"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input-tokens", "-5"], "--input-tokens: must be positive"),
        (["--precision", "bf16", "--chip", "v100"], "does not support bf16"),
        (["--model", "deepseek-v3", "--chip", "enflame-i20"], "fit on no replica of up to 64 chips"),
        (["--precision", "fp4"], "--precision: 'fp4' is not one of"),
        (["--stack", "turbo"], "--stack: unknown preset 'turbo'"),
        (["--peak-to-average", "2"], "--peak-to-average needs traffic"),
        (["--qps", "-1"], "--qps:"),
    ],
)
def test_bad_input_exits_2(cli: Any, args: list[str], message: str) -> None:
    argv = list(BASE)
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    run = cli(*argv)
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert message in run.stderr and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
