"""A named cluster or data centre: what one file in ``specs/clusters/`` holds.

A *cluster* is a chip and a count (``chip_stated: false`` when the report says only "cards" and the chip
is an assumption, named in ``notes``). A *data centre* is a nameplate peak in PFLOPS whose precision and
sparsity the source does not state: capacity plans with it as a peak (data-centre days), never as
utilised compute, and says so.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from capacity.core.strict_numbers import InputModel
from capacity.records.chip import ChipId, Source


class Cluster(InputModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ChipId
    name: str
    aliases: list[str] = Field(default_factory=list)
    organisation: str
    year: int | None = Field(default=None, ge=2015, le=2035)
    chip: str | None = Field(default=None, description="catalogue chip id")
    count: int | None = Field(default=None, ge=1, description="accelerators")
    chip_stated: bool = Field(default=True, description="false when the source gives only a card count")
    nameplate_pflops: float | None = Field(
        default=None, gt=0, description="a data centre's stated peak, precision unstated"
    )
    capex_cny: float | None = Field(default=None, gt=0, description="stated total investment, CNY")
    notes: str | None = None
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Cluster:
        chips = self.chip is not None and self.count is not None
        if chips == (self.nameplate_pflops is not None):
            raise ValueError("give chip and count (a cluster) or nameplate_pflops (a data centre), not both")
        if (self.chip is None) != (self.count is None):
            raise ValueError("chip and count go together")
        return self
