"""Curve families: parameter recovery, scores, held-out splits, validity checks, bootstrap bands."""

from __future__ import annotations

import numpy as np
import pytest

from losscurve import curves, reference
from losscurve.analysis import bootstrap_interval

KNOWN = {
    "quartic": reference.AVERAGE,
    "power_law": (0.3, 2.0, 0.5),
    "shifted_power_law": (0.4, 0.0035, 0.78, 2.8),
    "exponential": (0.5, 1.8, 0.01),
    "mmf": (0.3, 2.35, 0.014, 1.25),
}
NOISE = 0.01


def noisy(family: curves.Family, theta, seed: int = 0, n: int = 500):
    """x (from the family's x_min) and the family's curve plus Gaussian noise of SD NOISE."""
    x = np.arange(family.x_min, n, dtype=np.float64)
    return x, family.model(x, *theta) + np.random.default_rng(seed).normal(0, NOISE, len(x))


def test_every_family_has_known_parameters():
    assert set(KNOWN) == set(curves.FAMILIES)


@pytest.mark.parametrize("name", list(KNOWN))
def test_fit_recovers_known_parameters_from_a_noisy_curve(name):
    family = curves.FAMILIES[name]
    x, y = noisy(family, KNOWN[name])
    result = curves.fit(family, x, y)
    assert result.converged and result.message == ""
    np.testing.assert_allclose(result.parameters, KNOWN[name], rtol=0.15)
    # The fitted curve is closer to the truth than the noise is to it.
    truth = family.model(x, *KNOWN[name])
    assert np.sqrt(np.mean((result(x) - truth) ** 2)) < NOISE / 3


def test_power_law_is_fitted_on_x_from_one():
    family = curves.FAMILIES["power_law"]
    x = np.arange(500.0)
    y = np.r_[99.0, family.model(x[1:], *KNOWN["power_law"])]  # x = 0 would be infinite
    result = curves.fit(family, x, y)
    assert result.domain == (1.0, 499.0)
    np.testing.assert_allclose(result.parameters, KNOWN["power_law"], rtol=1e-6)


def test_a_fit_that_cannot_converge_is_reported_not_dropped():
    family = curves.FAMILIES["exponential"]
    x, y = noisy(family, KNOWN["exponential"])
    y[10] = np.nan
    result = curves.fit(family, x, y)
    assert not result.converged
    assert "NaN" in result.message or "nan" in result.message
    assert np.isnan(result.parameters).all()
    assert all(value is None for value in curves.validity(result).values())
    too_few = curves.fit(curves.FAMILIES["mmf"], x[:4], y[:4])
    assert not too_few.converged and "4 points cannot determine 4 parameters" in too_few.message


def test_scores_by_hand():
    family = curves.FAMILIES["exponential"]
    flat = curves.Fit(family, np.array([1.0, 0.0, 0.0]), True, "", (0.0, 3.0))
    x, y = np.arange(4.0), np.array([1.0, 3.0, 1.0, 3.0])  # residuals 0, 2, 0, 2
    s = curves.scores(flat, x, y)
    assert s["rmse"] == pytest.approx(np.sqrt(2))
    assert s["r2"] == pytest.approx(1 - 8 / 4)
    minus_two_log_likelihood = 4 * (np.log(2 * np.pi * 8 / 4) + 1)
    assert s["aic"] == pytest.approx(minus_two_log_likelihood + 2 * 4)
    assert s["bic"] == pytest.approx(minus_two_log_likelihood + 4 * np.log(4))
    assert s["lag1_autocorrelation"] == pytest.approx(-1)  # residuals alternate 0, 2, 0, 2


def test_moving_average_is_centred_and_shrinks_to_fit():
    x, y = np.arange(6.0), np.array([0.0, 3, 0, 3, 0, 3])
    smooth_x, smooth = curves.moving_average(x, y, 3)
    np.testing.assert_array_equal(smooth_x, [1, 2, 3, 4])
    np.testing.assert_allclose(smooth, [1, 2, 1, 2])
    smooth_x, smooth = curves.moving_average(x, y, 51)  # longer than the trace: 5 points
    np.testing.assert_array_equal(smooth_x, [2, 3])
    np.testing.assert_allclose(smooth, [1.2, 1.8])


def test_horizon_is_where_a_curve_leaves_the_tolerance():
    family = curves.FAMILIES["exponential"]
    flat = curves.Fit(family, np.array([1.0, 0.0, 0.0]), True, "", (0.0, 9.0))
    x = np.arange(20.0)
    smooth = np.where(x < 14, 1.0, 1.2)
    assert curves.horizon(flat, x, smooth, start=10, tolerance=0.1) == 14
    assert curves.horizon(flat, x, smooth, start=10, tolerance=0.3) is None


def test_information_criteria_prefer_the_family_that_made_the_data():
    x, y = noisy(curves.FAMILIES["exponential"], KNOWN["exponential"])
    bic = {
        name: curves.scores(curves.fit(family, x, y), x[1:], y[1:])["bic"]
        for name, family in curves.FAMILIES.items()
    }
    assert min(bic, key=bic.get) == "exponential"


@pytest.mark.parametrize("train_size", [1, 100, 250, 400, 499])
def test_holdout_splits_are_disjoint_and_cover_the_trace(train_size):
    x = np.arange(500.0)
    train, test = curves.holdout_split(x, train_size)
    assert not np.any(train & test)
    assert np.all(train | test)
    assert x[train].max() == train_size - 1 and x[test].min() == train_size
    assert train.sum() == train_size


def test_heldout_rmse_scores_only_the_unseen_iterations():
    family = curves.FAMILIES["exponential"]
    x = np.arange(500.0)
    y = family.model(x, *KNOWN["exponential"])
    y[250:] += 1.0  # what the fit never sees, and everything it is scored on
    assert curves.heldout_rmse(family, x, y, 250) == pytest.approx(1.0, abs=1e-6)


def test_validity_flags_the_papers_quartic_going_negative():
    paper = curves.Fit(
        curves.FAMILIES["quartic"], np.array(reference.AVERAGE), True, "", reference.DOMAIN
    )
    checks = curves.validity(paper)
    assert 590 < checks["first_negative_x"] < 620
    assert not checks["negative_in_domain"] and checks["negative_within_2x"]


def test_validity_flags_a_curve_that_rises_within_its_domain():
    # (x - 300)^2 / 1e5 + 0.5 falls until x = 300, then rises.
    bowl = curves.Fit(
        curves.FAMILIES["quartic"], np.array([0, 0, 1e-5, -6e-3, 1.4]), True, "", (0, 499)
    )
    checks = curves.validity(bowl)
    assert checks["first_rise_x"] == 300
    assert checks["rises_in_domain"] and checks["rises_within_2x"]
    assert checks["first_negative_x"] is None and not checks["negative_within_2x"]


def test_validity_passes_a_decaying_exponential():
    decay = curves.Fit(
        curves.FAMILIES["exponential"], np.array(KNOWN["exponential"]), True, "", (0, 499)
    )
    checks = curves.validity(decay)
    assert checks["first_negative_x"] is None and checks["first_rise_x"] is None
    assert not any(checks[k] for k in curves.VALIDITY_KEYS[2:])


def test_bootstrap_band_is_seeded_and_reproducible():
    rng = np.random.default_rng(1)
    per_seed = 1 + rng.normal(0, 0.1, size=(10, 60))  # more columns than one chunk
    first = curves.bootstrap_band(per_seed, 500, 0.95, seed=7)
    again = curves.bootstrap_band(per_seed, 500, 0.95, seed=7)
    other = curves.bootstrap_band(per_seed, 500, 0.95, seed=8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    mean, low, high = first
    np.testing.assert_allclose(mean, per_seed.mean(axis=0))
    assert np.all(low < mean) and np.all(mean < high)
    # Chunked columns give exactly what one bootstrap over all columns gives.
    whole_low, whole_high = bootstrap_interval(per_seed, 500, 0.95, 7)
    np.testing.assert_array_equal(low, whole_low)
    np.testing.assert_array_equal(high, whole_high)
