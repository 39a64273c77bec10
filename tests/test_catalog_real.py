"""Validate the shipped catalogue against the world: datasheets, physics, and its own rules.

Pinned values are the vendors' dense datasheet figures (NVIDIA A100/H100/V100 datasheets, as listed in
../shared/reference/accelerators.md); the seed reports' mistakes (seed-facts.md §2.1) must not recur.
"""

from __future__ import annotations

import pytest

from capacity.data.catalog import load_chips, normalise
from capacity.records.chip import DTYPES, Chip

CHIPS = list(load_chips())
CANONICAL = [
    "v100-sxm2-32gb", "a100-sxm4-40gb", "a100-sxm4-80gb", "a100-pcie-80gb", "h100-sxm5-80gb",
    "h100-pcie-80gb", "h800-sxm5-80gb", "h20", "h200-sxm-141gb", "tpu-v4", "ascend-910b",
    "mlu370-x8", "enflame-i20",
]  # fmt: skip
NUMERIC_FIELDS = [
    "fp32_dense_tflops", "tf32_dense_tflops", "bf16_dense_tflops", "fp16_dense_tflops", "fp8_dense_tflops",
    "int8_dense_tops", "memory_gb", "memory_bandwidth_gb_s", "inter_node_gbit_s", "tdp_w",
]  # fmt: skip


# Figures no source states as such, each derived and explained in the chip's conflicts.
DERIVED_FIGURES = {
    (
        "ascend-910",
        "memory_bandwidth_gb_s",
    ),  # 4 HBM2 stacks at 2.4 Gb/s: 1,228.8 (Epoch 1,288; llm-infer-cal 1,200)
}


def test_every_reference_chip_is_in_the_catalogue() -> None:
    # accelerators.md's 43 entries and the 2026 systems: GB200/GB300 NVL72, B300, MI325X, MI355X, TPU v6e, v7
    assert len(CHIPS) == 50


@pytest.mark.parametrize("chip_id", CANONICAL)
def test_canonical_ids_exist(chip_id: str) -> None:
    assert load_chips().get(chip_id).id == chip_id


@pytest.mark.parametrize(
    ("alias", "chip_id"),
    [
        ("A100", "a100-sxm4-80gb"),
        ("a100", "a100-sxm4-80gb"),
        ("Ａ１００", "a100-sxm4-80gb"),  # full-width, as typed with a Chinese IME
        ("H100", "h100-sxm5-80gb"),
        ("910B", "ascend-910b"),
        ("昇腾910B", "ascend-910b"),
        ("昇腾９１０Ｂ", "ascend-910b"),
        ("思元370", "mlu370-x8"),
        ("深算二号", "hygon-k100-ai"),
        ("云燧i20", "enflame-i20"),
        ("V100", "v100-sxm2-32gb"),
        ("H800", "h800-sxm5-80gb"),
        ("nvidia-h100-sxm5-80gb", "h100-sxm5-80gb"),  # the reference file's own ids
    ],
)
def test_aliases_resolve_to_default_variants(alias: str, chip_id: str) -> None:
    assert load_chips().get(alias).id == chip_id


@pytest.mark.parametrize(
    ("chip_id", "field", "value"),
    [
        ("a100-sxm4-80gb", "bf16_dense_tflops", 312),  # NVIDIA A100 datasheet: 312 (624 with sparsity)
        ("a100-sxm4-80gb", "fp16_dense_tflops", 312),  # not 156: that is TF32 (seed-facts §2.1)
        ("a100-sxm4-80gb", "tf32_dense_tflops", 156),
        ("a100-sxm4-80gb", "memory_bandwidth_gb_s", 2039),
        ("h100-sxm5-80gb", "bf16_dense_tflops", 989.4),  # datasheet 1,979 with sparsity
        ("h100-sxm5-80gb", "memory_bandwidth_gb_s", 3350),
        ("h100-pcie-80gb", "fp16_dense_tflops", 756),  # not 1,513: that is the sparse figure
        ("h100-pcie-80gb", "fp8_dense_tflops", 1513),
        ("v100-sxm2-32gb", "fp16_dense_tflops", 125),
        ("v100-sxm2-32gb", "memory_bandwidth_gb_s", 900),
        ("h20", "bf16_dense_tflops", 148),
        ("h20", "memory_gb", 96),
        ("mi300x", "bf16_dense_tflops", 1307.4),  # AMD lists dense and sparse separately
        ("tpu-v4", "bf16_dense_tflops", 275),
    ],
)
def test_pinned_datasheet_values(chip_id: str, field: str, value: float) -> None:
    assert getattr(load_chips().get(chip_id), field) == pytest.approx(value, abs=0.05)


@pytest.mark.parametrize("chip", CHIPS, ids=lambda c: c.id)
class TestEveryChip:
    def test_dense_never_exceeds_sparse_headline(self, chip: Chip) -> None:
        for dtype in DTYPES:
            dense, sparse = chip.dense_peak(dtype), chip.sparse_peak(dtype)
            if dense is not None and sparse is not None:
                assert dense <= sparse, dtype

    def test_sparse_headline_is_twice_dense_when_vendor_quotes_sparsity(self, chip: Chip) -> None:
        # 2:4 structured sparsity doubles the math rate; when the headline is sparse, dense = headline / 2.
        # Within 1.5 %: NVIDIA's L40S datasheet itself prints BF16 362.05 dense and 733 sparse (2.025x).
        if chip.sparse_headline.vendor_headline_is_sparse:
            pairs = [(chip.dense_peak(d), chip.sparse_peak(d)) for d in DTYPES if chip.sparse_peak(d)]
            assert pairs, "a sparse headline must list its figures"
            for dense, sparse in pairs:
                assert dense is not None and sparse == pytest.approx(2 * dense, rel=0.015)
        else:
            assert all(chip.sparse_peak(d) is None for d in DTYPES)

    def test_fp8_at_least_bf16(self, chip: Chip) -> None:
        if chip.fp8_dense_tflops is not None and chip.bf16_dense_tflops is not None:
            assert chip.fp8_dense_tflops >= chip.bf16_dense_tflops

    def test_tensor_peaks_at_least_vector_fp32(self, chip: Chip) -> None:
        fp32 = chip.fp32_dense_tflops
        for dtype in ("bf16", "fp16"):
            peak = chip.dense_peak(dtype)
            if fp32 is not None and peak is not None:
                assert peak >= fp32, dtype

    def test_plausible_ranges(self, chip: Chip) -> None:
        if chip.memory_bandwidth_gb_s is not None:
            assert 300 <= chip.memory_bandwidth_gb_s <= 10_000
        if chip.tdp_w is not None:
            assert 75 <= chip.tdp_w <= 1_500
        if chip.memory_gb is not None:
            assert 8 <= chip.memory_gb <= 300
        if chip.intra_node.bandwidth_gb_s is not None:
            assert 10 <= chip.intra_node.bandwidth_gb_s <= 2_000
        for dtype in DTYPES:
            peak = chip.dense_peak(dtype)
            assert peak is None or 1 <= peak <= 10_000

    def test_every_number_is_sourced(self, chip: Chip) -> None:
        assert chip.sources, "at least one source"
        for field in NUMERIC_FIELDS:
            if getattr(chip, field) is not None:
                assert chip.sources_for(field), f"{field} has no source"
        if chip.launch_price is not None:
            assert chip.launch_price.source and chip.launch_price.date
        for price in chip.cloud_prices:
            assert price.source and price.date

    def test_every_figure_names_the_sources_that_state_it(self, chip: Chip) -> None:
        # Per-field provenance (issue 13): a record-wide source list is not enough; each figure is named by a
        # source whose `fields` lists it, so `chips show` never credits a price page with a TFLOPS figure.
        for field in NUMERIC_FIELDS:
            if getattr(chip, field) is not None and (chip.id, field) not in DERIVED_FIGURES:
                assert any(field in s.fields for s in chip.sources), f"{field}: no source lists it"

    def test_topology_fields_are_consistent(self, chip: Chip) -> None:
        link = chip.intra_node
        if link.topology == "bridged-pairs":  # an NVLink bridge joins two cards; the rest is PCIe
            assert link.domain == 2 and link.beyond_domain_gb_s is not None
        if link.topology == "full-mesh":  # a direct link to every peer of the baseboard
            assert link.domain is not None and 2 < link.domain <= 16
        if link.topology == "torus":  # a pod of hundreds or thousands of chips
            assert link.domain is not None and link.domain >= 64
        if link.topology == "pcie":  # no scale-up link: at most a PCIe Gen5 x16 pair of directions
            assert link.domain is None and (link.bandwidth_gb_s or 0) <= 128
        if link.domain is not None and link.domain > 2:
            assert link.topology in ("switch", "full-mesh", "torus"), "a multi-chip domain needs a kind"
        if link.beyond_domain_gb_s is not None and link.bandwidth_gb_s is not None:
            assert link.beyond_domain_gb_s < link.bandwidth_gb_s

    def test_domestic_chips_need_no_us_licence_in_china(self, chip: Chip) -> None:
        if chip.domestic_china:
            assert chip.export_control.us_licence_for_china == "not-applicable"


def test_ids_and_aliases_are_unique_after_normalisation() -> None:
    seen: dict[str, str] = {}
    for chip in CHIPS:
        for name in [chip.id, *chip.aliases]:
            owner = seen.setdefault(normalise(name), chip.id)
            assert owner == chip.id, f"{name!r} names {owner} and {chip.id}"


def test_china_market_skus_have_cut_links_not_cut_compute() -> None:
    # A800/H800 kept A100/H100 compute and lost NVLink bandwidth (600→400, 900→400 GB/s).
    get = load_chips().get
    assert get("a800").bf16_dense_tflops == get("a100").bf16_dense_tflops
    assert get("h800").bf16_dense_tflops == get("h100").bf16_dense_tflops
    assert get("a800").intra_node.bandwidth_gb_s == 400 < get("a100").intra_node.bandwidth_gb_s
    assert get("h800").intra_node.bandwidth_gb_s == 400 < get("h100").intra_node.bandwidth_gb_s
