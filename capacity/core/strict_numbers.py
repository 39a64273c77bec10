"""Booleans are not numbers: YAML's ``true`` must not become 1 GPU (pydantic's lax mode would allow it)."""

from __future__ import annotations

from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel


def no_bool_number(model: type[BaseModel], name: str | None, value: Any) -> Any:
    """``value`` unchanged, or a ValueError when it is a boolean and the field cannot mean one (use as a
    ``field_validator("*", mode="before")``, so the error points at the field's line)."""
    field = model.model_fields.get(name or "")
    if field is not None and isinstance(value, bool) and not _admits_bool(field.annotation):
        raise ValueError(f"{str(value).lower()} is a yes/no value; give a number or a name")
    return value


def _admits_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return any(isinstance(a, bool) for a in get_args(annotation))
    if origin in (Union, UnionType) or origin is not None:
        return any(_admits_bool(a) for a in get_args(annotation))
    return False
