"""``capacity bench``: measure this GPU's achievable matmul and memory throughput, write a calibration."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from capacity.core.errors import EnvironmentMissingError, InputError

from .errors import handles_errors
from .inputs import choice
from .output import Cell, FormatOption, OutputFormat, emit_json, emit_rows

TORCH_QUICK = [(4096, 4096, 4096), (8192, 8192, 8192)]
TORCH_FULL = [*TORCH_QUICK, (2048, 2048, 13312), (1024, 10240, 5120)]


def _measure(backend: str, quick: bool, shapes: str | None, timeout_s: float) -> dict[str, Any]:
    from capacity import microbench

    if backend == "torch":
        from capacity.microbench.torch_backend import run_torch

        return run_torch(TORCH_QUICK if quick else TORCH_FULL, 20 if quick else 50, 0.5 if quick else 1.0)
    if microbench.cuda_devices() == 0:  # say so in milliseconds, not after a 10 s compile
        raise EnvironmentMissingError("no CUDA GPU: the CUDA driver sees no device (nothing was compiled)")
    binary = microbench.build()
    args = list(microbench.QUICK_ARGS) if quick else []
    if shapes:
        args += ["--shapes", shapes]
    return microbench.run(binary, args, timeout_s)


MAX_TIMEOUT_S = 86_400  # a day: the full benchmark takes minutes


def _writable(path: Path) -> None:
    """Refuse an --output the run could not write, before minutes of measuring are spent (exit 2)."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"--output {path}: is a folder; give a file name such as {path / 'calib.json'}")
    if not folder.is_dir():
        raise InputError(f"--output {path}: folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"--output {path}: not writable; choose another path")


@handles_errors
def bench(
    output: Annotated[
        Path | None, typer.Option(help="Write the calibration JSON here (for --calibration).")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Two shapes, short warm-up: about a minute.")
    ] = False,
    backend: Annotated[str, typer.Option(help="cuda (the bundled CUDA program) or torch.")] = "cuda",
    shapes: Annotated[str | None, typer.Option(help="GEMM shapes MxNxK,... (cuda backend).")] = None,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 1800,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Measure achieved matmul TFLOPS and memory bandwidth on this GPU against the catalogue's peaks.

    Compiles a small CUDA program with nvcc on first use (cached), runs it, matches the GPU to a catalogue
    chip and prints achieved vs peak per dtype and for bandwidth. Exit 3 without a GPU or nvcc.
    Clocks and power limits are never changed.

    Examples:

    \b
      capacity bench --quick
      capacity bench --output calib.json
      capacity train --model llama2-70b --tokens 2T --chip h100 --gpus 1024 \\
        --calibration calib.json
    """
    from capacity import microbench
    from capacity.data.calibration import from_bench
    from capacity.data.catalog import load_chips

    chosen = choice(backend, ("cuda", "torch"), "--backend")
    if not math.isfinite(timeout) or not 1 <= timeout <= MAX_TIMEOUT_S:
        raise InputError(f"--timeout: {timeout:g} must be between 1 and {MAX_TIMEOUT_S:,} seconds")
    if output is not None:
        _writable(output)
    sys.stderr.write(
        "capacity bench: building and running the benchmark (clocks and power are left alone)...\n"
    )
    before = microbench.gpu_telemetry()
    raw = _measure(chosen, quick, shapes, timeout)
    after = microbench.gpu_telemetry()
    cal = from_bench(raw, load_chips(), {"before": before, "after": after} if before or after else None)
    if output is not None:
        try:
            output.write_text(json.dumps(cal.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:  # lost between the check and the end of the run
            raise InputError(f"--output {output}: cannot write ({exc.strerror})") from None
        sys.stderr.write(f"capacity bench: calibration written to {output}\n")
    if fmt is OutputFormat.json:
        emit_json(cal.model_dump(mode="json"))
        return
    chip = load_chips().by_id.get(cal.chip or "")
    rows: list[dict[str, Cell]] = []
    for dtype, m in cal.matmul.items():
        rows.append({"what": f"matmul {dtype}", "best_shape": m.shape, "achieved": round(m.tflops, 1),
                     "peak": chip.dense_peak(dtype) if chip else None, "unit": "TFLOPS",
                     "fraction_of_peak": round(m.fraction, 3)})  # fmt: skip
    if cal.memory is not None:
        rows.append({"what": "memory copy", "best_shape": None, "achieved": round(cal.memory.copy_gb_s),
                     "peak": chip.memory_bandwidth_gb_s if chip else None, "unit": "GB/s",
                     "fraction_of_peak": round(cal.memory.fraction, 3)})  # fmt: skip
    title = f"{cal.device_name} -> {cal.chip or 'no catalogue match'} ({cal.backend})"
    if rows:
        emit_rows(rows, fmt, title=title)
    else:
        sys.stderr.write(f"capacity bench: {title}: nothing measured could be matched to catalogue peaks\n")
