"""The README's and the docs' commands are run: every `$ capacity …` example, and CI mirrors the two set-up
commands."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from test_microbench import HAS_GPU

from capacity.data.calibration import from_bench
from capacity.data.catalog import load_chips

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _examples() -> list[tuple[list[str], int]]:
    """(argv, expected exit code) for each `$ capacity …` line of the README and docs/; an `error:` line
    after it means exit 2, or the code a trailing `# exit N` comment names."""
    lines = [line for page in PAGES for line in page.read_text().splitlines()]
    out = []
    for i, line in enumerate(lines):
        if line.startswith("$ capacity "):
            argv = shlex.split(line[2:].split("  #")[0])[1:]
            expect_error = i + 1 < len(lines) and lines[i + 1].startswith("error:")
            said = re.search(r"# exit (\d)$", line)
            out.append((argv, int(said[1]) if said else 2 if expect_error else 0))
    return out


def test_readme_has_examples() -> None:
    assert len(_examples()) >= 8


@pytest.mark.parametrize(
    ("argv", "code"), _examples(), ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_readme_example_runs(
    cli: Any, argv: list[str], code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if argv[0] == "bench" and not HAS_GPU:
        code = 3  # documented: without a GPU (or nvcc) bench exits 3 with one line
    if "--calibration" in argv:  # the file a bench run would write, made from the synthetic fixture
        raw = json.loads((ROOT / "tests/fixtures/bench/h100-sxm-synthetic.json").read_text())
        cal = from_bench(raw, load_chips()).model_dump(mode="json")
        (tmp_path / argv[argv.index("--calibration") + 1]).write_text(json.dumps(cal))
        monkeypatch.chdir(tmp_path)
    if "--plot" in argv:  # a chart goes to the test's folder, not the checkout
        at = argv.index("--plot") + 1
        argv = [*argv[:at], str(tmp_path / argv[at]), *argv[at + 1 :]]
    run = cli(*argv)
    assert run.exit_code == code, run.stderr
    assert run.stdout.strip() or code != 0


def test_ci_runs_the_readme_set_up_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install ." in README and "pip install -q ." in ci
    assert "pip install -e '.[dev]' && pytest" in README
    assert "pip install -q -e '.[dev]'" in ci and "pytest" in ci
