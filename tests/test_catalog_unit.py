"""Loader, alias resolution and the unknown/unsupported distinction, on the tiny fixture catalogue."""

from __future__ import annotations

import pytest

from capacity.core.errors import UnknownIdError
from capacity.data.catalog import load_chips, load_models, normalise
from conftest import FIXTURE_SPECS


def test_loads_fixture_catalogue() -> None:
    chips = load_chips(FIXTURE_SPECS)
    assert sorted(c.id for c in chips) == ["tiny-gpu", "tiny-npu"]
    assert len(load_models(FIXTURE_SPECS)) == 2


@pytest.mark.parametrize("name", ["tiny-gpu", "TINY-GPU", "tiny", "TinyGPU 80", "tinygpu_80", "ＴＩＮＹ"])
def test_aliases_are_case_width_and_separator_insensitive(name: str) -> None:
    assert load_chips(FIXTURE_SPECS).get(name).id == "tiny-gpu"


def test_chinese_alias() -> None:
    assert load_chips(FIXTURE_SPECS).get("神州小芯").id == "tiny-npu"


def test_unknown_id_suggests_close_matches() -> None:
    with pytest.raises(UnknownIdError) as info:
        load_chips(FIXTURE_SPECS).get("tiny-gpo")
    assert info.value.suggestions == ["tiny-gpu"]
    assert "did you mean tiny-gpu?" in str(info.value)


def test_unknown_and_unsupported_are_kept_apart() -> None:
    npu = load_chips(FIXTURE_SPECS).get("tiny-npu")
    assert npu.dtype_status("bf16") == "unknown"
    assert npu.dtype_status("fp8") == "not supported"
    assert npu.dtype_status("fp16") == 300
    assert npu.dense_peak("bf16") is None and npu.dense_peak("fp8") is None


def test_sources_for_prefers_specific_sources() -> None:
    gpu = load_chips(FIXTURE_SPECS).get("tiny-gpu")
    assert gpu.sources_for("tdp_w") == [2]
    assert gpu.sources_for("memory_gb") == [1]


def test_normalise_is_idempotent() -> None:
    for s in ["A100 SXM4", "昇腾910B", "Ｈ１００"]:
        assert normalise(normalise(s)) == normalise(s)
