"""Loss-trace files for the analysis tests, written with the real trial-file writer.

Each trace falls like a trained network's batch loss (2.3 towards 0.4, noisy), so fits and
figures see realistic shapes without training anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from losscurve.analysis import collect_traces, fit_trials
from losscurve.traces import Trace, write_trace

CONFIG_HASH = "0123456789abcdef"


def loss_curve(seed: int, iterations: int) -> np.ndarray:
    """(iterations,) a noisy exponential fall of the log loss, different for every seed."""
    rng = np.random.default_rng(seed)
    x = np.arange(iterations)
    scale = iterations / 4 * rng.uniform(0.8, 1.2)
    return 0.4 + 1.9 * np.exp(-x / scale) + rng.normal(0, 0.05, iterations)


def write_trial(
    path: Path, seed: int, iterations: int, config_hash: str = CONFIG_HASH, **metadata
) -> Path:
    """A trial file as run_trial writes it, with the loss of ``loss_curve``."""
    loss = loss_curve(seed, iterations)
    write_trace(
        path,
        Trace(
            iteration=np.arange(iterations),
            loss=loss,
            accuracy=np.clip(1.2 - loss / 2, 0, 1),
            metadata={
                "seed": seed,
                "trial_config": {"iterations": iterations},
                "config_hash": config_hash,
                "test_loss": 0.3,
                "test_accuracy": 0.91,
                "wall_time_s": 1.5,
                "versions": {"python": "3", "numpy": "2", "losscurve": "0"},
                "slurm_job_id": None,
                **metadata,
            },
        ),
    )
    return path


def write_trials(folder: Path, seeds: Sequence[int], iterations: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [write_trial(folder / f"seed-{s}.parquet", s, iterations) for s in seeds]


def collected_and_fitted(
    folder: Path, seeds: Sequence[int], iterations: int, degree: int = 4
) -> tuple[Path, Path]:
    """Trial files collected and fitted by the package: (traces, coefficients) Parquet paths."""
    paths = write_trials(folder / "trials", seeds, iterations)
    traces = folder / "loss_traces.parquet"
    collect_traces(paths, seeds, CONFIG_HASH, iterations, traces)
    coefficients = folder / "fits" / "coefficients.parquet"
    fit_trials(traces, degree, folder / "fits" / "coefficients.csv", coefficients)
    return traces, coefficients
