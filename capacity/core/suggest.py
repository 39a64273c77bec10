"""Did-you-mean suggestions that weigh meaning as well as spelling.

Spelling alone offers ``max_gpus`` for ``max_days`` and ``h20`` for ``nvidia-h100``. Here a candidate scores
by its letters (difflib's ratio) and by the words it shares with what was typed (``max_days`` and
``max_wall_clock_days`` share ``max`` and ``days``), and a vendor's name in front of a chip id is looked past.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

VENDOR_PREFIXES = ("nvidia", "amd", "huawei", "google", "intel", "habana", "cambricon", "hygon", "biren",
                   "enflame", "iluvatar", "kunlunxin", "baidu", "metax", "mthreads")  # fmt: skip


def words(text: str) -> set[str]:
    """Lower-case words and numbers: ``max_wall_clock_days`` → {max, wall, clock, days}."""
    return set(re.findall(r"[a-z]+|[0-9]+", text.casefold()))


def without_vendor(name: str) -> str:
    """``nvidia-h100`` (or full-width ``ＮＶＩＤＩＡ Ｈ１００``) → ``h100``; names without a known vendor in
    front are returned as they are."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    for vendor in VENDOR_PREFIXES:
        if folded.startswith(vendor) and len(folded) > len(vendor):
            return folded[len(vendor) :].lstrip(" -_")
    return name


def suggest(typed: str, candidates: list[str], n: int = 3, cutoff: float = 0.5) -> list[str]:
    """Up to ``n`` candidates, best first: half spelling, half shared words."""
    mine = words(typed)
    scored = []
    for c in candidates:
        spelling = difflib.SequenceMatcher(None, typed.casefold(), c.casefold()).ratio()
        theirs = words(c)
        shared = len(mine & theirs) / len(mine | theirs) if mine | theirs else 0.0
        scored.append((0.5 * spelling + 0.5 * shared, c))
    scored.sort(key=lambda pair: -pair[0])
    return [c for score, c in scored[:n] if score >= cutoff]
