"""Power, energy and carbon of a run (the Epoch AI / Patterson et al. 2021 chain).

    facility power P = n_chips · W · PUE                  W = power per chip, its server included
                                                          (TDP · s, s = server power per chip / TDP,
                                                          or the reference server's power per chip)
    energy E = P · hours                                  (MWh when P in MW)
    emissions = E · CI                                    CI in kgCO2e/kWh = tCO2e/MWh
Patterson et al. 2021 (arXiv:2104.10350) report GPT-3 as 10 000 V100 × 14.8 days × 330 W × PUE 1.1
= 1 287 MWh and, at 0.429 kgCO2e/kWh, 552 tCO2e.
"""

from __future__ import annotations


def facility_power_w(n_chips: int, chip_power_w: float, pue: float) -> float:
    """Average power drawn from the grid while the job runs, in watts (``chip_power_w``: per chip, server
    included)."""
    return n_chips * chip_power_w * pue


def energy_mwh(power_w: float, hours: float) -> float:
    return power_w * hours / 1e6


def co2e_tonnes(energy_mwh_: float, grid_kgco2e_per_kwh: float) -> float:
    """kgCO2e/kWh equals tCO2e/MWh."""
    return energy_mwh_ * grid_kgco2e_per_kwh
