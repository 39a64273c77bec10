"""Unit constants. Every float elsewhere carries its unit in its name; conversions use these.

Conventions: GB = 10**9 bytes (vendor-nominal, as datasheets use), GiB = 2**30 bytes,
TFLOPS = 10**12 FLOP/s, PFLOPS = 10**15 FLOP/s, 1 PF-day = 10**15 FLOP/s x 86 400 s.
"""

from __future__ import annotations

TERA = 1e12
PETA = 1e15
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86_400.0
PF_DAY_FLOP = PETA * SECONDS_PER_DAY
