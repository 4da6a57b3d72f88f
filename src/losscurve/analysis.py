"""Collect the trials' loss traces, fit a polynomial to each, and average the fits.

Every trial records its batch log loss at x = 0 .. n - 1. Each trace gets its own least-squares
polynomial (``numpy.polyfit``, highest power first), and the model L(x) is the mean of those
coefficients, as in the paper. Because least squares is linear in the observations, on a
shared x grid that mean equals the fit of the mean trace.

A quartic in x up to ~500 is badly conditioned in the raw monomial basis (x^4 ~ 6e10 beside
x^0 = 1), so the averaged fit also records condition numbers and checks every trial's fit
against one computed in a scaled variable (``numpy.polynomial.Polynomial.fit``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.stats
from numpy.polynomial import Polynomial, polyutils

from . import reference
from .files import atomic_output
from .traces import METADATA_KEY, DamagedTraceError, read_trace, rebuild_hint

TRACE_COLUMNS = ["seed", "iteration", "loss", "accuracy"]


# --- collect -------------------------------------------------------------------------------


def write_parquet(frame: pd.DataFrame, path: str | Path, metadata: Mapping[str, Any]) -> None:
    """Write ``frame`` (no index) with ``metadata`` as JSON under the key ``losscurve``."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {**table.schema.metadata, METADATA_KEY: json.dumps(metadata, sort_keys=True)}
    )
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A table written by write_parquet, and its ``losscurve`` metadata."""
    table = pq.read_table(path)
    return table.to_pandas(), json.loads(table.schema.metadata[METADATA_KEY])


def collect_traces(
    paths: Sequence[str | Path],
    seeds: Sequence[int],
    config_hash: str,
    iterations: int,
    output: str | Path,
) -> pd.DataFrame:
    """Gather the trial files (one per seed) into one long table and write it as Parquet.

    Columns seed, iteration, loss, accuracy, sorted by seed then iteration. Each file is read
    with read_trace, so a damaged file or one from another trial config is refused with its
    name and the command that rebuilds it. The metadata records the config hash, the seeds and
    every trial's own metadata (test accuracy, wall time, versions).
    """
    frames, trials = [], []
    for seed, path in sorted(zip(seeds, paths, strict=True)):
        trace = read_trace(path, config_hash=config_hash, iterations=iterations)
        if trace.metadata.get("seed") != seed:
            raise DamagedTraceError(
                f"{path}: holds the trace of seed {trace.metadata.get('seed')}, expected seed "
                f"{seed}; {rebuild_hint(path)}"
            )
        frames.append(
            pd.DataFrame(
                {
                    "seed": np.full(len(trace.iteration), seed, dtype=np.int64),
                    "iteration": trace.iteration,
                    "loss": trace.loss,
                    "accuracy": trace.accuracy,
                }
            )
        )
        trials.append(trace.metadata)
    traces = pd.concat(frames, ignore_index=True)
    metadata = {"config_hash": config_hash, "seeds": sorted(seeds), "trials": trials}
    write_parquet(traces, output, metadata)
    return traces


def loss_matrix(traces: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The long table as seeds (k,), x (n,) and losses Y (k, n), one row per seed."""
    wide = traces.pivot(index="seed", columns="iteration", values="loss").sort_index()
    return wide.index.to_numpy(), wide.columns.to_numpy(dtype=np.float64), wide.to_numpy()


# --- per-trial fits ------------------------------------------------------------------------


def coefficient_names(degree: int) -> list[str]:
    """Column names of the coefficients, highest power first: x4, x3, x2, x1, x0 for 4."""
    return [f"x{p}" for p in range(degree, -1, -1)]


def least_squares_coefficients(x: np.ndarray, Y: np.ndarray, degree: int) -> np.ndarray:
    """numpy.polyfit of every row of Y (k, n) on x (n,): coefficients (k, degree + 1)."""
    return np.polyfit(x, Y.T, degree).T


def goodness_of_fit(
    x: np.ndarray, Y: np.ndarray, coefficients: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """R^2 = 1 - SS_res / SS_tot and RMSE = sqrt(SS_res / n) of each row's fit, both (k,)."""
    fitted = coefficients @ np.vander(x, coefficients.shape[1]).T
    ss_res = ((Y - fitted) ** 2).sum(axis=1)
    ss_tot = ((Y - Y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    return 1 - ss_res / ss_tot, np.sqrt(ss_res / Y.shape[1])


def fit_trials(
    traces_path: str | Path, degree: int, csv_output: str | Path, parquet_output: str | Path
) -> pd.DataFrame:
    """Fit each trial's trace; write one row per seed: seed, x<degree> .. x0, r2, rmse."""
    traces, metadata = read_parquet(traces_path)
    seeds, x, Y = loss_matrix(traces)
    coefficients = least_squares_coefficients(x, Y, degree)
    r2, rmse = goodness_of_fit(x, Y, coefficients)
    fits = pd.DataFrame(coefficients, columns=coefficient_names(degree))
    fits.insert(0, "seed", seeds)
    fits["r2"], fits["rmse"] = r2, rmse
    with atomic_output(csv_output) as tmp:
        fits.to_csv(tmp, index=False)
    write_parquet(fits, parquet_output, {"config_hash": metadata["config_hash"], "degree": degree})
    return fits


# --- conditioning --------------------------------------------------------------------------


def vandermonde_condition(x: np.ndarray, degree: int) -> dict[str, float]:
    """2-norm condition numbers of the least-squares matrix of a degree-``degree`` fit on x.

    ``vandermonde``: the matrix [x^d .. x^0] that numpy.polyfit builds; ``column_scaled``: the
    same with unit-norm columns, which is what polyfit's least-squares solve actually sees;
    ``scaled_x``: the Vandermonde matrix in t = x mapped onto [-1, 1], as Polynomial.fit uses.
    """
    V = np.vander(x, degree + 1)
    offset, scale = polyutils.mapparms([x.min(), x.max()], [-1, 1])
    scaled = np.vander(offset + scale * x, degree + 1)
    return {
        "vandermonde": float(np.linalg.cond(V)),
        "column_scaled": float(np.linalg.cond(V / np.linalg.norm(V, axis=0))),
        "scaled_x": float(np.linalg.cond(scaled)),
    }


def scaled_coefficients(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """The least-squares fit done in the scaled variable, converted back to powers of x.

    Returns (degree + 1,) coefficients highest power first, comparable with numpy.polyfit.
    """
    low_first = Polynomial.fit(x, y, degree).convert().coef
    return np.pad(low_first, (0, degree + 1 - len(low_first)))[::-1]


def scaled_fit_agreement(x: np.ndarray, Y: np.ndarray, coefficients: np.ndarray) -> dict:
    """Largest disagreement over all rows between ``coefficients`` and the scaled-x fits.

    ``relative_coefficient``: max |a - b| / |b| over every coefficient; ``curve``: max
    |a(x) - b(x)| over the grid, in units of loss.
    """
    degree = coefficients.shape[1] - 1
    scaled = np.array([scaled_coefficients(x, y, degree) for y in Y])
    difference = coefficients - scaled
    return {
        "relative_coefficient": float(np.max(np.abs(difference) / np.abs(scaled))),
        "curve": float(np.max(np.abs(difference @ np.vander(x, degree + 1).T))),
    }


# --- average -------------------------------------------------------------------------------


def bootstrap_interval(
    coefficients: np.ndarray, resamples: int, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean of each column of (k, m) over the k trials."""
    result = scipy.stats.bootstrap(
        (coefficients,),
        np.mean,
        axis=0,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return result.confidence_interval.low, result.confidence_interval.high


def format_constant(value: float) -> str:
    """Three significant figures, trailing zeros kept (2.30, not 2.3)."""
    return f"{value:#.3g}".rstrip(".")


def format_equation(coefficients: Sequence[float]) -> str:
    """L(x) as the paper writes it: (-8.02e-11)x^4 + ... + (-6.88e-03)x + 2.31."""
    degree = len(coefficients) - 1
    terms = []
    for power, c in zip(range(degree, -1, -1), coefficients, strict=True):
        if power == 0:
            terms.append(format_constant(c) if c >= 0 else f"({format_constant(c)})")
        else:
            terms.append(f"({c:.2e})x" + (f"^{power}" if power > 1 else ""))
    return "L(x) = " + " + ".join(terms)


def paper_comparison(coefficients: Sequence[float], iterations: int) -> dict[str, Any]:
    """This run's average polynomial against the paper's L(x) on the integer x both cover."""
    x = np.arange(min(iterations - 1, reference.DOMAIN[1]) + 1, dtype=np.float64)
    difference = np.polyval(coefficients, x) - np.polyval(reference.average_polynomial(), x)
    worst = int(np.argmax(np.abs(difference)))
    return {
        "domain": [0, int(x[-1])],
        "max_abs_difference": float(np.abs(difference[worst])),
        "x_of_max_abs_difference": worst,
        "mean_abs_difference": float(np.mean(np.abs(difference))),
        "paper_equation": reference.EQUATION,
        "source": reference.SOURCE,
    }


def average_fits(
    coefficients_path: str | Path,
    traces_path: str | Path,
    fit_config: Mapping[str, Any],
    output: str | Path,
) -> dict[str, Any]:
    """Average the per-trial coefficients into L(x) and write it with its uncertainty as JSON.

    The standard deviation is across seeds (ddof 1); the interval is a percentile bootstrap
    over trials. Both need at least two trials and are null otherwise.
    """
    fits, _ = read_parquet(coefficients_path)
    traces, metadata = read_parquet(traces_path)
    seeds, x, Y = loss_matrix(traces)
    names = coefficient_names(fit_config["degree"])
    coefficients = fits.set_index("seed").loc[seeds, names].to_numpy()
    mean = coefficients.mean(axis=0)
    several = len(seeds) > 1
    if several:
        low, high = bootstrap_interval(
            coefficients,
            fit_config["bootstrap_resamples"],
            fit_config["confidence_level"],
            fit_config["bootstrap_seed"],
        )
    average = {
        "config_hash": metadata["config_hash"],
        "seeds": [int(s) for s in seeds],
        "degree": fit_config["degree"],
        "names": names,
        "coefficients": mean.tolist(),
        "standard_deviation": coefficients.std(axis=0, ddof=1).tolist() if several else None,
        "confidence_interval": {
            "level": fit_config["confidence_level"],
            "method": "percentile bootstrap over trials (scipy.stats.bootstrap)",
            "resamples": fit_config["bootstrap_resamples"],
            "seed": fit_config["bootstrap_seed"],
            "low": low.tolist() if several else None,
            "high": high.tolist() if several else None,
        },
        "domain": [0, len(x) - 1],
        "equation": format_equation(mean),
        "conditioning": {
            **vandermonde_condition(x, fit_config["degree"]),
            "scaled_fit_max_difference": scaled_fit_agreement(x, Y, coefficients),
        },
        "paper_comparison": paper_comparison(mean, len(x)),
    }
    with atomic_output(output) as tmp:
        tmp.write_text(json.dumps(average, indent=2) + "\n", encoding="utf-8")
    return average
