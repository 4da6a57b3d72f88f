"""The trial loop on synthetic data: determinism, batches, divergence, the written trace."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import numpy as np
import pytest

from losscurve.mnist import read_images, read_labels
from losscurve.network import Hyperparameters, forward, init_parameters, log_loss
from losscurve.traces import read_trace
from losscurve.trial import (
    Dataset,
    DivergenceError,
    batches,
    evaluate,
    run_trial,
    scale_pixels,
    train,
)

SMALL = Hyperparameters(iterations=60, batch_size=32, validation_size=200, hidden_units=32)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, payloads) -> Dataset:
    folder = tmp_path_factory.mktemp("idx")
    for name, body in payloads.items():
        (folder / name).write_bytes(body)
    return Dataset(
        read_images(folder / "train-images-idx3-ubyte"),
        read_labels(folder / "train-labels-idx1-ubyte"),
        read_images(folder / "t10k-images-idx3-ubyte"),
        read_labels(folder / "t10k-labels-idx1-ubyte"),
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_gives_bit_identical_traces_and_seeds_differ(dataset, dtype):
    hp = dataclasses.replace(SMALL, dtype=dtype)
    first, again, other = train(1, hp, dataset), train(1, hp, dataset), train(2, hp, dataset)
    assert first.loss.tobytes() == again.loss.tobytes()
    assert first.accuracy.tobytes() == again.accuracy.tobytes()
    assert first.test_loss == again.test_loss
    assert not np.array_equal(first.loss, other.loss)


def test_float32_and_float64_traces_agree_closely(dataset):
    single = train(1, SMALL, dataset)
    double = train(1, dataclasses.replace(SMALL, dtype="float64"), dataset)
    np.testing.assert_allclose(single.loss, double.loss, rtol=1e-4)


def test_training_lowers_the_loss_on_learnable_data(dataset):
    result = train(1, dataclasses.replace(SMALL, iterations=200), dataset)
    assert result.loss[0] == pytest.approx(np.log(10), abs=0.5)
    assert result.loss[-20:].mean() < result.loss[:20].mean() - 0.5
    assert result.test_accuracy > 0.5


def test_dropout_changes_the_trace_and_stays_deterministic(dataset):
    hp = dataclasses.replace(SMALL, dropout=0.5)
    with_dropout = train(1, hp, dataset)
    assert with_dropout.loss.tobytes() == train(1, hp, dataset).loss.tobytes()
    assert not np.array_equal(with_dropout.loss, train(1, SMALL, dataset).loss)


def test_batches_cover_each_epoch_without_replacement_and_reshuffle():
    rng = np.random.default_rng(0)
    drawn = list(batches(rng, n=100, batch_size=30, count=6))
    assert all(len(b) == 30 for b in drawn)
    first_epoch, second_epoch = np.concatenate(drawn[:3]), np.concatenate(drawn[3:])
    assert len(set(first_epoch)) == 90 and len(set(second_epoch)) == 90
    assert not np.array_equal(first_epoch, second_epoch)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_pixels_divides_every_byte_value_by_255_correctly_rounded(dtype):
    pixels = np.arange(256, dtype=np.uint8).reshape(2, 128)
    scaled = scale_pixels(pixels, dtype)
    assert scaled.dtype == dtype
    # Exact quotients rounded once to float64, then to dtype: no value may be off by an ulp.
    assert scaled.ravel().tolist() == [float(dtype(p / 255)) for p in range(256)]
    assert scaled[0, 0] == 0 and scaled[1, -1] == 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_evaluation_in_chunks_equals_one_pass_over_the_set_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2500, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, size=2500)
    params = init_parameters(rng, Hyperparameters(dtype=dtype))
    params.W1 += rng.normal(0, 0.05, params.W1.shape).astype(dtype)  # away from the init
    s2 = forward(params, scale_pixels(images, dtype)).s2
    assert evaluate(params, images, labels)[0] == log_loss(s2, labels)


def save_arrays(dataset: Dataset, folder) -> list:
    paths = []
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        path = folder / f"{name}.npy"
        np.save(path, getattr(dataset, name), allow_pickle=False)
        paths.append(path)
    return paths


def test_a_trial_job_imports_neither_pandas_nor_matplotlib_nor_scipy(tmp_path, dataset):
    """Each of them would add a fixed cost of tenths of a second to every trial job."""
    paths = save_arrays(dataset, tmp_path)
    trial_config = {f.name: getattr(SMALL, f.name) for f in dataclasses.fields(SMALL)}
    arguments = (1, trial_config, "abc", [str(p) for p in paths], str(tmp_path / "t.parquet"))
    job = (
        "import sys\n"
        "from losscurve.trial import run_trial\n"
        "heavy = ('pandas', 'matplotlib', 'scipy')\n"
        "print('import', *sorted(m for m in heavy if m in sys.modules))\n"
        f"run_trial(*{arguments!r})\n"
        "print('run', *sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", job], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.splitlines() == ["import", "run"], result.stdout


def test_divergence_names_seed_iteration_and_learning_rate(dataset):
    hp = dataclasses.replace(SMALL, learning_rate=1e38)
    with pytest.raises(
        DivergenceError,
        match=r"seed 4 diverged: .* at iteration \d+ with learning_rate = 1e\+38; try a smaller",
    ):
        train(4, hp, dataset)


def test_batch_larger_than_training_set_is_refused(dataset):
    with pytest.raises(ValueError, match="batch_size = 5000 exceeds the 1000 training images"):
        train(1, dataclasses.replace(SMALL, batch_size=5000), dataset)


def test_run_trial_writes_trace_with_metadata(tmp_path, dataset, caplog):
    caplog.set_level("INFO", logger="losscurve.trial")
    paths = save_arrays(dataset, tmp_path)
    trial_config = {f.name: getattr(SMALL, f.name) for f in dataclasses.fields(SMALL)}
    output = tmp_path / "seed-5.parquet"
    result = run_trial(5, trial_config, "abc123", paths, output)
    trace = read_trace(output, config_hash="abc123", iterations=SMALL.iterations)
    assert trace.loss.tobytes() == result.loss.tobytes()
    meta = trace.metadata
    assert meta["seed"] == 5 and meta["trial_config"] == trial_config
    assert meta["test_accuracy"] == result.test_accuracy and meta["wall_time_s"] > 0
    assert set(meta["versions"]) == {"python", "numpy", "losscurve"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # The job log names the job's peak memory: at least the Python interpreter and numpy.
    pattern = r"seed 5: 60 iterations and the test set in [\d.]+ s, peak memory (\d+) MiB"
    peak = re.fullmatch(pattern, caplog.messages[-1])
    assert peak and 20 < int(peak[1]) < 2000, caplog.messages
