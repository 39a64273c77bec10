"""Wall time of a what-if answer: `capacity train … --format json`, end to end in a fresh process.

Target (issue 3): ≤ 0.3 s median on the 2-core dev machine. The parse cache is warmed first, as it is
after the first run on any machine. Usage: python benchmarks/startup.py [runs]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "train (json)": ["train", "--model", "gpt3-175b", "--tokens", "300B", "--chip", "v100", "--gpus", "10000",
                     "--format", "json"],
    "chips show (json)": ["chips", "show", "h100", "--format", "json"],
    "train (table)": ["train", "--model", "llama2-70b", "--tokens", "2T", "--chip", "a100", "--gpus", "2048"],
}  # fmt: skip
TARGET_S = 0.3


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    exe = shutil.which("capacity")
    base = [exe] if exe else [sys.executable, "-m", "capacity"]
    for name, args in COMMANDS.items():
        subprocess.run([*base, *args], capture_output=True, check=True)  # warm the parse cache
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([*base, *args], capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        flag = "ok" if median <= TARGET_S else f"over the {TARGET_S} s target"
        print(
            f"{name:20s} median {median * 1e3:6.0f} ms  min {min(times) * 1e3:6.0f} ms  ({runs} runs) {flag}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
