"""MNIST download and IDX decoding against real loopback servers and real files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from losscurve.mnist import (
    DownloadError,
    DownloadSettings,
    IDXError,
    download,
    read_images,
    read_labels,
    source_url,
)

from support import free_port, gz_files, serve_status, sha256

NAME = "train-labels-idx1-ubyte"
FAST = DownloadSettings(timeout=2, retries=1, backoff=0.01)


def test_falls_back_past_a_closed_port_and_a_404_to_a_good_mirror(tmp_path, http_mirror, payloads):
    good = http_mirror.add_folder("good", gz_files(payloads))
    mirrors = [f"http://127.0.0.1:{free_port()}/", f"{http_mirror.url}/missing/", good]
    dest = tmp_path / "out" / f"{NAME}.gz"
    assert (
        download(f"{NAME}.gz", dest, mirrors, sha256(payloads[NAME]), FAST) == good + f"{NAME}.gz"
    )
    assert gzip.decompress(dest.read_bytes()) == payloads[NAME]
    assert sorted(p.name for p in dest.parent.iterdir()) == [f"{NAME}.gz"]


def test_transient_server_errors_are_retried_then_the_next_mirror_is_tried(
    tmp_path, http_mirror, payloads
):
    http_mirror.routes[f"/flaky/{NAME}.gz"] = serve_status(503)
    good = http_mirror.add_folder("good", gz_files(payloads))
    download(
        f"{NAME}.gz",
        tmp_path / "x.gz",
        [f"{http_mirror.url}/flaky/", good],
        sha256(payloads[NAME]),
        FAST,
    )
    assert http_mirror.hits[f"/flaky/{NAME}.gz"] == FAST.retries + 1
    assert http_mirror.hits.get(f"/missing/{NAME}.gz", 0) == 0


def test_all_mirrors_failing_lists_every_mirror_and_leaves_nothing(tmp_path, http_mirror, payloads):
    wrong = http_mirror.add_folder("wrong", {f"{NAME}.gz": gzip.compress(b"not mnist")})
    closed = f"http://127.0.0.1:{free_port()}/"
    dest = tmp_path / "mnist" / f"{NAME}.gz"
    with pytest.raises(DownloadError) as failure:
        download(
            f"{NAME}.gz",
            dest,
            [closed, f"{http_mirror.url}/missing/", wrong],
            sha256(payloads[NAME]),
            FAST,
        )
    message = str(failure.value)
    assert f"Could not download {NAME}.gz from any of 3 mirror(s)" in message
    assert f"{closed}{NAME}.gz: cannot connect" in message
    assert f"{http_mirror.url}/missing/{NAME}.gz: HTTP 404" in message
    assert f"{wrong}{NAME}.gz: checksum mismatch" in message
    assert "mnist.mirrors" in message  # the fix is named
    assert list(dest.parent.iterdir()) == []


def test_a_failed_download_keeps_the_previous_file_and_a_good_one_replaces_it(
    tmp_path, http_mirror, payloads
):
    dest = tmp_path / f"{NAME}.gz"
    dest.write_bytes(b"previous")
    corrupt = http_mirror.add_folder(
        "corrupt", {f"{NAME}.gz": gz_files(payloads)[f"{NAME}.gz"][:40]}
    )
    with pytest.raises(DownloadError, match="corrupt or truncated gzip"):
        download(f"{NAME}.gz", dest, [corrupt], sha256(payloads[NAME]), FAST)
    assert dest.read_bytes() == b"previous"
    good = http_mirror.add_folder("good", gz_files(payloads))
    download(f"{NAME}.gz", dest, [good], sha256(payloads[NAME]), FAST)
    assert gzip.decompress(dest.read_bytes()) == payloads[NAME]
    assert [p.name for p in tmp_path.iterdir()] == [f"{NAME}.gz"]


def test_local_folder_and_file_url_mirrors(tmp_path, mirror_dir, payloads):
    for mirror in (str(mirror_dir), mirror_dir.as_uri() + "/"):
        dest = tmp_path / f"{NAME}.gz"
        download(f"{NAME}.gz", dest, [mirror], sha256(payloads[NAME]), FAST)
        assert gzip.decompress(dest.read_bytes()) == payloads[NAME]


def test_source_url_joins_bases_with_or_without_slash(tmp_path):
    assert source_url("https://a.example/mnist", "f.gz") == "https://a.example/mnist/f.gz"
    assert source_url("https://a.example/mnist/", "f.gz") == "https://a.example/mnist/f.gz"
    assert source_url(str(tmp_path), "f.gz") == (tmp_path / "f.gz").as_uri()


def test_idx_decoding_checks_magic_dimensions_and_length(tmp_path, payloads):
    images = tmp_path / "images"
    images.write_bytes(payloads["t10k-images-idx3-ubyte"])
    assert read_images(images).shape == (200, 784)
    labels = tmp_path / "labels"
    labels.write_bytes(payloads["t10k-labels-idx1-ubyte"])
    assert read_labels(labels).dtype == np.uint8
    with pytest.raises(IDXError, match="bad magic number 00000801"):
        read_images(labels)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(payloads["t10k-images-idx3-ubyte"][:-10])
    with pytest.raises(IDXError, match=r"header declares shape \(200, 28, 28\).* but the file has"):
        read_images(truncated)
    bad_gzip = tmp_path / "bad.gz"
    bad_gzip.write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(IDXError, match=r"corrupt gzip.*delete it and rerun"):
        read_labels(bad_gzip)
    out_of_range = tmp_path / "labels-10"
    out_of_range.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 3, 10]))
    with pytest.raises(IDXError, match=r"label 10 outside 0\.\.9"):
        read_labels(out_of_range)
