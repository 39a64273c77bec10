"""Regenerate the table in docs/chatgpt-jan-2023.md: ChatGPT at January-2023 traffic with a 175B model.

Usage: python docs/chatgpt_jan2023.py           (rewrites the table between the BEGIN/END markers)
       python docs/chatgpt_jan2023.py --check   (exit 1 if docs/chatgpt-jan-2023.md is out of date)
"""

from __future__ import annotations

import sys
from pathlib import Path

from capacity.core.markers import regenerate, replace_blocks
from capacity.data.assumptions import load_assumptions, load_efficiency, load_serving_defaults
from capacity.data.catalog import load_chips, load_models
from capacity.estimate.requests import serving_request
from capacity.estimate.serve import estimate_serving
from capacity.records.choices import Economics, Traffic

VISITS_PER_MONTH = 616e6  # seed-facts.md §2.4: 616 million visits, January 2023
GPU_HOUR_USD = 2.0  # the seed's own reconstruction uses 2-3 USD per A100-hour
DC_PFLOPS = 500  # the reports' "500P" data centre


def rows() -> list[str]:
    model, chip = load_models().get("gpt3-175b"), load_chips().get("a100-sxm4-80gb")
    out = [
        "| queries per visit | tokens per query (in+out) | FLOPs per query | batch | TPOT ms | A100s | "
        'peak PFLOPS | "500P" data centres | USD per query | USD per month | MW |',
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for per_visit in (1, 5, 10):
        for half in (250, 500, 1000):
            est = estimate_serving(
                serving_request(
                    model=model, chip=chip, input_tokens=half, output_tokens=half,
                    traffic=Traffic(visits_per_month=VISITS_PER_MONTH, queries_per_visit=per_visit),
                    economics=Economics(gpu_hour_usd=GPU_HOUR_USD),
                ),
                load_assumptions(), load_efficiency(), load_serving_defaults(),
            )  # fmt: skip
            out.append(
                f"| {per_visit} | {2 * half:,} | {est.flops_per_query:.3g} | {est.batch_size} | "
                f"{est.tpot_ms:.0f} | {est.gpus:,} | {est.aggregate_peak_pflops:,.0f} | "
                f"{est.aggregate_peak_pflops / DC_PFLOPS:.2f} | "
                f"{est.cost_usd_per_query:.4f} | {(est.cost_usd_per_month or 0) / 1e6:,.2f}M | "
                f"{est.facility_power_mw or 0:.2f} |"
            )
    return out


DOC = Path(__file__).resolve().with_name("chatgpt-jan-2023.md")


def render(doc: str) -> str:
    return replace_blocks(doc, {"chatgpt table": rows()}, str(DOC))


def main(argv: list[str]) -> int:
    return regenerate(DOC, render, argv, "docs/chatgpt_jan2023.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
