"""Check the serving model's maximum throughput against published engine measurements.

Each benchmark row (engine, model, chip, GPUs, precisions, input/output lengths → output tokens/s at maximum
load) is estimated with one model and one engine factor; no factor is tuned per row. The engine factor of a
preset (e.g. ``tensorrt-llm``) is the median of published / ideal-roofline throughput over that engine's
*fitting* rows (:func:`engine_factor`); the held-out rows (other revisions, chips and models of the
published tables, ``specs/serving_benchmarks_heldout.yaml``) only check it. Both are reported apart.
"""

from __future__ import annotations

import re
import statistics

from pydantic import BaseModel

from capacity.core.errors import InputError
from capacity.data.assumptions import Assumptions, Efficiency, ServingBenchmark, ServingDefaults
from capacity.data.catalog import Catalog
from capacity.estimate.requests import serving_request
from capacity.estimate.serve import ServeEstimate, estimate_serving
from capacity.records.chip import Chip
from capacity.records.choices import ServingOptions, Traffic
from capacity.records.model_spec import ModelPreset


class ServingCheck(BaseModel):
    engine: str
    model: str
    chip: str
    gpus: int
    input_tokens: int | None
    output_tokens: int | None
    reported_tokens_per_s: float
    estimated_tokens_per_s: float | None = None
    error: float | None = None
    batch_size: int | None = None
    skipped: str | None = None
    request_rate_qps: float | None = None  # latency rows: the published Poisson rate
    ttft_error: float | None = None  # latency rows: mean TTFT, estimate / published − 1
    tpot_error: float | None = None  # latency rows: mean inter-token latency, estimate / published − 1
    role: str = "fitting"
    source_group: str = ""


class ServingPart(BaseModel):
    """Error summary of one set of rows (fitting, held-out, or one source)."""

    label: str
    compared: int
    median_abs_error: float | None
    worst_ratio: float | None  # max(estimate/published, published/estimate)
    bias: float | None  # median signed error


class ServingReport(BaseModel):
    checks: list[ServingCheck]
    compared: int
    median_abs_error: float | None  # the fitting rows
    worst_abs_error: float | None
    held_out: ServingPart
    by_source: list[ServingPart]
    ttft_under_load: ServingPart  # latency rows: mean TTFT at the published request rate
    tpot_under_load: ServingPart  # latency rows: mean time per output token there
    engine_factor_used: float
    engine_factor_from_rows: float | None


def _estimate(
    row: ServingBenchmark, chips: Catalog[Chip], models: Catalog[ModelPreset], stack: float,
    a: Assumptions, eff: Efficiency, d: ServingDefaults,
) -> float:  # fmt: skip
    return _serve(row, chips, models, stack, a, eff, d).output_tokens_per_s_per_replica


def _serve(
    row: ServingBenchmark, chips: Catalog[Chip], models: Catalog[ModelPreset], stack: float,
    a: Assumptions, eff: Efficiency, d: ServingDefaults,
) -> ServeEstimate:  # fmt: skip
    """The row's deployment: one replica of its GPUs; at its request rate when it publishes one."""
    rate = row.request_rate_qps
    request = serving_request(
        model=models.get(row.model),
        chip=chips.get(row.chip),
        gpus_per_replica=None if _dep(row) else row.gpus,
        precision=row.weight_precision,
        kv_precision=row.kv_precision,  # type: ignore[arg-type]
        input_tokens=row.input_tokens or 1,
        output_tokens=row.output_tokens or 1,
        stack_efficiency=stack,
        serving=ServingOptions(expert_parallel=_dep(row)),
        traffic=None if rate is None else Traffic(qps=rate),
        replicas=None if rate is None else 1,
    )
    return estimate_serving(request, a, eff, d)


def comparable(rows: list[ServingBenchmark], engine: str) -> list[ServingBenchmark]:
    """The engine's fitting rows that publish their lengths (maximum throughput, not latency at a rate)."""
    return [
        r
        for r in rows
        if r.engine == engine
        and r.input_tokens
        and r.output_tokens
        and r.role == "fitting"
        and r.request_rate_qps is None
    ]


def part(label: str, checks: list[ServingCheck]) -> ServingPart:
    errors = [c.error for c in checks if c.error is not None]
    return ServingPart(
        label=label,
        compared=len(errors),
        median_abs_error=statistics.median(abs(e) for e in errors) if errors else None,
        worst_ratio=max(max(1 + e, 1 / (1 + e)) for e in errors) if errors else None,
        bias=statistics.median(errors) if errors else None,
    )


def _as_error(check: ServingCheck, error: float | None) -> ServingCheck:
    return check.model_copy(update={"error": error})


def why_skipped(row: ServingBenchmark, engine: str) -> str | None:
    if row.engine != engine:
        return f"engine {row.engine} (no preset)"
    if not (row.input_tokens and row.output_tokens):
        return "input/output lengths not published"
    if row.parallelism and not re.fullmatch(r"(TP|DEP)\d+.*", row.parallelism):
        return f"layout {row.parallelism} not modelled"
    return None


def _dep(row: ServingBenchmark) -> int | None:
    """The attention-DP + expert-parallel width of a ``DEP<n>`` row, else None (tensor parallel)."""
    match = re.match(r"DEP(\d+)", row.parallelism or "")
    return int(match.group(1)) if match else None


def engine_factor(
    rows: list[ServingBenchmark], engine: str, chips: Catalog[Chip], models: Catalog[ModelPreset],
    a: Assumptions, eff: Efficiency, d: ServingDefaults,
) -> float | None:  # fmt: skip
    """Median of published / ideal (stack factor 1) throughput over the engine's comparable rows."""
    ratios = [
        r.output_tokens_per_s / _estimate(r, chips, models, 1.0, a, eff, d) for r in comparable(rows, engine)
    ]
    return statistics.median(ratios) if ratios else None


def validate_serving(
    rows: list[ServingBenchmark], chips: Catalog[Chip], models: Catalog[ModelPreset],
    a: Assumptions, eff: Efficiency, d: ServingDefaults,
) -> ServingReport:  # fmt: skip
    stack = d.stack(d.default_stack).value
    engine = d.default_stack
    checks = []
    for row in rows:
        check = ServingCheck(
            engine=row.engine, model=row.model, chip=row.chip, gpus=row.gpus, input_tokens=row.input_tokens,
            output_tokens=row.output_tokens, reported_tokens_per_s=row.output_tokens_per_s, role=row.role,
            source_group=row.source_group,
        )  # fmt: skip
        reason = why_skipped(row, engine)
        if reason is not None:
            checks.append(check.model_copy(update={"skipped": reason}))
            continue
        try:
            served = _serve(row, chips, models, stack, a, eff, d)
        except InputError as exc:
            checks.append(check.model_copy(update={"skipped": f"not estimable: {exc}"}))
            continue
        est = served.output_tokens_per_s_per_replica
        if row.request_rate_qps is not None and served.ttft_ms is None:
            saturated = "the rate exceeds the modelled capacity (steady-state TTFT unbounded)"
            checks.append(
                check.model_copy(update={"request_rate_qps": row.request_rate_qps, "skipped": saturated})
            )
            continue
        if row.request_rate_qps is not None and row.ttft_ms and row.itl_ms:
            checks.append(
                check.model_copy(
                    update={
                        "request_rate_qps": row.request_rate_qps, "batch_size": served.batch_at_load,
                        "ttft_error": (served.ttft_ms or 0.0) / row.ttft_ms - 1,
                        "tpot_error": served.tpot_ms / row.itl_ms - 1,
                    }
                )
            )  # fmt: skip
            continue
        checks.append(
            check.model_copy(
                update={"estimated_tokens_per_s": est, "error": est / row.output_tokens_per_s - 1}
            )
        )
    fitting = [c for c in checks if c.role == "fitting"]
    errors = [abs(c.error) for c in fitting if c.error is not None]
    groups = sorted({c.source_group for c in checks if c.role == "held-out"})
    return ServingReport(
        checks=checks,
        compared=len(errors),
        median_abs_error=statistics.median(errors) if errors else None,
        worst_abs_error=max(errors) if errors else None,
        held_out=part("held-out sources", [c for c in checks if c.role == "held-out"]),
        ttft_under_load=part("mean TTFT at a request rate", [_as_error(c, c.ttft_error) for c in checks]),
        tpot_under_load=part("mean TPOT at a request rate", [_as_error(c, c.tpot_error) for c in checks]),
        by_source=[part(g, [c for c in checks if c.source_group == g]) for g in groups],
        engine_factor_used=stack,
        engine_factor_from_rows=engine_factor(rows, engine, chips, models, a, eff, d),
    )
