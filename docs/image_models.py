"""Regenerate the tables in docs/image-models.md from the image-model code and specs/diffusion.yaml.

Usage: python docs/image_models.py           (rewrites the tables between the BEGIN/END markers)
       python docs/image_models.py --check   (exit 1 if docs/image-models.md is out of date)
"""

from __future__ import annotations

import sys
from pathlib import Path

from capacity.core.markers import regenerate, replace_blocks
from capacity.data.catalog import load_image_models
from capacity.data.diffusion_data import load_diffusion_defaults
from capacity.formulas.diffusion import denoiser_tally, image_flops
from capacity.plans.validate_images import (
    fit_inference,
    fit_training,
    latency_rows,
    median_abs_error,
    run_rows,
)

DOC = Path(__file__).resolve().with_name("image-models.md")


def pct(x: float) -> str:
    return f"{x:+.0%}"


def presets() -> list[str]:
    out = [
        "| model | denoiser | stated params | counted | resolution | steps × passes | TFLOPs per step | "
        "TFLOPs per image | share in denoiser |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in load_image_models():
        parts = image_flops(m, m.resolution)
        step = m.guidance_passes * parts.denoiser_step
        per_image = parts.inference(m.steps, m.guidance_passes)
        counted = denoiser_tally(m, m.resolution).params
        out.append(
            f"| {m.id} | {m.denoiser.type} | {m.denoiser.params / 1e9:.3g}B | {counted / 1e9:.3g}B | "
            f"{m.resolution} | {m.steps} × {m.guidance_passes} | {step / 1e12:.2f} | "
            f"{per_image / 1e12:,.1f} | {m.steps * m.guidance_passes * parts.denoiser_step / per_image:.0%} |"
        )
    return out


def latency() -> list[str]:
    d = load_diffusion_defaults()
    f, t0 = fit_inference(d)
    rows = latency_rows(d)
    out = [
        f"Fitted: f = {f:.3f} of the dense peak, t₀ = {t0 * 1000:.1f} ms per step "
        f"(specs/diffusion.yaml holds {d.inference_matmul_fraction.value:g} and "
        f"{d.inference_step_overhead_s.value * 1000:g} ms).",
        "",
        "| model | chip | px | steps | batch | stack | set | published s | capacity s | error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.model} | {r.chip} | {r.resolution} | {r.steps} | {r.batch} | {r.stack} | {r.set} | "
            f"{r.measured_s:g} | {r.predicted_s:.2f} | {pct(r.error)} |"
        )
    held = [r for r in rows if r.set == "heldout"]
    single = [r for r in held if r.batch == 1]
    inside = sum(abs(r.error) <= 0.3 for r in single)
    out += [
        "",
        f"Held out: median |error| {median_abs_error(rows, 'heldout'):.0%} over {len(held)} rows; "
        f"single images (batch 1): {inside} of {len(single)} within 30 %.",
    ]
    return out


def training() -> list[str]:
    d = load_diffusion_defaults()
    out = [
        f"Fitted: MFU {fit_training(d):.3f} (specs/diffusion.yaml holds {d.training_mfu.value:g}).",
        "",
        "| run | set | chip | published A100-hours | implied MFU | capacity's hours at the default | error |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in run_rows(d):
        out.append(
            f"| {r.run} | {r.set} | {r.chip} | {r.accelerator_hours:,.0f} | {r.implied_mfu:.3f} | "
            f"{r.predicted_hours:,.0f} | {pct(r.error)} |"
        )
    return out


def render(doc: str) -> str:
    blocks = {"presets": presets(), "latency": latency(), "training": training()}
    return replace_blocks(doc, blocks, str(DOC))


def main(argv: list[str]) -> int:
    return regenerate(DOC, render, argv, "docs/image_models.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
