"""Tables at 80 columns: too many columns split into several tables; a number is never broken."""

from __future__ import annotations

import pytest

from capacity.cli.output import OutputFormat, emit_rows


def test_wide_tables_split_and_keep_numbers_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    rows = [
        {"chip": f"chip-{i}", **{f"metric_number_{k}": 1_234_567.5 + 1000 * i + k for k in range(9)},
         "note": "a long remark that may fold across lines without harm"}
        for i in range(3)
    ]  # fmt: skip
    emit_rows(rows, OutputFormat.table, title="wide", caption="a caption under every table")
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert out.count("┏") >= 2  # split into several tables, the key column in each
    assert out.count("chip-0") == out.count("┏")
    for row in rows:
        for key, value in row.items():
            if key.startswith("metric"):
                assert f"{value:,.1f}" in out  # whole, on one line
