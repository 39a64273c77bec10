"""A published training run: what one file in ``specs/runs/`` holds (public figures with sources).

``verify`` tags each figure: V = read in the primary text, S = secondary source quoting it,
M = recalled from the primary (spot-check before relying on it), D = derived by arithmetic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from capacity.records.chip import Dtype, Source


class PublishedRun(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    model: str | None = Field(default=None, description="model preset id, when there is one")
    params_total: float = Field(gt=0)
    params_active: float | None = Field(default=None, gt=0, description="MoE: parameters used per token")
    tokens: float | None = Field(default=None, gt=0)
    hardware: str = Field(description="hardware as the source names it")
    chip: str | None = Field(default=None, description="catalogue chip id; null when not in the catalogue")
    precision: Dtype = "bf16"
    chip_count: int | None = Field(default=None, gt=0)
    wall_clock_days: float | None = Field(default=None, gt=0)
    accelerator_hours: float | None = Field(default=None, gt=0)
    energy_mwh: float | None = Field(default=None, gt=0)
    tco2e: float | None = Field(default=None, gt=0)
    pue: float | None = Field(default=None, ge=1)
    grid_kgco2e_per_kwh: float | None = Field(default=None, ge=0)
    avg_power_per_chip_w: float | None = Field(default=None, gt=0)
    comparable: bool = Field(default=True, description="false for distilled or otherwise non-standard runs")
    trust: Literal["A", "B", "C"]
    verify: dict[str, str] = Field(default_factory=dict)
    notes: str | None = None
    sources: list[Source] = Field(min_length=1)

    @property
    def n_active(self) -> float:
        return self.params_active or self.params_total
