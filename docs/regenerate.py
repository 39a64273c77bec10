"""Regenerate every number the README and docs/ quote from the code, in one go.

Usage: python docs/regenerate.py           (rewrites every generated block)
       python docs/regenerate.py --check   (exit 1 naming each stale document; tests/test_docs.py runs this)

Each generator owns the blocks between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in its document.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATORS = ["readme_numbers", "training_model", "image_models", "report_scenarios", "chatgpt_jan2023"]


def run(argv: list[str]) -> int:
    """0 when every generator succeeded (with ``--check``: every document is current), else 1."""
    failed = 0
    for name in GENERATORS:
        spec = importlib.util.spec_from_file_location(f"docs_{name}", HERE / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        failed |= module.main(argv)
    return failed


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
