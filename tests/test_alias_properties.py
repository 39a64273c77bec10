"""Hypothesis: any re-typing of a real alias (case, full-width, separators) resolves to the same record."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from capacity.data.catalog import load_chips, load_models

CHIPS = load_chips()
NAMES = sorted({(name, c.id) for c in CHIPS for name in [c.id, *c.aliases]})
MODEL_NAMES = sorted({(name, m.id) for m in load_models() for name in [m.id, *m.aliases]})


def _retype(name: str, choices: list[int]) -> str:
    out = []
    for ch, choice in zip(name, choices + [0] * len(name), strict=False):
        if choice == 1:
            ch = ch.swapcase()
        elif choice == 2 and "!" <= ch <= "~":
            ch = chr(ord(ch) + 0xFEE0)  # the full-width form a Chinese IME produces
        elif choice == 3 and ch in "- _":
            ch = {"-": " ", " ": "_", "_": "-"}[ch]
        out.append(ch)
    return "".join(out)


@given(st.sampled_from(NAMES), st.lists(st.integers(0, 3), max_size=40))
def test_chip_alias_retyped_resolves_the_same(pair: tuple[str, str], choices: list[int]) -> None:
    name, chip_id = pair
    assert CHIPS.get(_retype(name, choices)).id == chip_id


@given(st.sampled_from(MODEL_NAMES), st.lists(st.integers(0, 3), max_size=40))
def test_model_alias_retyped_resolves_the_same(pair: tuple[str, str], choices: list[int]) -> None:
    name, model_id = pair
    assert load_models().get(_retype(name, choices)).id == model_id
