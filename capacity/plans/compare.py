"""Compare chip options for one workload: the same train or serve request on each chip, side by side.

Each row has the chip's estimate (the keys of ``capacity train`` / ``capacity serve``), two efficiency
figures that make chips of different size comparable — tokens per USD and tokens per kWh — and whether a US
export licence is needed to buy the chip in China. A chip that cannot run the workload (a precision it lacks,
a model that fits no replica) gets a row with the reason instead of an estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Literal

from pydantic import BaseModel

from capacity.core.errors import InputError
from capacity.core.parallel import ordered_map
from capacity.records.chip import Chip

SortKey = Literal["cost", "time", "energy", "gpus"]
SORT_FIELDS: dict[str, dict[str, str]] = {
    "train": {"cost": "cost_usd", "time": "wall_clock_days", "energy": "energy_mwh", "gpus": "gpus"},
    "serve": {
        "cost": "cost_usd_per_million_output_tokens",
        "time": "tpot_ms",
        "energy": "energy_wh_per_query",
        "gpus": "gpus",
    },
    "image-train": {"cost": "cost_usd", "time": "wall_clock_days", "energy": "energy_mwh", "gpus": "gpus"},
    "image-serve": {
        "cost": "cost_usd_per_image", "time": "seconds_per_image", "energy": "energy_wh_per_image",
        "gpus": "gpus",
    },
}  # fmt: skip


class ComparisonRow(BaseModel):
    chip: str
    kind: str
    us_licence_for_china: str
    domestic_china: bool
    tokens_per_usd: float | None  # images for image models
    tokens_per_kwh: float | None
    error: str | None
    price_assumed: bool | None = None  # the cost rests on a placeholder price, not one for this chip
    note: str | None = None  # what the row lacks: a real price, a power figure
    result: dict[str, Any]


def _efficiency(kind: str, r: dict[str, Any]) -> tuple[float | None, float | None]:
    """Tokens (images, for image models) per USD and per kWh: training tokens for a run, output tokens for
    serving."""
    if kind == "image-train":
        images, usd, mwh = r["images"], r.get("cost_usd"), r.get("energy_mwh")
        return (images / usd if usd else None), (images / (mwh * 1000) if mwh else None)
    if kind == "image-serve":
        usd, wh = r.get("cost_usd_per_image"), r.get("energy_wh_per_image")
        return (1 / usd if usd else None), (1000 / wh if wh else None)
    if kind == "train":
        tokens, usd, mwh = r["tokens"], r.get("cost_usd"), r.get("energy_mwh")
        return (tokens / usd if usd else None), (tokens / (mwh * 1000) if mwh else None)
    per_m, wh = r.get("cost_usd_per_million_output_tokens"), r.get("energy_wh_per_query")
    return (1e6 / per_m if per_m else None), (r["output_tokens"] / (wh / 1000) if wh else None)


def compare(
    chips: list[Chip], kind: str, estimate: Callable[[Chip], dict[str, Any]],
    sort: SortKey = "cost",
) -> list[ComparisonRow]:  # fmt: skip
    """Run ``estimate`` for every chip; rows sorted by ``sort`` (chips that could not run go last).

    A request every chip refuses with the same words (``--gpus`` with ``--days``) is bad input, not a
    comparison: it raises :class:`InputError` instead of returning a table of identical error rows."""
    rows = []
    refusals: list[str] = []

    def attempt(chip: Chip) -> tuple[dict[str, Any], str | None]:
        try:
            return estimate(chip), None
        except InputError as exc:
            return {}, str(exc)

    for chip, (result, error) in zip(chips, ordered_map(attempt, chips), strict=True):
        if error is not None:
            refusals.append(error)
        if result.get("slo_met") is False:
            error = "misses the latency target: " + ", ".join(
                f"{k} {result[k]:,.1f}" for k in ("ttft_ms", "tpot_ms") if result.get(k) is not None
            )
        per_usd, per_kwh = _efficiency(kind, result) if error is None else (None, None)
        lacks = []
        if result.get("price_assumed"):
            lacks.append("price assumed (no dated price for this chip; give --gpu-hour-usd)")
        power = "energy_wh_per_image" if kind == "image-serve" else "facility_power_mw"
        if error is None and result and result.get(power) is None:
            lacks.append("no power figure (TDP not published): energy and MW not estimated")
        rows.append(
            ComparisonRow(
                chip=chip.id,
                kind=kind,
                us_licence_for_china=chip.export_control.us_licence_for_china,
                domestic_china=chip.domestic_china,
                tokens_per_usd=per_usd,
                tokens_per_kwh=per_kwh,
                error=error,
                price_assumed=result.get("price_assumed"),
                note="; ".join(lacks) or None,
                result=result,
            )
        )
    if chips and len(refusals) == len(chips) and len(set(refusals)) == 1:
        raise InputError(refusals[0])
    field = SORT_FIELDS[kind][sort]

    def key(row: ComparisonRow) -> tuple[int, int, float]:
        value = row.result.get(field)
        if value is None:
            return (2, 0, 0.0)
        # rows that miss a target go after those that meet it; by cost, a placeholder price after real ones
        placeholder = 1 if sort == "cost" and row.price_assumed else 0
        return (1 if row.error else 0, placeholder, float(value))

    return sorted(rows, key=key)


def is_money(column: str) -> bool:
    """Whether a column's value rests on a price (cost, USD per token, tokens per USD)."""
    return "usd" in column or column == "cost"


def best_index(
    rows: list[dict[str, Any]], column: str, higher_is_better: bool, passed_over: Collection[int] = ()
) -> int | None:
    """Row index holding the best value of ``column`` (None when no row has a value); rows in
    ``passed_over`` (a placeholder price in a money column) never count."""
    values = [
        (i, r[column])
        for i, r in enumerate(rows)
        if i not in passed_over and isinstance(r.get(column), int | float)
    ]
    if len({v for _, v in values}) < 2:  # nothing to single out
        return None
    pick = max if higher_is_better else min
    return pick(values, key=lambda iv: iv[1])[0]
