"""One seeded trial: train the network with SGD and record the batch loss of every iteration.

Everything random (initial weights, batch order, dropout masks) comes from one
``numpy.random.Generator`` built from the seed, so a seed and a config give the same trace,
bit for bit, on one machine. The training images are memory-mapped, never copied whole.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .network import (
    Cache,
    Hyperparameters,
    Parameters,
    accuracy,
    backward,
    dropout_mask,
    forward,
    init_parameters,
    log_loss,
    sgd_step,
)
from .traces import Trace, write_trace


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


def pixel_table(dtype) -> np.ndarray:
    """pixel / 255 for every byte value, so scaling a batch is one exact lookup."""
    return (np.arange(256, dtype=np.float64) / 255).astype(dtype)


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


def evaluate(
    params: Parameters, images: np.ndarray, labels: np.ndarray, table
) -> tuple[float, float]:
    """Loss and accuracy of the trained network on a whole set (no dropout)."""
    cache = forward(params, table[images])
    return log_loss(cache.s2, labels), accuracy(cache.s2, labels)


def train(seed: int, hp: Hyperparameters, data: Dataset) -> TrialResult:
    """Run one trial; raise DivergenceError at the first non-finite batch loss."""
    dtype = np.dtype(hp.dtype)
    images = data.train_images[hp.validation_size :]
    labels = data.train_labels[hp.validation_size :].astype(np.intp)
    if hp.batch_size > len(images):
        raise ValueError(
            f"trials.batch_size = {hp.batch_size} exceeds the {len(images)} training images "
            f"left after trials.validation_size = {hp.validation_size}"
        )
    rng = np.random.default_rng(seed)
    params = init_parameters(rng, hp)
    grads = Parameters(*(np.empty_like(p) for p in vars(params).values()))
    table = pixel_table(dtype)
    B = hp.batch_size
    X = np.empty((B, hp.n_input), dtype=dtype)
    a1 = np.empty((B, hp.hidden_units), dtype=dtype)
    s2 = np.empty((B, hp.n_output), dtype=dtype)
    cache = Cache(
        a1=a1, d1=a1 if hp.dropout == 0 else np.empty_like(a1), s2=s2, a2=np.empty_like(s2)
    )
    losses = np.empty(hp.iterations)
    accuracies = np.empty(hp.iterations)
    # Overflow is expected when a trial diverges; the loss check below reports it clearly.
    with np.errstate(over="ignore", invalid="ignore"):
        for x, idx in enumerate(batches(rng, len(images), B, hp.iterations)):
            np.take(table, images[idx], out=X)
            y = labels[idx]
            mask = dropout_mask(rng, a1.shape, hp.dropout, dtype) if hp.dropout else None
            forward(params, X, mask, cache)
            losses[x] = log_loss(cache.s2, y)
            if not np.isfinite(losses[x]):
                raise DivergenceError(
                    f"seed {seed} diverged: the batch loss is {losses[x]} at iteration {x} with "
                    f"learning_rate = {hp.learning_rate}; try a smaller trials.learning_rate "
                    f"(e.g. {hp.learning_rate / 10:g})"
                )
            accuracies[x] = accuracy(cache.s2, y)
            backward(params, X, y, cache, mask, grads)
            sgd_step(params, grads, hp.learning_rate)
    test_loss, test_accuracy = evaluate(
        params, data.test_images, data.test_labels.astype(np.intp), table
    )
    return TrialResult(losses, accuracies, test_loss, test_accuracy, params)


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "losscurve": __version__,
    }


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
    return result
