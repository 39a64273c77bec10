"""Numbers in input files: a YAML ``true`` never becomes 1 GPU (pydantic's lax mode would allow it), and
a count may be written as the command line takes it (``300B``)."""

from __future__ import annotations

from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationInfo, field_validator


def no_bool_number(model: type[BaseModel], name: str | None, value: Any) -> Any:
    """``value`` for a field of ``model`` (use as a ``field_validator("*", mode="before")``, so errors
    point at the field's line): a boolean where the field cannot mean one is refused; a count written as
    text (``300B``, ``2T``, ``2,048``) for a number-only field is parsed as the command line parses it."""
    field = model.model_fields.get(name or "")
    if field is None:
        return value
    if isinstance(value, bool) and not _admits_bool(field.annotation):
        raise ValueError(f"{str(value).lower()} is a yes/no value; give a number or a name")
    if isinstance(value, str) and _numbers_only(field.annotation):
        from capacity.core.counts import parse_count

        try:
            return parse_count(value, name or "value", zero_ok=True)  # the field's own bound decides 0
        except ValueError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None
    return value


def _numbers_only(annotation: Any) -> bool:
    """An int or float field (optionally None) that takes no text."""
    options = (
        [a for a in get_args(annotation) if a is not type(None)] if get_origin(annotation) else [annotation]
    )
    return bool(options) and all(a in (int, float) for a in options)


def _admits_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return any(isinstance(a, bool) for a in get_args(annotation))
    if origin in (Union, UnionType) or origin is not None:
        return any(_admits_bool(a) for a in get_args(annotation))
    return False


class InputModel(BaseModel):
    """Base of the models users write (flags, scenario files): :func:`no_bool_number` on every field."""

    @field_validator("*", mode="before")
    @classmethod
    def _numbers(cls, value: Any, info: ValidationInfo) -> Any:
        return no_bool_number(cls, info.field_name, value)
