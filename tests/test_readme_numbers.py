"""The README's "How good are the numbers" table is what `capacity validate` computes (issue 16: numbers
quoted in the docs cannot drift from the code). Each is checked at its printed rounding."""

from __future__ import annotations

import re
from pathlib import Path

from capacity.data.assumptions import (
    load_assumptions,
    load_efficiency,
    load_serving_benchmarks,
    load_serving_defaults,
)
from capacity.data.catalog import load_chips, load_models, load_runs, load_steady_runs
from capacity.plans.validate import validate_runs
from capacity.plans.validate_serving import validate_serving
from capacity.plans.validate_steady import validate_steady

ROOT = Path(__file__).resolve().parent.parent


def _row(label: str) -> list[int]:
    """The whole-number percentages in the README table row that starts with ``label``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith(f"| {label}"))
    cells = line.split("|")[2:]  # the label cell may hold a percentage of its own ("flat 40 % MFU")
    return [int(p) for cell in cells for p in re.findall(r"(\d+) %", cell)]


def _pct(x: float) -> int:
    return round(x * 100)


def test_the_readme_validation_table_is_what_validate_computes() -> None:
    train = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    assert _row("training GPU-hours") == [
        _pct(train.fitted.median_abs_error), _pct(train.fitted.baseline_median_abs_error),
        _pct(train.held_out.median_abs_error), _pct(train.held_out.baseline_median_abs_error),
    ]  # fmt: skip
    steady = validate_steady(load_steady_runs(), load_efficiency())
    assert steady.fitting is not None and steady.held_out is not None
    assert _row("steady-state") == [
        _pct(steady.fitting.median_abs_error),
        _pct(steady.held_out.median_abs_error),
    ]
    rows = load_serving_benchmarks().benchmarks
    args = (load_chips(), load_models(), load_assumptions(), load_efficiency(), load_serving_defaults())
    serve = validate_serving(rows, *args)
    assert serve.median_abs_error is not None and serve.held_out.median_abs_error is not None
    assert _row("serving throughput") == [_pct(serve.median_abs_error), _pct(serve.held_out.median_abs_error)]
    ttft, tpot = serve.ttft_under_load.median_abs_error, serve.tpot_under_load.median_abs_error
    assert ttft is not None and tpot is not None
    assert _row("serving mean TTFT") == [_pct(ttft), _pct(tpot)]


def test_the_readme_image_row_is_what_the_image_validation_computes() -> None:
    from capacity.data.diffusion_data import load_diffusion_defaults
    from capacity.plans.validate_images import latency_rows, median_abs_error

    rows = latency_rows(load_diffusion_defaults())
    h100 = next(r for r in rows if r.set == "heldout" and r.chip.startswith("h100"))
    fitting, held = median_abs_error(rows, "fitting"), median_abs_error(rows, "heldout")
    assert fitting is not None and held is not None
    assert _row("image generation") == [_pct(fitting), _pct(held), _pct(-h100.error)]
