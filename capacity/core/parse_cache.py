"""A cache of parsed YAML keyed by each file's content hash, so start-up stays fast.

ruamel.yaml is pure Python (~8 ms a file); the catalogue has dozens of files and a what-if answer
must come in well under a second. The cache stores the *parsed, safety-checked* data as JSON under
``$CAPACITY_CACHE_DIR`` (default ``~/.cache/capacity``); a file whose bytes change is re-parsed.
Validation always runs on the data, so the cache can never let an invalid record through. Set
``CAPACITY_NO_CACHE=1`` to bypass it; an unwritable cache folder is ignored silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from capacity import __version__
from capacity.core.yamlio import parse_yaml, read_yaml, small_regular_file

_CACHE_NAME = f"parsed-yaml-{__version__}.json"


def _cache_file() -> Path | None:
    if os.environ.get("CAPACITY_NO_CACHE"):
        return None
    root = os.environ.get("CAPACITY_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "capacity"
    )
    return Path(root) / _CACHE_NAME


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


class ParsedYamlCache:
    """Parse many files, reusing earlier parses of identical bytes; :meth:`save` writes only when changed."""

    _shared: ParsedYamlCache | None = None

    @classmethod
    def shared(cls) -> ParsedYamlCache:
        """One cache per process and cache file (re-created when ``$CAPACITY_CACHE_DIR`` changes)."""
        if cls._shared is None or cls._shared.path != _cache_file():
            cls._shared = cls()
        return cls._shared

    def __init__(self) -> None:
        self.path = _cache_file()
        self.entries: dict[str, Any] = {}
        self.dirty = False
        if self.path is not None:
            try:  # a cache that is not a regular file, or not a mapping, is ignored (it is only a cache)
                loaded = json.loads(self.path.read_text(encoding="utf-8")) if _regular(self.path) else {}
            except (OSError, ValueError):
                loaded = {}
            self.entries = loaded if isinstance(loaded, dict) else {}

    def load(self, path: Path) -> Any:
        """Plain data (dicts, lists, scalars) of one YAML file, checked as :func:`read_yaml` checks it."""
        try:
            raw = path.read_bytes() if small_regular_file(path) else None
        except OSError:
            raw = None
        if raw is None or b"\x00" in raw:
            return _plain(read_yaml(path))  # raises the proper one-line error
        key = hashlib.sha256(raw).hexdigest()
        if key in self.entries:
            return self.entries[key]
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _plain(read_yaml(path))
        data = _plain(parse_yaml(text, str(path)))
        self.entries[key] = data
        self.dirty = True
        return data

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass
        self.dirty = False


def _regular(path: Path) -> bool:
    """A regular file of a sane size (a FIFO or a device in the cache's place would hang or never end)."""
    try:
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size < 256 * 2**20
