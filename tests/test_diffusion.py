"""Image models: FLOPs and parameters counted from the architecture, checked against published counts;
training and serving estimates against hand arithmetic and invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.data.assumptions import load_assumptions, load_serving_defaults
from capacity.data.catalog import load_chips, load_image_models
from capacity.data.diffusion_data import load_diffusion_defaults
from capacity.estimate.image_serve import ImageServeRequest, batch_seconds, estimate_image_serving
from capacity.estimate.image_train import ImageTrainRequest, estimate_image_training
from capacity.formulas.diffusion import (
    Tally,
    denoiser_tally,
    image_flops,
    vae_decoder_tally,
    vae_encoder_tally,
)

MODELS = load_image_models()
CHIPS = load_chips()


def test_a_convolution_and_a_linear_layer_by_hand() -> None:
    t = Tally()
    t.conv(4, 320, 3, 64 * 64)  # SD's conv_in at a 64x64 latent
    assert t.macs == 64 * 64 * 9 * 4 * 320
    assert t.params == 9 * 4 * 320 + 320
    t.linear(768, 640, 77, bias=False)
    assert t.macs == 64 * 64 * 9 * 4 * 320 + 77 * 768 * 640


@pytest.mark.parametrize("model", [m.id for m in MODELS])
def test_the_architecture_walk_counts_the_stated_parameters(model: str) -> None:
    """The same walk that counts FLOPs counts parameters: within 1 % of what the authors state (UNets and
    VAEs exactly: SD 1.5's UNet is 859,520,964 and its VAE 83,653,863 in diffusers)."""
    m = MODELS.get(model)
    counted = denoiser_tally(m, m.resolution).params
    assert counted == pytest.approx(m.denoiser.params, rel=0.01)
    side = m.resolution // m.vae.downsample
    vae = (
        vae_decoder_tally(m.vae, side, side).params
        + vae_encoder_tally(m.vae, m.resolution, m.resolution).params
    )
    assert vae == pytest.approx(m.vae.params, rel=0.002)


def test_sd15_unet_parameters_exactly() -> None:
    assert denoiser_tally(MODELS.get("sd-1.5"), 512).params == 859_520_964


def test_sd15_flops_match_nvidias_and_onnx_tools_counts() -> None:
    """NVIDIA's TensorRT slides (seed: 'Stable Diffusion 推理加速技巧解析', B=1, 64x64 latent): UNet 1.67952
    TFLOPs per step with guidance, VAE decoder 2.53933 TFLOPs, 83.976 TFLOPs for 50 steps; onnx-tool's
    SD 1.4 export: VAE decoder 1,271,959 M MACs. Ours leaves out normalisations and activations (a few %)."""
    m = MODELS.get("sd-1.5")
    parts = image_flops(m, 512)
    assert 2 * parts.denoiser_step == pytest.approx(1.67952e12, rel=0.06)
    assert parts.vae_decode == pytest.approx(2.53933e12, rel=0.02)
    assert parts.vae_decode / 2 == pytest.approx(1.271959e12, rel=0.02)
    assert parts.inference(50, 2) == pytest.approx(83.976e12, rel=0.03)


def test_attention_grows_faster_than_pixels() -> None:
    """Convolutions scale with the pixel count, self-attention with its square: 4x the pixels costs more
    than 4x and, at SD 1.5's sizes, well under 8x."""
    m = MODELS.get("sd-1.5")
    ratio = image_flops(m, 1024).denoiser_step / image_flops(m, 512).denoiser_step
    assert 4.0 < ratio < 8.0


def test_a_dit_step_is_about_two_flops_per_parameter_per_token() -> None:
    """A transformer's forward is ~2·N per token (Kaplan et al. 2020) plus attention; FLUX.1's adaLN
    weights act on one conditioning vector, so its per-token cost is under 2 x 11.9B."""
    m = MODELS.get("flux.1-dev")
    tokens = (1024 // 16) ** 2 + 512
    step = image_flops(m, 1024).denoiser_step
    assert 2 * 6.4e9 * tokens < step < 2 * m.denoiser.params * tokens * 1.3


def _train(**kw: object) -> ImageTrainRequest:
    base: dict[str, object] = {"model": MODELS.get("sd-1.5"), "images": 1e9, "resolution": 512,
                               "chip": CHIPS.get("a100-sxm4-80gb"), "gpus": 256}  # fmt: skip
    return ImageTrainRequest(**{**base, **kw})  # type: ignore[arg-type]


def test_training_by_hand() -> None:
    """Wall clock = images x FLOPs per image / (GPUs x peak x MFU); cost = GPU-hours x price."""
    est = estimate_image_training(_train(mfu=0.25), load_assumptions(), load_diffusion_defaults())
    per_image = image_flops(MODELS.get("sd-1.5"), 512).training()
    assert est.training_flops == pytest.approx(1e9 * per_image)
    seconds = 1e9 * per_image / (256 * 312e12 * 0.25)
    assert est.wall_clock_days == pytest.approx(seconds / 86400)
    assert est.gpu_hours == pytest.approx(seconds * 256 / 3600)
    assert est.cost_usd == pytest.approx(est.gpu_hours * est.gpu_hour_usd)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=20_000), st.integers(min_value=1, max_value=20_000))
def test_more_gpus_are_never_slower(a: int, b: int) -> None:
    defaults, assumptions = load_diffusion_defaults(), load_assumptions()
    lo, hi = sorted((a, b))
    slow = estimate_image_training(_train(gpus=lo), assumptions, defaults)
    fast = estimate_image_training(_train(gpus=hi), assumptions, defaults)
    assert fast.wall_clock_days <= slow.wall_clock_days  # type: ignore[operator]


def test_a_deadline_is_met_on_whole_nodes() -> None:
    est = estimate_image_training(
        _train(gpus=None, deadline_days=5.0), load_assumptions(), load_diffusion_defaults()
    )
    assert est.gpus is not None and est.gpus % 8 == 0
    assert est.wall_clock_days <= 5.0  # type: ignore[operator]
    fewer = estimate_image_training(_train(gpus=est.gpus - 8), load_assumptions(), load_diffusion_defaults())
    assert fewer.wall_clock_days > 5.0  # type: ignore[operator]


def test_flux_needs_sharding_to_train() -> None:
    """12B trained with mixed-precision Adam is ~16 B/param: over 200 GB, more than one 80 GB chip."""
    est = estimate_image_training(
        _train(model=MODELS.get("flux.1-dev"), resolution=1024), load_assumptions(), load_diffusion_defaults()
    )
    assert est.model_state_gb > 200
    assert est.min_gpus_for_memory is not None and est.min_gpus_for_memory >= 3
    assert any("sharded" in w for w in est.warnings)


def _serve(**kw: object) -> ImageServeRequest:
    base: dict[str, object] = {"model": MODELS.get("sdxl"), "chip": CHIPS.get("h100-sxm5-80gb"), "steps": 30}
    return ImageServeRequest(**{**base, **kw})  # type: ignore[arg-type]


def _serving(req: ImageServeRequest):  # type: ignore[no-untyped-def]
    return estimate_image_serving(req, load_assumptions(), load_diffusion_defaults(), load_serving_defaults())


def test_serving_by_hand() -> None:
    """GPUs = ceil(images/day / 86,400 x peak-to-average / images per second per GPU); cost per image =
    price per GPU-second / images per GPU-second at the fleet's utilisation."""
    est = _serving(_serve(images_per_day=4e6, peak_to_average=1.5))
    assert est.gpus == math.ceil(4e6 / 86400 * 1.5 / est.images_per_s_per_gpu)
    assert est.utilisation == pytest.approx(4e6 / 86400 / (est.gpus * est.images_per_s_per_gpu))
    assert est.cost_usd_per_image == pytest.approx(
        est.gpu_hour_usd / 3600 / (est.images_per_s_per_gpu * est.utilisation)
    )
    parts = image_flops(MODELS.get("sdxl"), 1024)
    one = batch_seconds(parts, 30, 2, 1, 989.4, est.matmul_fraction, est.step_overhead_s)
    assert est.seconds_per_image == pytest.approx(one, rel=1e-3)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=256), st.integers(min_value=1, max_value=256))
def test_bigger_batches_never_lower_throughput(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert _serving(_serve(batch=hi)).images_per_s_per_gpu >= _serving(_serve(batch=lo)).images_per_s_per_gpu


def test_more_steps_take_longer_and_cost_more() -> None:
    few, many = _serving(_serve(steps=20)), _serving(_serve(steps=50))
    assert many.seconds_per_image > few.seconds_per_image
    assert many.cost_usd_per_image > few.cost_usd_per_image


def test_weights_that_do_not_fit_are_flagged() -> None:
    est = _serving(_serve(model=MODELS.get("flux.1-dev"), chip=CHIPS.get("l20-48gb"), precision="fp32"))
    assert est.memory_fits is False
    assert any("do not fit" in w for w in est.warnings)
