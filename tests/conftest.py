"""Shared fixtures: synthetic data, loopback mirrors, and project copies to run Snakemake in."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (
    REPO,
    LoopbackMirror,
    copy_project,
    require,
    snakemake,
    synthetic_mnist,
    write_mirror,
    write_overlay,
)


@pytest.fixture(scope="session")
def payloads() -> dict[str, bytes]:
    """The four decompressed synthetic IDX payloads, by canonical name."""
    return synthetic_mnist()


@pytest.fixture(scope="session")
def mirror_dir(tmp_path_factory, payloads) -> Path:
    """A local mirror folder of the synthetic data (gzipped)."""
    return write_mirror(tmp_path_factory.mktemp("mirror"), payloads)


@pytest.fixture
def http_mirror():
    server = LoopbackMirror()
    yield server
    server.close()


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh copy of the workflow to run Snakemake in."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def real_mirror() -> str:
    """The real MNIST files, from the mirror named by MNIST_MIRROR (a URL or a folder)."""
    location = os.environ.get("MNIST_MIRROR", "")
    require("mnist", bool(location), "MNIST_MIRROR is not set: point it at the MNIST .gz files")
    return location


@pytest.fixture(scope="session")
def real_project(tmp_path_factory, real_mirror) -> tuple[Path, Path]:
    """A project with the real MNIST arrays prepared through the data rules.

    The overlay holds only ``mnist.mirrors``: the pinned checksums come from config/config.yaml.
    """
    project = copy_project(tmp_path_factory.mktemp("real") / "project")
    overlay = write_overlay(project / "mirror.yaml", {"mnist": {"mirrors": [real_mirror]}})
    arrays = [f"results/mnist/{s}_{p}.npy" for s in ("train", "test") for p in ("images", "labels")]
    snakemake(project, "--cores", "2", *arrays, overlays=(overlay,))
    return project, overlay


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory) -> Iterator[Path]:
    """Run Snakemake on a private copy of the package (through PYTHONPATH), one per module.

    The trial code is an input of every trial, so a test can edit this copy to see trials go
    out of date, and an edit to the checkout while tests run does not rerun theirs.
    """
    source = tmp_path_factory.mktemp("package") / "src"
    shutil.copytree(REPO / "src", source)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(source))
        yield source / "losscurve"
