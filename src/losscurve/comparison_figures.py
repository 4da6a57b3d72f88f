"""Figures of the curve-family comparison, drawn in the style of ``losscurve.figures``.

model_comparison (every family over the mean trace, with residuals), extrapolation (every
family fitted to the start of the long run, against all of it), confidence_bands (the seed
bands of the average quartic and of the best family) and calibration (each variant's averaged
quartic against the paper's L(x)). PNG and SVG each, as the paper's figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .analysis import loss_matrix, read_parquet
from .comparison import MEAN, PAPER, SCORED_FROM, from_record, published, read_json
from .curves import FAMILIES, Fit, moving_average
from .figures import X_LABEL, Y_LABEL, new_figure, save_figure, trial_colours

COLOURS = dict(zip(FAMILIES, (matplotlib.colormaps["tab10"](i) for i in range(10)), strict=False))
PAPER_STYLE = {"color": "black", "ls": "--", "lw": 2}
# Iterations in the moving average of the residuals: shows the systematic misfit, not noise.
RESIDUAL_WINDOW = 25


def loss_limits(y: np.ndarray) -> tuple[float, float]:
    """y-limits around the observed losses, so that a curve running away leaves the axes."""
    return min(0.0, float(np.min(y))) - 0.1, float(np.max(y)) + 0.25


def draw_fits(ax: Axes, x: np.ndarray, fits: Mapping[str, Fit], lw: float = 1.8) -> None:
    for name, curve in fits.items():
        if curve.converged:
            grid = x[x >= curve.family.x_min]
            ax.plot(grid, curve(grid), color=COLOURS[name], lw=lw, label=curve.family.label)


def model_comparison_figure(x: np.ndarray, Y: np.ndarray, fits: Mapping[str, Fit]) -> Figure:
    """Top: the mean trace of Y (k, n) and every family's fit to it. Bottom: the residuals."""
    mean = Y.mean(axis=0)
    figure = new_figure(figsize=(8.0, 6.5))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.scatter(x, mean, s=5, color="grey", alpha=0.6, label=f"Mean of {len(Y)} traces")
    draw_fits(top, x, fits)
    top.set(ylabel=Y_LABEL, title="Every curve family fitted to the mean trace")
    top.legend(loc="upper right", fontsize=8)
    bottom.axhline(0, color="grey", lw=0.8)
    for name, curve in fits.items():
        keep = x >= max(curve.family.x_min, SCORED_FROM)
        if curve.converged:
            smooth_x, residual = moving_average(
                x[keep], mean[keep] - curve(x[keep]), RESIDUAL_WINDOW
            )
            bottom.plot(smooth_x, residual, color=COLOURS[name], lw=1.5)
    bottom.set(
        xlabel=X_LABEL,
        ylabel=f"Residual ({RESIDUAL_WINDOW}-iteration\nmoving average)",
    )
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return figure


def extrapolation_figure(
    x: np.ndarray, Y: np.ndarray, fits: Mapping[str, Fit], extrapolation: Mapping[str, Any]
) -> Figure:
    """Every family fitted to the start of the long run's mean trace (Y: (k, n)), and the
    paper's L(x), against the whole trace; below, each curve minus the smoothed trace.

    ``extrapolation`` is what extrapolate wrote: fit_iterations, tolerance, smoothing_window.
    """
    fit_iterations, tolerance = extrapolation["fit_iterations"], extrapolation["tolerance"]
    mean = Y.mean(axis=0)
    smooth_x, smooth = moving_average(x, mean, extrapolation["smoothing_window"])
    curves = {**fits, PAPER: published()}
    figure = new_figure(figsize=(8.0, 6.5))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.scatter(x, mean, s=3, color="grey", alpha=0.4, label=f"Long run, mean of {len(Y)} traces")
    draw_fits(top, x, fits)
    top.plot(x, published()(x), label="Paper's published L(x)", **PAPER_STYLE)
    top.set(ylim=loss_limits(mean), ylabel=Y_LABEL)
    top.set_title(f"Fitted on x < {fit_iterations} (left of the line), extrapolated beyond")
    top.legend(loc="upper right", fontsize=8)
    bottom.axhspan(-tolerance, tolerance, color="tab:green", alpha=0.15, label=f"±{tolerance:g}")
    for name, curve in curves.items():
        if curve.converged:
            style = PAPER_STYLE if name == PAPER else {"color": COLOURS[name], "lw": 1.5}
            keep = smooth_x >= curve.family.x_min
            bottom.plot(smooth_x[keep], curve(smooth_x[keep]) - smooth[keep], **style)
    bottom.set(ylim=(-6 * tolerance, 6 * tolerance), xlabel=X_LABEL)
    bottom.set_ylabel("Curve - smoothed trace")
    bottom.legend(loc="lower left", fontsize=8)
    for ax in (top, bottom):
        ax.axvline(fit_iterations, color="grey", ls=":", lw=1.5)
        ax.grid(alpha=0.3)
    return figure


def confidence_bands_figure(x: np.ndarray, Y: np.ndarray, bands: Mapping[str, Any]) -> Figure:
    """Top: the mean trace of Y (k, n) and each band's mean curve and interval, out to the
    extension. Bottom: each band's width, on a log scale (narrow inside the trials' range).
    """
    figure = new_figure(figsize=(8.0, 6.5))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.scatter(x, Y.mean(axis=0), s=4, color="grey", alpha=0.5, label=f"Mean of {len(Y)} traces")
    level = f"{bands['level']:.0%}"
    for name, band in bands["bands"].items():
        grid, colour = np.array(band["x"]), COLOURS[name]
        label = FAMILIES[name].label
        top.plot(grid, band["mean"], color=colour, lw=1.8, label=f"{label}: mean of seed fits")
        if band["low"] is not None:
            low, high = np.array(band["low"]), np.array(band["high"])
            top.fill_between(grid, low, high, color=colour, alpha=0.3, label=f"{level} band")
            bottom.plot(grid, high - low, color=colour, lw=1.5, label=label)
    top.set(ylim=loss_limits(Y.mean(axis=0)), ylabel=Y_LABEL)
    top.set_title(
        f"Bootstrap bands across {len(bands['seeds'])} seeds ({bands['resamples']} resamples)"
    )
    top.legend(loc="upper right", fontsize=8)
    bottom.set(yscale="log", xlabel=X_LABEL, ylabel=f"Width of the {level} band")
    for ax in (top, bottom):
        ax.axvline(bands["domain"][1], color="grey", ls=":", lw=1.5)
        ax.grid(alpha=0.3)
    return figure


def calibration_figure(calibration: Mapping[str, Any]) -> Figure:
    """Each variant's averaged quartic (and, faint, its mean trace) against the paper's L(x)."""
    lo, hi = calibration["domain"]
    grid = np.arange(lo, hi + 1, dtype=np.float64)
    paper = published()(grid)
    figure = new_figure(figsize=(8.0, 6.5))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.plot(grid, paper, label="Paper's published L(x)", **PAPER_STYLE)
    bottom.axhline(0, color="grey", lw=0.8)
    rows = {row["variant"]: row for row in calibration["rows"]}
    for (name, row), colour in zip(rows.items(), trial_colours(len(rows)), strict=True):
        curve = calibration["curves"][name]
        fitted = np.polyval(curve["coefficients"], grid)
        trace = np.array(curve["mean_trace"])
        label = f"{name} ({row['settings']}): RMSE {row['rmse_quartic_vs_paper']:.3f}"
        top.plot(np.arange(len(trace)), trace, color=colour, lw=0.6, alpha=0.35)
        top.plot(grid, fitted, color=colour, lw=2, label=label)
        bottom.plot(grid, fitted - paper, color=colour, lw=1.5)
    top.set(ylabel=Y_LABEL, xlim=(lo, hi))
    top.set_title("Which setting reproduces the published L(x)? Averaged quartic of each variant")
    top.legend(loc="upper right", fontsize=7)
    bottom.set(xlabel=X_LABEL, ylabel="Variant - paper")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return figure


def render_comparison_figures(
    traces_path: str | Path,
    families_path: str | Path,
    long_run_path: str | Path,
    extrapolation_path: str | Path,
    bands_path: str | Path,
    calibration_path: str | Path,
    outputs: Mapping[str, str | Path],
) -> None:
    """Draw the four figures into ``outputs``: {model_comparison,extrapolation,
    confidence_bands,calibration}_{png,svg}.
    """
    _, x, Y = loss_matrix(read_parquet(traces_path)[0])
    families = read_json(families_path)
    mean_fits = {name: from_record(name, r) for name, r in families["fits"][MEAN].items()}
    _, long_x, long_Y = loss_matrix(read_parquet(long_run_path)[0])
    extrapolation = read_json(extrapolation_path)
    long_fits = {name: from_record(name, r) for name, r in extrapolation["fits"][MEAN].items()}
    figures = {
        "model_comparison": model_comparison_figure(x, Y, mean_fits),
        "extrapolation": extrapolation_figure(long_x, long_Y, long_fits, extrapolation),
        "confidence_bands": confidence_bands_figure(x, Y, read_json(bands_path)),
        "calibration": calibration_figure(read_json(calibration_path)),
    }
    for name, figure in figures.items():
        save_figure(figure, outputs[f"{name}_png"], outputs[f"{name}_svg"])
