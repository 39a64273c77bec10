"""Unit constants. Every float elsewhere carries its unit in its name; conversions use these.

Conventions: GB = 10**9 bytes (vendor-nominal, as datasheets use), GiB = 2**30 bytes, except a chip's
memory capacity: DRAM is made in binary sizes and vendors quote it in binary GB, so an "80 GB" A100 or
H100 holds 80 GiB (nvidia-smi reports 81,920 MiB for the A100 80GB; HBM stacks are 16 or 24 GiB), and
``memory_gb`` is read as GiB (:data:`MEMORY_BYTES_PER_GB`) wherever bytes must fit in it.
TFLOPS = 10**12 FLOP/s, PFLOPS = 10**15 FLOP/s, 1 PF-day = 10**15 FLOP/s x 86 400 s.
"""

from __future__ import annotations

TERA = 1e12
PETA = 1e15
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86_400.0
PF_DAY_FLOP = PETA * SECONDS_PER_DAY
MEMORY_BYTES_PER_GB = 2**30  # a chip's memory_gb is binary (see the module docstring)
