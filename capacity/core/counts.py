"""Parse human counts: ``175e9``, ``175B``, ``1.4T``, ``300M``, ``6.7b``, ``10k``, ``2,048``."""

from __future__ import annotations

import math
import re

from capacity.core.errors import InputError

MAX_COUNT = 1e24  # a trillion trillion (tokens, parameters, queries): the arithmetic stays finite below it
_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
# Digits with thousands commas in groups of three (2,048; 1,000,000) or underscores between digits (10_000);
# "1,,0" or "1,00" are not numbers.
_NUMBER = r"[-+]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+(?:_[0-9]+)*)(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?"
_PATTERN = re.compile(rf"^\s*({_NUMBER})\s*([kmbgtp]?)\s*$", re.IGNORECASE)
# The same grammar for JSON Schema (ECMA regex, no flags), so editors accept `tokens: 300B` as capacity does.
JSON_SCHEMA_PATTERN = (
    r"^\s*[-+]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+(?:_[0-9]+)*)(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
    r"\s*[kKmMbBgGtTpP]?\s*$"
)


def parse_count(text: str, what: str = "count", zero_ok: bool = False) -> float:
    """A positive count from text (or zero, with ``zero_ok``); raises :class:`InputError` naming
    ``what`` otherwise."""
    match = _PATTERN.match(text)
    if not match:
        raise InputError(f"{what}: {text!r} is not a number; use e.g. 175e9, 175B, 1.4T, 300M")
    value = float(match.group(1).replace(",", "").replace("_", "")) * _SUFFIX[match.group(2).lower()]
    if not math.isfinite(value) or value > MAX_COUNT:
        raise InputError(f"{what}: {text!r} is over {MAX_COUNT:.0e}, more than any plan can use")
    if value == 0 and zero_ok:
        return 0.0
    if value <= 0:
        bound = "at least 0" if zero_ok else "positive"
        raise InputError(f"{what}: must be {bound}, got {text!r}")
    if value < 1e-6:  # 5e-324 parameters divide into infinity downstream
        raise InputError(f"{what}: {text!r} is too small to plan with (at least 1e-06)")
    return value
