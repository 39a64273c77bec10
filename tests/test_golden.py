"""Golden output (issue 16): the rendered tables of train, serve, compare, check, validate and explain at 80
and 120 columns, pinned byte for byte, so a layout that wraps a number or drops a column shows up as a diff.

Regenerate after an intended change with ``CAPACITY_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and read
the diff before committing it. Prices are given on the command line so dated catalogue quotes do not move
the files; a change to the catalogue's chips or the models' constants does, on purpose.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from capacity.cli import app

GOLDEN = Path(__file__).resolve().parent / "golden"
ROOT = GOLDEN.parent.parent
COMMANDS = {
    "train": ["train", "--model", "gpt3-175b", "--tokens", "300B", "--chip", "v100", "--gpus", "10000",
              "--mfu", "0.197", "--gpu-hour-usd", "1.5"],
    "serve": ["serve", "--model", "llama3.1-70b", "--chip", "h100", "--input-tokens", "1000",
              "--output-tokens", "1000", "--qps", "5", "--gpu-hour-usd", "3"],
    "serve-image": ["serve", "--model", "sdxl", "--chip", "h100", "--steps", "30", "--images-per-day", "4e6",
                    "--gpu-hour-usd", "3"],
    "compare": ["compare", "--chips", "h100,a100,910b", "--model", "llama2-70b", "--tokens", "2T", "--gpus",
                "1024", "--gpu-hour-usd", "2"],
    "check": ["check", str(ROOT / "specs" / "scenarios" / "ci-plan-with-limits.yaml")],
    "validate": ["validate"],
    "explain": ["explain", "--params", "175B", "--tokens", "300B", "--chip", "a100", "--gpus", "1024",
                "--gpu-hour-usd", "2"],
}  # fmt: skip


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_rendered_tables_are_pinned(name: str, width: int) -> None:
    result = CliRunner().invoke(app, COMMANDS[name], env={"COLUMNS": str(width)})
    assert result.exit_code in (0, 1), result.stderr
    out = result.stdout.replace(str(ROOT), "<root>")
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    path = GOLDEN / f"{name}-{width}.txt"
    if os.environ.get("CAPACITY_UPDATE_GOLDEN"):
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8"), f"{path.name} differs: see its diff, or regenerate"


def _assert_readable(name: str, lines: list[str]) -> None:
    """No table cut at its right edge, no number folded over two lines of a cell."""
    for line in lines:  # a table wider than the terminal is cut at its right edge, not folded
        if line.startswith(("┏", "┃", "┡", "│", "└")):
            assert line.rstrip()[-1] in "┓┃┩│┘", f"{name}: a table is cut off:\n{line}"
    for above, below in itertools.pairwise(lines):
        for a, b in zip(above.split("│"), below.split("│"), strict=False):
            # a numeric cell that continues on the next line: digits then digits/commas below it
            if re.fullmatch(r"\s*[0-9][0-9,.]*,\s*", a) and re.fullmatch(r"\s*[0-9][0-9,.]*\s*", b):
                raise AssertionError(f"{name}: a number folds across lines:\n{above}\n{below}")


def test_the_golden_tables_have_no_folded_number_and_no_cut_edge() -> None:
    for path in sorted(GOLDEN.glob("*.txt")):
        _assert_readable(path.name, path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize(
    "args",
    [["chips"], ["models"], ["models", "--kind", "image"], ["clusters"], ["chips", "show", "h100"],
     ["models", "show", "sdxl"],
     ["train", "--model", "sd-1.5", "--images", "2B", "--chip", "a100", "--gpus", "256"]],
    ids=" ".join,
)  # fmt: skip
def test_the_other_commands_are_readable_at_80_columns(args: list[str]) -> None:
    """Not pinned (catalogue edits move them), but held to the same rules."""
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    _assert_readable(" ".join(args), lines)
