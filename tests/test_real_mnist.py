"""The real MNIST files through the real pipeline (needs MNIST_MIRROR; CI sets it)."""

from __future__ import annotations

import numpy as np
import pytest

from losscurve.traces import read_trace

from support import snakemake

pytestmark = [pytest.mark.mnist, pytest.mark.slow]

# Per-class counts of canonical MNIST, digits 0..9.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def load(project, name):
    return np.load(project / "results/mnist" / name, mmap_mode="r", allow_pickle=False)


def test_real_files_pass_the_pins_and_decode_to_canonical_shapes(real_project):
    project, _ = real_project
    images, labels = load(project, "train_images.npy"), load(project, "train_labels.npy")
    assert images.shape == (60000, 784) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == TRAIN_COUNTS
    test_images, test_labels = load(project, "test_images.npy"), load(project, "test_labels.npy")
    assert test_images.shape == (10000, 784) and test_labels.shape == (10000,)
    assert np.bincount(test_labels, minlength=10).tolist() == TEST_COUNTS
    assert images.max() == 255 and images.min() == 0


def test_default_trials_on_real_data_match_the_papers_statistics(real_project):
    project, overlay = real_project
    seeds = range(1, 11)
    targets = [f"results/trials/seed-{seed}.parquet" for seed in seeds]
    snakemake(project, "--cores", "2", *targets, overlays=(overlay,))
    traces = [read_trace(project / t, iterations=500) for t in targets]
    losses = np.array([t.loss for t in traces])
    assert 2.0 < losses[:, 0].mean() < 3.0
    first50, last50 = losses[:, :50].mean(axis=1), losses[:, -50:].mean(axis=1)
    assert np.all(last50 < 1.0), last50
    assert np.all(last50 < first50 - 1.0), first50 - last50
    accuracies = [t.metadata["test_accuracy"] for t in traces]
    assert min(accuracies) > 0.85, accuracies
    print(
        f"\nreal data, 10 seeds: mean loss at x=0 {losses[:, 0].mean():.4f}, at x=499 "
        f"{losses[:, -1].mean():.4f}; test accuracy {min(accuracies):.4f}..{max(accuracies):.4f}; "
        f"wall time per trial {np.median([t.metadata['wall_time_s'] for t in traces]):.2f} s"
    )
