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
import math
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
TOO_LARGE = "beyond mnist.max_decompressed_mb ({limit} bytes): not an MNIST file"


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


class _HTTPRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) URLs only: urllib alone would follow a mirror to ftp://."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl, code, f"redirect to {newurl} refused (http and https only)", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HTTPRedirectsOnly)


def _fetch(url: str, dest: Path, timeout: float, limit: int) -> None:
    """Stream at most ``limit`` bytes of ``url`` into ``dest``; _Transient: worth a retry."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported URL scheme {scheme!r} (use https, http, file or a path)")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with _OPENER.open(request, timeout=timeout) as response, open(dest, "wb") as out:
            expected = response.headers.get("Content-Length", "")
            # http.client ignores a Content-Length that is not a number; so does this check
            if expected.isdigit() and int(expected) > limit:
                raise OSError(f"announces {expected} bytes, {TOO_LARGE.format(limit=limit)}")
            received = 0
            while chunk := response.read(min(CHUNK, limit + 1 - received)):
                out.write(chunk)
                received += len(chunk)
                if received > limit:
                    raise OSError(f"body runs past {limit} bytes, {TOO_LARGE.format(limit=limit)}")
            if expected.isdigit() and received != int(expected):
                raise _Transient(f"body cut short: {received} of {expected} bytes")
    except urllib.error.HTTPError as exc:
        # one line, for the listing of failed mirrors (urllib's redirect-loop reason has three)
        reason = " ".join(f"HTTP {exc.code} {exc.reason}".split())
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
    """SHA-256 of the decompressed payload, reading at most ``limit`` + 1 bytes of it.

    An IDX header tightens the bound to the size it declares, + 1 byte, so a bomb behind a
    genuine header is cut off as early; a header declaring more than ``limit`` is refused at once.
    """
    digest = hashlib.sha256()
    try:
        with gzip.open(gz_path, "rb") as stream:
            head = stream.read(4)
            if len(head) == 4:
                head += stream.read(4 * head[3])
            declared = idx_size(head)
            if declared is not None and declared > limit:
                raise ValueError(
                    f"its IDX header declares {declared} bytes, {TOO_LARGE.format(limit=limit)}"
                )
            cap = limit if declared is None else declared
            digest.update(head)
            total = len(head)
            while total <= cap and (chunk := stream.read(min(CHUNK, cap + 1 - total))):
                total += len(chunk)
                digest.update(chunk)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"corrupt or truncated gzip: {exc}") from exc
    if total > cap:
        raise ValueError(
            f"decompressed payload exceeds {limit} bytes (a gzip bomb or the wrong file); raise "
            "mnist.max_decompressed_mb only if this file is genuine"
            if declared is None
            else f"decompressed payload runs past the {declared} bytes its IDX header declares "
            "(a gzip bomb or a damaged file)"
        )
    return digest.hexdigest()


def _try_mirror(url: str, tmp: Path, sha256: str, settings: DownloadSettings) -> None:
    """Fetch and verify one mirror's copy into ``tmp``, retrying transient failures."""
    for attempt in range(settings.retries + 1):
        try:
            _fetch(url, tmp, settings.timeout, settings.max_decompressed_bytes)
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


def idx_header(data: bytes) -> tuple[int, tuple[int, ...]] | None:
    """(header length, shape) of IDX unsigned bytes starting ``data``; None if it is not one."""
    if len(data) < 4 or data[:3] != bytes([0, 0, IDX_UBYTE]):
        return None
    header = 4 + 4 * data[3]
    if len(data) < header:
        return None
    return header, tuple(int.from_bytes(data[i : i + 4], "big") for i in range(4, header, 4))


def idx_size(data: bytes) -> int | None:
    """Bytes of the whole IDX file whose header starts ``data``; None if it is not one."""
    parsed = idx_header(data)
    return None if parsed is None else parsed[0] + math.prod(parsed[1])


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
    if len(data) < 4 + 4 * ndim:
        raise IDXError(f"{path}: {len(data)} bytes is too short for an IDX header")
    parsed = idx_header(data)
    if parsed is None or len(parsed[1]) != ndim:
        raise IDXError(
            f"{path}: bad magic number {data[:4].hex()} (expected 000008{ndim:02x}: unsigned "
            f"bytes in {ndim} dimension(s)); is this the right file?"
        )
    header, shape = parsed
    expected = header + math.prod(shape)
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
