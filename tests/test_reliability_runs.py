"""Faults during real runs: kills, a kill inside write, two runs at once, diverging trials,
damaged trial files, and an output folder that is full or read-only.

Real processes, signals, files and file systems: Snakemake runs through its CLI and is killed
with SIGKILL; a trial process is killed by the kernel inside write(2); a small tmpfs is mounted
where the trials go.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from losscurve.config import config_hash
from losscurve.mnist import prepare
from losscurve.traces import DamagedTraceError, Trace, read_trace, write_trace

from support import copy_project, snakemake, synthetic_overlay, write_overlay

SEEDS = list(range(1, 9))
ITERATIONS = 2000  # a second or two per trial on two shared cores: a run takes a while
TRIALS = [f"results/trials/seed-{seed}.parquet" for seed in SEEDS]
TARGETS = ("results/loss_traces.parquet",)
PIPELINE = ("--cores", "2", *TARGETS)


@pytest.fixture
def sweep(project, mirror_dir, payloads) -> tuple[Path, Path]:
    """A project configured for 8 synthetic seeds of ITERATIONS each."""
    overlay = synthetic_overlay(
        [mirror_dir.as_uri() + "/"], payloads, seeds=SEEDS, iterations=ITERATIONS
    )
    return project, write_overlay(project / "sweep.yaml", overlay)


@pytest.fixture(scope="module", autouse=True)
def frozen_package(package_copy):
    """Every run here uses a private copy of the package (see package_copy)."""


class Run:
    """The snakemake CLI running in its own process group, its log collected as it comes."""

    def __init__(self, project: Path, *args: str, overlays: tuple[Path, ...]):
        command = [sys.executable, "-m", "snakemake", *args, "--configfile", "config/config.yaml"]
        self.process = subprocess.Popen(
            [*command, *map(str, overlays)],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.project = project
        self.lines: list[str] = []
        # Reading ends when every process holding the pipe has ended: orphaned jobs too.
        self.reader = threading.Thread(target=self.lines.extend, args=(self.process.stdout,))
        self.reader.start()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_for_trials(self, finished: int, running: int, timeout: float = 300):
        """Follow the log until this many trial jobs have finished and this many are running
        (their job has opened its log file); return their seeds (finished, running)."""
        deadline = time.monotonic() + timeout
        while True:
            started, done = trial_jobs(self.log)
            logs = self.project / "results/logs/trial"
            working = {seed for seed in started - done if (logs / f"seed-{seed}.log").exists()}
            if len(done) >= finished and len(working) >= running:
                return done, working
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {finished} finished + {running} running:\n{self.log}")
            time.sleep(0.05)

    def wait(self, timeout: float = 300) -> int:
        self.process.wait(timeout)
        self.reader.join(timeout)
        return self.process.returncode


def trial_jobs(log: str) -> tuple[set[int], set[int]]:
    """Seeds of the trial jobs that the log reports started, and finished."""
    seed_of_job, finished, rule = {}, set(), None
    for line in log.splitlines():
        if match := re.match(r"\s*(?:local)?rule (\w+):", line):
            rule = match[1]
        elif rule == "trial" and (match := re.match(r"\s*output: results/trials/seed-(\d+)", line)):
            seed = int(match[1])
        elif rule == "trial" and (match := re.match(r"\s*jobid: (\d+)", line)):
            seed_of_job[match[1]] = seed
        elif match := re.match(r"Finished jobid: (\d+) \(Rule: trial\)", line):
            finished.add(seed_of_job[match[1]])
    return set(seed_of_job.values()), finished


def files_of(project: Path, paths) -> dict[str, tuple[bytes, int]]:
    return {p: ((project / p).read_bytes(), (project / p).stat().st_mtime_ns) for p in paths}


@pytest.mark.slow
@pytest.mark.parametrize("victims", ["snakemake", "process-group"])
def test_killed_run_resumes_without_redoing_finished_trials(sweep, victims):
    """SIGKILL the snakemake process alone (its running jobs carry on as orphans), or its whole
    process group (as a scheduler or a closed terminal does), while trials are running."""
    project, overlay = sweep
    run = Run(project, *PIPELINE, overlays=(overlay,))
    finished, running = run.wait_for_trials(finished=2, running=1)
    if victims == "snakemake":
        os.kill(run.process.pid, signal.SIGKILL)
    else:
        os.killpg(run.process.pid, signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL  # returns once the orphans, if any, have ended too
    kept = files_of(project, [f"results/trials/seed-{seed}.parquet" for seed in finished])
    for path in (project / "results/trials").glob("seed-*.parquet"):
        read_trace(path, iterations=ITERATIONS)  # whatever exists is whole

    plain = snakemake(project, *PIPELINE, overlays=(overlay,), check=False)
    assert plain.returncode != 0
    assert "Directory cannot be locked" in plain.stderr
    assert "It can be removed with the --unlock argument" in plain.stderr

    snakemake(project, "--unlock")
    # profiles/default sets rerun-incomplete: a trial that was cut off (or that finished its
    # file after Snakemake died) is simply run again.
    rerun = snakemake(project, *PIPELINE, overlays=(overlay,))
    assert files_of(project, kept) == kept  # same bytes, same mtime: not run again
    for seed in finished:
        assert f"output: results/trials/seed-{seed}.parquet" not in rerun.stdout + rerun.stderr
    for seed in running:
        assert f"output: results/trials/seed-{seed}.parquet" in rerun.stdout + rerun.stderr
    hashes = set()
    for seed, path in zip(SEEDS, TRIALS, strict=True):
        trace = read_trace(project / path, iterations=ITERATIONS)
        assert trace.metadata["seed"] == seed
        hashes.add(trace.metadata["config_hash"])
    assert len(hashes) == 1
    assert all((project / target).exists() for target in TARGETS)


@pytest.mark.slow
def test_a_second_run_in_the_same_folder_is_refused_and_the_first_finishes(sweep):
    project, overlay = sweep
    first = Run(project, *PIPELINE, overlays=(overlay,))
    first.wait_for_trials(finished=1, running=1)
    second = snakemake(project, *PIPELINE, overlays=(overlay,), check=False)
    assert second.returncode != 0
    assert "LockException" in second.stderr
    assert "Directory cannot be locked" in second.stderr
    assert first.process.poll() is None, "the first run should still be working"
    assert first.wait() == 0, first.log
    assert "Error" not in first.log
    for seed, path in zip(SEEDS, TRIALS, strict=True):
        assert read_trace(project / path, iterations=ITERATIONS).metadata["seed"] == seed
    nothing_left = snakemake(project, "-n", *TARGETS, overlays=(overlay,))
    assert "Nothing to be done" in nothing_left.stdout + nothing_left.stderr


KILLED_WRITER = """
import json, resource, signal, sys
from losscurve.trial import run_trial

args = json.loads(sys.argv[1])
# Python ignores SIGXFSZ; restore the default so that the kernel kills this process the moment
# a write would take a file past RLIMIT_FSIZE: a kill inside write(2), in the trace writer.
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.setrlimit(resource.RLIMIT_FSIZE, (args.pop("file_size_limit"),) * 2)
run_trial(**args)
"""


@pytest.fixture
def arrays(tmp_path, mirror_dir) -> list[str]:
    """The synthetic data prepared as the trial job reads it."""
    paths = []
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = tmp_path / f"{split}_images.npy", tmp_path / f"{split}_labels.npy"
        prepare(
            mirror_dir / f"{prefix}-images-idx3-ubyte.gz",
            mirror_dir / f"{prefix}-labels-idx1-ubyte.gz",
            images,
            labels,
        )
        paths += [str(images), str(labels)]
    return paths


def run_trial_process(output: Path, arrays: list[str], file_size_limit: int):
    args = {
        "seed": 3,
        "trial_config": {"iterations": 300, "batch_size": 32, "validation_size": 200},
        "config_hash": "0123456789abcdef",
        "data_paths": arrays,
        "output": str(output),
        "file_size_limit": file_size_limit,
    }
    return subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def test_a_trial_killed_inside_write_leaves_no_file_under_its_name(tmp_path, arrays):
    folder = tmp_path / "results" / "trials"
    output = folder / "seed-3.parquet"
    killed = run_trial_process(output, arrays, file_size_limit=2048)
    assert killed.returncode == -signal.SIGXFSZ, killed.stderr
    assert not output.exists()
    (partial,) = folder.iterdir()  # the writer's temporary file, cut off mid-write
    assert partial.name.startswith(".seed-3.parquet.") and partial.name.endswith(".part")
    assert partial.stat().st_size == 2048
    with pytest.raises(DamagedTraceError):
        read_trace(partial)

    finished = run_trial_process(output, arrays, file_size_limit=resource.RLIM_INFINITY)
    assert finished.returncode == 0, finished.stderr
    trace = read_trace(output, config_hash="0123456789abcdef", iterations=300)
    assert trace.metadata["seed"] == 3
    assert output.stat().st_size > 2048  # the limit did cut the first write short


def failed_outputs(output: str) -> set[str]:
    """The outputs of the jobs that Snakemake reports failed ("Error in rule ...")."""
    failed = set()
    for block in output.split("Error in rule ")[1:]:
        if match := re.search(r"^\s*output: (.+)$", block, re.MULTILINE):
            failed.update(match[1].split(", "))
    return failed


def synthetic(project: Path, mirror_dir: Path, payloads) -> Path:
    """The synthetic-data overlay (3 seeds, 50 iterations); further overlays change it."""
    overlay = synthetic_overlay([mirror_dir.as_uri() + "/"], payloads)
    return write_overlay(project / "synthetic.yaml", overlay)


DIVERGED = (
    "seed {seed} diverged: the batch loss is nan at iteration 1 with learning_rate = 1e+300; "
    "try a smaller learning_rate"
)


@pytest.mark.slow
def test_a_diverging_experiment_fails_by_seed_and_keep_going_finishes_the_rest(
    project, mirror_dir, payloads
):
    """Only the experiment's trials diverge (its own learning rate); the main trials still run."""
    diverging = {"experiments": {"diverging": {"learning_rate": 1e300, "seeds": [2, 3]}}}
    overlays = (
        synthetic(project, mirror_dir, payloads),
        write_overlay(project / "diverging.yaml", diverging),
    )
    targets = ["results/loss_traces.parquet", "results/experiments/diverging/loss_traces.parquet"]
    result = snakemake(
        project, "--cores", "1", "--keep-going", *targets, overlays=overlays, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert failed_outputs(output) == {
        "results/experiments/diverging/trials/seed-2.parquet",
        "results/experiments/diverging/trials/seed-3.parquet",
    }
    for seed in (2, 3):
        assert DIVERGED.format(seed=seed) in output  # shown in the terminal, from the job's log
    assert "At least one job did not complete successfully." in output
    assert not list((project / "results/experiments/diverging/trials").glob("*"))
    collected = pq.read_table(project / "results/loss_traces.parquet")
    assert sorted(set(collected["seed"].to_pylist())) == [1, 2, 3]


@pytest.mark.slow
@pytest.mark.parametrize("keep_going", [True, False])
def test_when_every_trial_diverges_keep_going_still_tries_each(
    keep_going, project, mirror_dir, payloads
):
    overlays = (
        synthetic(project, mirror_dir, payloads),
        write_overlay(project / "lr.yaml", {"trials": {"learning_rate": 1e300}}),
    )
    trials = [f"results/trials/seed-{seed}.parquet" for seed in (1, 2, 3)]
    flags = ["--keep-going"] if keep_going else []
    result = snakemake(project, "--cores", "1", *flags, *trials, overlays=overlays, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    failed = failed_outputs(output)
    assert failed <= set(trials)
    assert len(failed) == (3 if keep_going else 1)
    for path in failed:
        seed = int(re.search(r"seed-(\d+)", path)[1])
        log = (project / f"results/logs/trial/seed-{seed}.log").read_text()
        assert DIVERGED.format(seed=seed) in log
    assert not list((project / "results/trials").glob("*"))


ARRAYS = [f"results/mnist/{s}_{p}.npy" for s in ("train", "test") for p in ("images", "labels")]


@contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``path`` for the block; skips where none can be mounted."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    path.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)]
    mounted = subprocess.run(mount, capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        unmount(path)


def unmount(path: Path) -> None:
    """Unmount, waiting out processes that are still leaving it; name them if they stay."""
    for _ in range(20):
        done = subprocess.run(["umount", str(path)], capture_output=True, text=True)
        if done.returncode == 0:
            return
        time.sleep(0.5)
    users = [
        Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        for pid in os.listdir("/proc")
        if pid.isdigit() and users_path(int(pid), path)
    ]
    subprocess.run(["umount", "--lazy", str(path)], check=True)
    raise AssertionError(f"umount {path}: {done.stderr.strip()}; still used by {users}")


def users_path(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has its working directory or an open file under ``path``."""
    try:
        links = [os.readlink(f"/proc/{pid}/cwd")]
        links += [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(link.startswith(str(path)) for link in links)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


@pytest.mark.slow
def test_a_full_output_folder_fails_the_trial_clearly_and_leaves_nothing(
    project, mirror_dir, payloads
):
    overlays = (
        synthetic(project, mirror_dir, payloads),
        write_overlay(project / "long.yaml", {"trials": {"iterations": 2000}}),
    )
    snakemake(project, "--cores", "2", *ARRAYS, overlays=overlays)
    trials = project / "results/trials"
    with tmpfs(trials, "size=64k"):
        (trials / "other-data").write_bytes(bytes(60 << 10))  # leaves one 4 KiB page free
        result = snakemake(project, "--cores", "1", TRIALS[0], overlays=overlays, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert re.search(
            r"OSError: \[Errno 28\] cannot write results/trials/seed-1.parquet: .*No space left on "
            r"device; make room on \(or get write access to\) results/trials, then rerun",
            output,
        )
        assert [p.name for p in trials.iterdir()] == ["other-data"]  # nothing half-written
        (trials / "other-data").unlink()
        snakemake(project, "--cores", "1", TRIALS[0], overlays=overlays)
        read_trace(project / TRIALS[0], iterations=2000)


@pytest.mark.slow
def test_a_read_only_output_folder_stops_the_job_before_it_runs(project, mirror_dir, payloads):
    overlays = (synthetic(project, mirror_dir, payloads),)
    snakemake(project, "--cores", "2", *ARRAYS, overlays=overlays)
    trials = project / "results/trials"
    with tmpfs(trials, "size=64k"):
        (trials / "README").write_text("a read-only share\n")
        remount(trials, "ro")
        result = snakemake(project, "--cores", "1", TRIALS[0], overlays=overlays, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        # Snakemake itself clears a job's outputs before the job starts, and stops there.
        assert "OSError: [Errno 30] Read-only file system: 'results/trials/seed-1.parquet'" in (
            output
        )
        assert not (project / "results/logs/trial/seed-1.log").exists()  # the job never ran
        assert [p.name for p in trials.iterdir()] == ["README"]
        remount(trials, "rw")
        snakemake(project, "--cores", "1", TRIALS[0], overlays=overlays)
        read_trace(project / TRIALS[0], iterations=50)


def test_writing_a_trace_into_a_read_only_folder_names_the_file_and_the_fix(tmp_path):
    folder = tmp_path / "trials"
    trace = Trace(np.arange(3), np.ones(3), np.ones(3), {"seed": 1})
    with tmpfs(folder, "size=64k,ro"):
        with pytest.raises(OSError) as error:
            write_trace(folder / "seed-1.parquet", trace)
        assert f"cannot write {folder}/seed-1.parquet: " in str(error.value)
        assert "Read-only file system" in str(error.value)
        assert f"make room on (or get write access to) {folder}, then rerun" in str(error.value)
        assert list(folder.iterdir()) == []


@pytest.fixture(scope="module")
def collected(tmp_path_factory, mirror_dir, payloads) -> tuple[Path, Path, bytes]:
    """A project whose three synthetic trials have been built and collected, and the bytes of
    its trial file of seed 3."""
    project = copy_project(tmp_path_factory.mktemp("collected") / "project")
    overlay = synthetic(project, mirror_dir, payloads)
    snakemake(project, "--cores", "2", "results/loss_traces.parquet", overlays=(overlay,))
    return project, overlay, (project / "results/trials/seed-3.parquet").read_bytes()


def truncate(path: Path) -> None:
    """As an interrupted copy leaves it."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def replace_with_another_table(path: Path) -> None:
    pq.write_table(pa.table({"step": [0, 1, 2], "value": [2.3, 2.2, 2.1]}), path)


def shorten(path: Path) -> None:
    """The first 20 rows only, as from a run with fewer iterations (same metadata)."""
    trace = read_trace(path)
    write_trace(
        path, Trace(trace.iteration[:20], trace.loss[:20], trace.accuracy[:20], trace.metadata)
    )


def from_another_config(path: Path) -> None:
    """The same trace relabelled as a run with another learning rate would carry it."""
    trace = read_trace(path)
    other = trace.metadata["trial_config"] | {"learning_rate": 0.05}
    metadata = trace.metadata | {"trial_config": other, "config_hash": config_hash(other)}
    write_trace(path, Trace(trace.iteration, trace.loss, trace.accuracy, metadata))


def from_another_seed(path: Path) -> None:
    shutil.copy(path.with_name("seed-2.parquet"), path)


DAMAGE = {
    "truncated": (truncate, "not a readable trial file (ArrowInvalid: "),
    "another-table": (
        replace_with_another_table,
        "columns ['step', 'value'] with types ['int64', 'double'], expected ['iteration', 'loss', "
        "'accuracy']",
    ),
    "wrong-length": (shorten, "holds 20 rows, expected iterations 0 .. 49"),
    "another-config": (from_another_config, "written for trial config "),
    "another-seed": (from_another_seed, "holds the trace of seed 2, expected seed 3"),
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_collect_refuses_a_damaged_trial_file_and_names_the_rebuild(damage, collected):
    project, overlay, genuine = collected
    path = project / "results/trials/seed-3.parquet"
    path.write_bytes(genuine)  # whatever an earlier case left
    damage_file, says = DAMAGE[damage]
    damage_file(path)

    result = snakemake(
        project, "--cores", "2", "results/loss_traces.parquet", overlays=(overlay,), check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert failed_outputs(output) == {"results/loss_traces.parquet"}
    assert f"DamagedTraceError: results/trials/seed-3.parquet: {says}" in output
    hint = "rebuild it with: snakemake --cores 1 -f results/trials/seed-3.parquet"
    assert hint in output
    assert not (project / "results/loss_traces.parquet").exists()  # no stale table left behind

    rebuild = hint.removeprefix("rebuild it with: snakemake ").split()
    snakemake(project, *rebuild, overlays=(overlay,))  # the hint, with the run's config files
    snakemake(project, "--cores", "2", "results/loss_traces.parquet", overlays=(overlay,))
    rebuilt = read_trace(path, iterations=50)
    assert rebuilt.metadata["seed"] == 3
    assert (
        rebuilt.loss.tobytes()
        == pq.read_table(pa.BufferReader(genuine))["loss"].to_numpy().tobytes()
    )
