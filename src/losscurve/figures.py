"""The paper's figures, redrawn from this run: PNG (150 dpi) and SVG, rendered by Agg.

Figure 4.2 (one trial and its quartic), Figure 4.4 (every trial and the average quartic), and a
comparison of this run's average with the paper's published L(x). Figures are built on
``matplotlib.figure.Figure`` with an Agg canvas, so no pyplot state or display is involved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import reference
from .analysis import coefficient_names, format_equation, loss_matrix, read_parquet
from .files import atomic_output

DPI = 150
SIZE = (8.0, 5.0)  # inches: 1200 x 750 pixels at 150 dpi
X_LABEL = "Training iteration"
Y_LABEL = "Log loss"
# Fixed hash salt and no date, so that the same data gives byte-identical SVG files.
SVG_SETTINGS = {"svg.hashsalt": "losscurve"}


def new_figure(**kwargs) -> Figure:
    figure = Figure(figsize=kwargs.pop("figsize", SIZE), layout="constrained", **kwargs)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, png: str | Path, svg: str | Path) -> None:
    """Write ``figure`` as PNG at 150 dpi and as SVG, each atomically."""
    with atomic_output(png) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    with matplotlib.rc_context(SVG_SETTINGS), atomic_output(svg) as tmp:
        figure.savefig(tmp, format="svg", metadata={"Date": None})


def trial_fit_figure(seed: int, x: np.ndarray, y: np.ndarray, coefficients) -> Figure:
    """Figure 4.2: one trial's loss per iteration as a scatter, its fitted polynomial over it."""
    figure = new_figure()
    ax = figure.add_subplot()
    ax.scatter(x, y, s=6, color="tab:blue", alpha=0.6, label=f"Batch log loss, seed {seed}")
    ax.plot(
        x, np.polyval(coefficients, x), color="tab:red", lw=2, label=format_equation(coefficients)
    )
    ax.set(xlabel=X_LABEL, ylabel=Y_LABEL)
    ax.set_title(f"Seed {seed}: log loss over {len(x)} training iterations and its best fit")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return figure


def trial_colours(count: int) -> list:
    """One distinct colour per trial: tab10 for up to ten, evenly spaced viridis beyond."""
    if count <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(count)]
    return list(matplotlib.colormaps["viridis"](np.linspace(0, 0.95, count)))


def all_trials_figure(seeds, x: np.ndarray, Y: np.ndarray, coefficients) -> Figure:
    """Figure 4.4: every trial's trace in its own colour, the average polynomial bold on top."""
    figure = new_figure()
    ax = figure.add_subplot()
    for seed, y, colour in zip(seeds, Y, trial_colours(len(seeds)), strict=True):
        ax.plot(x, y, lw=0.8, alpha=0.8, color=colour, label=f"Seed {seed}")
    ax.plot(x, np.polyval(coefficients, x), color="black", lw=3, label="Average fit L(x)")
    ax.set(xlabel=X_LABEL, ylabel=Y_LABEL)
    ax.set_title(
        f"{len(seeds)} trials and the average fit: {format_equation(coefficients)}", fontsize=9
    )
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return figure


def comparison_caption(comparison: Mapping[str, Any]) -> str:
    """The comparison's numbers in one sentence (figure footer and report caption)."""
    lo, hi = comparison["domain"]
    return (
        f"Over x = {lo}..{hi}: max |this run - paper| = {comparison['max_abs_difference']:.3g} "
        f"(at x = {comparison['x_of_max_abs_difference']}), mean |this run - paper| = "
        f"{comparison['mean_abs_difference']:.3g} (log loss)."
    )


def paper_comparison_figure(
    x: np.ndarray, Y: np.ndarray, coefficients, comparison: Mapping[str, Any]
) -> Figure:
    """The paper's L(x) against this run's average, over the 5-95 % band of the traces.

    Top: the band across seeds at each iteration and both curves; bottom: this run minus the
    paper on the x both cover.
    """
    figure = new_figure(figsize=(8.0, 6.0))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    low, high = np.percentile(Y, [5, 95], axis=0)
    top.fill_between(
        x, low, high, color="tab:blue", alpha=0.25, label=f"Traces, 5-95 % across {len(Y)} seeds"
    )
    lo, hi = comparison["domain"]
    grid = np.arange(lo, hi + 1, dtype=np.float64)
    ours, paper = np.polyval(coefficients, grid), np.polyval(reference.average_polynomial(), grid)
    top.plot(grid, ours, color="black", lw=2, label="This run: average fit")
    top.plot(grid, paper, color="tab:orange", lw=2, ls="--", label="Paper: published L(x)")
    top.set(ylabel=Y_LABEL, title="Published L(x) against this run")
    top.legend(loc="upper right", fontsize=8)
    top.grid(alpha=0.3)
    bottom.axhline(0, color="grey", lw=0.8)
    bottom.plot(grid, ours - paper, color="tab:purple", lw=1.5)
    bottom.set(xlabel=X_LABEL, ylabel="This run - paper")
    bottom.grid(alpha=0.3)
    figure.supxlabel(comparison_caption(comparison), fontsize=8)
    return figure


def render_figures(
    traces_path: str | Path,
    coefficients_path: str | Path,
    average_path: str | Path,
    outputs: Mapping[str, str | Path],
) -> None:
    """Draw the three figures into ``outputs``: {trial_fit,all_trials,paper_comparison}_{png,svg}.

    Figure 4.2 shows the first (lowest) seed.
    """
    traces, _ = read_parquet(traces_path)
    fits, _ = read_parquet(coefficients_path)
    average = json.loads(Path(average_path).read_text(encoding="utf-8"))
    seeds, x, Y = loss_matrix(traces)
    mean = np.array(average["coefficients"])
    first = fits.set_index("seed").loc[seeds[0], coefficient_names(average["degree"])]
    figures = {
        "trial_fit": trial_fit_figure(seeds[0], x, Y[0], first.to_numpy()),
        "all_trials": all_trials_figure(seeds, x, Y, mean),
        "paper_comparison": paper_comparison_figure(x, Y, mean, average["paper_comparison"]),
    }
    for name, figure in figures.items():
        save_figure(figure, outputs[f"{name}_png"], outputs[f"{name}_svg"])
