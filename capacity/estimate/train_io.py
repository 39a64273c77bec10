"""What a training what-if takes and gives: :class:`TrainRequest` in, :class:`TrainEstimate` out.

The planner itself is :func:`capacity.estimate.train.estimate_training`. Units are in the field names.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from capacity.data.calibration import Calibration
from capacity.data.provenance import Assumed
from capacity.estimate.step_model import LayoutOption
from capacity.formulas import flops
from capacity.records.chip import Chip, Dtype
from capacity.records.choices import Economics
from capacity.records.cluster import Cluster
from capacity.records.model_spec import ModelPreset
from capacity.records.parallel import ParallelSpec, ResolvedParallel


class TrainRequest(BaseModel):
    """What a planner knows. Give ``model`` or ``params``; at most one of gpus / deadline / capacity."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)

    tokens: float = Field(gt=0, description="training tokens; default the preset's recorded count")
    tokens_from_preset: bool = Field(default=False, description="tokens came from the preset, not the user")
    model: ModelPreset | None = None
    params: float | None = Field(default=None, gt=0, description="total parameters (all experts)")
    active_params: float | None = Field(default=None, gt=0, description="MoE: parameters used per token")
    chip: Chip | None = None
    gpus: int | None = Field(default=None, ge=1)
    deadline_days: float | None = Field(default=None, gt=0)
    capacity_pflops: float | None = Field(default=None, gt=0)
    cluster: Cluster | None = Field(default=None, description="the named cluster chip and gpus came from")
    capex_usd: float | None = Field(default=None, gt=0, description="a stated spend on the hardware, USD")
    it_capex_share: float | None = Field(
        default=None, gt=0, le=1, description="share of capex_usd that is IT"
    )
    mfu: float | None = Field(default=None, gt=0, le=1)
    precision: Dtype | None = None
    flops_convention: flops.FlopsConvention = "6nd"
    recompute: flops.Recompute | None = Field(
        default=None, description="activation recomputation; default selective, full when nothing else fits"
    )
    parallel: ParallelSpec = Field(default_factory=ParallelSpec, description="the layout, as far as pinned")
    layouts: int = Field(default=1, ge=1, le=100, description="how many of the best layouts to list")
    seq_len: int | None = Field(default=None, ge=1)
    batch_tokens: float | None = Field(
        default=None, gt=0, description="global batch; default compute-optimal"
    )
    node_size: int | None = Field(default=None, ge=1)
    economics: Economics = Field(default_factory=Economics)
    calibration: Calibration | None = Field(default=None, description="measured by capacity bench")
    uncertainty: bool = Field(default=False, description="add P10/P50/P90 by Monte Carlo")

    @model_validator(mode="before")
    @classmethod
    def _preset_tokens(cls, data: object) -> object:
        """No ``tokens``: the preset's recorded training tokens, when it has them (said in the output)."""
        if isinstance(data, dict) and data.get("tokens") is None:
            model = data.get("model")
            if isinstance(model, ModelPreset) and model.training_tokens:
                return {**data, "tokens": model.training_tokens, "tokens_from_preset": True}
            if "tokens" in data or model is not None:
                known = f"{model.id} has no recorded count" if isinstance(model, ModelPreset) else "no preset"
                raise ValueError(f"--tokens: give the training tokens ({known})")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TrainRequest:
        if self.model is None and self.params is None:
            raise ValueError("give a model preset or a parameter count")
        flags = {"gpus": "--gpus", "deadline_days": "--days", "capacity_pflops": "--capacity-pflops"}
        given = [flag for name, flag in flags.items() if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(
                f"{' and '.join(given)}: give one of --gpus, --days or --capacity-pflops (in a scenario "
                "file: hardware.gpus, hardware.deadline_days or hardware.capacity_pflops)"
            )
        if self.chip is None and (self.gpus is not None or self.deadline_days is not None):
            raise ValueError("a GPU count or a deadline needs a chip")
        pinned = self.parallel.recompute
        if pinned is not None and self.recompute is not None and pinned != self.recompute:
            raise ValueError(f"recompute {self.recompute!r} and parallel.recompute {pinned!r} disagree")
        return self

    @property
    def recompute_pin(self) -> flops.Recompute | None:
        """The recomputation the user asked for, if any (the step model may choose otherwise)."""
        return self.recompute or self.parallel.recompute


class PublishedComparison(BaseModel):
    """A published run on the same chip: its wall-clock MFU and what this job would take at it."""

    run: str
    implied_mfu: float
    wall_clock_days_at_that_mfu: float | None


class TrainEstimate(BaseModel):
    """The answer, grouped compute / time / memory / money / energy. Units are in the names."""

    model_config = ConfigDict(frozen=True)

    # compute
    model: str | None
    params: float
    active_params: float
    tokens: float
    flops_convention: str
    training_flops: float
    hardware_flops: float
    recompute: str
    pf_days: float
    # time and size
    chip: str | None
    precision: str | None
    peak_tflops_per_gpu: float | None
    gpus: int | None
    aggregate_peak_pflops: float | None
    mfu: float | None
    hfu: float | None
    mfu_source: str | None
    steady_state_mfu: float | None = Field(description="MFU at steady state (goodput 1)")
    goodput: float | None = Field(description="share of wall time that makes progress")
    layout: str | None = Field(description="the parallel layout the step model chose, in words")
    parallel: ResolvedParallel | None = Field(description="that layout: tp, pp, dp, cp, ep, vp, ...")
    tokens_per_s_per_gpu: float | None = Field(description="steady state, per GPU of the job")
    step_time_s: float | None = Field(description="steady-state seconds per optimizer step")
    model_tflops_per_gpu: float | None = Field(description="6·N_active × tokens/s per GPU, steady state")
    memory_per_gpu_gb: dict[str, float] | None = Field(description="per-GPU memory by part, GB")
    layouts: list[LayoutOption] | None = Field(description="the best layouts found (--layouts N)")
    gpus_used: int | None
    microbatches: float | None = Field(description="micro-batches per data-parallel replica per step")
    global_batch_tokens: float | None
    time_shares: dict[str, float] | None = Field(description="share of wall-clock time per step-model term")
    gpu_hours: float | None
    gpu_days: float | None
    wall_clock_days: float | None
    data_centre_days_at_peak: float | None
    cluster: str | None = None
    # memory
    model_state_gb: float
    activation_gb: float | None
    min_gpus_for_memory: int | None
    memory_fits: bool | None
    # money
    pricing: str
    gpu_hour_usd: float | None
    cost_usd: float | None
    cost: float | None
    currency: str
    capex_usd: float | None
    price_assumed: bool | None = None  # True: a placeholder price, not one for this chip
    price_source: str | None = None
    price_date: str | None = None
    # procurement (a stated spend: --capex-usd, seed-facts.md S-14)
    capex_given_usd: float | None = None
    it_capex_share: float | None = None
    it_capex_usd: float | None = None
    facility_capex_usd: float | None = None
    implied_usd_per_gpu: float | None = None
    capex_usd_per_pflops: float | None = None
    it_capex_usd_per_pflops: float | None = None
    reference_capex_usd_per_pflops: float | None = None
    capex_vs_reference: float | None = None
    # energy
    facility_power_mw: float | None
    energy_mwh: float | None
    co2e_t: float | None
    pue: float | None
    grid_kgco2e_per_kwh: float | None
    # provenance
    assumptions: list[Assumed]
    warnings: list[str]
    published_runs_on_chip: list[PublishedComparison]
    # uncertainty (with --uncertainty; see capacity.data.uncertainty)
    gpu_hours_p10: float | None = None
    gpu_hours_p50: float | None = None
    gpu_hours_p90: float | None = None
    wall_clock_days_p10: float | None = None
    wall_clock_days_p50: float | None = None
    wall_clock_days_p90: float | None = None
    cost_usd_p10: float | None = None
    cost_usd_p50: float | None = None
    cost_usd_p90: float | None = None
    energy_mwh_p10: float | None = None
    energy_mwh_p50: float | None = None
    energy_mwh_p90: float | None = None
