"""Hostile mirrors: real loopback HTTP servers that fail, stall, lie or attack.

Every one must end in the next mirror being tried or in the final error naming each mirror's
failure, and never in a file under results/mnist/ that did not verify.
"""

from __future__ import annotations

import functools
import gzip
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from losscurve.mnist import DownloadError, DownloadSettings, download

from support import (
    LoopbackMirror,
    Route,
    free_port,
    gz_files,
    serve_bytes,
    serve_status,
    sha256,
    snakemake,
    synthetic_overlay,
    write_overlay,
)

NAME = "train-labels-idx1-ubyte"
TIMEOUT = 1.0
LIMIT = 1 << 20
SETTINGS = DownloadSettings(timeout=TIMEOUT, retries=1, backoff=0.01, max_decompressed_bytes=LIMIT)


def cut_short(body: bytes):
    """Announce the whole body, send half of it, hang up."""

    def route(request):
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body[: len(body) // 2])
        request.close_connection = True

    return route


def stall(body: bytes):
    """Send the headers and a few bytes, then nothing for far longer than the read timeout."""

    def route(request):
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body[:10])
        request.wfile.flush()
        time.sleep(4 * TIMEOUT)
        request.close_connection = True

    return route


def redirect(location: str):
    def route(request):
        request.send_response(302)
        request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()

    return route


def endless(request):
    """A body with no Content-Length that never ends (until the client hangs up)."""
    request.send_response(200)
    request.send_header("Connection", "close")
    request.end_headers()
    zeros = bytes(1 << 16)
    try:
        for _ in range(1 << 14):  # 1 GiB at most, so a broken client cannot keep it forever
            request.wfile.write(zeros)
    except OSError:
        pass
    request.close_connection = True


@functools.cache
def bomb(head: bytes = b"", members: int = 64) -> bytes:
    """``head`` then ``members`` x 16 MiB of zeros, as concatenated gzip members (~16 KiB each).

    The last member is cut short: a reader that went on to the end would fail on it, so a
    "too large" error proves that reading stopped at the bound.
    """
    zeros = gzip.compress(bytes(16 << 20), mtime=0)
    return gzip.compress(head, mtime=0) + zeros * (members - 1) + zeros[: len(zeros) // 2]


def idx_head(*shape: int) -> bytes:
    return bytes([0, 0, 8, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


def hostile_routes(body: bytes, other: bytes) -> dict[str, tuple[Route, str]]:
    """Kind -> (route serving a file badly, what its failure says); ``body`` is the good file."""
    return {
        "http-500": (serve_status(500), "HTTP 500"),
        "stall": (stall(body), "TimeoutError"),
        "cut-short": (cut_short(body), f"body cut short: {len(body) // 2} of {len(body)} bytes"),
        "wrong-checksum": (serve_bytes(other), "checksum mismatch"),
        "length-too-long": (
            serve_bytes(body, content_length=len(body) + 1000),
            f"body cut short: {len(body)} of {len(body) + 1000} bytes",
        ),
        "length-too-short": (
            serve_bytes(body, content_length=len(body) - 20),
            "corrupt or truncated gzip",
        ),
        "length-huge": (
            serve_bytes(body, content_length=10**13),
            "announces 10000000000000 bytes, beyond mnist.max_decompressed_mb",
        ),
        "endless-body": (endless, "body runs past 1048576 bytes"),
        "gzip-bomb": (serve_bytes(bomb()), "decompressed payload exceeds 1048576 bytes"),
        "bomb-behind-idx-header": (
            serve_bytes(bomb(idx_head(10))),
            "decompressed payload runs past the 18 bytes its IDX header declares",
        ),
        "idx-header-too-large": (
            serve_bytes(bomb(idx_head(1 << 20, 32, 32))),
            "its IDX header declares 1073741840 bytes, beyond mnist.max_decompressed_mb",
        ),
        "not-found": (serve_status(404), "HTTP 404"),
    }


@dataclass
class Hostile:
    """One loopback server holding every hostile mirror and a good one, for all four files."""

    server: LoopbackMirror
    good: str
    mirrors: dict[str, str]  # kind -> base URL
    says: dict[tuple[str, str], str]  # (kind, file name) -> what the failure says


@pytest.fixture(scope="module")
def hostile(payloads):
    server = LoopbackMirror()
    files = gz_files(payloads)
    mirrors, says = {}, {}
    for name in payloads:
        other = next(body for key, body in files.items() if key != f"{name}.gz")
        for kind, (route, said) in hostile_routes(files[f"{name}.gz"], other).items():
            server.routes[f"/{kind}/{name}.gz"] = route
            mirrors[kind] = f"{server.url}/{kind}/"
            says[kind, name] = said
        server.routes[f"/redirect-loop/{name}.gz"] = redirect(f"/redirect-loop/{name}.gz")
        says["redirect-loop", name] = "infinite loop"
        says["closed-port", name] = "cannot connect"
    mirrors["redirect-loop"] = f"{server.url}/redirect-loop/"
    mirrors["closed-port"] = f"http://127.0.0.1:{free_port()}/"
    good = server.add_folder("good", files)
    yield Hostile(server, good, mirrors, says)
    server.close()


KINDS = [
    "http-500",
    "stall",
    "cut-short",
    "wrong-checksum",
    "redirect-loop",
    "length-too-long",
    "length-too-short",
    "length-huge",
    "endless-body",
    "gzip-bomb",
    "bomb-behind-idx-header",
    "idx-header-too-large",
    "not-found",
    "closed-port",
]


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_mirror_alone_fails_clearly_and_leaves_nothing(kind, tmp_path, hostile, payloads):
    mirror = hostile.mirrors[kind]
    dest = tmp_path / "results" / "mnist" / f"{NAME}.gz"
    with pytest.raises(DownloadError) as failure:
        download(f"{NAME}.gz", dest, [mirror], sha256(payloads[NAME]), SETTINGS)
    message = str(failure.value)
    assert f"Could not download {NAME}.gz from any of 1 mirror(s)" in message
    assert f"{mirror}{NAME}.gz: " in message
    assert hostile.says[kind, NAME] in message
    assert list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_mirror_falls_back_to_the_next_one(kind, tmp_path, hostile, payloads):
    dest = tmp_path / "results" / "mnist" / f"{NAME}.gz"
    mirrors = [hostile.mirrors[kind], hostile.good]
    assert download(f"{NAME}.gz", dest, mirrors, sha256(payloads[NAME]), SETTINGS) == (
        f"{hostile.good}{NAME}.gz"
    )
    assert gzip.decompress(dest.read_bytes()) == payloads[NAME]
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]


def test_a_redirect_to_ftp_is_refused_without_connecting(tmp_path, http_mirror, payloads):
    """urllib on its own follows redirects to ftp://; mirrors may only be http(s) or files."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        target = f"ftp://127.0.0.1:{listener.getsockname()[1]}/{NAME}.gz"
        http_mirror.routes[f"/to-ftp/{NAME}.gz"] = redirect(target)
        dest = tmp_path / f"{NAME}.gz"
        with pytest.raises(DownloadError) as failure:
            download(
                f"{NAME}.gz", dest, [f"{http_mirror.url}/to-ftp/"], sha256(payloads[NAME]), SETTINGS
            )
        assert f"redirect to {target} refused (http and https only)" in str(failure.value)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody connected
    assert not dest.exists()


def says_on_one_line(text: str, start: str, says: str) -> bool:
    return re.search(f"{re.escape(start)}[^\n]*{re.escape(says)}", text) is not None


def hostile_overlay(project: Path, mirrors: list[str], payloads) -> Path:
    overlay = synthetic_overlay(mirrors, payloads)
    overlay["mnist"].update(timeout=TIMEOUT, max_decompressed_mb=LIMIT / 2**20)
    return write_overlay(project / "hostile.yaml", overlay)


@pytest.mark.slow
def test_snakemake_falls_back_past_every_hostile_mirror(project, hostile, payloads):
    overlay = hostile_overlay(project, [*hostile.mirrors.values(), hostile.good], payloads)
    arrays = [f"{s}_{p}.npy" for s in ("train", "test") for p in ("images", "labels")]
    snakemake(project, "--cores", "2", *(f"results/mnist/{a}" for a in arrays), overlays=(overlay,))
    for name in payloads:
        log = (project / f"results/logs/download_mnist/{name}.log").read_text()
        for kind, mirror in hostile.mirrors.items():
            failed = f"mirror failed: {mirror}{name}.gz: "
            assert says_on_one_line(log, failed, hostile.says[kind, name]), kind
        assert f"verified {hostile.good}{name}.gz" in log
    files = sorted(p.name for p in (project / "results/mnist").iterdir())
    assert files == sorted([f"{name}.gz" for name in payloads] + arrays)


@pytest.mark.slow
def test_snakemake_with_only_hostile_mirrors_stops_with_the_list(project, hostile, payloads):
    overlay = hostile_overlay(project, list(hostile.mirrors.values()), payloads)
    result = snakemake(
        project, "--cores", "1", f"results/mnist/{NAME}.gz", overlays=(overlay,), check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"Could not download {NAME}.gz from any of {len(KINDS)} mirror(s)" in output
    for kind, mirror in hostile.mirrors.items():
        assert says_on_one_line(output, f"  - {mirror}{NAME}.gz: ", hostile.says[kind, NAME]), kind
    assert list((project / "results/mnist").glob("*")) == []
