"""Calibration: what ``capacity bench`` measured on this machine, fed back into estimates.

A calibration file holds, for the catalogue chip the GPU was matched to, the best correct GEMM median per
dtype and the copy bandwidth, each as a fraction of the catalogue's dense peak / datasheet bandwidth.
``capacity train/serve --calibration FILE`` (and ``calibration:`` in scenarios) then use these fractions
instead of the published-microbenchmark defaults for that chip; for another chip the file is ignored with a
warning.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from capacity.core.errors import InputError, SpecFileError
from capacity.core.strict_numbers import InputModel
from capacity.core.units import MEMORY_BYTES_PER_GB
from capacity.core.yamlio import read_small_text
from capacity.data.catalog import Catalog
from capacity.records.chip import DTYPES, Chip, Dtype


class _Strict(InputModel):
    """A record users may write: unknown fields refused, a YAML boolean never a number, ``13B`` read as a
    count (:mod:`capacity.core.strict_numbers`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MeasuredMatmul(_Strict):
    tflops: float = Field(gt=0, description="median TFLOPS of the best correct shape")
    fraction: float = Field(gt=0, le=1, description="of the catalogue's dense peak")
    shape: str


class MeasuredMemory(_Strict):
    copy_gb_s: float = Field(gt=0, description="median copy bandwidth, bytes read + written")
    fraction: float = Field(gt=0, le=1.05, description="of the catalogue's memory bandwidth")


class Calibration(_Strict):
    schema_version: Literal[1] = 1
    chip: str | None = Field(description="the catalogue chip the GPU matched; null when none did")
    device_name: str
    device_memory_bytes: int
    backend: Literal["cuda", "torch"]
    matmul: dict[Dtype, MeasuredMatmul] = Field(default_factory=dict)
    memory: MeasuredMemory | None = None
    telemetry: dict[str, Any] | None = None
    raw: dict[str, Any] = Field(default_factory=dict, description="the benchmark's own JSON")


def _tokens(text: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", text.casefold())) - {""}


def match_device(name: str, memory_bytes: int, chips: Catalog[Chip]) -> Chip | None:
    """The catalogue chip for a CUDA device name and memory size (``NVIDIA H100 80GB HBM3`` → h100-sxm5-80gb).

    Candidates are chips whose id starts with a word of the name (``h100``, ``a100``, ``h20`` — whole words,
    so ``h20`` never matches ``h200``); a form factor named in the device (pcie, nvl) must match, and the
    memory size must agree within 15 %. A part the catalogue lacks, or a MIG slice, matches nothing.
    """
    words = _tokens(name)
    if "mig" in words:  # a MIG slice is not the chip whose peak the catalogue holds
        return None
    candidates = [c for c in chips if c.id.split("-")[0] in words]
    named_form = "pcie" if "pcie" in words else "nvl" if "nvl" in words else None
    if named_form is not None:  # a form named in the device must be the catalogue's, or no match
        candidates = [c for c in candidates if named_form in c.id]
    else:
        candidates = [c for c in candidates if "pcie" not in c.id and "nvl" not in c.id] or candidates
    if not candidates:
        return None
    best = min(candidates, key=lambda c: abs((c.memory_gb or 0) * MEMORY_BYTES_PER_GB - memory_bytes))
    # CUDA reports bytes, datasheets binary GB less what the driver reserves: allow 15 % either way
    if best.memory_gb is None or not 0.85 <= memory_bytes / (best.memory_gb * MEMORY_BYTES_PER_GB) <= 1.15:
        return None
    return best


def from_bench(
    raw: dict[str, Any], chips: Catalog[Chip], telemetry: dict[str, Any] | None = None
) -> Calibration:
    """Turn benchmark JSON into a calibration; results that failed their correctness check are never used."""
    device = raw.get("device", {})
    chip = match_device(str(device.get("name", "")), int(device.get("memory_bytes", 0)), chips)
    matmul: dict[Dtype, MeasuredMatmul] = {}
    memory = None
    if chip is not None:
        for dtype in DTYPES:
            rows = [
                r
                for r in raw.get("gemm", {}).get("results", [])
                if r.get("dtype") == dtype and r.get("correct")
            ]
            peak = chip.dense_peak(dtype)
            if not rows or peak is None:
                continue
            best = max(rows, key=lambda r: float(r["tflops_median"]))
            tflops = float(best["tflops_median"])
            if tflops > peak:
                raise InputError(
                    f"measured {dtype} {tflops:.0f} TFLOPS exceeds {chip.id}'s dense peak of {peak:g}: the "
                    "device "
                    f"match or the timing is wrong; not using it"
                )
            shape = f"{best['m']}x{best['n']}x{best['k']}"
            matmul[dtype] = MeasuredMatmul(tflops=tflops, fraction=tflops / peak, shape=shape)
        copy = (raw.get("memory") or {}).get("kernels", {}).get("copy")
        if copy and chip.memory_bandwidth_gb_s:
            gb_s = float(copy["gb_s_median"])
            memory = MeasuredMemory(copy_gb_s=gb_s, fraction=min(gb_s / chip.memory_bandwidth_gb_s, 1.05))
    return Calibration(
        chip=chip.id if chip else None,
        device_name=str(device.get("name", "unknown")),
        device_memory_bytes=int(device.get("memory_bytes", 0)),
        backend="torch" if raw.get("backend") == "torch" else "cuda",
        matmul=matmul,
        memory=memory,
        telemetry=telemetry,
        raw=raw,
    )


def load_calibration(path: Path) -> Calibration:
    """Read a calibration file written by ``capacity bench --output``; one clear line when it is not one."""
    text = read_small_text(path, "calibration file")  # a regular file under the size cap, or one clear line
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecFileError(
            [f"{path}: not a calibration file ({exc.__class__.__name__}); run capacity bench --output"]
        ) from None
    try:
        return Calibration.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "(document)"
        raise SpecFileError([f"{path}: {where}: {err['msg'].removeprefix('Value error, ')}"]) from None


def applies_to(cal: Calibration | None, chip: Chip, warnings: list[str]) -> Calibration | None:
    """``cal`` when it was measured on ``chip``; otherwise None, with a warning saying why."""
    if cal is None:
        return None
    if cal.chip != chip.id:
        warnings.append(f"calibration from {cal.device_name} ({cal.chip or 'no catalogue match'}) is not for "
                        f"{chip.id}: using the published defaults")  # fmt: skip
        return None
    return cal
