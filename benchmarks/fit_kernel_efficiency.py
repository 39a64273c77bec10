"""Fit ``step_model.training_kernel_efficiency`` on the steady-state fitting sources, and print it.

The one fitted constant of the steady state: the factor on kernel rates (GEMM, attention, HBM) that makes the
median signed tokens/s error over the fitting sources (``steady_state_sets.fitting`` in
specs/efficiency.yaml) zero, with each record's published layout pinned. Held-out sources are never read.
Usage: python benchmarks/fit_kernel_efficiency.py
"""

from __future__ import annotations

from capacity.data.catalog import load_steady_runs
from capacity.plans.validate_steady import fit_kernel_efficiency


def main() -> None:
    value, before, after = fit_kernel_efficiency(load_steady_runs())
    print(
        f"training_kernel_efficiency = {value:.3f} "
        f"(median signed error on fitting sources {before:+.1%} -> {after:+.1%})"
    )


if __name__ == "__main__":
    main()
