"""Named clusters and data centres, nameplate warnings, and a stated spend (seed-facts.md S-8, S-9, S-14)."""

from __future__ import annotations

from typing import Any

import pytest

import capacity
from capacity.data.catalog import load_chips, load_clusters


def test_every_cluster_names_a_catalogue_chip_or_a_nameplate() -> None:
    chips = load_chips()
    for c in load_clusters():
        if c.chip is not None:
            chips.get(c.chip)
        assert (c.chip is None) == (c.nameplate_pflops is not None)
        assert c.sources


def test_superpod_peak_by_hand() -> None:
    """140 DGX A100 x 8 GPUs x 312 dense TFLOPS = 349.4 PFLOPS (seed-facts.md S-8)."""
    c = load_clusters().get("dgx-superpod-a100")
    assert c.count == 140 * 8
    est = capacity.estimate_training(model="gpt3-175b", tokens=300e9, cluster=c.id, mfu=0.4)
    assert est.aggregate_peak_pflops == pytest.approx(349.44)
    assert est.cluster == c.id and est.gpus == 1120


def test_an_assumed_chip_is_said() -> None:
    est = capacity.estimate_training(model="gpt3-175b", tokens=300e9, cluster="china-sota-1000-gpus", mfu=0.4)
    assert any("only a card count" in w for w in est.warnings)


def test_a_nameplate_is_always_flagged_and_read_as_chips_when_one_is_given() -> None:
    bare = capacity.estimate_training(model="gpt3-175b", tokens=300e9, capacity_pflops=500)
    assert any("nameplate" in w for w in bare.warnings)
    assert bare.data_centre_days_at_peak == pytest.approx(bare.pf_days / 500)
    a100 = capacity.estimate_training(
        model="gpt3-175b", tokens=300e9, capacity_pflops=500, chip="a100", mfu=0.4
    )
    chips = round(500_000 / 312)
    assert any(f"{chips:,} x a100" in w for w in a100.warnings)
    # DGX A100: 6.5 kW for 8 GPUs, times the default PUE 1.25
    assert a100.facility_power_mw == pytest.approx(chips * 6500 / 8 * 1.25 / 1e6)


def test_a_stated_spend_by_hand() -> None:
    est = capacity.estimate_training(
        model="gpt3-175b", tokens=300e9, chip="a100-sxm4-40gb", gpus=20000, mfu=0.4, capex_usd=3e8,
        it_capex_share=0.8,
    )  # fmt: skip
    assert est.implied_usd_per_gpu == pytest.approx(3e8 * 0.8 / 20000)
    assert est.facility_capex_usd == pytest.approx(3e8 * 0.2)
    assert est.capex_usd_per_pflops == pytest.approx(3e8 / (20000 * 0.312))
    chip = load_chips().get("a100-sxm4-40gb")
    assert chip.launch_price is not None
    reference = chip.launch_price.usd * 1.7 * 1.2 / 0.312  # Epoch's server and network factors
    assert est.reference_capex_usd_per_pflops == pytest.approx(reference)
    # IT against IT: the reference is servers and network, so it is set against the IT share
    assert est.capex_vs_reference == pytest.approx(3e8 * 0.8 / (20000 * 0.312) / reference)


def test_a_nameplate_alone_gives_the_spend_per_pflops() -> None:
    """The reports' check needs no chip: ¥3.02B over 500 PFLOPS is ¥6.04M per PF."""
    est = capacity.estimate_training(model="gpt3-175b", tokens=300e9, cluster="dc-500p")
    assert est.capex_usd_per_pflops == pytest.approx(3.02e9 / 7.2 / 500)
    assert est.implied_usd_per_gpu is None


def test_a_data_centres_investment_is_converted_at_the_rate() -> None:
    """The reports' ¥3.02B for 500P is ¥6.04M per PF; at 7.2 CNY/USD, $839k."""
    est = capacity.estimate_training(model="gpt3-175b", tokens=300e9, cluster="dc-500p", chip="a100", mfu=0.4)
    assert est.capex_given_usd == pytest.approx(3.02e9 / 7.2)
    chips = round(500_000 / 312)
    assert est.capex_usd_per_pflops == pytest.approx(3.02e9 / 7.2 / (chips * 0.312))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster", "stability-4000-a100", "--gpus", "8"], "fixes the size"),
        (["--cluster", "stability-4000-a100", "--chip", "h100"], "drop --chip"),
        (["--cluster", "stabilty"], "did you mean stability-4000-a100"),
        (["--cluster", "dc-500p", "--capacity-pflops", "5"], "fixes the size"),
    ],
)
def test_cluster_conflicts_are_refused(cli: Any, args: list[str], message: str) -> None:
    run = cli("train", "--model", "gpt3-175b", "--tokens", "300B", *args)
    assert run.exit_code == 2 and message in run.stderr


def test_clusters_command(cli: Any) -> None:
    rows = cli("clusters", "-f", "json").json()
    assert {r["id"] for r in rows} >= {"msft-openai-10k-v100", "dc-500p", "stability-4000-a100"}
    table = cli("clusters", "-f", "csv").stdout
    assert "stability-4000-a100,Stability AI,a100-sxm4-40gb,4000,False,1248.0," in table
