"""Monte Carlo uncertainty for a training estimate: P10 / P50 / P90 of time, GPU-hours, cost and energy.

Only inputs the user did not give carry a spread (``specs/uncertainty.yaml``):
* time (when the MFU is modelled, not given): the step model's shares of wall time move in two groups,
  kernels (matmul, attention, memory-bound; log-normal σ_k) and overheads (communication, bubble, failures;
  σ_o), and the whole is multiplied by a log-normal for what the model leaves out (σ_u, the scatter of the
  fitting runs, so about 8 in 10 published runs fall inside P10–P90; ``capacity validate`` reports it).
* price per GPU-hour: log-normal around the chosen price;
* server power per chip and PUE: uniform over their documented ranges.
Draws are independent; cost scales with GPU-hours × price, energy with days × power factor × PUE.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from capacity.data.assumptions import Assumption, Assumptions
from capacity.data.catalog import load_spec_file
from capacity.formulas.step_time import Share

PERCENTILES = (10, 50, 90)
KERNEL_TERMS = (Share.MATMUL, Share.ATTENTION, Share.MEMORY_BOUND)


class Spreads(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unmodelled_log_sd: Assumption
    kernel_log_sd: Assumption
    overhead_log_sd: Assumption
    price_log_sd: Assumption
    server_power_factor_low: Assumption
    server_power_factor_high: Assumption
    pue_low: Assumption
    pue_high: Assumption
    samples: Assumption


def load_spreads(specs_dir: Path | None = None) -> Spreads:
    return load_spec_file("uncertainty.yaml", Spreads, specs_dir)


def training_percentiles(
    est: dict[str, Any], given: dict[str, float | None], a: Assumptions, s: Spreads, seed: int = 0
) -> dict[str, float | None]:
    """``<metric>_p10/_p50/_p90`` for gpu_hours, wall_clock_days, cost_usd, energy_mwh of one estimate.

    ``given`` holds the user's mfu, gpu_hour_usd, gpu_price_usd, server_power_factor and pue (None = default).
    """
    import numpy as np  # only here: the point estimate never pays for numpy

    rng = np.random.default_rng(seed)
    n = int(s.samples.value)
    time = np.ones(n)
    shares = est.get("time_shares")
    if given["mfu"] is None and shares:
        kernels = sum(v for k, v in shares.items() if k in KERNEL_TERMS)
        overheads = sum(v for k, v in shares.items() if k not in KERNEL_TERMS)
        k = np.exp(rng.standard_normal(n) * s.kernel_log_sd.value)
        o = np.exp(rng.standard_normal(n) * s.overhead_log_sd.value)
        u = np.exp(rng.standard_normal(n) * s.unmodelled_log_sd.value)
        time = (kernels * k + overheads * o) / (kernels + overheads) * u
    price_given = given["gpu_hour_usd"] if est.get("pricing") == "cloud" else given["gpu_price_usd"]
    price = np.exp(rng.standard_normal(n) * s.price_log_sd.value) if price_given is None else np.ones(n)
    # the power per chip varies by the width of the sourced range, centred on the point estimate (whichever
    # power basis chose it), so the point is the band's middle, not its low end
    low, high = s.server_power_factor_low.value, s.server_power_factor_high.value
    centred = rng.uniform(low, high, n) / ((low + high) / 2)
    spf = centred if given["server_power_factor"] is None else np.ones(n)
    pue_point = est.get("pue") or a.pue.value
    pue = (
        rng.uniform(s.pue_low.value, s.pue_high.value, n) / pue_point if given["pue"] is None else np.ones(n)
    )
    draws = {
        "gpu_hours": (est.get("gpu_hours"), time),
        "wall_clock_days": (est.get("wall_clock_days"), time),
        "cost_usd": (est.get("cost_usd"), time * price),
        "energy_mwh": (est.get("energy_mwh"), time * spf * pue),
    }
    out: dict[str, float | None] = {}
    for name, (point, scale) in draws.items():
        values = np.percentile(point * scale, PERCENTILES) if point is not None else [None] * 3
        for pct, value in zip(PERCENTILES, values, strict=True):
            out[f"{name}_p{pct}"] = None if value is None else float(value)
    return out
