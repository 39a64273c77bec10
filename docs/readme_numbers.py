"""Regenerate README.md's "How good are the numbers" table from the validation code.

Usage: python docs/readme_numbers.py           (rewrites the rows between the BEGIN/END markers)
       python docs/readme_numbers.py --check   (exit 1 if README.md is out of date)
"""

from __future__ import annotations

import sys
from pathlib import Path

from capacity.core.markers import regenerate, replace_blocks
from capacity.data.assumptions import (
    load_assumptions,
    load_efficiency,
    load_serving_benchmarks,
    load_serving_defaults,
)
from capacity.data.catalog import load_chips, load_models, load_runs, load_steady_runs
from capacity.data.diffusion_data import load_diffusion_defaults
from capacity.plans.validate import validate_runs
from capacity.plans.validate_images import latency_rows, median_abs_error
from capacity.plans.validate_serving import validate_serving
from capacity.plans.validate_steady import validate_steady

README = Path(__file__).resolve().parent.parent / "README.md"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{round(x * 100)} %"


def rows() -> list[str]:
    train = validate_runs(load_runs(), load_chips(), load_assumptions(), load_efficiency())
    steady = validate_steady(load_steady_runs(), load_efficiency())
    assert steady.fitting is not None and steady.held_out is not None
    serving_args = (
        load_chips(),
        load_models(),
        load_assumptions(),
        load_efficiency(),
        load_serving_defaults(),
    )
    serve = validate_serving(load_serving_benchmarks().benchmarks, *serving_args)
    held, ttft, tpot = serve.held_out, serve.ttft_under_load, serve.tpot_under_load
    optimistic = " (optimistic)" if (held.bias or 0) > 0.1 else ""
    images = latency_rows(load_diffusion_defaults())
    h100 = next(r for r in images if r.set == "heldout" and r.chip.startswith("h100"))
    n_fit, n_held = (sum(r.set == s for r in images) for s in ("fitting", "heldout"))
    return [
        "| what | fitting | held out |",
        "|---|---|---|",
        f"| training GPU-hours, published runs (flat 40 % MFU) | {pct(train.fitted.median_abs_error)} "
        f"({pct(train.fitted.baseline_median_abs_error)}) | {pct(train.held_out.median_abs_error)} "
        f"({pct(train.held_out.baseline_median_abs_error)}) |",
        f"| steady-state tokens/s per GPU, published layouts | {pct(steady.fitting.median_abs_error)} | "
        f"{pct(steady.held_out.median_abs_error)} over {steady.held_out.rows} rows |",
        f"| serving throughput at maximum load, TensorRT-LLM | {pct(serve.median_abs_error)} over "
        f"{serve.compared} rows | {pct(held.median_abs_error)} over {held.compared} rows{optimistic} |",
        f"| serving mean TTFT / TPOT at a Poisson request rate | — | {pct(ttft.median_abs_error)} / "
        f"{pct(tpot.median_abs_error)} over {ttft.compared} rows |",
        f"| image generation, seconds per image or batch | {pct(median_abs_error(images, 'fitting'))} over "
        f"{n_fit} rows | {pct(median_abs_error(images, 'heldout'))} over {n_held} rows (H100: "
        f"{pct(-h100.error)} fast) |",
    ]


def render(doc: str) -> str:
    return replace_blocks(doc, {"validation summary": rows()}, str(README))


def main(argv: list[str]) -> int:
    return regenerate(README, render, argv, "docs/readme_numbers.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
