"""Money and power of a serving deployment running around the clock.

Cloud: GPUs × USD per GPU-hour. Owned: the hourly share of capex (price × server × network factors over a
straight-line life, Epoch AI's model) plus electricity for TDP × server factor × PUE. Per query and per
million output tokens divide the hourly bill by the queries actually served; power as in
:mod:`capacity.formulas.energy`.
"""

from __future__ import annotations

from typing import Any

from capacity.data.assumptions import ServingDefaults
from capacity.data.provenance import Provenance
from capacity.formulas import cost, energy
from capacity.records.chip import Chip
from capacity.records.choices import Economics


def owned_usd_per_gpu_hour(econ: Economics, chip: Chip, prov: Provenance) -> float:
    """Capex amortised per GPU-hour, plus the electricity one GPU's share of the facility uses in an hour."""
    price = prov.gpu_price(chip, econ.gpu_price_usd)
    capex = cost.capex_usd(
        1, price, prov.pick(None, "server_capex_factor"), prov.pick(None, "network_capex_factor")
    )
    hourly = cost.amortised_usd(capex, 1.0, prov.pick(None, "hardware_life_years"))
    per_chip = prov.chip_watts(chip, econ)
    if per_chip is not None:
        watts = energy.facility_power_w(1, per_chip, prov.pick(econ.pue, "pue"))
        hourly += cost.electricity_usd(
            watts / 1e6, prov.pick(econ.electricity_usd_per_kwh, "electricity_usd_per_kwh")
        )
    return hourly


def usd_per_gpu_hour(econ: Economics, chip: Chip, prov: Provenance) -> float:
    """What a GPU-hour of serving costs in the economics' pricing: the cloud price, or owned hardware's."""
    if econ.pricing == "cloud":
        return prov.cloud_price(chip, econ.gpu_hour_usd)
    return owned_usd_per_gpu_hour(econ, chip, prov)


def operating_costs(
    econ: Economics,
    chip: Chip,
    gpus: int,
    served_qps: float,
    output_tokens: int,
    d: ServingDefaults,
    prov: Provenance,
) -> dict[str, Any]:
    """Hourly, monthly, per-query and per-million-token cost; facility MW and Wh per query."""
    per_gpu_hour = usd_per_gpu_hour(econ, chip, prov)
    hourly = gpus * per_gpu_hour
    monthly = hourly * 24 * prov.pick(None, "days_per_month", d.days_per_month)
    per_query = hourly / (served_qps * 3600)
    power_mw = wh_per_query = None
    per_chip = prov.chip_watts(chip, econ)
    if per_chip is None:
        prov.warnings.append(
            f"{chip.id} has no published TDP or server power: no power figure, so power and energy are not "
            "estimated"
        )
    else:
        watts = energy.facility_power_w(gpus, per_chip, prov.pick(econ.pue, "pue"))
        power_mw = watts / 1e6
        wh_per_query = watts / served_qps / 3600
    rate = 1.0 if econ.currency == "USD" else prov.pick(econ.cny_per_usd, "cny_per_usd")
    return {
        "gpu_hour_usd": per_gpu_hour,
        "cost_usd_per_hour": hourly,
        "cost_usd_per_month": monthly,
        "cost_usd_per_query": per_query,
        "cost_usd_per_million_output_tokens": per_query / output_tokens * 1e6,
        "facility_power_mw": power_mw,
        "energy_wh_per_query": wh_per_query,
        "currency": econ.currency,
        "cost_per_month": monthly * rate,
    }
