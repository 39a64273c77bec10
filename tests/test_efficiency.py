"""The default-efficiency data: the stored whole-model factor is what the published runs give, and the
matmul fractions come from published measurements against the catalogue's own peaks."""

from __future__ import annotations

import pytest

from capacity.assumptions import load_efficiency
from capacity.catalog import load_chips, load_runs
from capacity.efficiency import default_mfu, implied_mfu, matmul_fraction, whole_model_factor_from_runs

CHIPS, EFF = load_chips(), load_efficiency()


def test_stored_factor_matches_the_runs() -> None:
    factor, per_run = whole_model_factor_from_runs(load_runs(), CHIPS, EFF)
    assert len(per_run) >= 10
    assert EFF.whole_model_factor.value == pytest.approx(factor, abs=0.01), "update specs/efficiency.yaml"


def test_implied_mfu_of_gpt3_matches_patterson() -> None:
    run = next(r for r in load_runs() if r.id == "gpt3-175b")
    assert implied_mfu(run, CHIPS.get("v100")) == pytest.approx(0.197, abs=0.002)  # 24.6 of 125 TFLOPS


@pytest.mark.parametrize(
    ("chip", "dtype", "fraction"),
    [
        ("a100", "bf16", 271.2 / 312),  # MAMF table
        ("h100", "bf16", 794.5 / 989.4),
        ("h100", "fp8", 1402.6 / 1978.9),
        ("h800", "bf16", 794.5 / 989.4),  # same silicon
        ("gaudi3", "bf16", 1243.0 / 1835),  # against Intel's 1835, not MAMF's 1677
    ],
)
def test_measured_fractions(chip: str, dtype: str, fraction: float) -> None:
    frac = matmul_fraction(CHIPS.get(chip), dtype, EFF)  # type: ignore[arg-type]
    assert frac.measured and frac.value == pytest.approx(fraction, rel=1e-3)


def test_fp8_default_is_a_lower_fraction_of_its_peak_than_bf16() -> None:
    for chip in ("h100", "h200", "b200", "gaudi2", "mi300x", "h20"):
        c = CHIPS.get(chip)
        assert default_mfu(c, "fp8", EFF).mfu < default_mfu(c, "bf16", EFF).mfu, chip


def test_unmeasured_non_nvidia_chips_get_the_cautious_fallback() -> None:
    frac = matmul_fraction(CHIPS.get("910B"), "fp16", EFF)
    assert not frac.measured and frac.value == 0.60
    assert default_mfu(CHIPS.get("910B"), "fp16", EFF).mfu < default_mfu(CHIPS.get("a100"), "fp16", EFF).mfu


def test_every_measurement_names_catalogue_chips_with_that_dtype() -> None:
    for m in EFF.matmul_measurements:
        for chip_id in m.chips:
            chip = CHIPS.get(chip_id)
            for dtype in m.dtypes:
                peak = chip.dense_peak(dtype)
                assert peak is not None and m.measured_tflops <= peak, (chip_id, dtype)
