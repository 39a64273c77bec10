"""The CUDA microbenchmark in three layers: pure Python always; compile-only where nvcc is; on a GPU when
there is one (skipped here, with the reason shown)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from capacity import microbench
from capacity.core.errors import EnvironmentMissingError, InputError, SpecFileError
from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults
from capacity.data.calibration import Calibration, from_bench, load_calibration, match_device
from capacity.data.catalog import load_chips, load_models
from capacity.estimate.serve import ServeRequest, estimate_serving
from capacity.estimate.train import TrainRequest, estimate_training

FIXTURE = Path(__file__).parent / "fixtures" / "bench" / "h100-sxm-synthetic.json"
CHIPS = load_chips()
HAS_NVCC = microbench.find_nvcc() is not None


def _gpu_present() -> bool:
    smi = shutil.which("nvidia-smi")
    return bool(smi) and subprocess.run([smi, "-L"], capture_output=True).returncode == 0


HAS_GPU = _gpu_present()


def raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


# ---------------------------------------------------------------- layer 1: pure Python


@pytest.mark.parametrize(
    ("name", "memory_gib", "chip_id"),
    [
        ("NVIDIA H100 80GB HBM3", 79.2, "h100-sxm5-80gb"),
        ("NVIDIA H100 PCIe", 79.2, "h100-pcie-80gb"),
        ("NVIDIA H100 NVL", 93.0, "h100-nvl-94gb"),
        ("NVIDIA H200", 139.8, "h200-sxm-141gb"),
        ("NVIDIA H20", 95.0, "h20"),
        ("NVIDIA H800", 79.2, "h800-sxm5-80gb"),
        ("NVIDIA A100-SXM4-80GB", 79.2, "a100-sxm4-80gb"),
        ("NVIDIA A100-SXM4-40GB", 39.4, "a100-sxm4-40gb"),
        ("NVIDIA A100 80GB PCIe", 79.2, "a100-pcie-80gb"),
        ("Tesla V100-SXM2-32GB", 31.7, "v100-sxm2-32gb"),
        ("AMD Instinct MI300X", 191.5, "mi300x"),
    ],
)
def test_device_names_match_catalogue_chips(name: str, memory_gib: float, chip_id: str) -> None:
    chip = match_device(name, int(memory_gib * 2**30), CHIPS)
    assert chip is not None and chip.id == chip_id


@pytest.mark.parametrize(
    ("name", "memory_gib"),
    [
        ("NVIDIA GeForce RTX 4090", 24),
        ("NVIDIA H800 PCIe", 79.2),  # no H800 PCIe in the catalogue: never the SXM part
        ("NVIDIA H200 NVL", 139.8),  # no H200 NVL in the catalogue
        ("NVIDIA A100-PCIE-40GB", 39.4),  # the catalogue has only the 80 GB PCIe part
        ("NVIDIA H100 80GB HBM3 MIG 1g.10gb", 9.5),  # a MIG slice is not the chip
    ],
)
def test_devices_not_in_the_catalogue_match_nothing(name: str, memory_gib: float) -> None:
    assert match_device(name, int(memory_gib * 2**30), CHIPS) is None


def test_calibration_from_benchmark_json() -> None:
    cal = from_bench(raw(), CHIPS)
    assert cal.chip == "h100-sxm5-80gb"
    # the best *correct* shape: the 990-TFLOPS row failed its check and is never used
    assert cal.matmul["bf16"].tflops == 794.5 and cal.matmul["bf16"].shape == "2048x2048x13312"
    assert cal.matmul["bf16"].fraction == pytest.approx(794.5 / 989.4)
    assert cal.matmul["fp8"].fraction == pytest.approx(1402.6 / 1978.9)
    assert cal.memory is not None and cal.memory.fraction == pytest.approx(2900 / 3350)


def test_result_above_peak_is_refused() -> None:
    data = raw()
    data["gemm"]["results"][0]["tflops_median"] = 1200.0
    with pytest.raises(InputError, match="exceeds h100-sxm5-80gb's dense peak"):
        from_bench(data, CHIPS)


def _calibration(tmp_path: Path) -> Path:
    path = tmp_path / "calib.json"
    path.write_text(json.dumps(from_bench(raw(), CHIPS).model_dump(mode="json")))
    return path


def test_training_uses_the_measured_fraction(tmp_path: Path) -> None:
    cal = load_calibration(_calibration(tmp_path))
    req = TrainRequest(model=load_models().get("llama2-70b"), tokens=2e12, chip=CHIPS.get("h100"), gpus=1024)
    default = estimate_training(req, load_assumptions(), load_efficiency())
    measured = estimate_training(
        req.model_copy(update={"calibration": cal}), load_assumptions(), load_efficiency()
    )
    fraction = next(x for x in measured.assumptions if x.name == "matmul_fraction")
    assert (
        fraction.value == pytest.approx(794.5 / 989.4, rel=1e-3)
        and "measured on this machine" in fraction.source
    )
    assert measured.mfu == pytest.approx(
        default.mfu, rel=0.05
    )  # the synthetic file repeats the published GEMM
    assert "calibrated on this machine" in (measured.mfu_source or "")
    assert "calibrated" not in (default.mfu_source or "")


def test_calibration_for_another_chip_is_ignored_with_a_warning(tmp_path: Path) -> None:
    cal = load_calibration(_calibration(tmp_path))
    req = TrainRequest(params=7e9, tokens=1e12, chip=CHIPS.get("a100"), gpus=64, calibration=cal)
    est = estimate_training(req, load_assumptions(), load_efficiency())
    assert any("is not for a100-sxm4-80gb" in w for w in est.warnings)
    assert "calibrated" not in (est.mfu_source or "")


def test_serving_uses_the_measured_bandwidth(tmp_path: Path) -> None:
    cal = load_calibration(_calibration(tmp_path))
    req = ServeRequest(model=load_models().get("llama3.1-8b"), chip=CHIPS.get("h100"), input_tokens=128,
                       output_tokens=128, max_batch=1)  # fmt: skip
    args = (load_assumptions(), load_efficiency(), load_serving_defaults())
    base, calibrated = (
        estimate_serving(req, *args),
        estimate_serving(req.model_copy(update={"calibration": cal}), *args),
    )
    # batch 1 decode streams the weights: TPOT scales with 1 / bandwidth efficiency (0.85 default vs 0.866)
    assert calibrated.tpot_ms == pytest.approx(base.tpot_ms * 0.85 / (2900 / 3350), rel=0.02)
    assert any(a.name == "hbm_efficiency" and "measured" in a.source for a in calibrated.assumptions)


def test_cli_train_with_calibration(cli: Any, tmp_path: Path) -> None:
    path = _calibration(tmp_path)
    data = cli("train", "--params", "70B", "--tokens", "2T", "--chip", "h100", "--gpus", "1024",
               "--calibration", str(path), "-f", "json").json()  # fmt: skip
    assert "calibrated on this machine" in data["mfu_source"]


BOOL_TFLOPS = json.dumps(
    {"chip": "h100-sxm5-80gb", "device_name": "H100", "device_memory_bytes": 85e9, "backend": "cuda",
     "matmul": {"bf16": {"tflops": True, "fraction": 0.8, "shape": "8192x8192x8192"}}}
)  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not a calibration file"),
        ('{"chip": 1}', "chip: Input should be"),
        (BOOL_TFLOPS, "tflops: true is a yes/no"),  # review: a JSON true was read as 1 TFLOPS
    ],
)
def test_bad_calibration_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "c.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SpecFileError, match=message):
        load_calibration(path)


def test_scenario_calibration_is_relative_to_the_file(cli: Any, tmp_path: Path) -> None:
    _calibration(tmp_path)
    plan = tmp_path / "plan.yaml"
    plan.write_text("schema_version: 1\nname: calibrated\nkind: train\nmodel: llama2-70b\ntokens: 2e12\n"
                    "hardware: {chip: h100, gpus: 1024}\ncalibration: calib.json\n")  # fmt: skip
    data = cli("run", str(plan), "-f", "json").json()
    assert "calibrated on this machine" in data[0]["result"]["mfu_source"]


def test_calibration_round_trips() -> None:
    cal = from_bench(raw(), CHIPS)
    assert Calibration.model_validate_json(cal.model_dump_json()) == cal


# ---------------------------------------------------------------- layer 2: compile-only (nvcc, no GPU needed)

needs_nvcc = pytest.mark.skipif(not HAS_NVCC, reason="nvcc not found: compile-only tests skipped")
one_build = pytest.mark.xdist_group("cuda-build")  # under pytest-xdist, one worker builds it, once


@needs_nvcc
@one_build
def test_benchmark_compiles_and_plans(capbench: Path) -> None:
    plan = json.loads(
        subprocess.run([str(capbench), "--selftest"], capture_output=True, text=True, check=True).stdout
    )
    assert (
        plan["status"] == "selftest" and [4096, 4096, 4096] in plan["shapes"] and plan["dtypes"][0] == "bf16"
    )
    bad = subprocess.run([str(capbench), "--shapes", "nonsense"], capture_output=True, text=True)
    assert bad.returncode == 2 and json.loads(bad.stdout)["status"] == "usage"


@needs_nvcc
@one_build
@pytest.mark.skipif(HAS_GPU, reason="a GPU is present: the no-device path cannot be exercised")
def test_without_a_gpu_the_benchmark_says_so(capbench: Path, cli: Any) -> None:
    with pytest.raises(EnvironmentMissingError, match="no CUDA GPU"):
        microbench.run(capbench, ["--no-gemm"], 60)
    run = cli("bench", "--quick")  # stops before compiling: the driver sees no device
    assert run.exit_code == 3 and run.stderr.strip().splitlines()[-1].startswith("error: no CUDA GPU")


def test_without_nvcc_bench_exits_3(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(microbench, "find_nvcc", lambda: None)
    monkeypatch.setattr(microbench, "cuda_devices", lambda: 1)  # a GPU, but no compiler
    run = cli("bench")
    assert run.exit_code == 3 and "no nvcc found" in run.stderr


def test_without_a_gpu_bench_exits_3_before_compiling(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 16: bench compiled for 12 s before finding there was no GPU
    monkeypatch.setattr(microbench, "cuda_devices", lambda: 0)

    def no_build(*_: Any) -> None:
        raise AssertionError("compiled without a GPU")

    monkeypatch.setattr(microbench, "build", no_build)
    run = cli("bench", "--quick")
    assert run.exit_code == 3 and "no CUDA GPU" in run.stderr and "nothing was compiled" in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "0"], "between 1 and 86,400"),
        (["--timeout", "nan"], "between 1 and 86,400"),
        (["--output", "{tmp}/missing/calib.json"], "does not exist"),
        (["--output", "{tmp}"], "is a folder"),
    ],
)
def test_bad_bench_flags_are_refused_before_any_measuring(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], message: str
) -> None:
    # issue 15 review: an unwritable --output failed with exit 4 after the whole run
    def no_run(*_: Any) -> None:
        raise AssertionError("measured before checking the flags")

    monkeypatch.setattr(microbench, "cuda_devices", no_run)
    run = cli("bench", *[a.format(tmp=tmp_path) for a in args])
    assert run.exit_code == 2 and message in run.stderr and run.stderr.count("\n") == 1


# ---------------------------------------------------------------- layer 3: on a GPU


@one_build
@pytest.mark.skipif(not (HAS_GPU and HAS_NVCC), reason="no GPU on this machine: run-on-GPU tests skipped")
def test_on_a_gpu_the_measurement_is_plausible(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "calib.json"
    run = cli("bench", "--quick", "--output", str(out), "-f", "json")
    assert run.exit_code == 0, run.stderr
    cal = load_calibration(out)
    assert cal.chip is not None, f"{cal.device_name} did not match a catalogue chip"
    for m in cal.matmul.values():
        assert 0.3 < m.fraction <= 1.0
    assert cal.memory is not None and 0.5 < cal.memory.fraction <= 1.05
