"""Procurement sanity checks (seed-facts.md S-14): what a stated spend implies per chip and per PFLOPS,
against what the catalogue's prices imply.

- implied USD per chip = spend × IT share / chips (the IT share: servers and network, not buildings);
- USD per PFLOPS = spend / PFLOPS (chips × dense peak, or a data centre's nameplate when no chip is named):
  the reports' ¥3.02B per "500P" is ¥6.04M per PF;
- the reference: the catalogue's price per chip × server and network capex factors (Epoch AI's hardware
  acquisition model) / the chip's dense peak in PFLOPS, an IT cost, set against the IT share of the spend.
"""

from __future__ import annotations

from pydantic import BaseModel

from capacity.data.provenance import Provenance
from capacity.records.chip import Chip


class Procurement(BaseModel):
    capex_given_usd: float
    it_capex_share: float
    it_capex_usd: float
    facility_capex_usd: float
    implied_usd_per_gpu: float | None
    capex_usd_per_pflops: float | None
    it_capex_usd_per_pflops: float | None
    reference_capex_usd_per_pflops: float | None  # the catalogue's price with server and network factors
    capex_vs_reference: float | None  # it_capex_usd_per_pflops / the reference: IT against IT


def procurement(
    capex_usd: float, it_share: float | None, chips: int | None, chip: Chip | None, peak_tflops: float | None,
    nameplate_pflops: float | None, prov: Provenance,
) -> Procurement:  # fmt: skip
    """The checks in the module docstring; the IT share defaults to 1 (all of it), said as an assumption."""
    if it_share is None:
        it_share = 1.0
        prov.note("it_capex_share", 1.0, "not given: the whole spend is taken as IT capex (--it-capex-share)")
    it = capex_usd * it_share
    pflops = nameplate_pflops if chips is None or peak_tflops is None else chips * peak_tflops / 1000.0
    reference = None
    if chip is not None and peak_tflops is not None and chip.launch_price is not None:
        per_chip = chip.launch_price.usd * prov.pick(None, "server_capex_factor")
        per_chip *= prov.pick(None, "network_capex_factor")
        prov.note("reference_gpu_price_usd", chip.launch_price.usd, chip.launch_price.source)
        reference = per_chip / (peak_tflops / 1000.0)
    per_pf = None if pflops is None else capex_usd / pflops
    it_per_pf = None if pflops is None else it / pflops
    return Procurement(
        capex_given_usd=capex_usd,
        it_capex_share=it_share,
        it_capex_usd=it,
        facility_capex_usd=capex_usd - it,
        implied_usd_per_gpu=None if chips is None else it / chips,
        capex_usd_per_pflops=per_pf,
        it_capex_usd_per_pflops=it_per_pf,
        reference_capex_usd_per_pflops=reference,
        capex_vs_reference=None if it_per_pf is None or reference is None else it_per_pf / reference,
    )
