"""One seeded trial: train the network with SGD and record the batch loss of every iteration.

Everything random (initial weights, batch order, dropout masks) comes from one
``numpy.random.Generator`` built from the seed, so a seed and a config give the same trace,
bit for bit, on one machine. The training images are memory-mapped, never copied whole.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import resource
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .network import (
    Hyperparameters,
    Parameters,
    accuracy,
    backward,
    dropout_mask,
    empty_cache,
    forward,
    init_parameters,
    log_loss,
    sgd_step,
)
from .traces import Trace, write_trace

log = logging.getLogger(__name__)


class DivergenceError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class Dataset:
    train_images: np.ndarray  # (n_train, 784) uint8, typically a read-only memmap
    train_labels: np.ndarray  # (n_train,) uint8
    test_images: np.ndarray  # (n_test, 784) uint8
    test_labels: np.ndarray  # (n_test,) uint8


def load_dataset(train_images, train_labels, test_images, test_labels) -> Dataset:
    """Memory-map the prepared .npy arrays (no pickles, no copies)."""

    def load(path):
        return np.load(path, mmap_mode="r", allow_pickle=False)

    return Dataset(load(train_images), load(train_labels), load(test_images), load(test_labels))


def hyperparameters(trial_config: Mapping[str, Any]) -> Hyperparameters:
    """The config section ``trials`` (less its seeds) as Hyperparameters."""
    names = {f.name for f in fields(Hyperparameters)}
    return Hyperparameters(**{k: v for k, v in trial_config.items() if k in names})


def scale_pixels(pixels: np.ndarray, dtype, out: np.ndarray | None = None) -> np.ndarray:
    """pixel / 255 as ``dtype``, (n, 784) uint8 -> (n, 784): intensities in [0, 1].

    One division, correctly rounded in ``dtype``: in float32 this equals float64 division
    rounded to float32 (double rounding is exact for quotients of 8-bit integers).
    """
    dtype = np.dtype(dtype)
    return np.divide(pixels, dtype.type(255), out=out, dtype=dtype)


def batches(rng: np.random.Generator, n: int, batch_size: int, count: int) -> Iterator[np.ndarray]:
    """``count`` batches of indices into 0..n-1, without replacement within an epoch.

    Each epoch is a fresh permutation; its last incomplete batch is dropped, so every batch
    has exactly ``batch_size`` examples.
    """
    per_epoch = n // batch_size
    produced = 0
    while produced < count:
        order = rng.permutation(n)
        for k in range(min(per_epoch, count - produced)):
            yield order[k * batch_size : (k + 1) * batch_size]
            produced += 1


@dataclass
class TrialResult:
    loss: np.ndarray  # (iterations,) float64, batch loss before update x
    accuracy: np.ndarray  # (iterations,) float64, batch accuracy before update x
    test_loss: float
    test_accuracy: float
    parameters: Parameters


# Rows per forward pass when evaluating: a job then never holds a whole set as floats. Chunks
# this tall give the same output sums, bit for bit, as one pass over the set (BLAS switches
# to other kernels only for much shorter matrices).
EVALUATION_ROWS = 1000


def evaluate(params: Parameters, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Loss and accuracy of the trained network on a whole set (no dropout).

    The set goes through in near-equal chunks of EVALUATION_ROWS to 2 * EVALUATION_ROWS rows;
    only the output sums, (n, n_output), are kept for all of it.
    """
    n = len(images)
    s2 = np.empty((n, params.W2.shape[1]), dtype=params.W2.dtype)
    chunks = max(1, n // EVALUATION_ROWS)
    for k in range(chunks):
        rows = slice(k * n // chunks, (k + 1) * n // chunks)
        s2[rows] = forward(params, scale_pixels(images[rows], params.W1.dtype)).s2
    return log_loss(s2, labels), accuracy(s2, labels)


def train(seed: int, hp: Hyperparameters, data: Dataset) -> TrialResult:
    """Run one trial; raise DivergenceError at the first non-finite batch loss."""
    dtype = np.dtype(hp.dtype)
    # Plain ndarray views of the map (no copy): np.memmap indexes through Python-level hooks.
    images = np.asarray(data.train_images[hp.validation_size :])
    labels = np.asarray(data.train_labels[hp.validation_size :], dtype=np.intp)
    if hp.batch_size > len(images):
        raise ValueError(
            f"trials.batch_size = {hp.batch_size} exceeds the {len(images)} training images "
            f"left after trials.validation_size = {hp.validation_size}"
        )
    rng = np.random.default_rng(seed)
    params = init_parameters(rng, hp)
    # Every per-iteration array is allocated once here; the loop only writes into them.
    grads = Parameters(*(np.empty_like(p) for p in vars(params).values()))
    B = hp.batch_size
    X = np.empty((B, hp.n_input), dtype=dtype)
    cache = empty_cache(params, B, dropout=hp.dropout > 0)
    losses = np.empty(hp.iterations)
    accuracies = np.empty(hp.iterations)
    # Overflow is expected when a trial diverges; the loss check below reports it clearly.
    with np.errstate(over="ignore", invalid="ignore"):
        for x, idx in enumerate(batches(rng, len(images), B, hp.iterations)):
            scale_pixels(images[idx], dtype, out=X)
            y = labels[idx]
            mask = dropout_mask(rng, cache.a1.shape, hp.dropout, dtype) if hp.dropout else None
            forward(params, X, mask, cache)
            losses[x] = log_loss(cache.s2, y, cache.log_sum)
            if not np.isfinite(losses[x]):
                raise DivergenceError(
                    f"seed {seed} diverged: the batch loss is {losses[x]} at iteration {x} with "
                    f"learning_rate = {hp.learning_rate}; try a smaller learning_rate (in trials, "
                    f"or in the experiment that sets it), e.g. {min(hp.learning_rate / 10, 0.1):g}"
                )
            accuracies[x] = accuracy(cache.s2, y)
            backward(params, X, y, cache, mask, grads)
            sgd_step(params, grads, hp.learning_rate)
    test_loss, test_accuracy = evaluate(params, data.test_images, data.test_labels.astype(np.intp))
    return TrialResult(losses, accuracies, test_loss, test_accuracy, params)


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "losscurve": __version__,
    }


def peak_memory_mib() -> float:
    """The most resident memory this program has held so far, in MiB.

    On Linux the peak of this process image (VmHWM): getrusage's ru_maxrss would also count
    the process it was forked from before exec, Snakemake itself for a job.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes there
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)[1]) / 2**10


def run_trial(
    seed: int, trial_config: Mapping[str, Any], config_hash: str, data_paths, output: str | Path
) -> TrialResult:
    """Train one seed on the prepared arrays and write its trace to ``output`` (Parquet)."""
    start = time.perf_counter()
    result = train(seed, hyperparameters(trial_config), load_dataset(*data_paths))
    wall = time.perf_counter() - start
    n = len(result.loss)
    metadata = {
        "seed": seed,
        "trial_config": dict(trial_config),
        "config_hash": config_hash,
        "test_loss": result.test_loss,
        "test_accuracy": result.test_accuracy,
        "wall_time_s": wall,
        "versions": versions(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
    write_trace(output, Trace(np.arange(n), result.loss, result.accuracy, metadata))
    log.info(
        "seed %d: %d iterations and the test set in %.2f s, peak memory %.0f MiB",
        seed,
        n,
        wall,
        peak_memory_mib(),
    )
    return result
