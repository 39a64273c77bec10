"""The shipped model presets: required ids, and parameter counts that match what the authors state."""

from __future__ import annotations

import pytest

from capacity.data.catalog import load_models, normalise
from capacity.formulas.params import active_params, total_params
from capacity.records.model_spec import ModelPreset

MODELS = list(load_models())
REQUIRED = [
    "gpt3-125m", "gpt3-350m", "gpt3-760m", "gpt3-1.3b", "gpt3-2.7b", "gpt3-6.7b", "gpt3-13b", "gpt3-175b",
    "bloom-176b", "opt-175b", "glm-130b", "llama2-7b", "llama2-13b", "llama2-70b", "llama3.1-8b",
    "llama3.1-70b", "llama3.1-405b", "falcon-40b", "falcon-180b", "mixtral-8x7b", "deepseek-v3",
]  # fmt: skip


@pytest.mark.parametrize("model_id", REQUIRED)
def test_required_presets_exist(model_id: str) -> None:
    assert load_models().get(model_id).id == model_id


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
def test_architecture_reproduces_the_stated_parameter_count(model: ModelPreset) -> None:
    assert total_params(model) == pytest.approx(model.params, rel=0.02)
    if model.active_params is not None:
        assert active_params(model) == pytest.approx(model.active_params, rel=0.05)


@pytest.mark.parametrize(
    ("model_id", "params", "active"),
    [
        ("gpt3-175b", 174.6e9, None),  # Brown et al. 2020 (the reports' "175B")
        ("mixtral-8x7b", 46.7e9, 12.9e9),  # Jiang et al. 2024
        ("deepseek-v3", 671e9, 37e9),  # DeepSeek-AI 2024: 671B total, 37B activated
    ],
)
def test_headline_counts(model_id: str, params: float, active: float | None) -> None:
    m = load_models().get(model_id)
    assert m.params == pytest.approx(params, rel=0.005)
    assert m.active_params == (None if active is None else pytest.approx(active, rel=0.005))


def test_moe_memory_counts_all_experts_compute_counts_active() -> None:
    m = load_models().get("deepseek-v3")
    assert active_params(m) < total_params(m) / 10


def test_ids_and_aliases_unique() -> None:
    seen: dict[str, str] = {}
    for m in MODELS:
        for name in [m.id, *m.aliases]:
            assert seen.setdefault(normalise(name), m.id) == m.id, name


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
def test_every_preset_is_sourced(model: ModelPreset) -> None:
    assert model.sources and all(s.title for s in model.sources)
    assert any(s.url for s in model.sources), "at least one source with a URL"
