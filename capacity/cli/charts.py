"""Charts for decks: ``compare --plot`` draws small multiples (time, cost, energy, chips) of one workload on
every chip, units on the axes, the workload in the title, placeholder prices hatched."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capacity.core.errors import EnvironmentMissingError, InputError

if TYPE_CHECKING:
    from capacity.plans.compare import ComparisonRow

# per workload kind: (field, axis label, scale the value is divided by)
PANELS: dict[str, list[tuple[str, str, float]]] = {
    "train": [("wall_clock_days", "days", 1.0), ("cost_usd", "cost, USD M", 1e6),
              ("energy_mwh", "energy, MWh", 1.0), ("gpus", "chips", 1.0)],
    "image-train": [("wall_clock_days", "days", 1.0), ("cost_usd", "cost, USD k", 1e3),
                    ("energy_mwh", "energy, MWh", 1.0), ("gpus", "chips", 1.0)],
    "serve": [("tpot_ms", "ms per output token", 1.0),
              ("cost_usd_per_million_output_tokens", "USD per million output tokens", 1.0),
              ("energy_wh_per_query", "Wh per query", 1.0), ("gpus", "chips", 1.0)],
    "image-serve": [("seconds_per_image", "seconds per image", 1.0),
                    ("cost_usd_per_image", "USD per 1,000 images", 1e-3),
                    ("energy_wh_per_image", "Wh per image", 1.0), ("gpus", "chips", 1.0)],
}  # fmt: skip
DOMESTIC, IMPORTED = "#c0392b", "#2c7fb8"


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend; exit 3 (missing environment) without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise EnvironmentMissingError("--plot needs matplotlib: pip install 'capacity[plot]'") from None
    return plt


def save_png(fig: Any, path: Path, dpi: int) -> None:
    """Write ``fig`` to ``path`` as PNG (:func:`png_path` checks it) and free it; a failed write: exit 2."""
    import matplotlib.pyplot as plt

    try:
        fig.savefig(png_path(path), dpi=dpi, format="png")
    except (OSError, ValueError) as exc:  # a full disk, a folder that went away
        raise InputError(f"--plot {path}: cannot write the chart ({exc})") from None
    finally:
        plt.close(fig)


def png_path(path: Path) -> Path:
    """The chart's file: a ``.png`` name in an existing folder, not a directory or a device (matplotlib would
    add ``.png`` to ``/dev/null`` or write a JPEG for ``.jpg`` without a word)."""
    if path.suffix.casefold() != ".png":
        raise InputError(f"--plot {str(path)!r}: give a file name ending in .png")
    if path.exists() and not path.is_file():
        raise InputError(f"--plot {path}: not a regular file")
    if not path.parent.is_dir():
        raise InputError(f"--plot {path}: folder {path.parent} does not exist")
    return path


def count_text(x: float) -> str:
    """A count as people write it: 400B, 1.4T, 4M, 2,048."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if x >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:,.0f}" if x == int(x) else f"{x:.3g}"


def workload_title(kind: str, result: dict[str, Any]) -> str:
    """The workload in words, from a row's estimate: model and the sizes that define the job."""
    model = result.get("model") or "inline model"
    if kind == "train":
        return f"Training {model} on {count_text(result['tokens'])} tokens"
    if kind == "image-train":
        return f"Training {model} on {count_text(result['images'])} images at {result['resolution']} px"
    if kind == "image-serve":
        load = (
            f", {count_text(result['images_per_day'])} images a day" if result.get("images_per_day") else ""
        )
        return f"Serving {model}: {result['resolution']} px, {result['steps']} steps{load}"
    return f"Serving {model}: {result.get('input_tokens')} in, {result.get('output_tokens')} out"


def plot_comparison(compared: list[ComparisonRow], path: Path) -> None:
    """Four bar panels side by side, chips in the comparison's order; domestic chips red; a cost bar that
    rests on a placeholder price hatched and faded, so nobody ranks on it unawares. Saved as PNG."""
    plt = pyplot()
    from matplotlib.patches import Patch

    from capacity.plans.compare import is_money

    shown = [r for r in compared if r.error is None and r.result]
    if not shown:
        raise InputError("--plot: no chip could run the workload, nothing to draw")
    kind = shown[0].kind
    labels = [r.chip for r in shown][::-1]
    colours = [DOMESTIC if r.domestic_china else IMPORTED for r in shown][::-1]
    fig, axes = plt.subplots(1, 4, figsize=(13, 0.38 * len(shown) + 1.8), sharey=True)
    for ax, (field, label, scale) in zip(axes, PANELS[kind], strict=True):
        raw = [r.result.get(field) for r in shown][::-1]
        values = [math.nan if v is None else v / scale for v in raw]  # a missing figure draws no bar
        bars = ax.barh(labels, values, color=colours)
        if all(v is None for v in raw):
            ax.text(0.5, 0.5, "not estimated", transform=ax.transAxes, ha="center", color="grey")
            ax.set_xticks([])
        if is_money(field):
            for bar, r in zip(bars, shown[::-1], strict=True):
                if r.price_assumed:
                    bar.set_hatch("//")
                    bar.set_alpha(0.45)
        ax.set_xlabel(label)
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.grid(axis="x", alpha=0.3)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
    legend = [Patch(color=IMPORTED, label="imported"), Patch(color=DOMESTIC, label="designed in China"),
              Patch(facecolor="white", edgecolor="grey", hatch="//", label="price assumed")]  # fmt: skip
    fig.legend(handles=legend, loc="lower center", ncol=3, frameon=False, fontsize=8)
    fig.suptitle(workload_title(kind, shown[0].result), fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    save_png(fig, path, dpi=130)


SWEPT = "swept "  # a swept field's key in plot_sweep's records, apart from the result of the same name
SWEEP_METRICS = [  # (field, axis label, scale), the first three a scenario's rows have
    ("wall_clock_days", "days", 1.0), ("cost_usd", "cost, USD M", 1e6), ("energy_mwh", "energy, MWh", 1.0),
    ("gpus", "chips", 1.0), ("cost_usd_per_month", "USD M per month", 1e6),
    ("cost_usd_per_image", "USD per 1,000 images", 1e-3), ("tpot_ms", "ms per output token", 1.0),
]  # fmt: skip


def plot_sweep(title: str, records: list[dict[str, Any]], swept: list[str], path: Path) -> None:
    """Each metric against the first numeric swept field, one line per value of the first other swept field
    (a chip, typically); further swept fields are held at their first value, said in the title."""
    plt = pyplot()
    numeric = [k for k in swept if all(isinstance(r.get(k), int | float) for r in records)]
    if not numeric:
        raise InputError(
            "--plot draws a sweep against a numeric field (hardware.gpus, tokens, ...); this has none"
        )
    x = SWEPT + "gpus" if SWEPT + "gpus" in numeric else numeric[0]
    series = next((k for k in swept if k != x), None)
    held = {k: records[0][k] for k in swept if k not in (x, series)}
    shown = [r for r in records if all(r.get(k) == v for k, v in held.items())]
    metrics = [m for m in SWEEP_METRICS if SWEPT + m[0] != x and any(r.get(m[0]) is not None for r in shown)][
        :3
    ]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.3 * len(metrics), 3.6), squeeze=False)

    def group_of(r: dict[str, Any]) -> Any:
        return r.get(series) if series else None

    groups = list(dict.fromkeys(group_of(r) for r in shown))
    xs = sorted({r[x] for r in shown})
    for ax, (field, label, scale) in zip(axes[0], metrics, strict=True):
        for g in groups:
            pts = sorted(
                (r[x], r[field] / scale) for r in shown if group_of(r) == g and r.get(field) is not None
            )
            if pts:
                ax.plot(
                    [p[0] for p in pts], [p[1] for p in pts], marker="o", label=str(g) if series else None
                )
        ax.set_xlabel(x.removeprefix(SWEPT))
        ax.set_ylabel(label)
        if len({r[x] for r in shown}) > 1 and min(r[x] for r in shown) > 0:
            ax.set_xscale("log", base=2 if x == SWEPT + "gpus" else 10)
            ax.set_xticks(xs, [count_text(v) for v in xs])
            ax.minorticks_off()
        ax.grid(alpha=0.3)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
    if series:
        axes[0][0].legend(fontsize=8, frameon=False)
    fixed = ", ".join(
        f"{k.removeprefix(SWEPT)} = {count_text(v) if isinstance(v, float) else v}" for k, v in held.items()
    )
    fig.suptitle(title + (f" ({fixed})" if fixed else ""), fontsize=11)
    fig.tight_layout()
    save_png(fig, path, dpi=130)
