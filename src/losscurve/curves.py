"""Curve families for a loss trace beyond the paper's quartic: fits, scores, checks, bands.

Every family is a model L(x; theta) of the batch log loss at iteration x. The quartic is fitted
by linear least squares (numpy.polyfit, as the paper); the others by bounded nonlinear least
squares (scipy.optimize.curve_fit, trust-region reflective) from a few data-driven starting
values, keeping the start with the smallest residual sum of squares. A fit that converges from
no start is returned with ``converged=False`` and the solver's message, never dropped.

Bounds keep every nonlinear family a decreasing curve above zero, as a log loss is: the
asymptote c (or alpha) is >= 0 and the amplitude and rate are > 0. The MMF family can still
rise if alpha > beta, which the validity checks report.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.optimize

from .analysis import bootstrap_interval

# A curve counts as rising where it gains more than this per iteration; smaller steps are
# rounding in a flat tail.
RISE_TOLERANCE = 1e-9
# Validity is checked from the start of a fit's domain to this many times its end.
EXTENSION = 2
# Columns per bootstrap call: scipy holds resamples x trials x columns values at once.
BAND_CHUNK = 25


def quartic(x: np.ndarray, *theta: float) -> np.ndarray:
    """theta = (x4, x3, x2, x1, x0), highest power first, as numpy.polyval takes them."""
    return np.polyval(theta, x)


def power_law(x: np.ndarray, c: float, a: float, alpha: float) -> np.ndarray:
    """c + a x^-alpha, for x >= 1."""
    return c + a * x ** (-alpha)


def shifted_power_law(x: np.ndarray, c: float, a: float, b: float, alpha: float) -> np.ndarray:
    """c + (a x + b)^-alpha; b > 0 keeps it finite at x = 0."""
    return c + (a * x + b) ** (-alpha)


def exponential(x: np.ndarray, c: float, a: float, b: float) -> np.ndarray:
    """c + a exp(-b x)."""
    return c + a * np.exp(-b * x)


def mmf(x: np.ndarray, alpha: float, beta: float, kappa: float, delta: float) -> np.ndarray:
    """Morgan-Mercer-Flodin: alpha - (alpha - beta) / (1 + (kappa x)^delta).

    beta at x = 0, alpha as x -> infinity, sigmoidal in log x with its midpoint at 1 / kappa.
    """
    return alpha - (alpha - beta) / (1 + (kappa * x) ** delta)


@dataclass(frozen=True)
class Shape:
    """What the starting values are read from: the start, end and half-way point of a trace."""

    start: float  # loss near the first fitted iteration
    end: float  # loss near the last
    half_x: float  # first iteration where the smoothed loss is half way from start to end


def shape(x: np.ndarray, y: np.ndarray) -> Shape:
    """Robust summaries of a trace (x, y both (n,)) for starting values."""
    window = max(1, len(y) // 20)
    start, end = float(np.median(y[:window])), float(np.median(y[-window:]))
    smooth = np.convolve(y, np.ones(window) / window, mode="same")
    below = np.flatnonzero(smooth <= (start + end) / 2)
    half_x = float(x[below[0]]) if len(below) else float(x[len(x) // 2])
    return Shape(start, end, max(half_x, float(x[1] - x[0]), 1.0))


def power_law_starts(s: Shape) -> list[tuple[float, ...]]:
    starts = []
    for c in (0.0, 0.5 * s.end):
        # Through (1, start) and (half_x, half way): a = start - c, then solve for alpha.
        alpha = np.log((s.start - c) / ((s.start + s.end) / 2 - c)) / max(np.log(s.half_x), 1e-3)
        starts.append((c, s.start - c, max(float(alpha), 0.05)))
    return starts


def shifted_power_law_starts(s: Shape) -> list[tuple[float, ...]]:
    starts = []
    for alpha in (0.5, 1.0, 2.0):
        c = 0.5 * s.end
        # Through (0, start) and (half_x, half way).
        b = (s.start - c) ** (-1 / alpha)
        a = (((s.start + s.end) / 2 - c) ** (-1 / alpha) - b) / s.half_x
        starts.append((c, max(a, 1e-6), b, alpha))
    return starts


def exponential_starts(s: Shape) -> list[tuple[float, ...]]:
    c = 0.8 * s.end
    return [(c, s.start - c, factor * np.log(2) / s.half_x) for factor in (0.5, 1.0, 2.0)]


def mmf_starts(s: Shape) -> list[tuple[float, ...]]:
    return [(0.8 * s.end, s.start, 1 / s.half_x, delta) for delta in (1.0, 2.0)]


@dataclass(frozen=True)
class Family:
    name: str
    label: str  # for legends and tables
    formula: str
    parameters: tuple[str, ...]
    model: Callable[..., np.ndarray]
    # Fitted on x >= x_min only (the power law is infinite at 0).
    x_min: float = 0.0
    # None: linear least squares (numpy.polyfit); else starting values from a trace's shape.
    starts: Callable[[Shape], list[tuple[float, ...]]] | None = None
    lower: tuple[float, ...] = ()
    upper: tuple[float, ...] = ()

    @property
    def size(self) -> int:
        return len(self.parameters)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "quartic",
            "Quartic (the paper's)",
            "x4 x^4 + x3 x^3 + x2 x^2 + x1 x + x0",
            ("x4", "x3", "x2", "x1", "x0"),
            quartic,
        ),
        Family(
            "power_law",
            "Power law",
            "c + a x^-alpha (x >= 1)",
            ("c", "a", "alpha"),
            power_law,
            x_min=1.0,
            starts=power_law_starts,
            lower=(0, 0, 0),
            upper=(np.inf, np.inf, 10),
        ),
        Family(
            "shifted_power_law",
            "Shifted power law",
            "c + (a x + b)^-alpha",
            ("c", "a", "b", "alpha"),
            shifted_power_law,
            starts=shifted_power_law_starts,
            lower=(0, 0, 1e-6, 0),
            upper=(np.inf, np.inf, np.inf, 10),
        ),
        Family(
            "exponential",
            "Exponential",
            "c + a exp(-b x)",
            ("c", "a", "b"),
            exponential,
            starts=exponential_starts,
            lower=(0, 0, 0),
            upper=(np.inf, np.inf, np.inf),
        ),
        Family(
            "mmf",
            "MMF (sigmoidal in log x)",
            "alpha - (alpha - beta) / (1 + (kappa x)^delta)",
            ("alpha", "beta", "kappa", "delta"),
            mmf,
            starts=mmf_starts,
            lower=(0, 0, 0, 0),
            upper=(np.inf, np.inf, np.inf, 10),
        ),
    )
}


@dataclass(frozen=True)
class Fit:
    family: Family
    parameters: np.ndarray  # (p,), NaN when not converged
    converged: bool
    message: str  # the solver's complaint when not converged, "" otherwise
    domain: tuple[float, float]  # smallest and largest x fitted

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.family.model(np.asarray(x, dtype=np.float64), *self.parameters)


def least_squares(family: Family, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, str]:
    """Parameters (p,) with the smallest residual sum of squares over the starts, and "".

    NaNs and the last solver message when no start converges.
    """
    if family.starts is None:
        return np.polyfit(x, y, family.size - 1), ""
    best, best_sse, message = np.full(family.size, np.nan), np.inf, ""
    for p0 in family.starts(shape(x, y)):
        p0 = np.clip(p0, family.lower, family.upper)
        try:
            with warnings.catch_warnings():
                # Overflow in a trial step is rejected by the solver; the result is checked.
                warnings.simplefilter("ignore", RuntimeWarning)
                theta, _ = scipy.optimize.curve_fit(
                    family.model,
                    x,
                    y,
                    p0=p0,
                    bounds=(family.lower, family.upper),
                    maxfev=5000,
                )
        except (RuntimeError, ValueError, scipy.optimize.OptimizeWarning) as exc:
            message = str(exc)
            continue
        with np.errstate(all="ignore"):
            sse = float(np.sum((family.model(x, *theta) - y) ** 2))
        if np.isfinite(sse) and sse < best_sse:
            best, best_sse = theta, sse
    return best, "" if np.isfinite(best_sse) else message or "no finite fit from any start"


def fit(family: Family, x: np.ndarray, y: np.ndarray) -> Fit:
    """Fit ``family`` to the points of (x, y), both (n,), where x >= family.x_min."""
    keep = x >= family.x_min
    xs, ys = np.asarray(x[keep], dtype=np.float64), np.asarray(y[keep], dtype=np.float64)
    if len(xs) <= family.size:
        return Fit(
            family,
            np.full(family.size, np.nan),
            False,
            f"{len(xs)} points cannot determine {family.size} parameters",
            (float("nan"), float("nan")),
        )
    theta, message = least_squares(family, xs, ys)
    return Fit(family, np.asarray(theta), not message, message, (xs[0], xs[-1]))


# --- scores --------------------------------------------------------------------------------


def scores(curve: Fit, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """RMSE, R^2, AIC, BIC and the residuals' lag-1 autocorrelation of a fit on (x, y), (n,).

    AIC and BIC take the residuals as independent Gaussian with the maximum-likelihood
    variance SSE / n, and count that variance as a parameter: -2 ln L = n (ln(2 pi SSE / n) + 1),
    AIC = -2 ln L + 2 (p + 1), BIC = -2 ln L + (p + 1) ln n. The autocorrelation shows how far
    the residuals are from independent.
    """
    n, k = len(y), curve.family.size + 1
    residual = y - curve(x)
    sse = float(residual @ residual)
    sst = float(np.sum((y - y.mean()) ** 2))
    minus_two_log_likelihood = n * (np.log(2 * np.pi * sse / n) + 1)
    return {
        "rmse": np.sqrt(sse / n),
        "r2": 1 - sse / sst,
        "aic": minus_two_log_likelihood + 2 * k,
        "bic": minus_two_log_likelihood + k * np.log(n),
        "lag1_autocorrelation": float(np.corrcoef(residual[:-1], residual[1:])[0, 1]),
    }


def rmse(curve: Fit, x: np.ndarray, y: np.ndarray) -> float:
    """Root mean squared error of ``curve`` on (x, y); NaN for a fit that did not converge."""
    return float(np.sqrt(np.mean((curve(x) - y) ** 2)))


def holdout_split(x: np.ndarray, train_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (n,) of the first ``train_size`` iterations and of the rest."""
    train = x < train_size
    return train, ~train


def heldout_rmse(family: Family, x: np.ndarray, y: np.ndarray, train_size: int) -> float:
    """Fit on x < train_size and return the RMSE on the held-out x >= train_size."""
    train, test = holdout_split(x, train_size)
    curve = fit(family, x[train], y[train])
    return rmse(curve, x[test], y[test]) if curve.converged else float("nan")


def moving_average(x: np.ndarray, y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred moving average of y (n,) over ``window`` (odd) points: x and y, (n - window + 1,).

    A window longer than the trace shrinks to the longest odd one that fits.
    """
    window = min(window, len(y) - 1 + len(y) % 2)
    half = window // 2
    return x[half : len(x) - half], np.convolve(y, np.ones(window) / window, mode="valid")


def horizon(
    curve: Fit, x: np.ndarray, smooth: np.ndarray, start: float, tolerance: float
) -> float | None:
    """The first x >= start where ``curve`` leaves the smoothed trace (x, smooth: (n,)) by more
    than ``tolerance``, or None when it stays within it to the end.
    """
    after = x >= start
    off = np.flatnonzero(np.abs(curve(x[after]) - smooth[after]) > tolerance)
    return float(x[after][off[0]]) if len(off) else None


# --- validity ------------------------------------------------------------------------------


def first_negative(x: np.ndarray, curve: np.ndarray) -> float | None:
    """The first x (n,) where the curve (n,) is below zero, or None."""
    hits = np.flatnonzero(curve < 0)
    return float(x[hits[0]]) if len(hits) else None


def first_rise(x: np.ndarray, curve: np.ndarray) -> float | None:
    """The first x (n,) after which the curve (n,) goes up, or None."""
    hits = np.flatnonzero(np.diff(curve) > RISE_TOLERANCE)
    return float(x[hits[0]]) if len(hits) else None


VALIDITY_KEYS = (
    "first_negative_x",
    "first_rise_x",
    "negative_in_domain",
    "rises_in_domain",
    f"negative_within_{EXTENSION}x",
    f"rises_within_{EXTENSION}x",
)


def validity(curve: Fit) -> dict[str, float | bool | None]:
    """Where a fitted curve stops behaving like a log loss, on the integers of its domain.

    Scans x from the domain's start to EXTENSION times its end. ``first_negative_x`` and
    ``first_rise_x`` (the x after which it goes up) are None when the curve stays positive or
    never rises in that range; the flags say whether that happens within the domain or within
    the extended range. Everything is None for a fit that did not converge.
    """
    lo, hi = curve.domain
    checks = {}
    if curve.converged:
        x = np.arange(lo, EXTENSION * hi + 1)
        values = curve(x)
        negative, rise = first_negative(x, values), first_rise(x, values)
        checks = {
            "first_negative_x": negative,
            "first_rise_x": rise,
            "negative_in_domain": negative is not None and negative <= hi,
            "rises_in_domain": rise is not None and rise < hi,
            f"negative_within_{EXTENSION}x": negative is not None,
            f"rises_within_{EXTENSION}x": rise is not None,
        }
    return {key: checks.get(key) for key in VALIDITY_KEYS}


# --- uncertainty across seeds --------------------------------------------------------------


def bootstrap_band(
    curves: np.ndarray, resamples: int, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of k per-seed curves (k, g) at each grid point, with its bootstrap interval.

    Returns mean, low, high, each (g,). The interval is pointwise (percentile bootstrap over
    the seeds). Columns are resampled in chunks to bound memory; each chunk starts from the
    same seed and so draws the same resamples of the seeds, exactly as one call would.
    """
    chunks = [
        bootstrap_interval(curves[:, i : i + BAND_CHUNK], resamples, level, seed)
        for i in range(0, curves.shape[1], BAND_CHUNK)
    ]
    low = np.concatenate([c[0] for c in chunks])
    high = np.concatenate([c[1] for c in chunks])
    return curves.mean(axis=0), low, high
