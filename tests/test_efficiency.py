"""The efficiency data: matmul fractions come from published measurements against the catalogue's own
peaks, and the modelled MFU follows them."""

from __future__ import annotations

import pytest

from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips, load_runs
from capacity.data.efficiency import implied_mfu, matmul_fraction
from capacity.estimate.train import TrainRequest, estimate_training

CHIPS, EFF = load_chips(), load_efficiency()


def _mfu(chip: str, dtype: str) -> float:
    req = TrainRequest(params=70e9, tokens=2e12, chip=CHIPS.get(chip), gpus=512, precision=dtype)  # type: ignore[arg-type]
    mfu = estimate_training(req, load_assumptions(), EFF).mfu
    assert mfu is not None
    return mfu


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
        assert _mfu(chip, "fp8") < _mfu(chip, "bf16"), chip


def test_unmeasured_non_nvidia_chips_get_the_cautious_fallback() -> None:
    frac = matmul_fraction(CHIPS.get("910B"), "fp16", EFF)
    assert not frac.measured and frac.value == 0.60
    assert _mfu("910B", "fp16") < _mfu("a100", "fp16")


def test_every_measurement_names_catalogue_chips_with_that_dtype() -> None:
    for m in EFF.matmul_measurements:
        for chip_id in m.chips:
            chip = CHIPS.get(chip_id)
            for dtype in m.dtypes:
                peak = chip.dense_peak(dtype)
                assert peak is not None and m.measured_tflops <= peak, (chip_id, dtype)
