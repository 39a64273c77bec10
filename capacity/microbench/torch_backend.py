"""The same measurements with PyTorch (``capacity bench --backend torch``), emitting capbench's JSON schema.

For machines where the CUDA program can't be built, and as a cross-check of it: ``torch.mm`` on BF16/FP16
in the "TN" layout mamf-finder uses, the L2 flushed (a 2×L2 buffer zeroed) outside each CUDA-event pair,
median of many; device-to-device copy and triad with bytes read plus written.
"""

from __future__ import annotations

import statistics
from typing import Any

from capacity.core.errors import EnvironmentMissingError


def run_torch(shapes: list[tuple[int, int, int]], iters: int, mem_gib: float) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        raise EnvironmentMissingError("--backend torch needs PyTorch installed") from None
    if not torch.cuda.is_available():
        raise EnvironmentMissingError("no CUDA GPU visible to PyTorch")
    props = torch.cuda.get_device_properties(0)
    l2 = int(getattr(props, "L2_cache_size", 50 << 20))
    flush = torch.empty(max(2 * l2, 64 << 20), dtype=torch.uint8, device="cuda")

    def timed(fn: Any, n: int) -> list[float]:
        events = [
            (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)
        ]
        for _ in range(3):
            fn()
        for start, end in events:
            flush.zero_()
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize()
        return [s.elapsed_time(e) for s, e in events]

    results = []
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        for m, n, k in shapes:
            a = torch.randn(m, k, device="cuda", dtype=dtype)
            b = torch.randn(n, k, device="cuda", dtype=dtype).t()
            out = torch.empty(m, n, device="cuda", dtype=dtype)
            ms = timed(lambda a=a, b=b, out=out: torch.mm(a, b, out=out), iters)
            rows = torch.randint(0, m, (64,), device="cuda")
            cols = torch.randint(0, n, (64,), device="cuda")
            ref = (a[rows].double() * b[:, cols].t().double()).sum(dim=1)
            scale = (a[rows].double() * b[:, cols].t().double()).pow(2).sum(dim=1).sqrt()
            got = out[rows, cols].double()
            correct = bool(((got - ref).abs() <= 0.02 * ref.abs() + 0.05 * scale).all())
            flops = 2.0 * m * n * k
            results.append({
                "dtype": name, "m": m, "n": n, "k": k, "compute": "fp32-accumulate",
                "tflops_median": flops / (statistics.median(ms) * 1e-3) / 1e12,
                "tflops_mean": flops / (statistics.fmean(ms) * 1e-3) / 1e12,
                "tflops_max": flops / (min(ms) * 1e-3) / 1e12, "iterations": iters, "correct": correct,
            })  # fmt: skip
            del a, b, out
    elements = int(mem_gib * (1 << 30)) // 4
    x, y, z = (torch.rand(elements, device="cuda") for _ in range(3))
    kernels = {}
    for label, fn, moved in (
        ("copy", lambda: y.copy_(x), 2.0),
        ("triad", lambda: torch.add(y, z, alpha=0.5, out=x), 3.0),
    ):
        ms = timed(fn, max(iters // 2, 10))
        nbytes = moved * elements * 4
        kernels[label] = {"gb_s_median": nbytes / (statistics.median(ms) * 1e-3) / 1e9,
                          "gb_s_best": nbytes / (min(ms) * 1e-3) / 1e9, "bytes_moved": nbytes}  # fmt: skip
    return {
        "status": "ok", "benchmark_version": 1, "backend": "torch",
        "device": {"name": props.name, "sm_count": props.multi_processor_count,
                   "memory_bytes": props.total_memory,
                   "l2_bytes": l2, "compute_capability": f"{props.major}.{props.minor}",
                   "torch": torch.__version__, "cuda_runtime": torch.version.cuda},
        "gemm": {"status": "ok", "results": results},
        "memory": {"array_bytes": elements * 4, "kernels": kernels},
    }  # fmt: skip
