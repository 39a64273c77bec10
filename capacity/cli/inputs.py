"""Parsing shared by the commands: counts, whole numbers, choices, and request construction errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from capacity.core.counts import parse_count
from capacity.core.errors import InputError

M = TypeVar("M", bound=BaseModel)
FLAG_NAMES = {
    "deadline_days": "days", "flops_convention": "flops", "weight_precision": "precision",
    "batch": "max-batch", "matmul_fraction": "stack-efficiency",
}  # fmt: skip


def count(text: str | None, flag: str, zero_ok: bool = False) -> float | None:
    return None if text is None else parse_count(text, flag, zero_ok)


def whole(text: str | None, flag: str, zero_ok: bool = False) -> int | None:
    """A positive (or, with ``zero_ok``, non-negative) whole number given as a count (``2048``, ``10k``)."""
    value = count(text, flag, zero_ok)
    if value is None:
        return None
    if value != int(value):
        raise InputError(f"{flag}: must be a whole number, got {text!r}")
    return int(value)


def choice(value: str | None, allowed: tuple[str, ...], flag: str) -> Any:
    if value is None or value in allowed:
        return value
    raise InputError(f"{flag}: {value!r} is not one of {', '.join(allowed)}")


def build(cls: Callable[..., M], **kw: Any) -> M:
    """Construct a request model (or call a function that does); a validation error becomes one line
    naming the flag."""
    try:
        return cls(**kw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"]) or "input"
        name = field.replace("economics.", "").replace("traffic.", "").replace("parallel.", "")
        flag = "--" + FLAG_NAMES.get(name, name.replace("_", "-")) if err["loc"] else ""
        message = err["msg"].removeprefix("Value error, ")
        raise InputError(f"{flag}: {message}" if flag else message) from None
