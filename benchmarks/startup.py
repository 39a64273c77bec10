"""Wall time of a what-if answer: `capacity train … --format json`, end to end in a fresh process.

Targets: ≤ 0.3 s median for a what-if (issue 3), ≤ 0.5 s for `--layouts 10` on 16,384 GPUs (issue 11), on
the 2-core dev machine. The parse cache is warmed first, as it is
after the first run on any machine. Usage: python benchmarks/startup.py [runs]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "train --layouts 10 (16,384 GPUs)": ["train", "--model", "llama3.1-405b", "--tokens", "15T",
                                         "--chip", "h100", "--gpus", "16384", "--layouts", "10",
                                         "--format", "json"],
    "train (json)": ["train", "--model", "gpt3-175b", "--tokens", "300B", "--chip", "v100", "--gpus", "10000",
                     "--format", "json"],
    "chips show (json)": ["chips", "show", "h100", "--format", "json"],
    "train (table)": ["train", "--model", "llama2-70b", "--tokens", "2T", "--chip", "a100", "--gpus", "2048"],
}  # fmt: skip
TARGET_S = 0.3
TARGETS_S = {"train --layouts 10 (16,384 GPUs)": 0.5}


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
        target = TARGETS_S.get(name, TARGET_S)
        flag = "ok" if median <= target else f"over the {target} s target"
        print(
            f"{name:34s} median {median * 1e3:6.0f} ms  min {min(times) * 1e3:6.0f} ms  ({runs} runs) {flag}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
