"""Trials through the real Snakemake CLI: one job per seed, single reruns, out-of-date detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from losscurve.traces import read_trace

from support import planned_jobs, snakemake, synthetic_overlay, write_overlay

pytestmark = pytest.mark.slow

TRIALS = [f"results/trials/seed-{seed}.parquet" for seed in (1, 2, 3)]


@pytest.fixture
def trials_run(project, mirror_dir, payloads, package_copy) -> tuple[Path, Path]:
    """A project whose three synthetic trials (50 iterations each) have been built."""
    overlay = write_overlay(
        project / "synthetic.yaml", synthetic_overlay([mirror_dir.as_uri() + "/"], payloads)
    )
    snakemake(project, "--cores", "2", *TRIALS, overlays=(overlay,))
    return project, overlay


def jobs_to_run(project: Path, *overlays: Path) -> dict[str, int]:
    return planned_jobs(project, *TRIALS, overlays=overlays)


def test_one_job_per_seed_writes_a_complete_trace(trials_run, payloads):
    project, _ = trials_run
    for seed, path in zip((1, 2, 3), TRIALS, strict=True):
        trace = read_trace(project / path, iterations=50)
        assert trace.metadata["seed"] == seed
        assert trace.metadata["trial_config"]["iterations"] == 50
        assert (project / f"results/logs/trial/seed-{seed}.log").exists()
        assert (project / f"results/benchmarks/trial/seed-{seed}.tsv").exists()


def test_forced_rerun_of_one_trial_reruns_only_that_trial(trials_run):
    project, overlay = trials_run
    before = {p: (project / p).stat().st_mtime_ns for p in TRIALS}
    loss_before = read_trace(project / "results/trials/seed-2.parquet").loss.tobytes()
    assert jobs_to_run(project, overlay) == {}
    snakemake(project, "--cores", "1", "-f", "results/trials/seed-2.parquet", overlays=(overlay,))
    after = {p: (project / p).stat().st_mtime_ns for p in TRIALS}
    assert [p for p in TRIALS if after[p] != before[p]] == ["results/trials/seed-2.parquet"]
    # Same seed, same config: the rerun reproduces the trace bit for bit.
    assert read_trace(project / "results/trials/seed-2.parquet").loss.tobytes() == loss_before


def test_changed_hyperparameter_marks_every_trial_out_of_date(trials_run):
    project, overlay = trials_run
    changed = write_overlay(project / "lr.yaml", {"trials": {"learning_rate": 0.05}})
    assert jobs_to_run(project, overlay, changed) == {"trial": 3}


def test_changed_network_code_marks_every_trial_out_of_date(trials_run, package_copy):
    project, overlay = trials_run
    assert jobs_to_run(project, overlay) == {}
    # An edit (Snakemake compares checksums of small inputs, so a bare touch is not a change)
    with open(package_copy / "network.py", "a") as module:
        module.write("\n# edited\n")
    assert jobs_to_run(project, overlay) == {"trial": 3}
