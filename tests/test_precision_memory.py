"""FP8 activations, bf16 gradient reduction and the interleaved-width search (issue 11, second pass)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from capacity.cli import app
from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.data.catalog import load_chips, load_models, load_steady_runs
from capacity.estimate.train import TrainRequest, estimate_training
from capacity.formulas import memory, shape
from capacity.formulas.step_time import ChipRates, step_terms
from capacity.records.parallel import Layout, ParallelSpec

runner = CliRunner()


def test_fp8_keeps_gemm_inputs_in_one_byte() -> None:
    """Llama 3 70B (h 8192, q 10240, w 8192, GLU f 28672): 2·(4h + q + w + 3f) = 274,432 bytes per token and
    layer in 16 bits; FP8 keeps the four GEMM inputs (2h + w + f = 53,248 elements) in one byte."""
    sh = shape.from_preset(load_models().get("llama3-70b"), 8192)
    assert memory.activation_bytes_per_token_layer(sh, "selective") == pytest.approx(274_432)
    assert memory.activation_bytes_per_token_layer(sh, "selective", precision="fp8") == pytest.approx(221_184)
    assert memory.activation_bytes_per_token_layer(sh, "full", precision="fp8") == pytest.approx(2 * 8192)


@pytest.mark.parametrize("precision", ["fp32", "tf32"])
def test_four_byte_activations_in_the_search_and_the_floor(precision: str) -> None:
    """FP32/TF32 training keeps activations in 4 bytes: Llama 3 70B keeps 2 x 274,432 bytes per token and
    layer, and a chip of the layout search holds twice the 16-bit activations (the fp32 logits, 4·s·V/t, are
    the same either way)."""
    sh = shape.from_preset(load_models().get("llama3-70b"), 8192)
    assert memory.activation_bytes_per_token_layer(sh, "selective", precision) == pytest.approx(2 * 274_432)
    assert memory.activation_bytes_per_token_layer(sh, "full", precision) == pytest.approx(4 * 8192)
    lay = Layout(tp=8, pp=4, dp=2, ep=1, microbatches=8, node_size=8, micro_batch=1)
    logits = 4.0 * 8192 / 8 * sh.vocab
    wide = memory.per_gpu(sh, 70e9, lay, 12.0, precision).activations - logits
    assert wide == pytest.approx(2 * (memory.per_gpu(sh, 70e9, lay, 12.0).activations - logits))


def test_fp32_estimate_counts_four_byte_activations() -> None:
    """End to end, on a pinned layout: the estimate's per-chip activations at fp32 are twice bf16's but for
    the fp32 logits (4 bytes x 2 x 4,096 tokens x Llama 2's 32,000 vocabulary), and the layout it picks by
    itself fits 80 GiB x 0.9 counting them."""
    a100, llama = load_chips().get("a100-sxm4-80gb"), load_models().get("llama2-7b")
    pin = ParallelSpec(tp=1, pp=1, dp=64, micro_batch=2, sharding="zero3", recompute="selective")
    acts = {}
    for precision in ("bf16", "fp32"):
        req = TrainRequest(tokens=2e12, model=llama, chip=a100, gpus=64, precision=precision)
        free = estimate_training(req, load_assumptions(), load_efficiency())
        assert free.memory_fits and free.memory_per_gpu_gb is not None
        assert free.memory_per_gpu_gb["total"] <= 80 * 2**30 / 1e9 * 0.9
        pinned = estimate_training(
            req.model_copy(update={"parallel": pin}), load_assumptions(), load_efficiency()
        )
        assert pinned.memory_per_gpu_gb is not None
        acts[precision] = pinned.memory_per_gpu_gb["activations"] * 1e9
    logits = 4.0 * 2 * 4096 * 32_000
    assert acts["fp32"] - logits == pytest.approx(2 * (acts["bf16"] - logits))


@pytest.mark.parametrize(
    ("grad_bytes", "optimizer", "per_param"), [(4.0, 12.0, 6 + 12 / 8), (2.0, 16.0, 4 + 16 / 8)]
)
def test_gradient_precision_matches_megatrons_table(
    grad_bytes: float, optimizer: float, per_param: float
) -> None:
    """Megatron-LM's distributed-optimizer guide: bf16 weights with fp32 gradients 6 + 12/d bytes per
    parameter, with bf16 gradients 4 + 16/d (the optimizer keeps an fp32 copy of its shard's gradients)."""
    sh = shape.guess(1e9, 2048)
    lay = Layout(tp=1, pp=1, dp=8, ep=1, microbatches=1, node_size=8, sharding="zero1")
    mem = memory.per_gpu(sh, 1e9, lay, optimizer, gradient_bytes=grad_bytes)
    assert (mem.weights + mem.gradients + mem.optimizer) / 1e9 == pytest.approx(per_param)


def test_bf16_gradients_halve_the_data_parallel_reduction() -> None:
    """The reduce-scatter moves 4 bytes per gradient in fp32 and 2 in bf16; the all-gather stays 2."""
    sh = shape.from_preset(load_models().get("llama3-8b"), 8192)
    lay = Layout(tp=1, pp=1, dp=64, ep=1, microbatches=1, node_size=8, sharding="none")
    rates = ChipRates(9.9e14, 9.9e14, 0.6, 3.3e12, 4.5e11, 5.0e8, 1250)  # a slow network: the reduction shows
    fp32 = step_terms(sh, 8e9, 8e9, lay, rates, 4, 16, 36, gradient_bytes=4.0)
    bf16 = step_terms(sh, 8e9, 8e9, lay, rates, 4, 16, 36, gradient_bytes=2.0)
    assert bf16.dp_comm_exposed < fp32.dp_comm_exposed
    assert bf16.matmul == fp32.matmul


def test_grad_reduce_flag_in_output_and_memory() -> None:
    args = ["train", "--model", "llama3-70b", "--chip", "h100", "--gpus", "64", "--precision", "fp8",
            "--tp", "4", "--pp", "8", "--vp", "5", "--batch-tokens", "2M", "--format", "json"]  # fmt: skip
    fp32 = json.loads(runner.invoke(app, args).stdout)
    bf16 = json.loads(runner.invoke(app, [*args, "--grad-reduce", "bf16"]).stdout)
    assert fp32["parallel"]["grad_reduce"] == "fp32" and bf16["parallel"]["grad_reduce"] == "bf16"
    assert bf16["memory_per_gpu_gb"]["gradients"] == pytest.approx(fp32["memory_per_gpu_gb"]["gradients"] / 2)
    bad = runner.invoke(app, [*args, "--grad-reduce", "fp16"])
    assert bad.exit_code == 2 and "--grad-reduce" in bad.stderr


def test_megatron_bridge_records_carry_their_recipes_gradient_precision() -> None:
    runs = [r for r in load_steady_runs() if r.source_group == "megatron-bridge"]
    assert runs and all(r.parallel.grad_reduce == "bf16" and r.parallel.grad_reduce_note for r in runs)
    assert all(
        r.parallel.grad_reduce == "fp32" for r in load_steady_runs() if r.source_group == "llama3-paper"
    )


def test_interleaved_layouts_are_tried_below_the_widest_width() -> None:
    """Found by Hypothesis: on 3,967 A100s (a prime) the widest TP8 PP12 width leaves fewer micro-batches
    than stages, which interleaving cannot run; the search used to drop such groups instead of narrowing
    them, so 3,967 chips planned a slower run than 2,975."""
    chip = load_chips().get("a100-sxm4-80gb")
    a, e = load_assumptions(), load_efficiency()

    def days(gpus: int) -> float:
        req = TrainRequest(params=6315937523.0, tokens=1033478191.0, chip=chip, gpus=gpus)
        return estimate_training(req, a, e).wall_clock_days  # type: ignore[no-any-return]

    assert days(3967) <= days(2975) * (1 + 1e-12)
    pinned = TrainRequest(
        params=6315937523.0,
        tokens=1033478191.0,
        chip=chip,
        gpus=3967,
        parallel=ParallelSpec(tp=8, pp=12, vp=2),
    )
    lay = estimate_training(pinned, a, e).parallel  # used to raise: no layout with these pins
    assert (lay.tp, lay.pp, lay.vp) == (8, 12, 2) and lay.dp * lay.tp * lay.pp < 3967


def test_rings_across_nodes_use_the_groups_network_interfaces() -> None:
    """NCCL runs a ring channel per NIC: a group with k chips on each 8-GPU node crosses nodes at k × the
    per-chip network bandwidth, capped by the intra-node link (DGX H100: 8 × 50 GB/s ≈ its NVLink)."""
    from capacity.formulas.step_time import ring_link

    rates = ChipRates(9.9e14, 9.9e14, 0.6, 3.3e12, intra_bytes_s=3.15e11, inter_bytes_s=4.5e10,
                      gemm_half_size=1250)  # fmt: skip
    assert ring_link(8, 1, 8, rates) == 3.15e11  # inside one node
    assert ring_link(64, 1, 8, rates) == pytest.approx(min(3.15e11, 8 * 4.5e10))  # tp 1: 8 per node
    assert ring_link(16, 4, 8, rates) == pytest.approx(2 * 4.5e10)  # tp 4: 2 of the group per node
    assert ring_link(16, 8, 8, rates) == pytest.approx(4.5e10)  # tp 8: one per node, one NIC


def test_chip_memory_is_binary() -> None:
    """An "80 GB" H100 holds 80 GiB (nvidia-smi: 81,559 MiB usable of 81,920): 90 % of it is 77.3e9 bytes,
    so a 7B model's 18 bytes per parameter (126 GB) needs 2 chips, 175B's (3,150 GB) 41."""
    assert memory.min_chips(126e9, 80.0, 0.9) == 2
    assert memory.min_chips(3150e9, 80.0, 0.9) == 41
    assert memory.min_chips(77.3e9, 80.0, 0.9) == 1 and memory.min_chips(77.4e9, 80.0, 0.9) == 2


def test_bridged_pairs_fall_back_to_pcie_beyond_the_pair() -> None:
    """Issue 13: H100 PCIe cards are NVLink-bridged in pairs; a ring over 4 crosses PCIe Gen5 x16 (64 GB/s
    one way), not the bridge's 300 GB/s."""
    from capacity.data.assumptions import load_efficiency
    from capacity.estimate.step_model import chip_rates
    from capacity.formulas.step_time import ring_link

    chip = load_chips().get("h100-pcie")
    rates, _, _ = chip_rates(chip, "bf16", load_efficiency(), None, [])
    link_eff = load_efficiency().link_efficiency.value
    assert ring_link(2, 1, 8, rates) == pytest.approx(300e9 * link_eff)
    assert ring_link(4, 1, 8, rates) == pytest.approx(64e9 * link_eff)
    sxm, _, _ = chip_rates(load_chips().get("h100"), "bf16", load_efficiency(), None, [])
    assert ring_link(4, 1, 8, sxm) == pytest.approx(450e9 * link_eff)  # NVSwitch: every chip of the node
