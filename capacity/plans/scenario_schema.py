"""JSON Schema for scenario files, in draft-07 (what yaml-language-server, behind VS Code's YAML, reads)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from capacity.plans.scenario import Scenario, ScenarioList

DRAFT_07 = "http://json-schema.org/draft-07/schema#"


def scenario_json_schema() -> dict[str, Any]:
    """One scenario, or a list under ``scenarios:``; ``$defs`` renamed to draft-07 ``definitions``."""
    adapter: TypeAdapter[Scenario | ScenarioList] = TypeAdapter(Scenario | ScenarioList)
    schema = adapter.json_schema(ref_template="#/definitions/{model}")
    out: dict[str, Any] = {
        "$schema": DRAFT_07,
        "title": "capacity scenario",
        "description": "A capacity plan for `capacity`: one scenario, or a list under `scenarios`.",
    }
    out.update({("definitions" if k == "$defs" else k): v for k, v in schema.items()})
    counted: dict[str, Any] = _counts_as_text(out)
    return counted


def _counts_as_text(node: Any) -> Any:
    """Every number field also takes a count written as text (``300B``, ``2,048``), as the loader does
    (:mod:`capacity.core.strict_numbers`); the number's bounds still apply once it is read."""
    from capacity.core.counts import JSON_SCHEMA_PATTERN

    if isinstance(node, list):
        return [_counts_as_text(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: _counts_as_text(v) for k, v in node.items()}
    if "anyOf" in node:  # number | null: one flat list, not a nested anyOf
        node["anyOf"] = [
            x for item in node["anyOf"] for x in (item["anyOf"] if set(item) == {"anyOf"} else [item])
        ]
    if node.get("type") in ("number", "integer"):
        outer = {k: node.pop(k) for k in ("title", "description", "default") if k in node}
        text = {"type": "string", "pattern": JSON_SCHEMA_PATTERN}
        return {**outer, "anyOf": [node, text]}
    return node
