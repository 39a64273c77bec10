"""Scenario files: a capacity plan as YAML, checked in CI (one per file, or a list under ``scenarios:``).

    schema_version: 1
    name: GPT-3 on 1024 A100
    kind: train                      # or serve
    model: gpt3-175b                 # a preset id, a config.json / model YAML path, or {params: 70e9, ...}
    tokens: 300e9                    # train; serve has input_tokens, output_tokens, traffic, slo
    hardware: {chip: a100-sxm4-80gb, gpus: 1024}
    efficiency: {mfu: 0.4}
    economics: {gpu_hour_usd: 2.0, pue: 1.2}
    limits: {max_cost_usd: 5e6, max_wall_clock_days: 45}
    sweep: {hardware.chip: [a100, h800], hardware.gpus: [512, 1024]}

Validated with ``extra="forbid"``; every error is reported as ``file:line:col: field.path: message``.
"""

from __future__ import annotations

import difflib
import types
import typing
import unicodedata
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from capacity.core.errors import InputError, SpecFileError, UnknownIdError
from capacity.core.strict_numbers import InputModel
from capacity.core.yamlio import locate, read_yaml, validation_problems
from capacity.data.catalog import load_chips, load_clusters
from capacity.data.model_source import InlineModel, image_model_of, is_model_path, model_path, resolve_model
from capacity.records.choices import Economics, ServingOptions, Traffic
from capacity.records.parallel import ParallelSpec

SCHEMA_URL = "https://raw.githubusercontent.com/capacity-planner/capacity/main/schema/scenario.schema.json"


class _Strict(InputModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Hardware(_Strict):
    chip: str | None = Field(default=None, description="catalogue id or alias")
    cluster: str | None = Field(
        default=None, description="train: a named cluster or data centre (specs/clusters/) instead of gpus"
    )
    gpus: int | None = Field(default=None, ge=1, le=100_000_000, description="train: accelerators")
    deadline_days: float | None = Field(
        default=None, ge=1e-3, le=1e5, description="train: solve for the GPU count"
    )
    capacity_pflops: float | None = Field(
        default=None, gt=0, le=1e9, description="train: a data centre's peak instead"
    )
    gpus_per_replica: int | None = Field(default=None, ge=1, le=64, description="serve: tensor-parallel size")
    precision: Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4"] | None = None
    kv_precision: Literal["bf16", "fp16", "fp8", "int8"] | None = None
    node_size: int | None = Field(default=None, ge=1)
    max_batch: int | None = Field(default=None, ge=1)


class EfficiencySpec(_Strict):
    mfu: float | None = Field(default=None, gt=0, le=1, description="train: model FLOPs utilisation")
    flops_convention: Literal["6nd", "palm"] = "6nd"
    recompute: Literal["none", "selective", "full"] | None = Field(
        default=None, description="train: activation recomputation (default selective, full if needed)"
    )
    seq_len: int | None = Field(default=None, ge=1)
    batch_tokens: float | None = Field(default=None, gt=0, description="train: global batch in tokens")
    stack: str | None = Field(default=None, description="serve: software-stack preset")
    stack_efficiency: float | None = Field(default=None, gt=0, le=1)


class ProcurementSpec(_Strict):
    capex_usd: float | None = Field(default=None, gt=0, le=1e15, description="train: a stated hardware spend")
    it_capex_share: float | None = Field(default=None, gt=0, le=1, description="share of it that is IT")


class Figure(_Strict):
    """One number a report claims, to set beside the estimate's field of the same meaning."""

    metric: str = Field(description="the estimate's field (as in --format json)")
    claimed: float = Field(gt=0)
    at: dict[str, Any] = Field(default_factory=dict, description="the sweep point it refers to, if any")
    relative_to: dict[str, Any] | None = Field(
        default=None, description="compare the metric's ratio between `at` and this sweep point"
    )
    tolerance: float = Field(default=0.1, gt=0, description="relative difference still called reproduced")
    check: Literal["value", "order", "input"] = Field(
        default="value",
        description="value: within tolerance; order: within 10x (a claim too vague for more); input: the "
        "plan takes an input from the claim's own source, so agreement is by construction",
    )
    note: str | None = None


class Report(_Strict):
    """The industry report's claim this scenario checks (docs/report-scenarios.md prints the verdict)."""

    id: str = Field(pattern=r"^S-[0-9]+$", description="seed-facts.md scenario id")
    claim: str
    figures: list[Figure] = Field(default_factory=list)
    verdict: str | None = Field(default=None, description="why the claim cannot be right, when it cannot")


class Slo(_Strict):
    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)
    percentile: float = Field(
        default=90.0, ge=50, le=99.99, description="the targets hold at this percentile"
    )


def _limit(metric: str, what: str) -> Any:
    """A budget on the estimate's field ``metric`` (declared here once; checks, the schema and the docs
    read it from the field's ``metric``)."""
    return Field(default=None, ge=0, description=f"at most this {what} ({metric})",
                 json_schema_extra={"metric": metric})  # fmt: skip


class Limits(_Strict):
    """Budgets: ``capacity check`` exits 1 when an evaluated value exceeds one."""

    max_cost_usd: float | None = _limit("cost_usd", "training cost, USD")
    max_wall_clock_days: float | None = _limit("wall_clock_days", "wall-clock time, days")
    max_gpus: float | None = _limit("gpus", "number of accelerators")
    max_energy_mwh: float | None = _limit("energy_mwh", "facility energy, MWh")
    max_co2e_t: float | None = _limit("co2e_t", "emissions, tCO2e")
    max_facility_power_mw: float | None = _limit("facility_power_mw", "facility power, MW")
    max_cost_usd_per_month: float | None = _limit("cost_usd_per_month", "serving cost per month, USD")
    max_cost_usd_per_query: float | None = _limit("cost_usd_per_query", "serving cost per query, USD")
    max_cost_usd_per_million_tokens: float | None = _limit(
        "cost_usd_per_million_output_tokens", "serving cost per million output tokens, USD"
    )
    max_ttft_ms: float | None = _limit("ttft_ms", "time to first token, ms")
    max_tpot_ms: float | None = _limit("tpot_ms", "time per output token, ms")
    max_cost_usd_per_image: float | None = _limit("cost_usd_per_image", "image serving cost per image, USD")
    max_seconds_per_image: float | None = _limit("seconds_per_image", "seconds for one image alone")

    @classmethod
    def metric(cls, limit: str) -> str:
        """The estimate field a limit bounds."""
        extra = cls.model_fields[limit].json_schema_extra
        assert isinstance(extra, dict)
        return str(extra["metric"])


class Scenario(_Strict):
    """One capacity plan. Field names may grow; these keys keep these meanings."""

    schema_version: Literal[1] = 1
    name: str = Field(min_length=1)
    kind: Literal["train", "serve"]
    model: str | InlineModel
    tokens: float | None = Field(default=None, gt=0, le=1e24, description="train: training tokens")
    images: float | None = Field(default=None, ge=1, le=1e15, description="train, image models: images seen")
    resolution: int | None = Field(default=None, gt=0, le=16384, description="image models: pixels per side")
    steps: int | None = Field(
        default=None, ge=1, le=10_000, description="serve, image models: sampling steps"
    )
    images_per_day: float | None = Field(default=None, ge=1e-6, le=1e15, description="serve, image models")
    peak_to_average: float | None = Field(
        default=None, ge=1, le=100, description="serve, image models: peak / average images per second"
    )
    parallel: ParallelSpec = Field(
        default_factory=ParallelSpec, description="train: the layout, as far as pinned (tp, pp, dp, ...)"
    )
    input_tokens: int | None = Field(default=None, gt=0, description="serve: prompt tokens per query")
    output_tokens: int | None = Field(default=None, gt=0, description="serve: generated tokens per query")
    hardware: Hardware = Field(default_factory=Hardware)
    efficiency: EfficiencySpec = Field(default_factory=EfficiencySpec)
    economics: Economics = Field(default_factory=Economics)
    traffic: Traffic | None = None
    slo: Slo | None = None
    serving: ServingOptions = Field(
        default_factory=ServingOptions, description="serve: speculative decoding and prefix caching"
    )
    procurement: ProcurementSpec = Field(default_factory=ProcurementSpec)
    limits: Limits = Field(default_factory=Limits)
    report: Report | None = Field(default=None, description="the report claim this plan checks")
    calibration: str | None = Field(
        default=None, description="capacity bench calibration file, relative path"
    )
    sweep: dict[str, list[Any]] = Field(default_factory=dict, description="dotted.path: [values], cartesian")

    @field_validator("name")
    @classmethod
    def _printable(cls, name: str) -> str:
        if any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in name) or not name.strip():
            raise ValueError("must be printable text on one line")
        return name

    @property
    def is_image(self) -> bool:
        """Whether ``model`` names an image-generation preset (specs/image_models/)."""
        return isinstance(self.model, str) and image_model_of(self.model) is not None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Scenario:
        image_fields = [
            f
            for f in ("images", "resolution", "steps", "images_per_day", "peak_to_average")
            if getattr(self, f)
        ]
        if self.is_image:
            _image_fields_for_kind(self)
        elif image_fields:
            raise ValueError(f"{image_fields[0]} is for image models; {self.model} is a language model")
        elif self.kind == "train" and self.tokens is None:
            raise ValueError("a train scenario needs tokens")
        elif self.kind == "serve" and (self.input_tokens is None or self.output_tokens is None):
            raise ValueError("a serve scenario needs input_tokens and output_tokens")
        if self.kind == "serve" and (self.hardware.cluster or self.procurement != ProcurementSpec()):
            raise ValueError("hardware.cluster and procurement are for train scenarios")
        if self.kind == "serve" and self.hardware.chip is None and "hardware.chip" not in self.sweep:
            raise ValueError("a serve scenario needs hardware.chip")
        allowed = LIMITS_FOR[self.kind, self.is_image]
        wrong = sorted(k for k in self.limits.model_dump(exclude_none=True) if k not in allowed)
        if wrong:
            what = f"an image {self.kind}" if self.is_image else f"a {self.kind}"
            raise ValueError(f"{', '.join(wrong)} do(es) not apply to {what} scenario; "
                             f"use {', '.join(sorted(allowed))}")  # fmt: skip
        size = 1
        for path, values in self.sweep.items():
            if not values:
                raise ValueError(f"sweep {path!r} has no values")
            size *= len(values)
        if size > MAX_SWEEP_POINTS:
            raise ValueError(f"sweep has {size:,} points, over the {MAX_SWEEP_POINTS:,}-point limit")
        return self


def _image_fields_for_kind(sc: Scenario) -> None:
    """An image model's scenario: images to train on, or (serving) a daily load; nothing that only means
    something for language models (it would be silently ignored)."""
    hw, eff = sc.hardware, sc.efficiency
    llm = {
        "tokens": sc.tokens, "input_tokens": sc.input_tokens, "output_tokens": sc.output_tokens,
        "traffic": sc.traffic, "slo": sc.slo, "calibration": sc.calibration,
        "parallel": sc.parallel.pinned() or None, "serving": sc.serving != ServingOptions() or None,
        "hardware.capacity_pflops": hw.capacity_pflops,
        "hardware.max_batch": hw.max_batch if sc.kind == "train" else None,
        "hardware.gpus_per_replica": hw.gpus_per_replica, "hardware.kv_precision": hw.kv_precision,
        "procurement": sc.procurement != ProcurementSpec() or None,
        "efficiency.flops_convention": eff.flops_convention != "6nd" or None,
        "efficiency.recompute": eff.recompute, "efficiency.seq_len": eff.seq_len,
        "efficiency.batch_tokens": eff.batch_tokens, "efficiency.stack": eff.stack,
    }  # fmt: skip
    given = [k for k, v in llm.items() if v is not None]
    if given:
        raise ValueError(f"{given[0]} is for language models; {sc.model} is an image model")
    if sc.kind == "serve" and (hw.gpus is not None or hw.deadline_days is not None or hw.node_size):
        raise ValueError(
            "an image serve scenario sizes its own fleet: drop hardware.gpus/deadline_days/node_size"
        )
    if sc.kind == "serve" and sc.peak_to_average is not None and sc.images_per_day is None:
        raise ValueError("peak_to_average needs images_per_day")
    if sc.kind == "train" and hw.gpus is not None and hw.deadline_days is not None:
        raise ValueError("give one of hardware.gpus and hardware.deadline_days")
    if sc.kind == "train" and sc.images is None:
        raise ValueError(f"a train scenario of an image model ({sc.model}) needs images")
    wrong = "steps, images_per_day, peak_to_average" if sc.kind == "train" else "images"
    misplaced = sc.steps or sc.images_per_day or sc.peak_to_average if sc.kind == "train" else sc.images
    if misplaced:
        raise ValueError(f"{wrong} do(es) not apply to a {sc.kind} scenario")


TRAIN_LIMITS = {"max_cost_usd", "max_wall_clock_days", "max_gpus", "max_energy_mwh", "max_co2e_t",
                "max_facility_power_mw"}  # fmt: skip
SERVE_LIMITS = {"max_gpus", "max_facility_power_mw", "max_cost_usd_per_month", "max_cost_usd_per_query",
                "max_cost_usd_per_million_tokens", "max_ttft_ms", "max_tpot_ms"}  # fmt: skip
IMAGE_SERVE_LIMITS = {"max_gpus", "max_facility_power_mw", "max_cost_usd_per_month", "max_cost_usd_per_image",
                      "max_seconds_per_image"}  # fmt: skip
LIMITS_FOR = {("train", False): TRAIN_LIMITS, ("serve", False): SERVE_LIMITS, ("train", True): TRAIN_LIMITS,
              ("serve", True): IMAGE_SERVE_LIMITS}  # fmt: skip
MAX_SWEEP_POINTS = 5_000_000  # vectorised training sweeps; per-point sweeps are capped lower when evaluated


class ScenarioList(_Strict):
    scenarios: list[Scenario] = Field(min_length=1)


def load_scenarios(path: Path) -> list[Scenario]:
    """All scenarios in one file; :class:`SpecFileError` with file:line:col for anything wrong."""
    doc = read_yaml(path)
    many = isinstance(doc, dict) and "scenarios" in doc
    _anchor_in_document(doc, many, path.parent.absolute())
    try:
        scenarios = ScenarioList.model_validate(doc).scenarios if many else [Scenario.model_validate(doc)]
    except ValidationError as exc:
        raise SpecFileError(
            validation_problems(exc, doc, str(path), ScenarioList if many else Scenario)
        ) from None
    problems = []
    for i, sc in enumerate(scenarios):
        prefix: tuple[int | str, ...] = ("scenarios", i) if many else ()
        problems += _sweep_problems(sc, doc, str(path), prefix)
        problems += _unknown_ids(sc, doc, str(path), prefix)
        problems += _report_problems(sc, doc, str(path), prefix)
    if problems:
        raise SpecFileError(problems)
    return [_anchor_model_paths(sc, path.parent.absolute()) for sc in scenarios]


def _anchor_in_document(doc: Any, many: bool, base: Path) -> None:
    """Model file paths made absolute before validation, so whether a model is an image model (its file's
    ``denoiser``) is decided on the file the scenario names, not one in the current directory."""
    entries = doc.get("scenarios") if many else [doc]
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        model = entry.get("model")
        if isinstance(model, str) and is_model_path(model, base):
            entry["model"] = str(model_path(model, base))
        swept = entry.get("sweep")
        if isinstance(swept, dict) and isinstance(swept.get("model"), list):
            swept["model"] = [
                str(model_path(m, base)) if isinstance(m, str) and is_model_path(m, base) else m
                for m in swept["model"]
            ]


def _anchor_model_paths(sc: Scenario, base: Path) -> Scenario:
    """Model file paths (``model:`` and a ``model`` sweep) made absolute from the scenario's folder, so
    whoever evaluates the scenario later reads the file the scenario's author meant."""

    def anchor(value: Any) -> Any:
        if isinstance(value, str) and is_model_path(value, base):
            return str(model_path(value, base))
        return value

    update: dict[str, Any] = {"model": anchor(sc.model)}
    if "model" in sc.sweep:
        update["sweep"] = {**sc.sweep, "model": [anchor(v) for v in sc.sweep["model"]]}
    return sc.model_copy(update=update)


def with_value(sc: Scenario, path: str, value: Any) -> dict[str, Any]:
    """The scenario as plain data, without its sweep, with ``path`` (dotted) set to ``value``.

    Raises ``ValueError`` when the path does not name a field of a scenario.
    """
    data = sc.model_dump(exclude={"sweep"})
    *parents, leaf = path.split(".")
    node: Any = data
    model: Any = Scenario
    for part in [*parents, leaf]:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            raise ValueError(f"{path!r} is not a scenario field")
        model = _strip_optional(fields[part].annotation)
        if part == leaf:
            break
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
    node[leaf] = value
    return data


def _strip_optional(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return (
        args[0] if typing.get_origin(annotation) in (typing.Union, types.UnionType) and args else annotation
    )


def _sweep_problems(sc: Scenario, doc: Any, name: str, prefix: tuple[int | str, ...]) -> list[str]:
    """Every swept value is checked on its own, at its own line, before any point is evaluated."""
    out = []
    for path, values in sc.sweep.items():
        for i, value in enumerate(values):
            loc = (*prefix, "sweep", path, i)
            try:
                Scenario.model_validate(with_value(sc, path, value))
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                line, col = locate(doc, loc)
                msg = (
                    exc.errors(include_url=False)[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
                )
                out.append(f"{name}:{line}:{col}: sweep.{path}.{i}: {msg.removeprefix('Value error, ')}")
                break  # one problem per swept path is enough
    return out


def _report_problems(sc: Scenario, doc: Any, name: str, prefix: tuple[int | str, ...]) -> list[str]:
    """A report figure must name a field the estimate has and sweep points the scenario has."""
    if sc.report is None:
        return []
    from capacity.estimate.image_serve import ImageServeEstimate
    from capacity.estimate.image_train import ImageTrainEstimate
    from capacity.estimate.serve import ServeEstimate
    from capacity.estimate.train_io import TrainEstimate

    kinds: dict[tuple[str, bool], type[BaseModel]] = {
        ("train", False): TrainEstimate, ("serve", False): ServeEstimate, ("train", True): ImageTrainEstimate,
        ("serve", True): ImageServeEstimate,
    }  # fmt: skip
    fields = kinds[sc.kind, sc.is_image].model_fields
    out = []
    for i, fig in enumerate(sc.report.figures):
        loc: tuple[int | str, ...] = (*prefix, "report", "figures", i)
        if fig.metric not in fields:
            close = difflib.get_close_matches(fig.metric, list(fields), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            line, col = locate(doc, (*loc, "metric"))
            out.append(f"{name}:{line}:{col}: report.figures.{i}.metric: {fig.metric!r} is not a field of "
                       f"this scenario's estimate{hint}")  # fmt: skip
        for where in ("at", "relative_to"):
            point = getattr(fig, where) or {}
            for path, value in point.items():
                if value not in sc.sweep.get(path, []):
                    line, col = locate(doc, (*loc, where))
                    out.append(f"{name}:{line}:{col}: report.figures.{i}.{where}: {path} = {value!r} is "
                               "not a point of this scenario's sweep")  # fmt: skip
    return out


def _unknown_ids(sc: Scenario, doc: Any, name: str, prefix: tuple[int | str, ...]) -> list[str]:
    """Chip and model ids that are not in the catalogue, each at its line, with close matches; a model given
    as a file path (relative to the scenario's folder) must exist and load."""
    checks: list[tuple[tuple[int | str, ...], str, str]] = []
    if isinstance(sc.model, str):
        checks.append(((*prefix, "model"), "model", sc.model))
    if sc.hardware.chip is not None:
        checks.append(((*prefix, "hardware", "chip"), "chip", sc.hardware.chip))
    if sc.hardware.cluster is not None:
        checks.append(((*prefix, "hardware", "cluster"), "cluster", sc.hardware.cluster))
    for path, values in sc.sweep.items():
        if path in ("hardware.chip", "hardware.cluster", "model"):
            checks += [  # a value that is not a string has its type error already, at the same place
                ((*prefix, "sweep", path, i), path.split(".")[-1], v)
                for i, v in enumerate(values)
                if isinstance(v, str)
            ]
    out = []
    base = Path(name).parent
    for loc, kind, value in checks:
        problem = None
        if kind == "model" and is_model_path(value, base):
            try:
                if image_model_of(value, base) is None:
                    resolve_model(value, base)
            except InputError as exc:  # a missing, malformed or unsupported model file
                problem = str(exc)
        elif kind != "model" or image_model_of(value) is None:
            try:
                if kind == "model":
                    resolve_model(value)  # unknown: close matches among language and image models
                else:
                    (load_chips() if kind == "chip" else load_clusters()).get(value)
            except UnknownIdError as exc:
                problem = str(exc)
        if problem is not None:
            line, col = locate(doc, loc)
            out.append(f"{name}:{line}:{col}: {'.'.join(map(str, loc))}: {problem}")
    return out
