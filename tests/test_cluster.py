"""The workflow on a real SLURM through profiles/slurm (start one with tests/cluster/slurm-up.sh).

Every run is the real snakemake CLI with the SLURM executor plugin; what SLURM ran is read back
from the accounting database with sacct. The tests use the default partition of an idle node and
the user's default account; without them they skip (and fail where CI requires "cluster").
"""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from losscurve.traces import Trace, read_trace

from support import REPO, copy_project, require, snakemake, synthetic_overlay, write_overlay

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(900)]

SEEDS = [1, 2, 3, 4, 5, 6]
TRIALS = [f"results/trials/seed-{seed}.parquet" for seed in SEEDS]
PROFILE = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
# The plugin waits 40 s before its first status check, sized for a busy cluster; jobs here
# start at once.
QUICK_STATUS = ("--slurm-init-seconds-before-status-checks", "1")
# Hard limits on cluster runs: a run that hangs fails its test instead of the CI job. A failing
# run takes about a minute here (two submissions: the trials, then their retry).
RUN_TIMEOUT = 600
FAILING_RUN_TIMEOUT = 240
# Beyond float32's range: the first SGD step makes the weights infinite and the loss NaN.
DIVERGENT_LEARNING_RATE = 1e39


@dataclass(frozen=True)
class Slurm:
    partition: str
    account: str
    cpus: int

    def profile_args(self) -> list[str]:
        """``--profile profiles/slurm`` with its placeholders set to this cluster's values."""
        resources = {
            **PROFILE["default-resources"],
            "slurm_partition": self.partition,
            "slurm_account": self.account,
        }
        return [
            "--profile",
            "profiles/slurm",
            "--default-resources",
            *(f"{name}={value}" for name, value in resources.items()),
            # A group job asks for at most this many CPUs: no more than the node has.
            "--cores",
            str(self.cpus),
            *QUICK_STATUS,
        ]


def query(*command: str) -> str:
    return subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def find_slurm() -> Slurm | str:
    """The cluster to submit to, or why there is none."""
    if shutil.which("sinfo") is None:
        return "SLURM is not installed (start one with tests/cluster/slurm-up.sh)"
    try:
        idle = query("sinfo", "--noheader", "--states=idle", "--format=%P %c").splitlines()
        account = query(
            "sacctmgr",
            "--noheader",
            "--parsable2",
            "show",
            "user",
            getpass.getuser(),
            "format=defaultaccount",
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = (exc.stderr or str(exc)).strip()
        return f"SLURM does not answer ({detail}); start it with tests/cluster/slurm-up.sh"
    if not idle:
        return "no SLURM node is idle (sinfo --states=idle lists none)"
    if not account:
        return f"user {getpass.getuser()} has no SLURM account (sacctmgr add user ... account=...)"
    # sinfo marks the default partition with '*'; take it when it has an idle node.
    rows = [line.split() for line in idle]
    partition, cpus = next((row for row in rows if row[0].endswith("*")), rows[0])
    return Slurm(partition.rstrip("*"), account, int(cpus))


def slurm_jobs(output: str) -> list[str]:
    """IDs of the SLURM jobs of the run that printed ``output``, from the accounting database."""
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id, f"no SLURM run ID in the output:\n{output}"
    # The plugin names every job of a run after its run ID.
    listing = query(
        "sacct",
        "--noheader",
        "--parsable2",
        "--allocations",
        "--starttime=now-1days",
        f"--name={run_id[1]}",
        "--format=jobid",
    )
    return listing.split()


@dataclass
class ClusterRun:
    project: Path
    traces: dict[int, Trace]
    jobs: list[str]  # SLURM job IDs
    steps: int  # Snakemake jobs


@pytest.fixture(scope="module")
def slurm() -> Slurm:
    found = find_slurm()
    require("cluster", isinstance(found, Slurm), str(found))
    return found


@pytest.fixture(scope="module")
def overlay(tmp_path_factory, mirror_dir, payloads) -> Path:
    """Synthetic data from a file:// mirror, which a job on this node can read."""
    return write_overlay(
        tmp_path_factory.mktemp("overlay") / "synthetic.yaml",
        synthetic_overlay([f"{mirror_dir.as_uri()}/"], payloads, seeds=SEEDS),
    )


@pytest.fixture(scope="module")
def cluster_run(slurm, overlay, package_copy, tmp_path_factory) -> ClusterRun:
    """The whole pipeline, every job through SLURM (which passes on PYTHONPATH: package_copy)."""
    project = copy_project(tmp_path_factory.mktemp("cluster") / "project")
    result = snakemake(project, *slurm.profile_args(), overlays=(overlay,), timeout=RUN_TIMEOUT)
    output = result.stdout + result.stderr
    traces = {seed: read_trace(project / path) for seed, path in zip(SEEDS, TRIALS, strict=True)}
    steps = re.search(r"(\d+) of \1 steps \(100%\) done", output)
    assert steps, output
    return ClusterRun(project, traces, slurm_jobs(output), int(steps[1]))


def test_pipeline_runs_as_grouped_slurm_jobs_with_local_results(cluster_run, overlay, tmp_path):
    assert (cluster_run.project / "results/report.html").is_file()
    trial_jobs = {trace.metadata["slurm_job_id"] for trace in cluster_run.traces.values()}
    assert None not in trial_jobs, "a trial ran outside SLURM (no SLURM_JOB_ID)"
    assert trial_jobs <= set(cluster_run.jobs)
    # Grouped: trials share submissions, and grouping at least halves the queue entries.
    assert len(trial_jobs) < len(SEEDS), trial_jobs
    assert len(cluster_run.jobs) < cluster_run.steps / 2, (cluster_run.jobs, cluster_run.steps)

    local = copy_project(tmp_path / "local")
    snakemake(local, "--cores", "2", *TRIALS, overlays=(overlay,))
    for seed, path in zip(SEEDS, TRIALS, strict=True):
        here, there = read_trace(local / path), cluster_run.traces[seed]
        assert here.metadata["slurm_job_id"] is None
        for column in ("iteration", "loss", "accuracy"):
            same = getattr(here, column).tobytes() == getattr(there, column).tobytes()
            assert same, f"seed {seed}: {column} differs between the local and the SLURM run"
        for key in ("seed", "trial_config", "config_hash", "test_loss", "test_accuracy"):
            assert here.metadata[key] == there.metadata[key], f"seed {seed}: {key} differs"


def test_rerunning_one_trial_submits_one_job(cluster_run, slurm, overlay):
    before = {seed: t.metadata["slurm_job_id"] for seed, t in cluster_run.traces.items()}
    result = snakemake(
        cluster_run.project,
        "-f",
        "results/trials/seed-3.parquet",
        *slurm.profile_args(),
        overlays=(overlay,),
        timeout=RUN_TIMEOUT,
    )
    jobs = slurm_jobs(result.stdout + result.stderr)
    assert len(jobs) == 1, jobs
    after = {
        seed: read_trace(cluster_run.project / path).metadata["slurm_job_id"]
        for seed, path in zip(SEEDS, TRIALS, strict=True)
    }
    assert after == {**before, 3: jobs[0]}


def test_diverging_trials_fail_the_run_and_name_the_job(cluster_run, slurm, overlay, tmp_path):
    project = copy_project(tmp_path / "project")
    # The prepared data of the first run: only the trials go to SLURM.
    shutil.copytree(cluster_run.project / "results/mnist", project / "results/mnist")
    divergent = write_overlay(
        tmp_path / "divergent.yaml", {"trials": {"learning_rate": DIVERGENT_LEARNING_RATE}}
    )
    result = snakemake(
        project,
        *TRIALS,
        *slurm.profile_args(),
        overlays=(overlay, divergent),
        timeout=FAILING_RUN_TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Error in group trials" in output
    # Each failed job is named with its log.
    failed = r"Error in rule trial:\n(?:.*\n){1,8}?\s+log: results/logs/trial/seed-\d\.log"
    assert re.search(failed, output)
    assert re.search(r"seed \d diverged: the batch loss is nan at iteration \d+", output)
    # The failed group was submitted again once (retries: 1 in the profile), then given up.
    assert len(slurm_jobs(output)) == 1 + PROFILE["retries"]
    assert not list((project / "results/trials").glob("*.parquet"))
