"""How good is the quartic? Curve families compared, extrapolated, bootstrapped and calibrated.

One function per workflow step:

- compare_models: every family of ``curves.FAMILIES`` fitted to every trial and to the mean
  trace; scores on the whole trace, held-out RMSE after fitting a prefix, validity checks.
- extrapolate: the same families fitted to the first iterations of the long run (as many as a
  main trial records) and scored on everything after, with the paper's published L(x).
- confidence_bands: bootstrap bands across seeds of the average quartic and of the best family.
- calibrate: which variant's averaged quartic comes closest to the paper's published L(x).

Scores are computed on x >= 1 for every family, the iterations where all of them are defined
(the power law is infinite at x = 0), so that their AIC and BIC count the same points.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import reference
from .analysis import loss_matrix, read_parquet
from .curves import (
    EXTENSION,
    FAMILIES,
    Fit,
    bootstrap_band,
    fit,
    heldout_rmse,
    holdout_split,
    horizon,
    moving_average,
    rmse,
    scores,
    validity,
)
from .files import atomic_output

MEAN = "mean"  # the trial label of the mean trace across seeds
PAPER = "paper"  # the curve label of the published L(x)
SCORED_FROM = max(f.x_min for f in FAMILIES.values())
# Iterations in the moving average an extrapolation is measured against: long enough to
# average out most minibatch noise, short next to the 500-iteration fit window.
SMOOTHING_WINDOW = 51


def smoothing_window(fit_iterations: int) -> int:
    """SMOOTHING_WINDOW, or about a fifth of a shorter fit window (always odd)."""
    return min(SMOOTHING_WINDOW, 2 * (fit_iterations // 10) + 1)


def write_json(data: Mapping[str, Any], path: str | Path) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, index=False)


def labelled_traces(seeds: np.ndarray, Y: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """Each trial's trace (n,) labelled by its seed, then the mean trace labelled MEAN."""
    for seed, y in zip(seeds, Y, strict=True):
        yield str(seed), y
    yield MEAN, Y.mean(axis=0)


def json_floats(values) -> list[float | None]:
    """Floats for JSON, NaN as null."""
    return [None if np.isnan(v) else float(v) for v in values]


def fit_record(curve: Fit) -> dict[str, Any]:
    """A fit as JSON: parameters by name (null when it did not converge), domain, message."""
    return {
        "parameters": dict(
            zip(curve.family.parameters, json_floats(curve.parameters), strict=True)
        ),
        "converged": curve.converged,
        "message": curve.message,
        "domain": json_floats(curve.domain),
    }


def from_record(family: str, record: Mapping[str, Any]) -> Fit:
    """The Fit that fit_record wrote."""
    theta, domain = (
        np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        for values in (record["parameters"].values(), record["domain"])
    )
    return Fit(FAMILIES[family], theta, record["converged"], record["message"], tuple(domain))


def published() -> Fit:
    """The paper's L(x) as a fitted quartic on the domain the paper states."""
    return Fit(FAMILIES["quartic"], reference.average_polynomial(), True, "", reference.DOMAIN)


# --- compare -------------------------------------------------------------------------------


def family_row(
    label: str, curve: Fit, x: np.ndarray, y: np.ndarray, train_sizes: Sequence[int]
) -> dict[str, Any]:
    """One line of model_comparison.csv: a fit's scores, held-out RMSEs and validity."""
    scored = x >= SCORED_FROM
    return {
        "trial": label,
        "family": curve.family.name,
        "converged": curve.converged,
        "n_parameters": curve.family.size,
        **scores(curve, x[scored], y[scored]),
        **{f"heldout_rmse_{m}": heldout_rmse(curve.family, x, y, m) for m in train_sizes},
        **validity(curve),
        "parameters": json.dumps(fit_record(curve)["parameters"]),
        "message": curve.message,
    }


def family_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per family: the mean trace's scores and how the family did over the trials.

    ``total_bic`` sums BIC over the trials (the trials are independent), ``delta_bic`` is
    that minus the lowest total, and ``wins`` counts the trials where the family's BIC is the
    lowest. ``converged`` counts the trials it converged on.
    """
    trials = comparison[comparison["trial"] != MEAN]
    scored = trials.dropna(subset=["bic"])
    lowest = scored.loc[scored.groupby("trial")["bic"].idxmin(), "family"]
    per_family = trials.groupby("family", sort=False).agg(
        converged=("converged", "sum"), total_bic=("bic", "sum"), trial_rmse=("rmse", "mean")
    )
    per_family["wins"] = lowest.value_counts().reindex(per_family.index, fill_value=0)
    per_family.loc[per_family["converged"] < trials["trial"].nunique(), "total_bic"] = np.nan
    per_family["delta_bic"] = per_family["total_bic"] - per_family["total_bic"].min()
    mean_trace = comparison[comparison["trial"] == MEAN].set_index("family")
    return mean_trace.drop(columns=["trial", "converged"]).join(per_family)


def best_family(summary: pd.DataFrame) -> str | None:
    """The family with the lowest BIC summed over the trials, among those converged on all
    (None if no family converged on every trial)."""
    totals = summary["total_bic"].dropna()
    return str(totals.idxmin()) if len(totals) else None


def holdout_sizes(fractions: Sequence[float], iterations: int) -> list[int]:
    """The held-out fits' training lengths: each fraction of ``iterations``, rounded."""
    return sorted({round(f * iterations) for f in fractions})


def compare_models(
    traces_path: str | Path,
    holdout_fractions: Sequence[float],
    csv_output: str | Path,
    json_output: str | Path,
) -> pd.DataFrame:
    """Fit every family to every trial and to the mean trace; write the scores and the fits.

    Each family is also fitted to the first fraction of each trace, for every fraction in
    ``holdout_fractions``, and scored on the rest. CSV: one row per (trial, family), the trial
    being a seed or ``mean``. JSON: every fit's parameters by trial and family, the best
    family and the per-family summary.
    """
    traces, metadata = read_parquet(traces_path)
    seeds, x, Y = loss_matrix(traces)
    train_sizes = holdout_sizes(holdout_fractions, len(x))
    rows, fits = [], {}
    for label, y in labelled_traces(seeds, Y):
        curves = {name: fit(family, x, y) for name, family in FAMILIES.items()}
        rows += [family_row(label, c, x, y, train_sizes) for c in curves.values()]
        fits[label] = {name: fit_record(c) for name, c in curves.items()}
    comparison = pd.DataFrame(rows)
    summary = family_summary(comparison)
    write_csv(comparison, csv_output)
    write_json(
        {
            "config_hash": metadata["config_hash"],
            "seeds": [int(s) for s in seeds],
            "iterations": len(x),
            "scored_from": SCORED_FROM,
            "train_sizes": train_sizes,
            "formulas": {name: f.formula for name, f in FAMILIES.items()},
            "best": best_family(summary),
            "summary": json.loads(summary.reset_index().to_json(orient="records")),
            "fits": fits,
        },
        json_output,
    )
    return comparison


# --- extrapolate ---------------------------------------------------------------------------


def extrapolation_row(
    label: str,
    name: str,
    curve: Fit,
    x: np.ndarray,
    y: np.ndarray,
    fit_iterations: int,
    tolerance: float,
) -> dict[str, Any]:
    """How a curve fitted on x < fit_iterations does on the rest of one long trace (n,).

    ``horizon_x`` is the first x past the fit where the curve leaves the smoothed trace by more
    than ``tolerance``; when it never does, it is the last smoothed x and ``stays_within`` is
    true.
    """
    seen, unseen = holdout_split(x, fit_iterations)
    seen &= x >= SCORED_FROM
    twice = x >= EXTENSION * fit_iterations
    smooth_x, smooth = moving_average(x, y, smoothing_window(fit_iterations))
    reach = horizon(curve, smooth_x, smooth, fit_iterations, tolerance) if curve.converged else None
    return {
        "trial": label,
        "curve": name,
        "converged": curve.converged,
        "fit_iterations": fit_iterations,
        "rmse_fit": rmse(curve, x[seen], y[seen]),
        "rmse_beyond": rmse(curve, x[unseen], y[unseen]),
        f"rmse_beyond_{EXTENSION}x": rmse(curve, x[twice], y[twice]),
        "horizon_x": np.nan if not curve.converged else smooth_x[-1] if reach is None else reach,
        "stays_within": curve.converged and reach is None,
        "last_x": float(smooth_x[-1]),
        "predicted_at_last_x": float(curve(smooth_x[-1:])[0]),
        "observed_at_last_x": float(smooth[-1]),
        **validity(curve),
    }


def extrapolate(
    traces_path: str | Path,
    fit_iterations: int,
    tolerance: float,
    csv_output: str | Path,
    json_output: str | Path,
) -> pd.DataFrame:
    """Fit every family to the first ``fit_iterations`` of each long trial and the mean trace.

    The paper's published L(x) joins them as the curve ``paper``. CSV: one row per (trial,
    curve). JSON: the mean trace's fits, for the figure.
    """
    traces, metadata = read_parquet(traces_path)
    seeds, x, Y = loss_matrix(traces)
    seen, _ = holdout_split(x, fit_iterations)
    rows, fits = [], {}
    for label, y in labelled_traces(seeds, Y):
        curves = {name: fit(family, x[seen], y[seen]) for name, family in FAMILIES.items()}
        rows += [
            extrapolation_row(label, name, c, x, y, fit_iterations, tolerance)
            for name, c in {**curves, PAPER: published()}.items()
        ]
        fits[label] = {name: fit_record(c) for name, c in curves.items()}
    frame = pd.DataFrame(rows)
    write_csv(frame, csv_output)
    write_json(
        {
            "config_hash": metadata["config_hash"],
            "seeds": [int(s) for s in seeds],
            "iterations": len(x),
            "fit_iterations": fit_iterations,
            "tolerance": tolerance,
            "smoothing_window": smoothing_window(fit_iterations),
            "fits": fits,
        },
        json_output,
    )
    return frame


# --- confidence bands ----------------------------------------------------------------------


def band_record(
    grid: np.ndarray, per_seed: np.ndarray, domain_end: float, fit_config: Mapping[str, Any]
) -> dict[str, Any]:
    """The bootstrap band of the mean of per-seed curves (k, g) on ``grid`` (g,), with widths.

    The interval needs two seeds or more; with one, low, high and the widths are null.
    """
    mean = per_seed.mean(axis=0)
    record: dict[str, Any] = {"x": grid.tolist(), "mean": mean.tolist()}
    if len(per_seed) < 2:
        return record | dict.fromkeys(["low", "high", "width"])
    _, low, high = bootstrap_band(
        per_seed,
        fit_config["bootstrap_resamples"],
        fit_config["confidence_level"],
        fit_config["bootstrap_seed"],
    )
    width = high - low
    inside = grid <= domain_end
    return record | {
        "low": low.tolist(),
        "high": high.tolist(),
        "width": {
            "mean_in_domain": float(width[inside].mean()),
            "max_in_domain": float(width[inside].max()),
            "x_of_max_in_domain": float(grid[inside][np.argmax(width[inside])]),
            "at_domain_end": float(width[inside][-1]),
            f"at_{EXTENSION}x": float(width[-1]),
        },
    }


def confidence_bands(
    families_path: str | Path, fit_config: Mapping[str, Any], json_output: str | Path
) -> dict[str, Any]:
    """Bootstrap bands across seeds for the average quartic and for the best family (each
    only when it converged on every seed).

    Each family's average curve is the mean of its per-seed fitted curves (for the quartic,
    the paper's average of coefficients), evaluated at every integer x from the family's x_min
    to EXTENSION times the last iteration. The band is pointwise, a percentile bootstrap over
    seeds with the settings of ``fit`` (resamples, confidence level, seed).
    """
    comparison = read_json(families_path)
    seeds, domain_end = comparison["seeds"], comparison["iterations"] - 1
    bands = {}
    for name in dict.fromkeys(n for n in ("quartic", comparison["best"]) if n is not None):
        fits = [from_record(name, comparison["fits"][str(s)][name]) for s in seeds]
        if all(f.converged for f in fits):
            grid = np.arange(FAMILIES[name].x_min, EXTENSION * domain_end + 1)
            per_seed = np.array([f(grid) for f in fits])
            bands[name] = band_record(grid, per_seed, domain_end, fit_config)
    result = {
        "seeds": seeds,
        "domain": [0, domain_end],
        "best": comparison["best"],
        "level": fit_config["confidence_level"],
        "resamples": fit_config["bootstrap_resamples"],
        "bootstrap_seed": fit_config["bootstrap_seed"],
        "method": "pointwise percentile bootstrap over seeds (scipy.stats.bootstrap)",
        "bands": bands,
    }
    write_json(result, json_output)
    return result


# --- calibration ---------------------------------------------------------------------------

MAIN_RUN = "main run"  # the calibration label of config trials (no experiment name has a space)


def describe_overrides(overrides: Mapping[str, Any]) -> str:
    """The trial keys a variant sets, seeds aside: ``learning_rate=0.05, dropout=0.5``."""
    settings = [f"{k}={v}" for k, v in overrides.items() if k != "seeds"]
    return ", ".join(settings) or "config trials"


def calibration_row(
    name: str, overrides: Mapping[str, Any], average_path: str | Path, traces_path: str | Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """How close one variant's averaged quartic and mean trace come to the published L(x).

    Returns the table row and, for the figure, the variant's coefficients and mean trace.
    """
    average = read_json(average_path)
    traces, metadata = read_parquet(traces_path)
    _, x, Y = loss_matrix(traces)
    grid = np.arange(reference.DOMAIN[0], reference.DOMAIN[1] + 1, dtype=np.float64)
    paper = published()
    difference = np.polyval(average["coefficients"], grid) - paper(grid)
    common = x <= reference.DOMAIN[1]
    mean_trace = Y.mean(axis=0)
    row = {
        "variant": name,
        "settings": describe_overrides(overrides),
        "seeds": len(Y),
        "iterations": len(x),
        "rmse_quartic_vs_paper": float(np.sqrt(np.mean(difference**2))),
        "max_abs_quartic_vs_paper": float(np.abs(difference).max()),
        "rmse_mean_trace_vs_paper": rmse(paper, x[common], mean_trace[common]),
        "test_accuracy": float(np.mean([t["test_accuracy"] for t in metadata["trials"]])),
    }
    curves = {"coefficients": average["coefficients"], "mean_trace": mean_trace.tolist()}
    return row, curves


def calibrate(
    experiments: Mapping[str, Mapping[str, Any]],
    averages: Sequence[str | Path],
    traces: Sequence[str | Path],
    csv_output: str | Path,
    json_output: str | Path,
) -> pd.DataFrame:
    """Rank the main run and the experiments by how close each averaged quartic comes to the
    paper's L(x): its RMSE over the integers of the paper's domain 0..500.

    ``experiments`` maps each experiment's name to the trial keys it sets; ``averages`` (their
    average.json) and ``traces`` (their loss_traces.parquet) list the main run's first, then
    the experiments' in that order. The mean trace is compared where it has iterations.
    """
    variants = {MAIN_RUN: {}, **experiments}
    rows, curves = [], {}
    for (name, overrides), average, trace in zip(variants.items(), averages, traces, strict=True):
        row, curves[name] = calibration_row(name, overrides, average, trace)
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("rmse_quartic_vs_paper", ignore_index=True)
    write_csv(table, csv_output)
    write_json(
        {
            "closest": table.loc[0, "variant"],
            "domain": list(reference.DOMAIN),
            "paper_equation": reference.EQUATION,
            "rows": json.loads(table.to_json(orient="records")),
            "curves": curves,
        },
        json_output,
    )
    return table
