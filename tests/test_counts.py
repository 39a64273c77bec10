from __future__ import annotations

import pytest

from capacity.core.counts import parse_count
from capacity.core.errors import InputError


@pytest.mark.parametrize(
    ("text", "value"),
    [("175e9", 175e9), ("175B", 175e9), ("1.4T", 1.4e12), ("300M", 300e6), ("6.7b", 6.7e9), ("10k", 1e4),
     ("2,048", 2048), ("1e15", 1e15), (" 70 B ", 70e9)],
)  # fmt: skip
def test_parses(text: str, value: float) -> None:
    assert parse_count(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "-5", "0", "1e400", "", "12Q", "nan", "1,,0", "1,00", "1__0", ",1"])
def test_rejects(text: str) -> None:
    with pytest.raises(InputError):
        parse_count(text, "--tokens")
