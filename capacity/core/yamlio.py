"""Safe YAML loading with file:line:col in every error.

YAML 1.2 (ruamel.yaml) so ``1e15`` is a number and ``no`` stays a string. Hostile input is
refused with one clear line: files over :data:`MAX_YAML_BYTES`, binary files, explicit tags
(``!!python/object`` and friends are never constructed), and alias bombs (the expanded tree is
walked with a node budget of :data:`MAX_NODES`, so "billion laughs" stops early).
"""

from __future__ import annotations

import datetime as dt
import stat
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from capacity.core.errors import SpecFileError
from capacity.core.suggest import suggest

MAX_YAML_BYTES = 1_000_000
MAX_NODES = 100_000
_PLAIN_STR_TAG = "tag:yaml.org,2002:str"


def read_yaml(path: Path) -> Any:
    """Read one YAML document from ``path`` and return plain Python data with line info kept.

    Raises :class:`SpecFileError` (one ``file:line:col: message`` line) for anything unsafe or broken.
    """
    text = read_small_text(path, "YAML spec")
    return parse_yaml(text, str(path))


PARSE_FRAMES = 1200  # the parser's stack: ruamel takes ~12 frames a nesting level; plans nest under 10


MAX_FLOW_DEPTH = 100


def _flow_depth(text: str) -> int:
    """The deepest nesting of flow brackets ``[ {`` outside quoted strings, counted up to just past
    :data:`MAX_FLOW_DEPTH` (a rough scan: enough to refuse a bracket bomb before parsing it)."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return 0
    depth = deepest = 0
    quote = ""
    for ch in text:
        if quote:
            quote = "" if ch in (quote, "\n") else quote  # rough: a quote ends at its line's end
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_FLOW_DEPTH:
                    break
        elif ch in "]}":
            depth = max(0, depth - 1)
    return deepest


def _depth() -> int:
    """Frames on the stack now."""
    frame, n = sys._getframe(), 0
    while frame is not None:
        frame, n = frame.f_back, n + 1  # type: ignore[assignment]
    return n


def parse_yaml(text: str, name: str) -> Any:
    """Parse YAML ``text`` (``name`` is used in error messages) safely; see module docstring."""
    from ruamel.yaml import YAML  # imported here: ~15 ms, and only needed when the parse cache misses
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if not text.strip():
        raise SpecFileError([f"{name}:1:1: the file is empty; expected a YAML mapping"])
    too_deep = f"{name}:1:1: the YAML is nested too deeply (over {{}} levels); flatten it"
    if _flow_depth(text) > MAX_FLOW_DEPTH:  # the scanner slows with depth (10,000 '[' took 4 s): refuse first
        raise SpecFileError([too_deep.format(MAX_FLOW_DEPTH)])
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(min(limit, _depth() + PARSE_FRAMES))  # a deep document fails fast, not in 4 s
    try:
        doc = YAML(typ="rt").load(text)
    except RecursionError:
        raise SpecFileError([too_deep.format(PARSE_FRAMES // 12)]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "1:1"
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise SpecFileError([f"{name}:{where}: YAML syntax error: {problem}"]) from None
    except YAMLError as exc:
        raise SpecFileError([f"{name}:1:1: YAML error: {str(exc).splitlines()[0]}"]) from None
    finally:
        sys.setrecursionlimit(limit)
    if doc is None:
        raise SpecFileError([f"{name}:1:1: the file is empty (only comments); expected a YAML mapping"])
    _check_tree(doc, name)
    return doc


def small_regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file within :data:`MAX_YAML_BYTES` (no device, pipe or socket, which
    could be endless or block)."""
    try:
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= MAX_YAML_BYTES


def read_small_text(path: Path, kind: str) -> str:
    """The UTF-8 text of an input file of at most :data:`MAX_YAML_BYTES`, else one clear line (missing, a
    folder, a device or pipe, too large, binary, not UTF-8); ``kind`` names what was expected."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SpecFileError([f"{path}: no such file"]) from None
    except OSError as exc:
        raise SpecFileError([f"{path}: cannot read: {exc.strerror}"]) from None
    if stat.S_ISDIR(info.st_mode):
        raise SpecFileError([f"{path}: is a directory, expected a {kind} file"])
    if not stat.S_ISREG(info.st_mode):
        raise SpecFileError(
            [f"{path}: not a regular file (a device, pipe or terminal); save the {kind} to a file"]
        )
    too_big = f"over the {MAX_YAML_BYTES:,}-byte limit for a {kind}"
    if info.st_size > MAX_YAML_BYTES:
        raise SpecFileError([f"{path}: file is {info.st_size:,} bytes, {too_big}"])
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)  # bounded even if the file grows while we read
    except OSError as exc:
        raise SpecFileError([f"{path}: cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_YAML_BYTES:
        raise SpecFileError([f"{path}: file grew past {MAX_YAML_BYTES:,} bytes while read, {too_big}"])
    if b"\x00" in raw:
        raise SpecFileError([f"{path}:1:1: binary file (NUL bytes); expected a UTF-8 {kind}"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecFileError([f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"]) from None


def _check_tree(doc: Any, name: str) -> None:
    """Walk the expanded tree once: refuse explicit tags and alias bombs, turn dates into strings."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

    budget = [MAX_NODES]

    def visit(node: Any, parent: Any, key: Any) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise SpecFileError(
                [f"{name}:1:1: document expands to over {MAX_NODES:,} nodes (alias bomb?); refusing to load"]
            )
        tag = getattr(getattr(node, "tag", None), "value", None)
        if isinstance(node, TaggedScalar):
            if tag != _PLAIN_STR_TAG:
                line, col = _position(parent, key)
                raise SpecFileError([f"{name}:{line}:{col}: explicit YAML tag {tag!r} is not allowed"])
            parent[key] = str(node.value)
            return
        if tag is not None and isinstance(node, CommentedMap | CommentedSeq):
            line, col = node.lc.line + 1, node.lc.col + 1
            raise SpecFileError([f"{name}:{line}:{col}: explicit YAML tag {tag!r} is not allowed"])
        if isinstance(node, dt.date | dt.datetime) and parent is not None:
            parent[key] = node.isoformat()
        elif isinstance(node, CommentedMap):
            for k in list(node):
                visit(node[k], node, k)
        elif isinstance(node, CommentedSeq):
            for i in range(len(node)):
                visit(node[i], node, i)

    visit(doc, None, None)


def _position(parent: Any, key: Any) -> tuple[int, int]:
    """1-based (line, col) of ``parent[key]``'s value, falling back to the parent's own position."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    try:
        if isinstance(parent, CommentedMap):
            line, col = parent.lc.value(key)
            return line + 1, col + 1
        if isinstance(parent, CommentedSeq):
            line, col = parent.lc.item(key)
            return line + 1, col + 1
    except (KeyError, TypeError, IndexError, AttributeError):
        pass
    lc = getattr(parent, "lc", None)
    if lc is not None and lc.line is not None:
        return lc.line + 1, lc.col + 1
    return 1, 1


def locate(doc: Any, loc: Sequence[int | str]) -> tuple[int, int]:
    """Follow a pydantic error ``loc`` through a loaded document to the deepest position found."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    node: Any = doc
    parent: Any = None
    key: Any = None
    for part in loc:
        in_map = isinstance(node, Mapping) and part in node
        in_seq = isinstance(node, Sequence) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_map or in_seq):
            break
        parent, key, node = node, part, node[part]
    if parent is None:
        lc = getattr(doc, "lc", None)
        return (lc.line + 1, lc.col + 1) if lc is not None else (1, 1)
    if (
        isinstance(node, CommentedMap | CommentedSeq)
        and node.lc.line is not None
        and not isinstance(parent, CommentedSeq)
    ):
        # point at the key that opens the nested block
        try:
            line, col = parent.lc.key(key)
            return line + 1, col + 1
        except (KeyError, TypeError, AttributeError):
            return node.lc.line + 1, node.lc.col + 1
    return _position(parent, key)


def validation_problems(exc: ValidationError, doc: Any, name: str, model: type[BaseModel]) -> list[str]:
    """Turn a pydantic ``ValidationError`` into ``file:line:col: field.path: message`` lines."""
    problems: dict[str, list[str]] = {}  # "file:line:col: path" -> messages (a union's branches: one line)
    errors = [(err, _without_branch_tags(doc, tuple(err["loc"]))) for err in exc.errors(include_url=False)]
    for err, loc in errors:
        tagged = len(loc) < len(err["loc"])
        if (
            tagged
            and err["type"].endswith("_type")
            and any(
                other is not err and len(deeper) > len(loc) and deeper[: len(loc)] == loc
                for other, deeper in errors
            )
        ):
            continue  # the other branch of a union (model: a name or a mapping) got further: report that one
        line, col = locate(doc, loc)
        path = ".".join(str(p) for p in loc) or "(document)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc:
            line, col = _key_position(doc, loc) or (line, col)
            allowed = _field_names(model, loc[:-1])
            close = suggest(str(loc[-1]), allowed, n=1)
            msg = "unknown field" + (f"; did you mean {close[0]!r}?" if close else "")
            if allowed and not close:
                msg += "; allowed: " + ", ".join(allowed)
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] in {"model_type", "dict_type"} and not loc:
            msg = "expected a YAML mapping (key: value pairs) at the top level"
        where = f"{name}:{line}:{col}: {path}"
        if tagged or where not in problems:
            problems.setdefault(where, [])
            if msg not in problems[where]:
                problems[where].append(msg)
        else:
            problems[f"{where}#{len(problems)}"] = [msg]  # a second problem at one place: its own line
    return [f"{where.split('#')[0]}: {'; or: '.join(msgs)}" for where, msgs in problems.items()]


def _without_branch_tags(doc: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """A union's errors carry the branch tried in their ``loc`` (``model.str``, ``model.InlineModel.params``);
    the user wrote ``model.params``, so a type name that is not a key of the document there is dropped."""
    kept: list[int | str] = []
    node: Any = doc
    for i, part in enumerate(loc):
        in_seq = isinstance(node, Sequence) and not isinstance(node, str) and isinstance(part, int)
        if (isinstance(node, Mapping) and part in node) or (in_seq and 0 <= int(part) < len(node)):
            kept.append(part)
            node = node[part]
        elif isinstance(part, str) and (part in _TYPE_TAGS or part[:1].isupper() or "[" in part):
            continue
        else:  # a key the document lacks (a missing field): the rest is the user's path as it stands
            return (*kept, *loc[i:])
    return tuple(kept)


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "tuple", "none"})


def _key_position(doc: Any, loc: Sequence[int | str]) -> tuple[int, int] | None:
    """1-based position of the *key* ``loc[-1]`` inside the mapping at ``loc[:-1]``."""
    node = doc
    for part in loc[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    try:
        line, col = node.lc.key(loc[-1])
    except (AttributeError, KeyError, TypeError):
        return None
    return line + 1, col + 1


def _field_names(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Names of the fields of the model found at ``loc`` under ``model`` (empty if not a model)."""
    current: Any = model
    for part in loc:
        current = _inner_model(current, part)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner_model(annotation: Any, part: int | str) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return None if field is None else _strip(field.annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, dict) and isinstance(part, int | str):
        args = typing.get_args(annotation)
        return _strip(args[-1]) if args else None
    return None


def _strip(annotation: Any) -> Any:
    """``X | None`` → ``X`` (the first non-None member of a union)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members[0] if members else None
    return annotation
