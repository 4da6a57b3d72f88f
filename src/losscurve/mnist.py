"""MNIST: verified download from a list of mirrors, and IDX decoding into .npy arrays.

A download is streamed to a temporary file beside its destination, decompressed (bounded, so
a gzip bomb is cut off), checked against the pinned SHA-256 of the decompressed payload, and
only then renamed into place. Nothing is left under the final name unless it verified.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import atomic_output

log = logging.getLogger(__name__)

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CHUNK = 1 << 20
USER_AGENT = "losscurve-mnist/1"


class DownloadError(RuntimeError):
    """Every mirror failed; the message lists each mirror with its reason."""


class IDXError(ValueError):
    """A file is not a well-formed IDX file of the expected kind."""


class _Transient(Exception):
    """A failure worth retrying on the same mirror (timeout, reset, HTTP 5xx, cut-off body)."""


@dataclass(frozen=True)
class DownloadSettings:
    timeout: float = 30.0
    retries: int = 2
    backoff: float = 1.0
    max_decompressed_bytes: int = 128 << 20


def source_url(mirror: str, filename: str) -> str:
    """Join a mirror base (URL or directory) and a file name."""
    if "://" not in mirror:
        return Path(mirror).resolve().joinpath(filename).as_uri()
    return mirror.rstrip("/") + "/" + filename


def _fetch(url: str, dest: Path, timeout: float) -> None:
    """Stream ``url`` into ``dest``; raise _Transient for failures worth a retry."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported URL scheme {scheme!r} (use https, http, file or a path)")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
            if expected is not None and received != int(expected):
                raise _Transient(f"body cut short: {received} of {expected} bytes")
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}"
        if exc.code >= 500:
            raise _Transient(reason) from exc
        raise OSError(reason) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, FileNotFoundError):
            raise OSError(f"not found: {exc.reason.filename or url}") from exc
        raise _Transient(f"cannot connect: {exc.reason}") from exc
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        # timeouts, resets, and bodies that end before their Content-Length (IncompleteRead)
        raise _Transient(f"{type(exc).__name__}: {exc or 'timed out'}") from exc


def verified_payload_digest(gz_path: Path, limit: int) -> str:
    """SHA-256 of the decompressed payload, reading at most ``limit`` + 1 bytes of it."""
    digest = hashlib.sha256()
    total = 0
    try:
        with gzip.open(gz_path, "rb") as stream:
            while chunk := stream.read(min(CHUNK, limit + 1 - total)):
                total += len(chunk)
                if total > limit:
                    raise ValueError(
                        f"decompressed payload exceeds {limit} bytes (a gzip bomb or the wrong "
                        "file); raise mnist.max_decompressed_mb only if this file is genuine"
                    )
                digest.update(chunk)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"corrupt or truncated gzip: {exc}") from exc
    return digest.hexdigest()


def _try_mirror(url: str, tmp: Path, sha256: str, settings: DownloadSettings) -> None:
    """Fetch and verify one mirror's copy into ``tmp``, retrying transient failures."""
    for attempt in range(settings.retries + 1):
        try:
            _fetch(url, tmp, settings.timeout)
            break
        except _Transient as exc:
            if attempt == settings.retries:
                raise OSError(f"{exc} (after {attempt + 1} attempts)") from exc
            wait = settings.backoff * 2**attempt
            log.warning("%s: %s; retrying in %.1f s", url, exc, wait)
            time.sleep(wait)
    actual = verified_payload_digest(tmp, settings.max_decompressed_bytes)
    if actual != sha256:
        raise ValueError(f"checksum mismatch: payload SHA-256 {actual}, pinned {sha256}")


def download(
    filename: str,
    dest: str | Path,
    mirrors: Sequence[str],
    sha256: str,
    settings: DownloadSettings = DownloadSettings(),
) -> str:
    """Download ``filename`` (a .gz) from the first mirror that serves a verified copy.

    Returns the URL it came from. Raises DownloadError listing every mirror's failure; in that
    case nothing is written at ``dest``.
    """
    dest = Path(dest)
    failures = []
    for mirror in mirrors:
        url = source_url(mirror, filename)
        try:
            log.info("trying %s", url)
            with atomic_output(dest) as tmp:
                _try_mirror(url, tmp, sha256, settings)
            log.info("verified %s (payload SHA-256 %s) -> %s", url, sha256, dest)
            return url
        except (OSError, ValueError) as exc:
            log.warning("mirror failed: %s: %s", url, exc)
            failures.append(f"{url}: {exc}")
    listing = "\n".join(f"  - {f}" for f in failures)
    raise DownloadError(
        f"Could not download {filename} from any of {len(failures)} mirror(s):\n{listing}\n"
        "Check your network, or point mnist.mirrors at a reachable copy, e.g. an overlay "
        "holding `mnist: {mirrors: [file:///path/to/mnist/]}` (see README, offline mirrors)."
    )


# IDX: big-endian header; magic = 0x0000, dtype code, number of dimensions.
IDX_UBYTE = 0x08


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """Decode a (gzipped) IDX file of unsigned bytes with ``ndim`` dimensions."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IDXError(
            f"{path}: corrupt gzip ({exc}); delete it and rerun to download again"
        ) from exc
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{path}: {len(data)} bytes is too short for an IDX header")
    zero, dtype, dims = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or dtype != IDX_UBYTE or dims != ndim:
        raise IDXError(
            f"{path}: bad magic number {data[:4].hex()} (expected 000008{ndim:02x}: unsigned "
            f"bytes in {ndim} dimension(s)); is this the right file?"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise IDXError(
            f"{path}: header declares shape {shape} ({expected} bytes) but the file has "
            f"{len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_images(path: str | Path) -> np.ndarray:
    """Images as (n, rows * cols) uint8."""
    images = read_idx(path, ndim=3)
    return images.reshape(images.shape[0], -1)


def read_labels(path: str | Path) -> np.ndarray:
    """Labels as (n,) uint8, each in 0..9."""
    labels = read_idx(path, ndim=1)
    if labels.size and labels.max() > 9:
        raise IDXError(f"{path}: label {int(labels.max())} outside 0..9")
    return labels


def save_npy_atomic(array: np.ndarray, dest: str | Path) -> None:
    """Write ``array`` as .npy under a temporary name, then rename it into place."""
    with atomic_output(dest) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def prepare(images_gz: str | Path, labels_gz: str | Path, images_npy, labels_npy) -> int:
    """Decode one images/labels pair into .npy files; returns the number of examples."""
    images, labels = read_images(images_gz), read_labels(labels_gz)
    if images.shape[0] != labels.shape[0]:
        raise IDXError(
            f"{images_gz} holds {images.shape[0]} images but {labels_gz} holds "
            f"{labels.shape[0]} labels; they must come from the same set"
        )
    save_npy_atomic(images, images_npy)
    save_npy_atomic(labels, labels_npy)
    return images.shape[0]
