"""Record every value an estimate assumed, with its source, and resolve prices the same way everywhere."""

from __future__ import annotations

import statistics

from pydantic import BaseModel

from capacity.core.errors import InputError
from capacity.data.assumptions import Assumption, Assumptions
from capacity.records.chip import Chip, CloudPrice
from capacity.records.choices import Economics


class Assumed(BaseModel):
    """One input the estimate did not get from the user: its value and its source."""

    name: str
    value: float | str
    source: str


class PriceUsed(BaseModel):
    """Which price an estimate's cost rests on: given, from the catalogue (with its date), or assumed."""

    price_assumed: bool  # a placeholder, not a figure for this chip: rank on it with care
    price_source: str
    price_date: str | None  # the newest snapshot's date (catalogue), the launch year (owned), or None


PRICE_WINDOW_MONTHS = 12
CURRENT_KINDS = ("on-demand", "marketplace", None)  # reserved and spot quotes are kept, not averaged in


def current_quotes(chip: Chip) -> list[CloudPrice]:
    """The catalogue rule for a chip's default price: its dated USD on-demand and marketplace quotes from
    the 12 months up to its newest quote (the median of these is used)."""
    dated = [
        p for p in chip.cloud_prices
        if p.usd_per_gpu_hour is not None and p.kind in CURRENT_KINDS and p.year_month is not None
    ]  # fmt: skip
    if not dated:
        return []
    newest = max(p.year_month or (0, 0) for p in dated)
    cutoff = newest[0] * 12 + newest[1] - PRICE_WINDOW_MONTHS
    return [p for p in dated if (ym := p.year_month) is not None and ym[0] * 12 + ym[1] > cutoff]


def default_price(chip: Chip) -> tuple[float, str, list[CloudPrice]] | None:
    """(USD per GPU-hour, the newest quote's date, the quotes) by the catalogue rule, or None."""
    quotes = current_quotes(chip)
    if not quotes:
        return None
    median = statistics.median(p.usd_per_gpu_hour or 0.0 for p in quotes)
    return median, max(quotes, key=lambda p: p.year_month or (0, 0)).date, quotes


class Provenance:
    """Collects assumed values and warnings while an estimate is computed."""

    def __init__(self, assumptions: Assumptions) -> None:
        self.defaults = assumptions
        self.assumed: list[Assumed] = []
        self.warnings: list[str] = []
        self.price: PriceUsed | None = None  # set when a cost is computed

    def note(self, name: str, value: float | str, source: str) -> None:
        if all(a.name != name for a in self.assumed):
            self.assumed.append(Assumed(name=name, value=value, source=source))

    def pick(self, given: float | None, name: str, default: Assumption | None = None) -> float:
        """``given`` if set, else the documented default (from assumptions.yaml unless passed), recorded."""
        if given is not None:
            return given
        chosen: Assumption = default or getattr(self.defaults, name)
        self.note(name, chosen.value, chosen.source)
        return float(chosen.value)

    def cloud_price(self, chip: Chip, given: float | None) -> float:
        """USD per GPU-hour: the user's, else the median catalogue snapshot, else the flagged fallback."""
        if given is not None:
            self.price = PriceUsed(price_assumed=False, price_source="given (gpu_hour_usd)", price_date=None)
            return given
        found = default_price(chip)
        if found is not None:
            price, newest, quotes = found
            snaps = "; ".join(f"{p.provider} {p.usd_per_gpu_hour} ({p.date})" for p in quotes)
            kinds = "/".join(k for k in CURRENT_KINDS if k)
            source = f"median of {len(quotes)} {kinds} quotes within {PRICE_WINDOW_MONTHS} months: {snaps}"
            self.note("gpu_hour_usd", price, source)
            self.price = PriceUsed(price_assumed=False, price_source=source, price_date=newest)
            return price
        price = self.pick(None, "cloud_usd_per_gpu_hour")
        self.warnings.append(f"no cloud price for {chip.id} in the catalogue: assumed {price} USD/GPU-hour")
        fallback = self.defaults.cloud_usd_per_gpu_hour.source
        self.price = PriceUsed(
            price_assumed=True,
            price_source=f"placeholder, no price for {chip.id} ({fallback})",
            price_date=None,
        )
        return price

    def chip_watts(self, chip: Chip, econ: Economics) -> float | None:
        """Power per accelerator, its server included, before PUE (None when nothing is published).

        A ``server_power_factor`` the user gives multiplies the TDP. Else by ``power_basis``: ``facility``
        takes the reference server's maximum power per accelerator (DGX/HGX datasheets, the figure a facility
        provisions), or TDP x ``system_power_per_tdp`` without one; ``gpu`` takes TDP x
        ``server_power_factor`` (1.0: Meta's and BLOOM's GPU-only accounting)."""
        if econ.server_power_factor is not None:
            return None if chip.tdp_w is None else chip.tdp_w * econ.server_power_factor
        if econ.power_basis == "facility" and chip.system is not None:
            watts = chip.system.watts_per_accelerator
            self.note("power_per_chip_w", round(watts, 1), f"{chip.system.name}: {chip.system.source}")
            return watts
        if chip.tdp_w is None:
            return None
        factor = "system_power_per_tdp" if econ.power_basis == "facility" else "server_power_factor"
        return chip.tdp_w * self.pick(None, factor)

    def gpu_price(self, chip: Chip, given: float | None) -> float:
        """USD per accelerator for owned hardware: the user's, else the catalogue's launch price."""
        if given is not None:
            self.price = PriceUsed(price_assumed=False, price_source="given (gpu_price_usd)", price_date=None)
            return given
        if chip.launch_price is None:
            raise InputError(
                f"--pricing owned: no launch price for {chip.id} in the catalogue; give --gpu-price-usd"
            )
        self.note("gpu_price_usd", chip.launch_price.usd, chip.launch_price.source)
        self.price = PriceUsed(
            price_assumed=False, price_source=chip.launch_price.source, price_date=chip.launch_price.date
        )
        return chip.launch_price.usd
