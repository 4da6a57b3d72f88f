"""Collecting traces, per-trial fits, the average, its formatting, and the fit's conditioning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from losscurve import reference
from losscurve.analysis import (
    average_fits,
    bootstrap_interval,
    collect_traces,
    format_equation,
    goodness_of_fit,
    least_squares_coefficients,
    paper_comparison,
    read_parquet,
    scaled_coefficients,
    scaled_fit_agreement,
    vandermonde_condition,
)
from losscurve.traces import DamagedTraceError

from trace_support import CONFIG_HASH, collected_and_fitted, loss_curve, write_trial, write_trials

FIT = {"degree": 4, "bootstrap_resamples": 500, "confidence_level": 0.95, "bootstrap_seed": 0}
X = np.arange(500, dtype=np.float64)


def loss_matrix(seeds, iterations=500):
    return np.array([loss_curve(s, iterations) for s in seeds])


# --- fits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("degree", [1, 2, 4, 6])
def test_mean_of_trial_fits_equals_fit_of_mean_trace(degree):
    # Least squares is linear in y: on a shared x grid, averaging coefficients (the paper's
    # method) gives the same polynomial as fitting the averaged trace.
    Y = loss_matrix(range(1, 11))
    mean_of_fits = least_squares_coefficients(X, Y, degree).mean(axis=0)
    fit_of_mean = np.polyfit(X, Y.mean(axis=0), degree)
    np.testing.assert_allclose(mean_of_fits, fit_of_mean, rtol=1e-9, atol=0)


def test_fit_recovers_an_exact_quartic():
    y = np.polyval(reference.AVERAGE, X)
    coefficients = least_squares_coefficients(X, y[None, :], 4)
    np.testing.assert_allclose(coefficients[0], reference.AVERAGE, rtol=1e-7)
    r2, rmse = goodness_of_fit(X, y[None, :], coefficients)
    assert r2[0] == pytest.approx(1, abs=1e-12) and rmse[0] < 1e-10


def test_goodness_of_fit_by_hand():
    x = np.arange(4.0)
    Y = np.array([[1.0, 3.0, 2.0, 6.0]])
    line = np.array([[1.4, 0.0]])  # fitted values 0, 1.4, 2.8, 4.2
    r2, rmse = goodness_of_fit(x, Y, line)
    ss_res = 1.0**2 + 1.6**2 + 0.8**2 + 1.8**2
    ss_tot = sum((v - 3.0) ** 2 for v in (1, 3, 2, 6))
    assert r2[0] == pytest.approx(1 - ss_res / ss_tot)
    assert rmse[0] == pytest.approx(np.sqrt(ss_res / 4))


# --- conditioning --------------------------------------------------------------------------


def test_polyfit_agrees_with_the_fit_in_scaled_x():
    Y = loss_matrix(range(1, 11))
    coefficients = least_squares_coefficients(X, Y, 4)
    for row, y in zip(coefficients, Y, strict=True):
        np.testing.assert_allclose(row, scaled_coefficients(X, y, 4), rtol=1e-9)
    agreement = scaled_fit_agreement(X, Y, coefficients)
    assert agreement["relative_coefficient"] < 1e-9
    assert agreement["curve"] < 1e-12


def test_condition_numbers_of_the_quartic_on_500_iterations():
    condition = vandermonde_condition(X, 4)
    # x^4 reaches 6e10 beside a column of ones: the raw matrix is badly conditioned ...
    assert 1e10 < condition["vandermonde"] < 1e12
    # ... polyfit's unit-norm columns and scaled x both tame it.
    assert 100 < condition["column_scaled"] < 1000
    assert 10 < condition["scaled_x"] < 30


def test_scaled_fit_disagreement_is_detected():
    Y = loss_matrix([1])
    wrong = least_squares_coefficients(X, Y, 4) * (1 + 1e-6)
    assert scaled_fit_agreement(X, Y, wrong)["relative_coefficient"] == pytest.approx(1e-6, 1e-3)


# --- formatting ----------------------------------------------------------------------------


def test_equation_is_written_as_in_the_paper():
    assert format_equation(reference.AVERAGE) == (
        "L(x) = (-8.02e-11)x^4 + (7.09e-08)x^3 + (-8.55e-06)x^2 + (-6.88e-03)x + 2.31"
    )


@pytest.mark.parametrize(
    ("coefficients", "equation"),
    [
        ([-0.01, 2.3], "L(x) = (-1.00e-02)x + 2.30"),
        ([1.5e-3, 0, -0.4567], "L(x) = (1.50e-03)x^2 + (0.00e+00)x + (-0.457)"),
        ([2e-5, 0.012345], "L(x) = (2.00e-05)x + 0.0123"),
    ],
)
def test_equation_constant_keeps_three_significant_figures(coefficients, equation):
    assert format_equation(coefficients) == equation


def test_published_average_row_is_the_mean_of_the_published_trials():
    # Guards the copy in losscurve.reference: the AVG row must follow from the ten rows.
    mean = np.mean(list(reference.TRIALS.values()), axis=0)
    assert [f"{v:.2E}" for v in mean] == [f"{v:.2E}" for v in reference.AVERAGE]


# --- collect -------------------------------------------------------------------------------


def test_collect_sorts_by_seed_and_records_metadata(tmp_path):
    paths = write_trials(tmp_path / "trials", [3, 1, 2], 20)
    output = tmp_path / "loss_traces.parquet"
    collect_traces(paths, [3, 1, 2], CONFIG_HASH, 20, output)
    traces, metadata = read_parquet(output)
    assert list(traces.columns) == ["seed", "iteration", "loss", "accuracy"]
    assert traces["seed"].tolist() == [1] * 20 + [2] * 20 + [3] * 20
    assert traces["iteration"].tolist() == list(range(20)) * 3
    np.testing.assert_array_equal(traces.loc[traces.seed == 3, "loss"], loss_curve(3, 20))
    assert metadata["config_hash"] == CONFIG_HASH and metadata["seeds"] == [1, 2, 3]
    assert [t["seed"] for t in metadata["trials"]] == [1, 2, 3]
    assert metadata["trials"][0]["test_accuracy"] == 0.91


def test_collect_refuses_a_trial_of_another_config(tmp_path):
    paths = write_trials(tmp_path, [1], 20)
    paths.append(write_trial(tmp_path / "seed-2.parquet", 2, 20, config_hash="feedfacefeedface"))
    output = tmp_path / "loss_traces.parquet"
    with pytest.raises(DamagedTraceError) as error:
        collect_traces(paths, [1, 2], CONFIG_HASH, 20, output)
    message = str(error.value)
    assert str(paths[1]) in message and "feedfacefeedface" in message
    assert f"rebuild it with: snakemake --cores 1 -f {paths[1]}" in message
    assert not output.exists()


def test_collect_refuses_a_damaged_or_short_trial(tmp_path):
    paths = write_trials(tmp_path, [1, 2], 20)
    paths[1].write_bytes(paths[1].read_bytes()[:100])
    with pytest.raises(DamagedTraceError, match=r"seed-2.parquet: not a readable trial file"):
        collect_traces(paths, [1, 2], CONFIG_HASH, 20, tmp_path / "out.parquet")
    with pytest.raises(DamagedTraceError, match=r"seed-1.parquet: holds 20 rows, expected"):
        collect_traces(paths[:1], [1], CONFIG_HASH, 30, tmp_path / "out.parquet")


def test_collect_refuses_a_trial_file_of_another_seed(tmp_path):
    paths = write_trials(tmp_path, [1, 2], 20)
    with pytest.raises(DamagedTraceError, match=r"seed-2.parquet: holds the trace of seed 2, exp"):
        collect_traces(paths, [1, 3], CONFIG_HASH, 20, tmp_path / "out.parquet")


# --- average -------------------------------------------------------------------------------


def test_average_file(tmp_path):
    traces, coefficients = collected_and_fitted(tmp_path, range(1, 11), 500)
    csv = pd.read_csv(tmp_path / "fits" / "coefficients.csv")
    assert list(csv.columns) == ["seed", "x4", "x3", "x2", "x1", "x0", "r2", "rmse"]
    pd.testing.assert_frame_equal(csv, read_parquet(coefficients)[0])
    output = tmp_path / "fits" / "average.json"
    average = average_fits(coefficients, traces, FIT, output)
    assert json.loads(output.read_text()) == average
    per_trial = csv[["x4", "x3", "x2", "x1", "x0"]].to_numpy()
    np.testing.assert_allclose(average["coefficients"], per_trial.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(average["standard_deviation"], per_trial.std(axis=0, ddof=1))
    low, high = (np.array(average["confidence_interval"][k]) for k in ("low", "high"))
    assert np.all(low < average["coefficients"]) and np.all(average["coefficients"] < high)
    assert average["domain"] == [0, 499]
    assert average["equation"] == format_equation(average["coefficients"])
    assert average["conditioning"]["vandermonde"] > 1e10
    assert average["paper_comparison"]["domain"] == [0, 499]


def test_average_of_one_trial_has_no_spread(tmp_path):
    traces, coefficients = collected_and_fitted(tmp_path, [7], 50)
    average = average_fits(coefficients, traces, FIT, tmp_path / "average.json")
    assert average["standard_deviation"] is None
    assert average["confidence_interval"]["low"] is None
    assert average["seeds"] == [7] and average["domain"] == [0, 49]


def test_bootstrap_interval_is_reproducible_and_brackets_the_mean():
    coefficients = least_squares_coefficients(X, loss_matrix(range(1, 11)), 4)
    low, high = bootstrap_interval(coefficients, 999, 0.95, seed=1)
    again = bootstrap_interval(coefficients, 999, 0.95, seed=1)
    np.testing.assert_array_equal(low, again[0])
    assert np.all(low < coefficients.mean(axis=0)) and np.all(coefficients.mean(axis=0) < high)
    narrower = bootstrap_interval(coefficients, 999, 0.5, seed=1)
    assert np.all(narrower[1] - narrower[0] < high - low)


def test_paper_comparison():
    shifted = np.array(reference.AVERAGE) + np.array([0, 0, 0, 0, 0.1])
    comparison = paper_comparison(shifted, 500)
    assert comparison["max_abs_difference"] == pytest.approx(0.1)
    assert comparison["mean_abs_difference"] == pytest.approx(0.1)
    assert comparison["domain"] == [0, 499]
    tilted = np.array(reference.AVERAGE) + np.array([0, 0, 0, 1e-3, 0])
    comparison = paper_comparison(tilted, 2000)  # the paper's L(x) stops at x = 500
    assert comparison["domain"] == [0, 500]
    assert comparison["x_of_max_abs_difference"] == 500
    assert comparison["max_abs_difference"] == pytest.approx(0.5)
    assert comparison["mean_abs_difference"] == pytest.approx(0.25)
