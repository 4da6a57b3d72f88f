"""Curve families compared on trial files, extrapolated, bootstrapped, calibrated and reported."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from losscurve import reference
from losscurve.analysis import average_fits, collect_traces
from losscurve.comparison import (
    MAIN_RUN,
    MEAN,
    PAPER,
    calibrate,
    compare_models,
    confidence_bands,
    extrapolate,
    holdout_sizes,
)
from losscurve.comparison_figures import render_comparison_figures
from losscurve.comparison_report import REPORT_SECTIONS
from losscurve.config import load_schema, validate
from losscurve.curves import FAMILIES
from losscurve.report import write_report

from support import REPO
from trace_support import CONFIG_HASH, collected_and_fitted, write_trials

FIT = {"degree": 4, "bootstrap_resamples": 300, "confidence_level": 0.95, "bootstrap_seed": 0}
FIGURES = ("model_comparison", "extrapolation", "confidence_bands", "calibration")
SEEDS = range(1, 6)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """Every comparison output for synthetic exponential traces, as the rules write them."""
    folder = tmp_path_factory.mktemp("comparison")
    traces, coefficients = collected_and_fitted(folder, SEEDS, 500)
    average = folder / "fits/average.json"
    average_fits(coefficients, traces, FIT, average)
    paths = write_trials(folder / "long/trials", [1, 2, 3], 2000)
    long_run = folder / "long/loss_traces.parquet"
    collect_traces(paths, [1, 2, 3], CONFIG_HASH, 2000, long_run)
    out = {
        "traces": traces,
        "coefficients": coefficients,
        "average": average,
        "long_run": long_run,
        "model_comparison": folder / "model_comparison.csv",
        "families": folder / "fits/families.json",
        "extrapolation_table": folder / "tables/extrapolation.csv",
        "extrapolation": folder / "fits/extrapolation.json",
        "confidence_bands": folder / "fits/confidence_bands.json",
        "calibration_table": folder / "tables/calibration.csv",
        "calibration": folder / "fits/calibration.json",
    }
    compare_models(traces, [0.2, 0.5, 0.8], out["model_comparison"], out["families"])
    extrapolate(long_run, 500, 0.05, out["extrapolation_table"], out["extrapolation"])
    confidence_bands(out["families"], FIT, out["confidence_bands"])
    paper = folder / "paper.json"  # a variant whose averaged quartic is the paper's
    paper.write_text(json.dumps({"coefficients": list(reference.AVERAGE)}))
    calibrate(
        {"as-published": {"learning_rate": 0.05}},
        [average, paper],
        [traces, traces],
        out["calibration_table"],
        out["calibration"],
    )
    figures = {f"{n}_{e}": folder / f"figures/{n}.{e}" for n in FIGURES for e in ("png", "svg")}
    render_comparison_figures(
        traces,
        out["families"],
        long_run,
        out["extrapolation"],
        out["confidence_bands"],
        out["calibration"],
        figures,
    )
    return out | figures


def test_holdout_sizes_are_fractions_of_the_trace():
    assert holdout_sizes([0.2, 0.5, 0.8], 500) == [100, 250, 400]
    assert holdout_sizes([0.8, 0.2], 50) == [10, 40]


def test_model_comparison_has_every_family_for_every_trial_and_the_mean(built):
    table = pd.read_csv(built["model_comparison"], dtype={"trial": str})
    assert len(table) == (len(SEEDS) + 1) * len(FAMILIES)
    assert table["trial"].unique().tolist() == [*map(str, SEEDS), MEAN]
    assert table["family"].unique().tolist() == list(FAMILIES)
    assert table["converged"].all()
    for column in ("rmse", "r2", "aic", "bic", "heldout_rmse_100", "heldout_rmse_400"):
        assert table[column].notna().all(), column
    # The traces fall exponentially, so the exponential family has the lowest total BIC.
    families = json.loads(built["families"].read_text())
    assert families["best"] == "exponential"
    assert families["train_sizes"] == [100, 250, 400]
    mean = table[table["trial"] == MEAN].set_index("family")
    assert mean.loc["exponential", "r2"] > 0.95
    assert json.loads(mean.loc["exponential", "parameters"]).keys() == {"c", "a", "b"}


def test_extrapolation_scores_every_family_and_the_paper_beyond_the_fit(built):
    table = pd.read_csv(built["extrapolation_table"], dtype={"trial": str})
    mean = table[table["trial"] == MEAN].set_index("curve")
    assert list(mean.index) == [*FAMILIES, PAPER]
    assert (mean["fit_iterations"] == 500).all()
    # The family that made the data extrapolates to the end; the quartic runs away.
    assert mean.loc["exponential", "stays_within"]
    assert mean.loc["exponential", "rmse_beyond"] < 0.05
    assert not mean.loc["quartic", "stays_within"] and mean.loc["quartic", "horizon_x"] < 1000
    assert mean.loc[PAPER, "first_negative_x"] == pytest.approx(603)


def test_confidence_bands_are_reproducible_and_bracket_the_mean(built, tmp_path):
    again = tmp_path / "bands.json"
    confidence_bands(built["families"], FIT, again)
    assert again.read_text() == built["confidence_bands"].read_text()
    bands = json.loads(again.read_text())
    assert set(bands["bands"]) == {"quartic", "exponential"}
    for band in bands["bands"].values():
        low, mean, high = (np.array(band[k]) for k in ("low", "mean", "high"))
        assert np.all(low <= mean) and np.all(mean <= high)
        assert band["x"][-1] == 2 * 499
    other = tmp_path / "other.json"
    confidence_bands(built["families"], FIT | {"bootstrap_seed": 1}, other)
    reseeded = json.loads(other.read_text())["bands"]["quartic"]
    assert reseeded["low"] != bands["bands"]["quartic"]["low"]


def test_calibration_ranks_the_published_curve_first(built):
    table = pd.read_csv(built["calibration_table"])
    assert table["variant"].tolist() == ["as-published", MAIN_RUN]
    assert table.loc[0, "rmse_quartic_vs_paper"] == pytest.approx(0, abs=1e-12)
    assert table.loc[0, "settings"] == "learning_rate=0.05"
    assert table.loc[1, "rmse_quartic_vs_paper"] > 0.1


def test_figures_are_written(built):
    for name in FIGURES:
        assert built[f"{name}_png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert b"<svg" in built[f"{name}_svg"].read_bytes()[:1000]


def test_report_section_answers_with_the_runs_numbers(built, tmp_path):
    inputs = {
        name: built[name]
        for name in (
            "traces",
            "coefficients",
            "average",
            "model_comparison",
            "families",
            "extrapolation",
            "extrapolation_table",
            "confidence_bands",
            "calibration",
        )
    }
    # The analysis sections' figures: any PNG stands in for them here.
    inputs |= dict.fromkeys(
        ("trial_fit", "all_trials", "paper_comparison"), built["model_comparison_png"]
    )
    inputs |= {f"{name}_png": built[f"{name}_png"] for name in FIGURES}
    config = validate({}, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    write_report(inputs, config, tmp_path / "report.html", sections=REPORT_SECTIONS)
    page = (tmp_path / "report.html").read_text()
    section = page[page.index('<section id="quartic">') :]
    section = section[: section.index("</section>")]
    assert page.index('id="quartic"') < page.index('id="provenance"')
    assert "Best fit: Exponential</b>" in section
    assert "not exact likelihoods" in section
    assert "<b>as-published</b> (learning_rate=0.05)" in section
    assert "0.000 RMSE from the published one" in section
    assert section.count("<img ") == len(FIGURES)
    assert "goes negative from x = 603" in section
    bands = json.loads(built["confidence_bands"].read_text())
    width = bands["bands"]["quartic"]["width"]["mean_in_domain"]
    assert f"{width:.2g} on average" in section
    assert not re.search(r"x < \d", section)  # every caption is escaped
