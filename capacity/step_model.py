"""The default training efficiency: MFU predicted from the model, the chip and the cluster, not assumed.

    wall time per token = step time / tokens per step  (layout chosen by :mod:`capacity.layout`,
                                                        terms from :mod:`capacity.step_time`)
                          × (1 + failures per GPU-hour × GPUs × hours lost per failure)   (goodput)
                          / wall-clock factor                                              (the rest)
    MFU = 6·N_active / (wall time per token × GPUs × dense peak)

One code path for every job: nothing here depends on a model's or a published run's name. Each constant
is in ``specs/efficiency.yaml`` (``step_model``) with its source; only the wall-clock factor is fitted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from capacity.assumptions import Efficiency
from capacity.calibration import Calibration
from capacity.chip import Chip, Dtype
from capacity.efficiency import matmul_fraction, peak_tflops
from capacity.layout import choose_layout
from capacity.links import inter_node_gb_s, intra_node_gb_s
from capacity.shape import Shape
from capacity.step_time import ChipRates, Layout, StepTerms
from capacity.units import TERA

FALLBACK_FLOP_PER_BYTE = 150.0  # A100's dense BF16 peak over its HBM bandwidth, for chips without a figure


class StepEstimate(BaseModel):
    """What the step model predicts for one job, and the layout it assumed."""

    model_config = ConfigDict(frozen=True)

    mfu: float  # 6·N_active·tokens / (GPUs × peak × wall time), against the job's precision
    steady_state_mfu: float  # the same before failures and the wall-clock factor
    tp: int
    pp: int
    dp: int
    ep: int
    microbatches: float
    gpus_used: int
    global_batch_tokens: float
    memory_fits: bool
    full_recompute: bool
    time_shares: dict[str, float]  # share of wall time per term; sums to 1
    failure_overhead: float  # fraction of progress time added by interruptions
    matmul_fraction: float
    matmul_source: str
    notes: list[str]

    @property
    def layout(self) -> str:
        ep = f" (experts over {self.ep})" if self.ep > 1 else ""
        bubble = self.time_shares.get("pipeline bubble", 0.0)
        return (
            f"TP{self.tp} x PP{self.pp} x DP{self.dp}{ep}, {self.microbatches:.0f} micro-batches per step, "
            f"bubble {bubble:.0%} of time"
        )


def optimal_batch_tokens(training_flops: float, eff: Efficiency) -> float:
    """Compute-optimal global batch, B = 0.292 · C^0.3271 tokens (DeepSeek LLM, arXiv:2401.02954, §3.1).

    A team sizes its batch to the run's compute C; the data-parallel width cannot exceed B / s sequences.
    """
    sm = eff.step_model
    return float(sm.batch_size_coefficient.value * training_flops**sm.batch_size_exponent.value)


def chip_rates(
    chip: Chip, precision: Dtype, eff: Efficiency, calibration: Calibration | None, notes: list[str]
) -> tuple[ChipRates, float, str]:
    """Achievable rates of ``chip`` (rates, GEMM fraction at ``precision``, its source)."""
    sm = eff.step_model
    frac = matmul_fraction(chip, precision, eff, calibration)
    linear = peak_tflops(chip, precision) * TERA * frac.value
    wide: Dtype = "bf16" if precision == "fp8" else precision
    if wide == "bf16" and chip.dense_peak("bf16") is None:
        wide = "fp16"
    narrow = (
        linear
        if wide == precision
        else peak_tflops(chip, wide) * TERA * matmul_fraction(chip, wide, eff, calibration).value
    )
    hbm_eff = calibration.memory.fraction if calibration and calibration.memory else eff.hbm_efficiency.value
    if chip.memory_bandwidth_gb_s is None:
        notes.append(
            f"{chip.id}: no memory bandwidth known; assumed A100's {FALLBACK_FLOP_PER_BYTE:g} FLOP/byte"
        )
        peak16 = chip.dense_peak("bf16") or chip.dense_peak("fp16") or peak_tflops(chip, precision)
        hbm = peak16 * TERA / FALLBACK_FLOP_PER_BYTE  # against a 16-bit peak, like A100's 312
    else:
        hbm = chip.memory_bandwidth_gb_s * 1e9
    intra, w1 = intra_node_gb_s(chip)
    inter, w2 = inter_node_gb_s(chip)
    notes.extend(w for w in (w1, w2) if w)
    rates = ChipRates(
        linear_flop_s=linear,
        bf16_flop_s=narrow,
        attention_fraction=sm.attention_fraction_of_gemm.value,
        hbm_bytes_s=hbm * hbm_eff,
        intra_bytes_s=intra * 1e9 * eff.link_efficiency.value,
        inter_bytes_s=inter * 1e9 * sm.network_efficiency.value,
        gemm_half_size=sm.gemm_half_size.value,
    )
    return rates, frac.value, frac.source


def predict(
    sh: Shape,
    n_total: float,
    n_active: float,
    chip: Chip,
    precision: Dtype,
    gpus: int,
    node_size: int,
    eff: Efficiency,
    *,
    tokens: float,
    calibration: Calibration | None = None,
    full_recompute: bool = False,
    usable_memory_fraction: float = 0.9,
    state_bytes_per_param: float = 16.0,
    batch_tokens: float | None = None,
) -> StepEstimate:
    """Predict the wall-clock MFU of training ``sh`` on ``gpus`` × ``chip`` (see the module docstring)."""
    sm = eff.step_model
    notes: list[str] = []
    rates, frac, frac_source = chip_rates(chip, precision, eff, calibration, notes)
    batch = batch_tokens or optimal_batch_tokens(6.0 * n_active * tokens, eff)
    memory = None if chip.memory_gb is None else chip.memory_gb * 1e9 * usable_memory_fraction

    def search(full: bool) -> tuple[Layout, StepTerms, bool]:
        return choose_layout(
            sh, n_total, n_active, gpus, node_size, rates,
            batch_tokens=batch, memory_bytes=memory, state_bytes_per_param=state_bytes_per_param,
            full_recompute=full,
            elementwise_bytes_per_hidden=sm.elementwise_bytes_per_hidden.value,
            loss_bytes_per_vocab=sm.loss_bytes_per_vocab.value,
            optimizer_bytes_per_param=sm.optimizer_step_bytes_per_param.value,
            failure_per_chip=sm.failures_per_gpu_hour.value * sm.hours_lost_per_failure.value,
        )  # fmt: skip

    lay, terms, fits = search(full_recompute)
    if not fits and not full_recompute:  # what a team does when activations do not fit: recompute them
        lay, terms, fits = search(True)
        full_recompute = True
        notes.append(
            "no layout fits with selective recomputation; full activation recomputation assumed "
            "(its extra forward pass is in the step time; pass --recompute full to count it in HFU)"
        )
    used = lay.tp * lay.pp * lay.dp
    tokens_per_step = lay.microbatches * lay.dp * sh.seq_len
    failure = sm.failures_per_gpu_hour.value * used * sm.hours_lost_per_failure.value
    factor = sm.wall_clock_factor.value
    steady = terms.total
    wall = steady * (1.0 + failure) / factor
    peak = peak_tflops(chip, precision) * TERA
    mfu = 6.0 * n_active * tokens_per_step / (wall * gpus * peak)
    shares = {
        "matmul": terms.matmul,
        "attention": terms.attention,
        "memory-bound ops": terms.memory_bound + terms.optimizer,
        "tensor-parallel comm": terms.tp_comm,
        "expert all-to-all": terms.expert_comm,
        "pipeline comm": terms.pp_comm,
        "pipeline bubble": terms.bubble,
        "data-parallel comm": terms.dp_comm_exposed,
        "failures and restarts": steady * failure,
        "unmodelled (wall-clock factor)": steady * (1.0 + failure) * (1.0 / factor - 1.0),
    }
    if gpus - used >= lay.tp * lay.pp:  # a whole replica's worth of chips idle, not just the remainder
        notes.append(
            f"only {used} of {gpus} chips have work: a {batch / 1e6:.3g}M-token batch of {sh.seq_len}-token "
            "sequences gives each data-parallel replica at least one sequence (more would only add failures)"
        )
    if not fits:
        notes.append(f"no layout of {gpus} x {chip.id} fits the job in memory; the fastest one is shown")
    return StepEstimate(
        mfu=mfu,
        steady_state_mfu=6.0 * n_active * tokens_per_step / (steady * gpus * peak),
        tp=lay.tp,
        pp=lay.pp,
        dp=lay.dp,
        ep=lay.ep,
        microbatches=lay.microbatches,
        gpus_used=used,
        global_batch_tokens=float(tokens_per_step),
        memory_fits=fits,
        full_recompute=full_recompute,
        time_shares={k: v / wall for k, v in shares.items() if v > 0},
        failure_overhead=failure,
        matmul_fraction=frac,
        matmul_source=frac_source,
        notes=notes,
    )
