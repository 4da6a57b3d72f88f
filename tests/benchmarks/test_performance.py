"""Performance figures on the real MNIST files (needs MNIST_MIRROR), printed as one table.

    MNIST_MIRROR=/path/to/mnist python -m pytest -m benchmark -s tests/benchmarks

Deselected from the normal test run (marker ``benchmark``). Each benchmark records its figure
in the table before it checks the goal, so a missed goal still shows its number. In-process
timings run in a fresh process with one BLAS thread (timing.py); job-level figures come from
real Snakemake runs in a copy of the project whose data the data rules prepared once.
docs/performance.md explains each figure and holds the table of a run on the reference machine.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import pytest

from losscurve.traces import read_trace

from support import require, snakemake, write_overlay

pytestmark = [pytest.mark.benchmark, pytest.mark.mnist]

HERE = Path(__file__).parent
CORES = os.cpu_count() or 1
SINGLE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
MB_PER_MIB = 2**20 / 1e6


def timing(*args: str) -> dict:
    """Run timing.py in a fresh single-threaded process and return its JSON result."""
    result = subprocess.run(
        [sys.executable, str(HERE / "timing.py"), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **SINGLE_THREAD},
    )
    return json.loads(result.stdout)


def job_seconds(tsv: Path) -> float:
    """A job's wall time as Snakemake's benchmark file records it (column s)."""
    with open(tsv) as table:
        return float(next(csv.DictReader(table, delimiter="\t"))["s"])


def fresh_results(project: Path) -> None:
    """Remove every output but the prepared data, so that a run starts from the trials."""
    for path in (project / "results").iterdir():
        if path.name != "mnist":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_iteration_against_its_matrix_products(figures, mnist_arrays, dtype):
    result = timing("step", str(mnist_arrays), dtype)
    ratio = result["ratio"]
    figures.add(
        f"One SGD iteration ({dtype}) / its 5 matrix products alone",
        f"{result['iteration_us']:.0f} µs / {result['floor_us']:.0f} µs = {ratio:.2f}x",
        "≤ 1.25x",
        ratio <= 1.25,
    )
    print(f"per-round ratios: {' '.join(f'{r:.2f}' for r in result['ratios'])}")
    print(f"the five products alone ({dtype}, µs): ", end="")
    print(", ".join(f"{name} {us:.1f}" for name, us in result["products_us"].items()))
    print(f"where one iteration's time goes ({dtype}, own time per function under cProfile, µs):")
    for function, us in result["profile_us"].items():
        print(f"  {function:30s} {us:8.1f}")
    assert ratio <= 1.25


def test_whole_trial_against_pytorch(figures, mnist_arrays):
    result = timing("peer", str(mnist_arrays))
    if "skipped" in result:
        figures.add("500-iteration trial / PyTorch peer", f"not measured: {result['skipped']}")
        require("torch", False, result["skipped"])
    ratio = result["ratio"]
    figures.add(
        "500-iteration trial / PyTorch peer (1 thread each)",
        f"{result['project_s']:.3f} s / {result['torch_s']:.3f} s = {ratio:.2f}x",
        "≤ 1.0x",
        ratio <= 1.0,
    )
    print(f"per-round ratios: {' '.join(f'{r:.2f}' for r in result['ratios'])}")
    # The peer runs the same trial: same start, batches and updates, so the same losses up to
    # float32 rounding.
    assert result["max_loss_difference"] < 1e-4, result
    assert ratio <= 1.0


def test_fixed_cost_of_a_trial_job(figures, real_project):
    """The shortest trial Snakemake accepts (2 iterations: fit.degree >= 1 needs 2 points)."""
    project, mirror = real_project
    overlay = write_overlay(
        project / "two-iterations.yaml", {"trials": {"iterations": 2}, "fit": {"degree": 1}}
    )
    target = "results/trials/seed-1.parquet"
    jobs, commands = [], []
    for _ in range(5):
        start = time.perf_counter()
        snakemake(project, "--cores", "1", "-f", target, overlays=(mirror, overlay))
        commands.append(time.perf_counter() - start)
        jobs.append(job_seconds(project / "results/benchmarks/trial/seed-1.tsv"))
    job = median(jobs)
    figures.add(
        "Trial job with 2 iterations (Snakemake benchmark file, median of 5)",
        f"{job:.2f} s",
        "≤ 1.0 s",
        job <= 1.0,
    )
    figures.add("  the whole `snakemake` command for it", f"{median(commands):.2f} s")
    assert job <= 1.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_peak_memory_of_a_trial_job(figures, real_project, dtype):
    """The job logs its own peak resident memory (getrusage) when it finishes."""
    project, mirror = real_project
    overlay = write_overlay(project / f"{dtype}.yaml", {"trials": {"dtype": dtype}})
    snakemake(
        project, "--cores", "1", "-f", "results/trials/seed-1.parquet", overlays=(mirror, overlay)
    )
    log = (project / "results/logs/trial/seed-1.log").read_text()
    mib = int(re.findall(r"peak memory (\d+) MiB", log)[-1])
    figures.add(
        f"Peak memory of a default trial job ({dtype}, 500 iterations)",
        f"{mib * MB_PER_MIB:.0f} MB",
        "< 200 MB",
        mib * MB_PER_MIB < 200,
    )
    assert mib * MB_PER_MIB < 200


@pytest.mark.parametrize("seeds", [1_000, 10_000])
def test_dag_build_time(figures, real_project, seeds):
    project, mirror = real_project
    overlay = write_overlay(
        project / f"seeds-{seeds}.yaml", {"trials": {"seeds": list(range(1, seeds + 1))}}
    )
    start = time.perf_counter()
    result = snakemake(project, "-n", "--quiet", "rules", overlays=(mirror, overlay))
    seconds = time.perf_counter() - start
    assert re.search(rf"^trial\s+{seeds}$", result.stdout, re.MULTILINE), result.stdout
    figures.add(f"Dry run (DAG build), {seeds:,} seeds", f"{seconds:.1f} s", "< 60 s", seconds < 60)
    assert seconds < 60


# The analysis chain after the main trials (collect, compare_models, confidence_bands) is the
# longest; Snakemake's default order interleaves the experiments' trials before it.
PRIORITIZE = ("--prioritize", "results/fits/confidence_bands.json")


@pytest.mark.parametrize(
    ("seeds", "goal", "options"),
    [(10, 1.5, ()), (100, 1.3, ()), (100, 1.3, PRIORITIZE)],
    ids=["10-seeds", "100-seeds", "100-seeds-prioritized"],
)
def test_pipeline_overhead(figures, real_project, seeds, goal, options):
    """Wall time of the default target (data prepared) against the ideal: all the work packed
    on every core with nothing in between. The work is each trial's own compute (training and
    test evaluation, the wall_time_s its trace records) and each job after the trials (fits,
    comparisons, figures, tables, report: its wall time in its benchmark file). What the ratio
    counts as overhead: Snakemake's start and scheduling, and each trial job's start (Python,
    imports, data map) and Parquet write."""
    project, mirror = real_project
    overlay = write_overlay(
        project / f"pipeline-{seeds}.yaml", {"trials": {"seeds": list(range(1, seeds + 1))}}
    )
    fresh_results(project)
    start = time.perf_counter()
    snakemake(project, "--cores", str(CORES), *options, overlays=(mirror, overlay), timeout=3600)
    wall = time.perf_counter() - start

    traces = sorted((project / "results").glob("**/trials/seed-*.parquet"))
    compute = sum(read_trace(path).metadata["wall_time_s"] for path in traces)
    jobs = {path: job_seconds(path) for path in (project / "results/benchmarks").glob("**/*.tsv")}
    trial_jobs = sum(s for path, s in jobs.items() if path.parent.name == "trial")
    after = sum(s for path, s in jobs.items() if path.parent.name != "trial")
    assert sum(path.parent.name == "trial" for path in jobs) == len(traces) >= seeds
    ideal = (compute + after) / CORES
    ratio = wall / ideal
    figures.add(
        f"Default pipeline, {seeds} seeds ({len(traces)} trials with the experiments) "
        f"on {CORES} cores{' ' if options else ''}{' '.join(options)}: wall / ideal",
        f"{wall:.1f} s / {ideal:.1f} s = {ratio:.2f}x",
        f"≤ {goal}x",
        ratio <= goal,
    )
    figures.add(
        "  sums: trial compute, trial jobs, jobs after the trials",
        f"{compute:.1f} s, {trial_jobs:.1f} s, {after:.1f} s",
    )
    figures.add(
        "  wall / (trial compute / cores + jobs after the trials one by one)",
        f"{wall / (compute / CORES + after):.2f}x",
    )
    assert ratio <= goal
