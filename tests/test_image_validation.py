"""The image-model defaults are what their fitting data say, and the held-out data say how good they are."""

from __future__ import annotations

import pytest

from capacity.data.catalog import load_chips
from capacity.data.diffusion_data import image_run_mfu, load_diffusion_defaults, run_flops
from capacity.plans.validate_images import (
    fit_inference,
    fit_training,
    latency_rows,
    median_abs_error,
    run_rows,
)

D = load_diffusion_defaults()


def test_the_stored_defaults_are_the_fit_of_the_fitting_set() -> None:
    """specs/diffusion.yaml holds the fit to three digits; a changed fitting row must change them."""
    f, t0 = fit_inference(D)
    assert D.inference_matmul_fraction.value == pytest.approx(f, abs=5e-4)
    assert D.inference_step_overhead_s.value == pytest.approx(t0, abs=5e-5)
    assert D.training_mfu.value == pytest.approx(fit_training(D), abs=5e-4)


def test_fitting_and_held_out_come_from_different_sources() -> None:
    fitting = {m.source.split(":")[0] for m in D.latency if m.set == "fitting"}
    held = {m.source.split(":")[0] for m in D.latency if m.set == "heldout"}
    assert fitting and held and not fitting & held


def test_held_out_latency_error() -> None:
    """docs/image-models.md: median |error| 8 % on nine held-out rows. A regression bound with room for new
    rows, not the issue's target (the next test)."""
    assert median_abs_error(latency_rows(D), "heldout") <= 0.15


@pytest.mark.xfail(
    strict=True,
    reason="issue 17's target, not met: the PyTorch baseline on an H100 is 38 % slower than modelled (t0 "
    "and f are fitted on A100 rows only) and diffusers 0.17's A100 row is 31 % slower",
)
def test_every_single_image_latency_within_30_percent() -> None:
    single = [r for r in latency_rows(D) if r.set == "heldout" and r.batch == 1]
    assert all(abs(r.error) <= 0.3 for r in single), [(r.chip, r.stack, round(r.error, 2)) for r in single]


def test_the_sd_v1_card_by_hand() -> None:
    """SD v1: 237k steps at 256 px and 1,724k at 512 px of batch 2048 on 150,000 A100-hours (model card).
    At ~3.5 TFLOPs per 512-px image that is ~1.3e22 FLOPs: about 7.7 % of 312 TFLOPS x 150,000 h."""
    run = next(r for r in D.runs if r.id == "sd-v1")
    assert run.stages[1].images == 1_724_000 * 2048
    assert run_flops(run) == pytest.approx(1.29e22, rel=0.02)
    assert image_run_mfu(run, load_chips().get(run.chip)) == pytest.approx(0.0767, abs=0.001)


def test_the_model_cards_are_slower_than_the_default() -> None:
    """The gap docs/image-models.md explains: the cards imply under half the fitted MFU."""
    for row in run_rows(D):
        if row.set == "heldout":
            assert row.implied_mfu < D.training_mfu.value / 2
