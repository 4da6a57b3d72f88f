"""Test support: synthetic MNIST-shaped data, a loopback HTTP mirror, and Snakemake runs.

Nothing here mocks the network or Snakemake: mirrors are real HTTP servers on 127.0.0.1 and
workflows run through the real `snakemake` command line in a copy of the project.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def synthetic_mnist(n_train: int = 1200, n_test: int = 200, seed: int = 0) -> dict[str, bytes]:
    """Learnable MNIST-shaped data: each class a fixed 28x28 template plus noise.

    Returns the four decompressed IDX payloads by canonical file name.
    """
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, size=(10, 28, 28))

    def make(n):
        labels = rng.integers(0, 10, size=n)
        noise = rng.normal(0, 60, size=(n, 28, 28))
        images = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
        return images, labels.astype(np.uint8)

    train_images, train_labels = make(n_train)
    test_images, test_labels = make(n_test)
    return {
        "train-images-idx3-ubyte": idx_bytes(train_images),
        "train-labels-idx1-ubyte": idx_bytes(train_labels),
        "t10k-images-idx3-ubyte": idx_bytes(test_images),
        "t10k-labels-idx1-ubyte": idx_bytes(test_labels),
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_mirror(directory: Path, payloads: dict[str, bytes]) -> Path:
    """Write gzipped payloads as a mirror folder (``name.gz`` for each)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        (directory / f"{name}.gz").write_bytes(gzip.compress(payload, mtime=0))
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


Route = Callable[[http.server.BaseHTTPRequestHandler], None]


class LoopbackMirror:
    """A real HTTP server on 127.0.0.1 serving ``routes``: path -> handler(request).

    ``serve_bytes`` and ``serve_status`` build the common handlers; tests add their own for
    hostile behaviour. ``hits`` counts requests per path.
    """

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                mirror.hits[self.path] = mirror.hits.get(self.path, 0) + 1
                route = mirror.routes.get(self.path)
                if route is None:
                    serve_status(404)(self)
                else:
                    route(self)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_folder(self, prefix: str, files: dict[str, bytes]) -> str:
        """Serve ``files`` (name -> bytes) under ``/prefix/``; return that base URL."""
        for name, body in files.items():
            self.routes[f"/{prefix}/{name}"] = serve_bytes(body)
        return f"{self.url}/{prefix}/"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def serve_bytes(body: bytes, content_length: int | None = None) -> Route:
    def route(request):
        request.send_response(200)
        request.send_header("Content-Type", "application/gzip")
        request.send_header(
            "Content-Length", str(len(body) if content_length is None else content_length)
        )
        request.end_headers()
        request.wfile.write(body)

    return route


def serve_status(code: int) -> Route:
    def route(request):
        body = f"status {code}\n".encode()
        request.send_response(code)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return route


def gz_files(payloads: dict[str, bytes]) -> dict[str, bytes]:
    return {f"{name}.gz": gzip.compress(body, mtime=0) for name, body in payloads.items()}


def copy_project(dest: Path) -> Path:
    """A copy of the workflow (Snakefile, workflow/, config/, profiles/) to run in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "Snakefile", dest / "Snakefile")
    for folder in ("workflow", "config", "profiles"):
        shutil.copytree(REPO / folder, dest / folder, dirs_exist_ok=True)
    return dest


def write_overlay(path: Path, overlay: dict) -> Path:
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return path


def synthetic_overlay(mirrors: list[str], payloads: dict[str, bytes], **trials) -> dict:
    """Config overlay for synthetic data: mirrors, their pins, and small trials."""
    return {
        "mnist": {
            "mirrors": mirrors,
            "sha256": {name: sha256(body) for name, body in payloads.items()},
            "retries": 0,
            "timeout": 5,
        },
        "trials": {
            "seeds": [1, 2, 3],
            "iterations": 50,
            "validation_size": 200,
            "batch_size": 32,
            **trials,
        },
        "fit": {"bootstrap_resamples": 200},
    }


def snakemake(
    workdir: Path,
    *args: str,
    overlays: tuple[Path, ...] = (),
    timeout: float = 600,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run the real ``snakemake`` CLI in ``workdir`` with config/config.yaml plus ``overlays``.

    Targets go in ``args`` (they are placed before --configfile, see README).
    """
    command = [sys.executable, "-m", "snakemake", *args]
    if overlays:
        command += ["--configfile", "config/config.yaml", *map(str, overlays)]
    result = subprocess.run(
        command,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def require(capability: str, available: bool, reason: str) -> None:
    """Skip a test whose environment lacks ``capability``, unless it is required.

    CI lists the capabilities it provides in LOSSCURVE_REQUIRE (e.g. "mnist,cluster,browser"):
    there a missing capability fails the test instead of skipping it silently.
    """
    if available:
        return
    required = {c.strip() for c in os.environ.get("LOSSCURVE_REQUIRE", "").split(",")}
    if capability in required:
        pytest.fail(f"{capability} is required here (LOSSCURVE_REQUIRE) but missing: {reason}")
    pytest.skip(reason)


def planned_jobs(workdir: Path, *targets: str, overlays: tuple[Path, ...] = ()) -> dict[str, int]:
    """Rule -> number of jobs that a dry run for ``targets`` (rule all if none) would execute."""
    result = snakemake(workdir, *targets, "-n", "--quiet", "rules", overlays=overlays)
    counts = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts
