"""The import direction of the package (docs/architecture.md): a module imports only its own layer or
layers below it, and the library never imports the command line. Read from the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "capacity"

# lowest first; every module of the package is in exactly one layer (a new module must be placed here)
LAYERS: dict[str, set[str]] = {
    "core": {"errors", "units", "yamlio", "parse_cache", "counts", "memo"},
    "formulas": {
        "chip", "model_spec", "run_spec", "flops", "parallel", "params", "shape", "memory", "step_time",
        "kv_cache", "roofline", "links", "cost", "energy", "choices",
    },
    "data": {
        "catalog", "steady_spec", "assumptions", "calibration", "hf_config", "model_source", "provenance",
        "goodput", "efficiency", "uncertainty",
    },
    "estimate": {
        "deadline", "layout", "step_model", "train_io", "train", "serving_cost", "serve", "explain",
        "requests",
    },
    "plans": {
        "scenario", "scenario_run", "scenario_schema", "sweep", "compare", "validate", "validate_serving",
        "validate_steady", "microbench", "api",
    },
    "cli": {"cli", "__main__"},
}  # fmt: skip
RANK = {module: rank for rank, members in enumerate(LAYERS.values()) for module in members}


def _top(path: Path) -> str:
    """The layer key of a file: its first part below capacity/ (``cli/train_cmd.py`` -> ``cli``)."""
    return path.relative_to(ROOT).with_suffix("").parts[0]


def _imports(path: Path) -> set[str]:
    """The capacity modules a file imports (first part below ``capacity``), at any depth in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "capacity":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from capacity import memory, shape
                found.update(a.name for a in node.names if a.name != "__version__")
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("capacity."))
    return found


FILES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


def test_every_module_has_a_layer() -> None:
    missing = sorted({_top(p) for p in FILES} - set(RANK))
    assert not missing, f"place these modules in a layer of tests/test_architecture.py: {missing}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    here = _top(path)
    upward = sorted(m for m in _imports(path) if m in RANK and RANK[m] > RANK[here])
    layer = list(LAYERS)[RANK[here]]
    assert not upward, f"{path.relative_to(ROOT)} ({layer}) imports a higher layer: {upward}"


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a formula importing the planner is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from capacity.train import estimate_training\nfrom capacity import cli\n")
    assert _imports(bad) == {"train", "cli"}
    assert RANK["train"] > RANK["memory"] and RANK["cli"] > RANK["api"]
