"""In-process timings, run as a script in a fresh process with one BLAS thread.

    python tests/benchmarks/timing.py step DATA_DIR DTYPE [ROUNDS]
    python tests/benchmarks/timing.py peer DATA_DIR [ROUNDS]

DATA_DIR holds the prepared arrays (results/mnist of a project). The benchmarks start this
script with OPENBLAS_NUM_THREADS=1 (numpy reads it only when it loads, hence a new process);
it prints one JSON object. Every ratio is taken round by round, the two sides run back to
back, and the median over the rounds is reported.
"""

from __future__ import annotations

import cProfile
import dataclasses
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

import numpy as np

from losscurve.network import (
    Hyperparameters,
    Parameters,
    empty_cache,
    init_parameters,
)
from losscurve.trial import Dataset, load_dataset, scale_pixels, train

ITERATIONS = 500


def dataset(folder: str) -> Dataset:
    names = ("train_images", "train_labels", "test_images", "test_labels")
    return load_dataset(*(f"{folder}/{name}.npy" for name in names))


def seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def trial_seconds(hp: Hyperparameters, data: Dataset, iterations: int) -> float:
    return seconds(lambda: train(1, dataclasses.replace(hp, iterations=iterations), data))


def matrix_products(hp: Hyperparameters, X: np.ndarray) -> dict[str, Callable[[], object]]:
    """The five matrix products of one SGD step, alone: the shapes, dtype and memory layouts
    of network.forward and network.backward (transposes are views there too)."""
    rng = np.random.default_rng(0)
    params = init_parameters(rng, hp)
    grads = Parameters(*(np.empty_like(p) for p in vars(params).values()))
    cache = empty_cache(params, hp.batch_size, dropout=False)
    delta2 = rng.normal(0, 0.01, cache.s2.shape).astype(hp.dtype)
    return {
        "s1 = X W1": lambda: np.matmul(X, params.W1, out=cache.a1),
        "s2 = d1 W2": lambda: np.matmul(cache.a1, params.W2, out=cache.s2),
        "dW2 = d1^T delta2": lambda: np.matmul(cache.a1.T, delta2, out=grads.W2),
        "delta2 W2^T": lambda: np.matmul(delta2, params.W2.T, out=cache.delta1),
        "dW1 = X^T delta1": lambda: np.matmul(X.T, cache.delta1, out=grads.W1),
    }


def gemm_floor_seconds(products: dict[str, Callable[[], object]], iterations: int) -> float:
    """The matrix products of ``iterations`` SGD steps, back to back."""
    calls = list(products.values())

    def steps():
        for _ in range(iterations):
            for call in calls:
                call()

    return seconds(steps)


def per_call_us(call: Callable[[], object], calls: int = 200) -> float:
    """Microseconds of one call: the median over 5 runs of ``calls`` calls."""
    return median(seconds(lambda: [call() for _ in range(calls)]) for _ in range(5)) / calls * 1e6


def iteration_profile(hp: Hyperparameters, data: Dataset) -> dict[str, float]:
    """Microseconds per iteration spent in each function of a real trial, under cProfile.

    Each function's own time counts the numpy calls it makes, not the losscurve functions it
    calls. The test set is cut to one image so that the final evaluation does not blur the
    per-iteration figures; once-per-trial work (init_parameters) is spread over the
    iterations. cProfile itself adds about a microsecond per Python call.
    """
    small_test = Dataset(
        data.train_images, data.train_labels, data.test_images[:1], data.test_labels[:1]
    )
    profiler = cProfile.Profile()
    profiler.runcall(train, 1, hp, small_test)
    stats = pstats.Stats(profiler).stats
    ours = {key for key in stats if "losscurve" in key[0]}
    own = {}
    for key in ours:
        cumulative = stats[key][3]
        callees = sum(stats[callee][4][key][3] for callee in ours if key in stats[callee][4])
        own[f"{Path(key[0]).stem}.{key[2]}"] = (cumulative - callees) / hp.iterations * 1e6
    return dict(sorted(own.items(), key=lambda item: -item[1]))


def step(folder: str, dtype: str, rounds: int) -> dict:
    """Per-iteration time of a default trial's loop against its matrix products alone."""
    data = dataset(folder)
    hp = Hyperparameters(dtype=dtype)
    products = matrix_products(hp, scale_pixels(data.train_images[: hp.batch_size], dtype))
    trial_seconds(hp, data, ITERATIONS)  # warm: page in the arrays, start BLAS
    rows = []
    for _ in range(rounds):
        fixed = trial_seconds(hp, data, 0)  # init and test-set evaluation, no iteration
        full = trial_seconds(hp, data, ITERATIONS)
        floor = gemm_floor_seconds(products, ITERATIONS)
        rows.append(((full - fixed) / ITERATIONS, floor / ITERATIONS))
    return {
        "iteration_us": median(r[0] for r in rows) * 1e6,
        "floor_us": median(r[1] for r in rows) * 1e6,
        "ratio": median(r[0] / r[1] for r in rows),
        "ratios": [r[0] / r[1] for r in rows],
        "products_us": {name: per_call_us(call) for name, call in products.items()},
        "profile_us": iteration_profile(hp, data),
    }


def peer(folder: str, rounds: int) -> dict:
    """A whole default trial, this project against the PyTorch peer, side by side."""
    try:
        import torch  # noqa: F401 - only to say clearly why the row is missing
    except ImportError:
        return {"skipped": "torch is not installed (pip install torch==2.13.0 to measure it)"}
    from torch_peer import train_torch

    data = dataset(folder)
    hp = Hyperparameters()
    ours, theirs = train(1, hp, data), train_torch(1, hp, data)  # warm both
    rows = [
        (trial_seconds(hp, data, ITERATIONS), seconds(lambda: train_torch(1, hp, data)))
        for _ in range(rounds)
    ]
    return {
        "project_s": median(r[0] for r in rows),
        "torch_s": median(r[1] for r in rows),
        "ratio": median(r[0] / r[1] for r in rows),
        "ratios": [r[0] / r[1] for r in rows],
        "max_loss_difference": float(np.abs(ours.loss - theirs.loss).max()),
        "test_loss": [ours.test_loss, theirs.test_loss],
    }


if __name__ == "__main__":
    kind, folder, *rest = sys.argv[1:]
    if kind == "step":
        result = step(folder, rest[0], int(rest[1]) if len(rest) > 1 else 9)
    else:
        result = peer(folder, int(rest[0]) if rest else 9)
    print(json.dumps(result))
