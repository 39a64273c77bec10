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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("kind: serve\nmodel: sdxl\nimages_per_day: 1e6\nhardware: {chip: h100}\n"
         "limits: {max_cost_usd_per_query: 1}",
         "do(es) not apply to an image serve scenario"),
        ("kind: serve\nmodel: sdxl\npeak_to_average: 2\nhardware: {chip: h100}", "needs images_per_day"),
        ("kind: train\nmodel: sd-1.5\nimages: 1e9\nparallel: {tp: 8}\nhardware: {chip: a100, gpus: 8}",
         "parallel is for language models"),
        ("kind: train\nmodel: sd-1.5\nimages: 1e9\nhardware: {chip: a100, gpus: 8, deadline_days: 3}",
         "give one of hardware.gpus"),
        ("kind: serve\nmodel: llama2-7b\ninput_tokens: 10\noutput_tokens: 10\n"
         "hardware: {chip: h100, cluster: dc-500p}",
         "hardware.cluster and procurement are for train scenarios"),
        ("kind: train\nmodel: gpt3-175b\ntokens: 3e11\nsweep: {hardware.cluster: [dc-500p, nosuch]}",
         "unknown cluster 'nosuch'"),
        ("kind: train\nmodel: gpt3-175b\ntokens: 3e11\nhardware: {chip: a100, gpus: 8}\n"
         "report: {id: S-1, claim: x, figures: [{metric: nosuch, claimed: 1}]}", "'nosuch' is not a field"),
        ("kind: train\nmodel: gpt3-175b\ntokens: 3e11\nhardware: {chip: a100, gpus: 8}\n"
         "report: {id: S-1, claim: x, figures: [{metric: pf_days, claimed: 0}]}", "greater than 0"),
    ],
)  # fmt: skip
def test_scenario_fields_that_would_be_ignored_are_refused(
    cli: Any, tmp_path: Any, body: str, message: str
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: p\n" + body + "\n")
    run = cli("check", str(plan))
    assert run.exit_code == 2 and message in run.stderr, run.stderr


def test_an_image_model_trains_on_a_named_cluster(cli: Any) -> None:
    """Stability's 4,000 A100 at the SD v1 card's efficiency: 150,000 A100-hours / 4,000 = 1.6 days."""
    d = cli("train", "--model", "sd-1.5", "--images", "3.5308B", "--cluster", "stability-4000-a100", "--mfu",
            "0.0767", "-f", "json").json()  # fmt: skip
    assert d["gpus"] == 4000 and d["chip"] == "a100-sxm4-40gb"
    assert d["wall_clock_days"] == pytest.approx(1.5, rel=0.1)


def test_compare_image_serving_across_chips(cli: Any) -> None:
    """Chips side by side for SDXL serving: the H100's 3.2x dense peak over the A100 makes an image faster,
    but by less than 3.2x (the per-step overhead does not shrink)."""
    run = cli("compare", "--chips", "h100,a100,910b", "--model", "sdxl", "--steps", "30", "--images-per-day",
              "4e6", "-f", "json")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    rows = {r["chip"]: r for r in run.json()}
    ratio = rows["a100-sxm4-80gb"]["seconds_per_image"] / rows["h100-sxm5-80gb"]["seconds_per_image"]
    assert 1.5 < ratio < 989.4 / 312
    h100 = rows["h100-sxm5-80gb"]
    assert h100["images_per_usd"] == pytest.approx(1 / h100["cost_usd_per_image"])


def test_compare_image_training_needs_a_size(cli: Any) -> None:
    run = cli("compare", "--chips", "h100,a100", "--model", "sd-1.5", "--images", "1B")
    assert run.exit_code == 2 and "--gpus" in run.stderr


def test_an_image_model_file_is_read_as_an_image_model(cli: Any, tmp_path: Any) -> None:
    """A copy of a preset given as a path, on the command line and relative to a scenario file; a broken
    one is checked against the one denoiser schema its type names (hostile sweep)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "specs" / "image_models" / "sdxl.yaml").read_text()
    mine = tmp_path / "mine.yaml"
    mine.write_text(text.replace("id: sdxl", "id: my-sdxl"))
    d = cli("serve", "--model", str(mine), "--chip", "h100", "--steps", "30", "-f", "json").json()
    assert d["model"] == "my-sdxl" and d["seconds_per_image"] > 0
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "name: p\nkind: serve\nmodel: mine.yaml\nsteps: 30\nimages_per_day: 1e6\nhardware: {chip: h100}\n"
    )
    assert cli("check", str(plan)).exit_code == 0
    mine.write_text(text.replace("in_channels: 4", "in_channels: 0"))
    run = cli("serve", "--model", str(mine), "--chip", "h100")
    assert run.exit_code == 2 and run.stderr.count("\n") == 1 and "denoiser.in_channels" in run.stderr


def test_a_vanishing_daily_load_in_a_scenario_is_refused(cli: Any, tmp_path: Any) -> None:
    """5e-324 images a day divided into zero (exit 4, hostile sweep); the flag already refused it."""
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: p\nkind: serve\nmodel: sdxl\nimages_per_day: 5.0e-324\nhardware: {chip: h100}\n")
    run = cli("check", str(plan))
    assert run.exit_code == 2 and "images_per_day" in run.stderr


def test_image_training_explains_its_chain(cli: Any) -> None:
    """`--explain` works for image models as for language models: the factors multiply back to the answer
    (days = images x FLOPs per image / (GPUs x peak x MFU)), and the MFU's range is what the three published
    Stable Diffusion runs imply (0.073 to the fitted 0.187: GPU-hours x1.00 to about x2.6)."""
    base = ["--model", "sd-1.5", "--images", "2e9", "--resolution", "512", "--chip", "a100", "--gpus", "256"]
    data = cli("train", *base, "--explain", "-f", "json").json()
    chain = {row["factor"]: row for row in data["explanation"]}
    value = {name.split(" (")[0].split(" at ")[0]: row["value"] for name, row in chain.items()}
    days = (
        value["training images"]
        * value["FLOPs per image"]
        / (value["GPUs"] * value["dense peak"] * 1e12 * value["MFU"] * 86400)
    )
    assert days == pytest.approx(data["wall_clock_days"], rel=1e-9)
    assert chain["MFU"]["range_effect"].startswith("GPU-hours x1.00 to x2.5")
    assert chain["GPUs"]["elasticity"] == -1 and "GPU-hours stay" in chain["GPUs"]["moves"]
    assert {"price per GPU-hour", "PUE", "grid carbon intensity"} <= set(chain)
    table = cli("explain", *base)
    assert table.exit_code == 0 and "Why: the chain of factors" in table.stdout
    assert "Published image-model runs" in table.stdout  # the explanation comes after, not instead
    given = cli("train", *base, "--mfu", "0.1", "--explain", "-f", "json").json()
    mfu = next(row for row in given["explanation"] if row["factor"] == "MFU")
    assert mfu["value"] == 0.1 and mfu["range_effect"] is None and "--mfu" in mfu["source"]


def test_image_training_refuses_what_only_language_models_have(cli: Any) -> None:
    base = ["--model", "sd-1.5", "--images", "2e9", "--resolution", "512", "--chip", "a100", "--gpus", "256"]
    for flag in (["--uncertainty"], ["--layouts", "3"]):
        run = cli("train", *base, *flag)
        assert run.exit_code == 2 and "--layouts and --uncertainty are for language models" in run.stderr
