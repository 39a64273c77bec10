"""``capacity clusters``: the named clusters and data centres of ``specs/clusters/``."""

from __future__ import annotations

from typing import Any

from capacity.cli.errors import handles_errors
from capacity.cli.output import Cell, FormatOption, OutputFormat, emit_rows
from capacity.data.catalog import load_chips, load_clusters
from capacity.records.choices import sixteen_bit
from capacity.records.cluster import Cluster


def _row(c: Cluster) -> dict[str, Cell]:
    peak = None
    if c.chip is not None and c.count is not None:
        chip = load_chips().get(c.chip)
        dense = chip.dense_peak(sixteen_bit(chip))
        peak = None if dense is None else round(c.count * dense / 1000.0, 1)
    return {
        "id": c.id,
        "organisation": c.organisation,
        "chip": c.chip,
        "count": c.count,
        "chip_assumed": None if c.chip is None else not c.chip_stated,
        "peak_16bit_pflops": peak,
        "nameplate_pflops": c.nameplate_pflops,
    }


@handles_errors
def clusters(fmt: FormatOption = OutputFormat.table) -> None:
    """List the named clusters (a chip and a count) and data centres (a nameplate PFLOPS of unstated
    precision) that --cluster and scenario files' hardware.cluster accept, each with its source.

    Examples:

    \b
      capacity clusters
      capacity train --model gpt3-175b --tokens 300B --cluster stability-4000-a100
      capacity train --model gpt3-175b --tokens 300B --cluster dc-500p --chip a100 --mfu 0.4
    """
    found = list(load_clusters())
    data: list[dict[str, Any]] = [c.model_dump(mode="json") for c in found]
    emit_rows(
        [_row(c) for c in found],
        fmt,
        title=f"{len(found)} named clusters and data centres",
        caption="peak_16bit_pflops: count x the chip's dense BF16/FP16 peak; nameplate_pflops: as the "
        "source states it, precision unknown (specs/clusters/).",
        json_data=data,
    )
