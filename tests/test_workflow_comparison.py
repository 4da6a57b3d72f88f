"""The curve-family comparison through the real Snakemake CLI on synthetic data.

One run (three seeds of 50 iterations, one experiment of two seeds, a long run of two seeds
and 150 iterations) is shared by the tests of this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from losscurve.curves import FAMILIES
from losscurve.traces import read_trace

from support import copy_project, planned_jobs, snakemake, synthetic_overlay, write_overlay

pytestmark = pytest.mark.slow

EXPERIMENT = "lr-0.05"
LAYOUT = (
    "trials/seed-1.parquet",
    "trials/seed-2.parquet",
    "loss_traces.parquet",
    "fits/coefficients.csv",
    "fits/coefficients.parquet",
    "fits/average.json",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory, mirror_dir, payloads) -> tuple[Path, Path]:
    """A project copy after `snakemake --cores 2` (rule all), and its overlay."""
    project = copy_project(tmp_path_factory.mktemp("comparison") / "project")
    # Config files merge key by key, so an overlay cannot drop the shipped experiments: the
    # copy's config/config.yaml loses them instead, leaving this module's one.
    defaults = yaml.safe_load((project / "config/config.yaml").read_text())
    del defaults["experiments"]
    write_overlay(project / "config/config.yaml", defaults)
    overlay = write_overlay(
        project / "synthetic.yaml",
        synthetic_overlay([str(mirror_dir)], payloads)
        | {
            "experiments": {EXPERIMENT: {"learning_rate": 0.05, "seeds": [1, 2]}},
            "long_run": {"seeds": [1, 2], "iterations_factor": 3},
        },
    )
    snakemake(project, "--cores", "2", overlays=(overlay,))
    return project, overlay


def jobs_to_run(project: Path, *overlays: Path) -> dict[str, int]:
    return planned_jobs(project, overlays=overlays)


def test_experiments_have_the_main_runs_layout(run):
    project, _ = run
    folder = project / "results/experiments" / EXPERIMENT
    for path in LAYOUT:
        assert (folder / path).stat().st_size > 0, path
    for seed in (1, 2):
        trace = read_trace(folder / f"trials/seed-{seed}.parquet", iterations=50)
        assert trace.metadata["trial_config"]["learning_rate"] == 0.05
        assert (project / f"results/logs/experiments/{EXPERIMENT}/trial/seed-{seed}.log").exists()
        long = read_trace(project / f"results/experiments/long-run/trials/seed-{seed}.parquet")
        assert len(long.loss) == 150
        assert long.metadata["trial_config"]["learning_rate"] == 0.1
    average = json.loads((folder / "fits/average.json").read_text())
    assert average["seeds"] == [1, 2] and average["domain"] == [0, 49]
    # The main run stays where it was.
    assert sorted(p.name for p in (project / "results/trials").iterdir()) == [
        "seed-1.parquet",
        "seed-2.parquet",
        "seed-3.parquet",
    ]


def test_comparison_tables(run):
    project, _ = run
    comparison = pd.read_csv(project / "results/model_comparison.csv", dtype={"trial": str})
    assert len(comparison) == 4 * len(FAMILIES)
    assert {"heldout_rmse_10", "heldout_rmse_25", "heldout_rmse_40"} <= set(comparison.columns)
    extrapolation = pd.read_csv(project / "results/tables/extrapolation.csv", dtype={"trial": str})
    assert set(extrapolation["trial"]) == {"1", "2", "mean"}
    assert (extrapolation["fit_iterations"] == 50).all()
    assert set(extrapolation["curve"]) == {*FAMILIES, "paper"}
    calibration = pd.read_csv(project / "results/tables/calibration.csv")
    assert set(calibration["variant"]) == {"main run", EXPERIMENT}
    assert calibration["rmse_quartic_vs_paper"].is_monotonic_increasing


def test_report_has_the_section_with_its_figures(run):
    project, _ = run
    page = (project / "results/report.html").read_text()
    section = page[page.index('<section id="quartic">') :]
    section = section[: section.index("</section>")]
    assert "How good is the quartic?" in section and "Best fit:" in section
    assert section.count('<img src="data:image/png;base64,') == 4
    for name in ("model_comparison", "extrapolation", "confidence_bands", "calibration"):
        assert (project / f"results/figures/{name}.svg").stat().st_size > 0


def test_changing_an_experiment_reruns_only_its_trials(run):
    project, overlay = run
    assert jobs_to_run(project, overlay) == {}
    changed = write_overlay(
        project / "lr.yaml", {"experiments": {EXPERIMENT: {"learning_rate": 0.04}}}
    )
    counts = jobs_to_run(project, overlay, changed)
    assert counts["experiment_trial"] == 2
    assert "trial" not in counts and "compare_models" not in counts
    assert counts["calibrate"] == 1
