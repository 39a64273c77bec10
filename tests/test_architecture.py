"""The import direction of the package (docs/architecture.md): each sub-package of ``capacity`` is a layer
and imports only its own layer or layers below it; the library never imports the command line. Read from
the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "capacity"

# lowest first: the folder a module lives in is its layer
LAYERS: dict[str, set[str]] = {
    "core": {"core"},
    "records": {"records"},
    "formulas": {"formulas"},
    "data": {"data"},
    "estimate": {"estimate"},
    "plans": {"plans", "microbench"},
    "cli": {"cli", "__main__"},
}
RANK = {folder: rank for rank, members in enumerate(LAYERS.values()) for folder in members}


def _top(path: Path) -> str:
    """The layer key of a file: its first part below capacity/ (``cli/train_cmd.py`` -> ``cli``)."""
    return path.relative_to(ROOT).with_suffix("").parts[0]


def _imports(path: Path) -> set[str]:
    """The capacity sub-packages a file imports (first part below ``capacity``), at any depth in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "capacity":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from capacity import data
                found.update(a.name for a in node.names if a.name != "__version__")
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("capacity."))
    return found


FILES = sorted(p for p in ROOT.rglob("*.py") if p.parent != ROOT or p.name == "__main__.py")


def test_every_module_is_in_a_layer() -> None:
    loose = sorted(p.name for p in ROOT.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert not loose, f"move these modules into a layer's folder (docs/architecture.md): {loose}"
    missing = sorted({_top(p) for p in FILES} - set(RANK))
    assert not missing, f"give these folders a layer in tests/test_architecture.py: {missing}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    here = _top(path)
    upward = sorted(m for m in _imports(path) if m in RANK and RANK[m] > RANK[here])
    layer = next(name for name, members in LAYERS.items() if here in members)
    assert not upward, f"{path.relative_to(ROOT)} ({layer}) imports a higher layer: {upward}"


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a formula importing the planner, or the library importing the CLI, is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from capacity.estimate.train import estimate_training\nfrom capacity import cli\n")
    assert _imports(bad) == {"estimate", "cli"}
    assert RANK["estimate"] > RANK["formulas"] and RANK["cli"] > RANK["plans"]
