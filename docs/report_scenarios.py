"""Regenerate docs/report-scenarios.md: each report scenario's claim, capacity's answer and the verdict.

Usage: python docs/report_scenarios.py           (rewrites the block between the BEGIN/END markers)
       python docs/report_scenarios.py --check   (exit 1 if docs/report-scenarios.md is out of date)

The plans are the files in specs/scenarios/reports/ (CI runs `capacity check` on them); a scenario's
``report:`` block holds the claim and the figures to set beside the estimate's fields.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from capacity.core.markers import regenerate, replace_blocks
from capacity.plans.scenario import Figure, Scenario, load_scenarios
from capacity.plans.scenario_run import ScenarioResult, evaluate

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "report-scenarios.md"
PLANS = ROOT / "specs" / "scenarios" / "reports"


def number(x: float | None) -> str:
    if x is None:
        return "–"
    if x == 0 or 0.01 <= abs(x) < 1e10:
        digits = max(0, 2 - int(f"{abs(x):e}".split("e")[1])) if abs(x) < 100 else 0
        return f"{float(f'{x:.4g}'):,.{digits}f}"
    return f"{x:.3g}"


def point_text(point: dict[str, Any]) -> str:
    def shown(v: Any) -> str:
        return number(v) if isinstance(v, float) else str(v)

    return ", ".join(f"{k.split('.')[-1]} {shown(v)}" for k, v in point.items()) or "–"


def matching(results: list[ScenarioResult], at: dict[str, Any]) -> ScenarioResult:
    for r in results:
        if all(r.point.get(k) == v for k, v in at.items()):
            return r
    raise SystemExit(f"no sweep point {at} in {results[0].scenario!r}")


def value_of(results: list[ScenarioResult], f: Figure) -> float | None:
    value = matching(results, f.at).result.get(f.metric)
    if f.relative_to is None or value is None:
        return value
    base = matching(results, f.relative_to).result.get(f.metric)
    return None if not base else value / base


def verdict(f: Figure, ours: float | None) -> str:
    if ours is None:
        return "not computed"
    ratio = f.claimed / ours
    if f.check == "input":
        return "by construction: an input comes from the claim's source"
    if f.check == "order":
        return f"same order (claim {ratio:.2g}× capacity's)" if 0.1 < ratio < 10 else f"off: {ratio:.2g}×"
    if abs(1 / ratio - 1) <= f.tolerance:
        return f"reproduced (±{f.tolerance:.0%})"
    return f"off: the claim is {ratio:.2g}× capacity's"


def figure_rows(results: list[ScenarioResult], sc: Scenario) -> list[str]:
    assert sc.report is not None
    rows = ["| figure | at | claimed | capacity | verdict | note |", "|---|---|---|---|---|---|"]
    for f in sc.report.figures:
        ours = value_of(results, f)
        where = point_text(f.at) + ("" if f.relative_to is None else f" ÷ {point_text(f.relative_to)}")
        label = f.metric + (" ratio" if f.relative_to is not None else "")
        cells = [label, where, number(f.claimed), number(ours), verdict(f, ours), f.note or ""]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def sweep_rows(results: list[ScenarioResult], metrics: list[str]) -> list[str]:
    rows = ["| point | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for r in results:
        cells = [number(r.result.get(m)) if r.error is None else "error" for m in metrics]
        rows.append(f"| {point_text(r.point)} | " + " | ".join(cells) + " |")
    return rows


def section(path: Path) -> list[str]:
    out: list[str] = []
    for sc in load_scenarios(path):
        results = evaluate(sc, str(path))
        rel = path.relative_to(ROOT)
        if sc.report is None:
            key = ["wall_clock_days", "gpu_hours", "cost_usd"] if sc.kind == "train" else ["gpus"]
            values = ", ".join(f"{k} {number(results[0].result.get(k))}" for k in key)
            out += [f"*Also in `{rel}`:* {sc.name}: {values}.", ""]
            continue
        out += [f"### {sc.name}", "", f"> {sc.report.claim}", "", f"Plan: `{rel}`", ""]
        out += [*figure_rows(results, sc), ""]
        if len(results) > 1:
            metrics = list(dict.fromkeys(f.metric for f in sc.report.figures))
            out += [*sweep_rows(results, metrics), ""]
        if sc.report.verdict:
            out += [sc.report.verdict.strip(), ""]
    return out


def render(doc: str) -> str:
    lines: list[str] = []
    for path in sorted(PLANS.glob("*.yaml")):
        lines += section(path)
    return replace_blocks(doc, {"scenarios": lines[:-1]}, str(DOC))


def main(argv: list[str]) -> int:
    return regenerate(DOC, render, argv, "docs/report_scenarios.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
