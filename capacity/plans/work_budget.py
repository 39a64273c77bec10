"""The work budget: how many estimator runs a scenario file asks for, counted before any is done, so a
file of aliases or long sweeps is refused in milliseconds instead of running for an hour (issue 15).

One unit is one training estimate of a model up to ~50B parameters (~2-25 ms here; the default budget of
500 is about 5 s). Measured on this 2-core machine with ``estimate_training`` on H100s:

- the layout search grows with the model: llama2-7b 2-3 ms, llama3.1-70b 10-25 ms, gpt3-175b 16-24 ms,
  deepseek-v3 11-69 ms, llama3.1-405b 23-97 ms a point; so a training point weighs params / 50B units,
  at least one;
- a serving point about half a small training one (~2 vs ~4 ms);
- a grid sweep (:func:`capacity.plans.sweep.use_grid`) runs three layout searches per (chip, cluster size)
  and then 40-60 us a point as CSV or JSON (`capacity run` of 10,000 points: 0.84 s, 0.99 s): 200 points a
  unit. A table renders ~1.5 ms a row, so large sweeps want ``--format csv``.
"""

from __future__ import annotations

from pathlib import Path

from capacity.core.errors import SpecFileError
from capacity.core.yamlio import locate, read_yaml
from capacity.plans.scenario import Scenario
from capacity.plans.scenario_run import sweep_points
from capacity.plans.sweep import use_grid

SERVE_RUNS_PER_UNIT = 2
GRID_POINTS_PER_UNIT = 200
PARAMS_PER_UNIT = 50e9


def work(sc: Scenario, base_dir: Path | None = None) -> float:
    """Units of work the scenario asks for (the module docstring gives the weights and their measurements)."""
    if use_grid(sc):
        chips = len(sc.sweep.get("hardware.chip", [None]))
        sizes = len(sc.sweep.get("hardware.gpus", [None]))
        return 3.0 * chips * sizes * _model_weight(sc, base_dir) + sweep_points(sc) / GRID_POINTS_PER_UNIT
    points = float(sweep_points(sc))
    if sc.kind == "serve":
        return points / SERVE_RUNS_PER_UNIT
    return points * _model_weight(sc, base_dir)


def _model_weight(sc: Scenario, base_dir: Path | None) -> float:
    """params / 50B, at least 1, for the largest model the scenario names (its sweep included); a model
    that cannot be read weighs 1 here and is reported when the scenario is evaluated."""
    from capacity.data.model_source import InlineModel, resolve_model

    largest = 0.0
    for m in [sc.model, *sc.sweep.get("model", [])]:
        try:
            if isinstance(m, InlineModel):
                largest = max(largest, m.params)
            elif isinstance(m, str):
                largest = max(largest, resolve_model(m, base_dir).params)
        except (ValueError, LookupError, OSError):
            continue
    return max(1.0, largest / PARAMS_PER_UNIT)


def check_work(scenarios: list[Scenario], path: Path, budget: float) -> None:
    """Refuse, before evaluating anything, a file whose scenarios × sweep points ask for more than
    ``budget`` units (:func:`work`), pointing at the scenario or sweep that crosses it."""
    total = 0.0
    for i, sc in enumerate(scenarios):
        total += work(sc, path.parent)
        if total > budget:
            doc = read_yaml(path)
            where = ("scenarios", i, "sweep") if isinstance(doc, dict) and "scenarios" in doc else ("sweep",)
            line, col = locate(doc, where if sc.sweep else where[:-1] or ("name",))
            raise SpecFileError(
                [
                    f"{path}:{line}:{col}: the file asks for about {total:,.0f} estimator runs "
                    f"(scenarios x sweep points, weighted by model size), over the budget of {budget:,.0f}; "
                    f"split the sweep or pass --max-work {total:.0f}"
                ]
            )
