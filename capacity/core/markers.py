"""Generated blocks in hand-written documents: the text between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` belongs to a script, which rewrites it (or, with ``--check``, says it is stale)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path


def replace_blocks(doc: str, blocks: dict[str, list[str]], where: str) -> str:
    """``doc`` with each named block's lines in place of what its markers held."""
    for name, lines in blocks.items():
        key = re.escape(name)
        found = re.search(rf"(<!-- BEGIN {key}[^>]*-->\n).*?(<!-- END {key} -->)", doc, re.S)
        if found is None:
            raise SystemExit(f"{where}: no <!-- BEGIN {name} --> … <!-- END {name} --> markers")
        doc = doc[: found.end(1)] + "\n".join(lines) + "\n" + doc[found.start(2) :]
    return doc


def regenerate(doc_path: Path, render: Callable[[str], str], argv: list[str], script: str) -> int:
    """Rewrite ``doc_path`` with ``render``; with ``--check`` in ``argv`` only compare (1 when stale)."""
    old = doc_path.read_text(encoding="utf-8")
    new = render(old)
    if "--check" in argv:
        if new != old:
            sys.stderr.write(f"{doc_path.name} is out of date: run python {script}\n")
            return 1
        return 0
    if new != old:
        doc_path.write_text(new, encoding="utf-8")
    return 0
