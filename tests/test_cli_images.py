"""``capacity train`` / ``serve`` / ``models`` with image models: the issue's commands, end to end."""

from __future__ import annotations

from typing import Any

import pytest


def test_serve_sdxl_for_four_million_images_a_day(cli: Any) -> None:
    run = cli("serve", "--model", "sdxl", "--images-per-day", "4e6", "--steps", "30", "--resolution", "1024",
              "--chip", "h100", "-f", "json")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    d = run.json()
    for key in (
        "seconds_per_image",
        "images_per_s_per_gpu",
        "gpus",
        "cost_usd_per_image",
        "energy_wh_per_image",
    ):
        assert d[key] > 0
    # hand check: the fleet covers the average load at under 100 % utilisation
    assert d["gpus"] * d["images_per_s_per_gpu"] >= 4e6 / 86400
    assert d["steps"] == 30 and d["resolution"] == 1024


def test_train_sd15_like_the_issue(cli: Any) -> None:
    run = cli("train", "--model", "sd-1.5", "--images", "2.3B", "--resolution", "512", "--chip", "a100",
              "--gpus", "256", "-f", "json")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    d = run.json()
    assert d["images"] == 2.3e9 and d["gpus"] == 256
    assert d["cost_usd"] == pytest.approx(d["gpu_hours"] * d["gpu_hour_usd"])
    assert {r["run"] for r in d["published_runs_on_chip"]} >= {"sd-v1"}


def test_batch_and_precision_as_for_language_models(cli: Any) -> None:
    one = cli("serve", "--model", "sd-1.5", "--chip", "a100", "-f", "json").json()
    eight = cli("serve", "--model", "sd-1.5", "--chip", "a100", "--max-batch", "8", "-f", "json").json()
    fp8 = cli("serve", "--model", "sdxl", "--chip", "h100", "--precision", "fp8", "-f", "json").json()
    assert eight["images_per_s_per_gpu"] > one["images_per_s_per_gpu"]
    assert eight["seconds_per_image"] == one["seconds_per_image"]  # one image alone is still one image
    assert fp8["precision"] == "fp8" and fp8["weights_gb"] < 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--model", "sdxl", "--chip", "h100", "--input-tokens", "5"], "--input-tokens does not"),
        (["train", "--model", "sdxl", "--chip", "h100", "--tokens", "1T"], "--tokens does not"),
        (["train", "--model", "sdxl", "--chip", "h100", "--gpus", "8"], "--images"),
        (["serve", "--model", "llama2-70b", "--chip", "h100", "--images-per-day", "5"], "language model"),
        (["serve", "--chip", "h100", "--steps", "5"], "needs --model"),
        (["serve", "--model", "sdx", "--chip", "h100", "--steps", "5"], "did you mean sdxl"),
        (["serve", "--model", "sdxl", "--chip", "h100", "--resolution", "1000"], "multiples of 32"),
        (["serve", "--model", "sdxl", "--chip", "h100", "--steps", "0"], "--steps"),
        (["serve", "--model", "sdxl", "--chip", "h100", "--pareto"], "language models"),
        (["train", "--model", "sd-1.5", "--images", "1B", "--chip", "a100", "--precision", "int8"], "int"),
    ],
)  # fmt: skip
def test_wrong_flags_are_refused_in_one_line(cli: Any, args: list[str], message: str) -> None:
    run = cli(*args)
    assert run.exit_code == 2
    assert message in run.stderr and run.stderr.count("\n") == 1


def test_models_lists_and_shows_image_presets(cli: Any) -> None:
    listed = cli("models", "--kind", "image", "-f", "json").json()
    assert {m["id"] for m in listed} >= {"sd-1.5", "sdxl", "flux.1-dev"}
    shown = cli("models", "show", "FLUX", "-f", "json").json()
    assert shown["id"] == "flux.1-dev" and shown["computed_denoiser_params"] > 11e9
