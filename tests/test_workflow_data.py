"""End-to-end runs of the data rules with the real Snakemake CLI against loopback mirrors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from support import gz_files, serve_status, snakemake, synthetic_overlay, write_overlay

pytestmark = pytest.mark.slow

ARRAYS = [
    f"results/mnist/{split}_{part}.npy"
    for split in ("train", "test")
    for part in ("images", "labels")
]


def test_data_rules_fall_back_to_second_mirror(project, http_mirror, payloads):
    for name in payloads:
        http_mirror.routes[f"/down/{name}.gz"] = serve_status(503)
    good = http_mirror.add_folder("good", gz_files(payloads))
    overlay = write_overlay(
        project / "mirror.yaml", synthetic_overlay([f"{http_mirror.url}/down/", good], payloads)
    )
    snakemake(project, "--cores", "2", "results/mnist/train_images.npy", overlays=(overlay,))
    assert all((project / array).exists() for array in ARRAYS)  # one job prepares all four
    images = np.load(project / "results/mnist/train_images.npy", allow_pickle=False)
    labels = np.load(project / "results/mnist/test_labels.npy", allow_pickle=False)
    assert images.shape == (1200, 784) and images.dtype == np.uint8
    assert labels.shape == (200,) and set(np.unique(labels)) <= set(range(10))
    log = (project / "results/logs/download_mnist/train-images-idx3-ubyte.log").read_text()
    assert "/down/train-images-idx3-ubyte.gz: HTTP 503" in log


def test_corrupt_mirror_fails_with_clear_error_and_no_output(project, http_mirror, payloads):
    corrupt = {name: body[: len(body) // 2] for name, body in gz_files(payloads).items()}
    base = http_mirror.add_folder("corrupt", corrupt)
    overlay = write_overlay(project / "mirror.yaml", synthetic_overlay([base], payloads))
    result = snakemake(
        project, "--cores", "1", "results/mnist/train_labels.npy", overlays=(overlay,), check=False
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert re.search(
        r"Could not download train-(images|labels)-idx\d-ubyte.gz from any of 1 mirror", output
    )
    assert "corrupt or truncated gzip" in output
    assert list((project / "results/mnist").glob("*")) == []
