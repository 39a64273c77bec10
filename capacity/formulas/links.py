"""Per-direction bandwidth of a chip's links, in GB/s, with the fallbacks used when the catalogue has none.

Collectives are limited by one direction of a link: a bidirectional aggregate (NVLink's "600 GB/s" on
A100) is halved. Scale-out NICs are given per chip in Gbit/s and divided by 8.
"""

from __future__ import annotations

from capacity.records.chip import Chip

PCIE4_X16_GB_S = 32.0  # PCIe Gen4 x16, one direction (PCI-SIG: 16 GT/s x 16 lanes, 128b/130b)
FALLBACK_NIC_GBIT_S = 100.0  # one 100 Gbit/s NIC per chip (EDR InfiniBand / 100 GbE), when none is listed


def intra_node_gb_s(chip: Chip) -> tuple[float, str | None]:
    """(GB/s one way inside a node, a warning if the catalogue had no figure)."""
    link = chip.intra_node
    if link.bandwidth_gb_s is None:
        return (
            PCIE4_X16_GB_S,
            f"{chip.id}: no intra-node link bandwidth known; assumed PCIe Gen4 x16 (32 GB/s)",
        )
    return link.bandwidth_gb_s / (1.0 if link.direction == "unidirectional" else 2.0), None


def scale_up_domain(chip: Chip) -> tuple[int | None, float]:
    """(chips joined at the intra-node rate, None for the whole node; GB/s one way between such domains)."""
    link = chip.intra_node
    return link.domain, link.beyond_domain_gb_s or PCIE4_X16_GB_S


def inter_node_gb_s(chip: Chip) -> tuple[float, str | None]:
    """(GB/s one way per chip across nodes, a warning if the catalogue had no figure)."""
    if chip.inter_node_gbit_s is None:
        return FALLBACK_NIC_GBIT_S / 8.0, (
            f"{chip.id}: no scale-out bandwidth known; "
            f"assumed one {FALLBACK_NIC_GBIT_S:g} Gbit/s NIC per chip"
        )
    return chip.inter_node_gbit_s / 8.0, None
