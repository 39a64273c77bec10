"""The accelerator record: what one file in ``specs/chips/`` holds.

Conventions (also in ``specs/README.md``):

* every peak is **dense** (no 2:4 structured sparsity), per chip or package, in TFLOPS (10**12 FLOP/s);
  INT8 in TOPS. ``fp32_dense_tflops`` is the non-tensor (vector) FP32 peak.
* a peak of ``null`` means *unknown* (no source found); a dtype listed in ``unsupported_dtypes``
  means *not supported natively*. The two are never confused.
* the vendor's sparse headline figures live apart, in ``sparse_headline``.
* memory in GB = 10**9 bytes; bandwidths in GB/s (bytes); the inter-node NIC in Gbit/s (bits).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from capacity.core.strict_numbers import InputModel

Dtype = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8"]
DTYPES: tuple[Dtype, ...] = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8")
Confidence = Literal["high", "medium", "medium-low", "low"]
ChipId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Positive = Annotated[float, Field(gt=0)]


class _Strict(InputModel):
    """A record users may write: unknown fields refused, a YAML boolean never a number, ``13B`` read as a
    count (:mod:`capacity.core.strict_numbers`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """A citation. ``fields`` names the fields it supports; empty means the record as a whole."""

    title: str = Field(min_length=3)
    url: str | None = None
    fields: list[str] = Field(default_factory=list)


class SparseHeadline(_Strict):
    """The vendor's headline figures *with* 2:4 structured sparsity, kept apart from the dense peaks."""

    vendor_headline_is_sparse: bool | None = Field(description="true, false, or null when unclear")
    tf32_tflops: Positive | None = None
    bf16_tflops: Positive | None = None
    fp16_tflops: Positive | None = None
    fp8_tflops: Positive | None = None
    int8_tops: Positive | None = None
    note: str | None = None


Topology = Literal["switch", "bridged-pairs", "full-mesh", "torus", "pcie", "unstated"]


class Link(_Strict):
    """Intra-node (scale-up) interconnect, per chip.

    ``topology``: ``switch`` (NVSwitch, UB switches: any pair at the full rate), ``bridged-pairs`` (NVLink
    bridge, then PCIe), ``full-mesh`` (one direct link to each peer: Infinity Fabric, HCCS, Gaudi RoCE),
    ``torus`` (TPU ICI), ``pcie`` (no scale-up link) or ``unstated``."""

    name: str
    topology: Topology = "unstated"
    bandwidth_gb_s: Positive | None = Field(description="per chip, GB/s; direction in `direction`")
    direction: Literal["bidirectional", "unidirectional", "unstated"]
    domain: int | None = Field(
        default=None,
        ge=1,
        description="chips joined at bandwidth_gb_s (2: bridged pairs); null: the whole node",
    )
    beyond_domain_gb_s: Positive | None = Field(
        default=None, description="one direction, GB/s, between domains of one node (the PCIe path)"
    )
    note: str | None = None


class LaunchPrice(_Strict):
    usd: Positive
    date: str = Field(description="year or year-month the figure refers to")
    source: str
    note: str | None = None


PriceKind = Literal["on-demand", "reserved", "marketplace", "spot"]


class CloudPrice(_Strict):
    """One rental quote per accelerator-hour, in USD or (Chinese clouds) CNY, with its date and source."""

    usd_per_gpu_hour: Positive | None = None
    cny_per_gpu_hour: Positive | None = None
    provider: str
    kind: PriceKind | None = Field(default=None, description="on-demand, reserved, marketplace or spot")
    date: str = Field(description="YYYY-MM-DD, YYYY-MM or YYYY of the snapshot (or 'undated ...')")
    source: str

    @model_validator(mode="after")
    def _one_currency(self) -> CloudPrice:
        if (self.usd_per_gpu_hour is None) == (self.cny_per_gpu_hour is None):
            raise ValueError("give exactly one of usd_per_gpu_hour, cny_per_gpu_hour")
        return self

    @property
    def year_month(self) -> tuple[int, int] | None:
        """(year, month) of the snapshot; a year alone is its month 6; 'YYYY-YY' ranges take the later
        year; None when undated."""
        quarter = re.match(r"(\d{4})-Q([1-4])", self.date)
        if quarter is not None:  # the quarter's middle month
            return int(quarter.group(1)), 3 * int(quarter.group(2)) - 1
        match = re.match(r"(\d{4})(?:-(\d{2}))?", self.date)
        if match is None:
            return None
        year, tail = int(match.group(1)), match.group(2)
        if tail is None:
            return year, 6
        value = int(tail)
        if 1 <= value <= 12:
            return year, value
        later = 2000 + value  # a 'YYYY-YY' range of years: its later year
        return (later, 6) if year < later <= year + 2 else None


class SystemPower(_Strict):
    """The vendor's reference server for the chip and its maximum input power (facility planning)."""

    name: str
    accelerators: int = Field(ge=1)
    power_w: Positive = Field(description="maximum system input power, W (the datasheet's figure)")
    source: str
    url: str | None = None

    @property
    def watts_per_accelerator(self) -> float:
        return self.power_w / self.accelerators


class ExportControl(_Strict):
    """US export-control status for buyers in China, as of the sources' dates."""

    us_licence_for_china: Literal["required", "not-required", "not-applicable", "unknown"]
    note: str


class Chip(_Strict):
    """One accelerator (chip or package) with its sourced figures."""

    id: ChipId
    vendor: str
    vendor_country: Literal["US", "CN"]
    name: str
    aliases: list[str] = Field(default_factory=list)
    form_factor: str | None
    year: int | None = Field(default=None, ge=2010, le=2035)

    fp32_dense_tflops: Positive | None = Field(description="non-tensor (vector) FP32 peak")
    tf32_dense_tflops: Positive | None
    bf16_dense_tflops: Positive | None
    fp16_dense_tflops: Positive | None
    fp8_dense_tflops: Positive | None
    int8_dense_tops: Positive | None
    unsupported_dtypes: list[Dtype] = Field(default_factory=list)
    sparse_headline: SparseHeadline

    memory_gb: Positive | None
    memory_type: str | None
    memory_bandwidth_gb_s: Positive | None
    intra_node: Link
    inter_node_gbit_s: Positive | None = Field(description="typical scale-out NIC bandwidth per chip, Gbit/s")
    tdp_w: Positive | None
    tdp_range_w: tuple[Positive, Positive] | None = Field(
        default=None, description="lowest and highest TDP the sources give, when they disagree (tdp_w inside)"
    )
    system: SystemPower | None = Field(
        default=None,
        description="reference server and its power: facility power per chip = power_w / accelerators",
    )

    launch_price: LaunchPrice | None = None
    cloud_prices: list[CloudPrice] = Field(default_factory=list)
    export_control: ExportControl
    confidence: Confidence
    conflicts: dict[str, str] = Field(default_factory=dict, description="other values seen, and why not used")
    notes: str | None = None
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _tdp_inside_its_range(self) -> Chip:
        if self.tdp_range_w is not None:
            low, high = self.tdp_range_w
            if self.tdp_w is None or not low <= self.tdp_w <= high:
                raise ValueError(f"tdp_w must lie inside tdp_range_w [{low:g}, {high:g}]")
        return self

    @model_validator(mode="after")
    def _unsupported_means_no_peak(self) -> Chip:
        for dtype in self.unsupported_dtypes:
            if self.dense_peak(dtype) is not None:
                raise ValueError(f"{dtype} is listed in unsupported_dtypes but has a peak; remove one")
        return self

    def dense_peak(self, dtype: Dtype) -> float | None:
        """Dense peak in TFLOPS (TOPS for int8), or None when unknown or unsupported."""
        value: float | None = getattr(self, f"{dtype}_dense_{'tops' if dtype == 'int8' else 'tflops'}")
        return value

    def dtype_status(self, dtype: Dtype) -> float | Literal["not supported", "unknown"]:
        """The dense peak, or why there is none: ``"not supported"`` vs ``"unknown"``."""
        peak = self.dense_peak(dtype)
        if peak is not None:
            return peak
        return "not supported" if dtype in self.unsupported_dtypes else "unknown"

    def sparse_peak(self, dtype: Dtype) -> float | None:
        if dtype == "fp32":
            return None
        value: float | None = getattr(
            self.sparse_headline, f"{dtype}_{'tops' if dtype == 'int8' else 'tflops'}"
        )
        return value

    @property
    def domestic_china(self) -> bool:
        """Designed by a vendor based in mainland China (not subject to US export licensing there)."""
        return self.vendor_country == "CN"

    def sources_for(self, field: str) -> list[int]:
        """1-based indices of the sources that support ``field`` (specific ones first, else general)."""
        specific = [i for i, s in enumerate(self.sources, 1) if field in s.fields]
        return specific or [i for i, s in enumerate(self.sources, 1) if not s.fields]
