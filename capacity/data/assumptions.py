"""Default assumptions and efficiency data (``specs/assumptions.yaml``, ``specs/efficiency.yaml``).

Every default an estimate uses lives in these files with its source, so an output can say where each
number came from and a user can override it with a flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from capacity.data.catalog import load_spec_file
from capacity.records.chip import Dtype


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Assumption(_Strict):
    value: float
    source: str
    note: str | None = None


class Assumptions(_Strict):
    """Defaults used when the user gives no value. Units are in the names."""

    pue: Assumption
    server_power_factor: Assumption = Field(
        description="power_basis gpu: power per accelerator / accelerator TDP"
    )
    system_power_per_tdp: Assumption = Field(
        description="power_basis facility without a reference server: server power per accelerator / TDP"
    )
    grid_kgco2e_per_kwh: Assumption
    electricity_usd_per_kwh: Assumption
    cloud_usd_per_gpu_hour: Assumption = Field(description="fallback when the catalogue has no cloud price")
    cny_per_usd: Assumption
    hardware_life_years: Assumption
    server_capex_factor: Assumption = Field(description="server cost / accelerator cost")
    network_capex_factor: Assumption = Field(description="cluster network cost multiplier")
    optimizer_bytes_per_param: Assumption = Field(description="weights + gradients + optimiser states")
    memory_usable_fraction: Assumption = Field(description="share of accelerator memory a job can use")
    node_size: Assumption = Field(description="accelerators per node when rounding a deadline solve")


class MatmulMeasurement(_Strict):
    """A published dense GEMM measurement; the fraction is taken against the catalogue's own peak."""

    chips: list[str] = Field(min_length=1)
    dtypes: list[Dtype] = Field(min_length=1)
    measured_tflops: float = Field(gt=0)
    source: str
    note: str | None = None


class FallbackFractions(_Strict):
    nvidia: dict[Dtype, float]
    other: dict[Dtype, float]
    source: str


class StepConstants(_Strict):
    """Constants of the training step-time model (``step_model`` in ``specs/efficiency.yaml``)."""

    gemm_half_size: Assumption
    training_kernel_efficiency: Assumption = Field(
        description="achieved kernel rates in training / the best microbenchmark rates (fitted)"
    )
    attention_fraction_of_gemm: Assumption
    elementwise_passes: Assumption
    loss_bytes_per_vocab: Assumption
    optimizer_step_bytes_per_param: Assumption
    network_efficiency: Assumption
    batch_size_coefficient: Assumption
    batch_size_exponent: Assumption


class GoodputConstants(_Strict):
    """What stops a run apart from steady state (``goodput`` in ``specs/efficiency.yaml``)."""

    failures_per_gpu_hour: Assumption
    restart_hours: Assumption = Field(description="restart, re-initialisation and checkpoint reload")
    checkpoint_interval_hours: Assumption
    checkpoint_stall_share: Assumption
    other_pause_share: Assumption = Field(description="evaluation, data stalls, stragglers, slow steps")


class SteadySets(_Strict):
    """Which steady-state source groups may set constants, and which are held out (decided by source)."""

    fitting: list[str] = Field(min_length=1)
    held_out: list[str] = Field(min_length=1)
    source: str


class FittingRuns(_Strict):
    runs: list[str] = Field(min_length=1)
    source: str


class Efficiency(_Strict):
    """Matmul fraction of peak per chip, memory and link efficiencies, and the step-time model's constants."""

    matmul_measurements: list[MatmulMeasurement]
    fallback_matmul_fraction: FallbackFractions
    hbm_efficiency: Assumption
    link_efficiency: Assumption
    step_model: StepConstants
    goodput: GoodputConstants
    fitting_runs: FittingRuns
    steady_state_sets: SteadySets
    flat_baseline_mfu: Assumption


def load_assumptions(specs_dir: Path | None = None) -> Assumptions:
    return load_spec_file("assumptions.yaml", Assumptions, specs_dir)


def load_efficiency(specs_dir: Path | None = None) -> Efficiency:
    return load_spec_file("efficiency.yaml", Efficiency, specs_dir)


class StackPresets(_Strict):
    ideal: Assumption
    tensorrt_llm: Assumption = Field(alias="tensorrt-llm")


class EngineMemory(_Strict):
    """What a serving engine keeps besides weights and KV cache (:mod:`capacity.formulas.serving_memory`)."""

    visible_fraction: Assumption
    runtime_gib: Assumption
    collective_buffers_gib: Assumption
    max_num_tokens: Assumption
    kv_free_fraction: Assumption
    kv_block_tokens: Assumption


class SpeculativePreset(_Strict):
    """Defaults of one speculative-decoding method: draft tokens per step and per-token acceptance rate."""

    draft_tokens: int = Field(ge=1)
    acceptance_rate: float = Field(gt=0, lt=1)
    draft_layers: int | None = Field(
        default=None, description="a head of this many target layers (MTP, EAGLE)"
    )
    source: str


class ServingDefaults(_Strict):
    """Defaults of the serving model (``specs/serving.yaml``)."""

    allreduce_latency_us: Assumption
    engine_memory: EngineMemory
    speculative: dict[str, SpeculativePreset]
    weight_fraction_of_memory: Assumption
    days_per_month: Assumption
    peak_to_average: Assumption
    stack_presets: StackPresets
    default_stack: str

    def stack(self, name: str) -> Assumption:
        presets = {"ideal": self.stack_presets.ideal, "tensorrt-llm": self.stack_presets.tensorrt_llm}
        if name not in presets:
            from capacity.core.errors import InputError

            known = ", ".join(presets)
            raise InputError(f"--stack: unknown preset {name!r}; use one of {known} or --stack-efficiency")
        return presets[name]


class ServingBenchmark(_Strict):
    """A published serving throughput measurement. ``role``: fitting rows set the engine factor; held-out
    rows (``specs/serving_benchmarks_heldout.yaml``) only check it."""

    engine: str
    model: str
    model_name: str
    chip: str
    gpus: int = Field(gt=0)
    weight_precision: str
    kv_precision: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    output_tokens_per_s: float = Field(gt=0)
    request_rate_qps: float | None = Field(
        default=None, gt=0, description="latency rows: Poisson arrival rate"
    )
    ttft_ms: float | None = Field(default=None, gt=0, description="latency rows: mean time to first token")
    itl_ms: float | None = None
    verify: str
    source: str
    url: str | None = None
    note: str | None = None
    role: Literal["fitting", "held-out"] = "fitting"
    source_group: str = "reference-notes"
    revision: str | None = None
    parallelism: str | None = Field(default=None, description="as published, e.g. TP4, DEP8")
    metric: str | None = None


class ServingBenchmarks(_Strict):
    benchmarks: list[ServingBenchmark]


class ServingBenchmarkFile(ServingBenchmarks):
    """One file of ``specs/serving_heldout/``: the rows of one published document (its ``source_group``)."""

    source_group: str


def load_serving_defaults(specs_dir: Path | None = None) -> ServingDefaults:
    return load_spec_file("serving.yaml", ServingDefaults, specs_dir)


def load_serving_benchmarks(specs_dir: Path | None = None) -> ServingBenchmarks:
    """The fitting rows (``serving_benchmarks.yaml``) followed by the held-out ones."""
    from capacity.data.catalog import load_serving_heldout

    fitting = load_spec_file("serving_benchmarks.yaml", ServingBenchmarks, specs_dir)
    files = [f for f in load_serving_heldout(specs_dir) if isinstance(f, ServingBenchmarkFile)]
    held_out = [
        row.model_copy(update={"source_group": f.source_group}) for f in files for row in f.benchmarks
    ]
    return ServingBenchmarks(benchmarks=[*fitting.benchmarks, *held_out])
