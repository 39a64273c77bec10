"""Money: renting by the GPU-hour, or owning hardware amortised over its life plus electricity.

Cloud:  cost = GPU-hours × price per GPU-hour.
Owned: capex = n · price · server factor · network factor (Epoch AI's hardware-acquisition overheads); the
run is charged capex × run hours / (life years × 8 760 h), plus energy × $/kWh. Straight-line amortisation
is this project's simplification: Cottier et al. 2024 depreciate hardware by 0.14 orders of magnitude per year
(about a 3.1-year straight line), so a 4-year life charges roughly a fifth less.
"""

from __future__ import annotations

HOURS_PER_YEAR = 8760.0


def cloud_cost_usd(gpu_hours: float, usd_per_gpu_hour: float) -> float:
    return gpu_hours * usd_per_gpu_hour


def capex_usd(n_chips: int, price_usd: float, server_factor: float, network_factor: float) -> float:
    return n_chips * price_usd * server_factor * network_factor


def amortised_usd(capex: float, run_hours: float, life_years: float) -> float:
    """Share of the hardware's cost that a run of ``run_hours`` uses up (straight-line)."""
    return capex * run_hours / (life_years * HOURS_PER_YEAR)


def electricity_usd(energy_mwh: float, usd_per_kwh: float) -> float:
    return energy_mwh * 1000.0 * usd_per_kwh
