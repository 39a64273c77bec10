"""Build and run the CUDA microbenchmark (``capbench.cu``) and read its JSON.

The source is compiled with ``nvcc`` on first use into a cache keyed by the hash of the source, the flags
and the compiler version. GPU architectures are the intersection of sm_80/86/89/90/100 with what ``nvcc
--list-gpu-arch`` offers (never ``-arch=native``, which silently picks a default without a GPU), plus PTX
for the newest. cuBLASLt is used when its header is found (CUDA toolkit, or the ``nvidia-cublas`` wheel);
otherwise the binary still builds and reports the GEMM part as unavailable.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from capacity.core.errors import CapacityError, EnvironmentMissingError

WANTED_ARCHS = (80, 86, 89, 90, 100)
QUICK_ARGS = [
    "--shapes",
    "4096x4096x4096,8192x8192x8192",
    "--iters",
    "20",
    "--warmup-s",
    "2",
    "--mem-gib",
    "0.5",
]
EXIT_NO_DEVICE = 3


def source_text() -> str:
    return (resources.files("capacity.microbench") / "capbench.cu").read_text(encoding="utf-8")


def find_nvcc() -> Path | None:
    """``$CUDA_HOME/bin/nvcc``, ``$CUDA_PATH/bin/nvcc``, or ``nvcc`` on PATH."""
    for env in ("CUDA_HOME", "CUDA_PATH"):
        root = os.environ.get(env)
        if root and (Path(root) / "bin" / "nvcc").is_file():
            return Path(root) / "bin" / "nvcc"
    found = shutil.which("nvcc")
    return Path(found) if found else None


def find_cublaslt() -> tuple[Path, Path, str] | None:
    """(include dir, library dir, library file) for cuBLASLt, from the toolkit or the nvidia-cublas wheel."""
    roots = [
        Path(p) for p in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda") if p
    ]
    candidates = [(r / "include", r / "lib64") for r in roots]
    for site in sys.path:
        for sub in ("nvidia/cu13", "nvidia/cublas"):
            candidates.append((Path(site) / sub / "include", Path(site) / sub / "lib"))
    for include, lib in candidates:
        if (include / "cublasLt.h").is_file() and lib.is_dir():
            libs = sorted(lib.glob("libcublasLt.so*"))
            if libs:
                return include, lib, libs[0].name
    return None


def gencode_flags(nvcc: Path) -> list[str]:
    try:
        listed = subprocess.run(
            [str(nvcc), "--list-gpu-arch"], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    available = {int(a.split("_")[1]) for a in listed.split() if a.startswith("compute_") and a[8:].isdigit()}
    archs = [a for a in WANTED_ARCHS if a in available] or [80]
    flags = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]
    return [*flags, f"-gencode=arch=compute_{archs[-1]},code=compute_{archs[-1]}"]


def cuda_devices() -> int:
    """CUDA devices the driver sees (0 without a driver), through libcuda's ``cuInit`` and
    ``cuDeviceGetCount``: a check that takes milliseconds, before anything is compiled."""
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return 0
    count = ctypes.c_int(0)
    if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def build(cache_dir: Path | None = None) -> Path:
    """Compile the benchmark (once per source, flags and compiler) and return the binary's path."""
    nvcc = find_nvcc()
    if nvcc is None:
        raise EnvironmentMissingError(
            "no nvcc found: install the CUDA toolkit or set CUDA_HOME (or use --backend torch)"
        )
    flags = ["-O3", "-std=c++17", "-diag-suppress=177", *gencode_flags(nvcc)]
    cublas = find_cublaslt()
    if cublas is not None:
        include, lib, name = cublas
        flags += [f"-I{include}", f"-L{lib}", f"-l:{name}", f"-Xlinker=-rpath={lib}"]
    version = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True, timeout=60).stdout
    key = hashlib.sha256("\n".join([source_text(), " ".join(flags), version]).encode()).hexdigest()[:16]
    root = cache_dir or Path(os.environ.get("CAPACITY_CACHE_DIR") or Path.home() / ".cache" / "capacity")
    binary = root / "capbench" / key / "capbench"
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    src = binary.parent / "capbench.cu"
    src.write_text(source_text(), encoding="utf-8")
    done = subprocess.run(
        [str(nvcc), *flags, str(src), "-o", str(binary)], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise CapacityError(f"nvcc failed to build the benchmark: {last}")
    return binary


def run(binary: Path, args: list[str], timeout_s: float) -> dict[str, Any]:
    """Run the binary; a missing GPU raises :class:`EnvironmentMissingError` (exit code 3 in the CLI)."""
    try:
        done = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise CapacityError(f"the benchmark did not finish within {timeout_s:.0f} s") from None
    try:
        data: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise CapacityError(
            f"the benchmark printed no JSON (exit {done.returncode}): {done.stderr[-200:]}"
        ) from None
    if done.returncode == EXIT_NO_DEVICE or data.get("status") == "no_device":
        raise EnvironmentMissingError(f"no CUDA GPU available ({data.get('error', 'no device')})")
    if done.returncode != 0 or data.get("status") != "ok":
        raise CapacityError(f"the benchmark failed: {data.get('error', data.get('status'))}")
    return data


def gpu_telemetry() -> dict[str, Any] | None:
    """Clocks, power and temperature as ``nvidia-smi`` reports them (read only; nothing is changed)."""
    fields = "name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu"
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    line = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    values = [v.strip() for v in line.split(",")]
    if len(values) != 7:
        return None
    names = ["name", "sm_clock_mhz", "sm_clock_max_mhz", "memory_clock_mhz", "power_draw_w", "power_limit_w",
             "temperature_c"]  # fmt: skip
    return {k: (v if k == "name" else _number(v)) for k, v in zip(names, values, strict=True)}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
