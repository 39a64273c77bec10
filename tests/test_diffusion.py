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
from capacity.estimate.image_serve import ImageServeRequest, estimate_image_serving
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


def test_unet_parameters_exactly_as_diffusers_counts_them() -> None:
    """sum(p.numel()) of diffusers' UNet2DConditionModel: SD 1.5 859,520,964; SD 2.x 865,910,724; SDXL
    2,567,463,684 (model cards: 860M, 865M, 2.6B). An exact match means the walk builds every layer."""
    assert denoiser_tally(MODELS.get("sd-1.5"), 512).params == 859_520_964
    assert denoiser_tally(MODELS.get("sd-2.1"), 768).params == 865_910_724
    assert denoiser_tally(MODELS.get("sdxl"), 1024).params == 2_567_463_684


def test_vae_and_text_encoder_against_onnx_tool() -> None:
    """onnx-tool's model zoo (SD 1.4 ONNX export): VAE encoder 34.16 M params and 566,371 M MACs at 512 px;
    decoder 49.49 M; CLIP text encoder 6,782 M MACs for 77 tokens. Elementwise ops are not ours (~2 %)."""
    m = MODELS.get("sd-1.5")
    encoder = vae_encoder_tally(m.vae, 512, 512)
    assert encoder.params == pytest.approx(34.16e6, rel=0.001)
    assert encoder.macs == pytest.approx(566_371e6, rel=0.03)
    assert vae_decoder_tally(m.vae, 64, 64).params == pytest.approx(49.49e6, rel=0.001)
    assert image_flops(m, 512).text_encoders / 2 == pytest.approx(6_782e6, rel=0.03)


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


@pytest.mark.parametrize(
    ("model", "flops"),
    [
        # SD3 Medium at 1024 px: d = 1536, 24 joint layers, n = (1024/16)^2 + 77 + 256 = 4,429 tokens.
        # projections 12·d² MACs a token a layer: 28,311,552 x 24 x 4,429 = 3.0093e12 MACs;
        # attention 2·n²·d a layer: 2 x 4,429² x 1,536 x 24 = 1.4462e12; embeddings 0.0029e12 -> x 2 FLOPs
        ("sd3-medium", 2 * (3.0093e12 + 1.4462e12 + 0.0029e12)),
        # FLUX.1 [dev]: d = 3072, 19 + 38 layers, n = 4,096 + 512 = 4,608 tokens
        # 113,246,208 x 57 x 4,608 = 2.9745e13; 2 x 4,608² x 3,072 x 57 = 7.4363e12; embeddings 0.0072e12
        ("flux.1-dev", 2 * (2.9745e13 + 7.4363e12 + 0.0072e12)),
    ],
)
def test_a_dit_step_by_hand(model: str, flops: float) -> None:
    """Hand arithmetic from the transformers' config.json; the adaLN weights (a quarter of FLUX's 12B) act
    on one conditioning vector, not on every token, so a step is far below 2 x 12B x tokens."""
    assert image_flops(MODELS.get(model), 1024).denoiser_step == pytest.approx(flops, rel=0.002)


def _train(**kw: object) -> ImageTrainRequest:
    base: dict[str, object] = {"model": MODELS.get("sd-1.5"), "images": 1e9, "resolution": 512,
                               "chip": CHIPS.get("a100-sxm4-80gb"), "gpus": 256}  # fmt: skip
    return ImageTrainRequest(**{**base, **kw})  # type: ignore[arg-type]


def test_training_by_hand() -> None:
    """One 512-px SD 1.5 training image from independent counts: 3 x NVIDIA's 839.76 GFLOPs UNet pass +
    onnx-tool's VAE encoder (2 x 566.371 GMACs) and CLIP (2 x 6.782 GMACs) = 3.666 TFLOPs. A billion images
    on 256 A100 (312 TFLOPS) at MFU 0.25: 3.666e21 / (256 x 312e12 x 0.25) s = 2.12 days."""
    est = estimate_image_training(_train(mfu=0.25), load_assumptions(), load_diffusion_defaults())
    per_image = 3 * 839.76e9 + 2 * 566.371e9 + 2 * 6.782e9
    assert est.training_flops == pytest.approx(1e9 * per_image, rel=0.05)
    assert est.wall_clock_days == pytest.approx(1e9 * per_image / (256 * 312e12 * 0.25) / 86400, rel=0.05)
    assert est.gpu_hours == pytest.approx(est.wall_clock_days * 24 * 256)
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
    """SD 1.5, 512 px, 50 guided steps on an A100 from NVIDIA's counts (1.67952 TFLOPs a step, 2.53933 the
    VAE decode, 0.02714 the text encoder twice) at the stored f = 0.446 and t0 = 19.9 ms:
    50 x (0.0199 + 1.67952e12 / (312e12 x 0.446)) + 2.594e12 / (312e12 x 0.446) = 1.617 s."""
    est = _serving(_serve(model=MODELS.get("sd-1.5"), chip=CHIPS.get("a100-sxm4-80gb"), steps=50))
    assert est.seconds_per_image == pytest.approx(1.617, rel=0.04)
    fleet = _serving(_serve(images_per_day=4e6, peak_to_average=1.5))
    # GPUs = ceil(images/day / 86,400 x peak-to-average / images per s per GPU); 4e6 a day is 46.3 a second
    assert fleet.gpus == math.ceil(4e6 / 86400 * 1.5 / fleet.images_per_s_per_gpu)
    per_image = fleet.gpu_hour_usd / 3600 / (fleet.images_per_s_per_gpu * fleet.utilisation)
    assert fleet.cost_usd_per_image == pytest.approx(per_image)


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
