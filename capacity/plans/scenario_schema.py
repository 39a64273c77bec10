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
    return out
