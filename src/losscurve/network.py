"""The three-layer classifier of the paper: input -> sigmoid hidden layer -> softmax output.

One function per mathematical step, in row-major batch form (one example per row), so a batch
of B examples X (B, n_input) flows as

    s1 = X @ W1 + b1        (B, n_hidden)     hidden sums
    a1 = sigmoid(s1)        (B, n_hidden)     hidden activations
    d1 = a1 * mask          (B, n_hidden)     after (inverted) dropout; d1 = a1 without it
    s2 = d1 @ W2 + b2       (B, n_output)     output sums
    a2 = softmax(s2)        (B, n_output)     class probabilities

and the loss is the batch mean of -ln a2[y]. W1 is (n_input, n_hidden) and W2 is
(n_hidden, n_output): the transposes of the paper's W_ji and W_kj, as in its TensorFlow code.
Functions take optional ``out`` buffers so that the training loop allocates nothing per step.
Imports only numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Hyperparameters:
    """Everything that defines a trial besides its seed (names as in config ``trials``)."""

    iterations: int = 500
    batch_size: int = 128
    learning_rate: float = 0.1
    hidden_units: int = 256
    dropout: float = 0.0
    init_std: float = 0.1
    bias_init: float = 0.1
    validation_size: int = 5000
    dtype: str = "float32"
    n_input: int = 784
    n_output: int = 10


@dataclass
class Parameters:
    W1: np.ndarray  # (n_input, n_hidden)
    b1: np.ndarray  # (n_hidden,)
    W2: np.ndarray  # (n_hidden, n_output)
    b2: np.ndarray  # (n_output,)


@dataclass
class Cache:
    """What the forward pass keeps for the backward pass, and the backward pass's workspace."""

    a1: np.ndarray  # (B, n_hidden) sigmoid activations
    d1: np.ndarray  # (B, n_hidden) activations after dropout (a1 itself without dropout)
    s2: np.ndarray  # (B, n_output) output sums
    a2: np.ndarray  # (B, n_output) softmax probabilities
    log_sum: np.ndarray  # (B,) ln sum_k e^s2[:, k], the softmax's normaliser
    delta1: np.ndarray  # (B, n_hidden) hidden-layer error of the backward pass


def empty_cache(params: Parameters, batch_size: int, dropout: bool) -> Cache:
    """Uninitialised buffers for batches of ``batch_size`` rows, in the parameters' dtype."""
    dtype = params.W1.dtype
    a1 = np.empty((batch_size, params.W1.shape[1]), dtype=dtype)
    s2 = np.empty((batch_size, params.W2.shape[1]), dtype=dtype)
    return Cache(
        a1=a1,
        d1=np.empty_like(a1) if dropout else a1,
        s2=s2,
        a2=np.empty_like(s2),
        log_sum=np.empty(batch_size, dtype=dtype),
        delta1=np.empty_like(a1),
    )


def truncated_normal(rng: np.random.Generator, shape, std: float, dtype) -> np.ndarray:
    """Normal(0, std) values; those beyond two std are redrawn (TF's truncated_normal)."""
    values = rng.normal(0.0, std, size=shape)
    outside = np.abs(values) > 2 * std
    while (n := int(outside.sum())) > 0:
        values[outside] = rng.normal(0.0, std, size=n)
        outside = np.abs(values) > 2 * std
    return values.astype(dtype)


def init_parameters(rng: np.random.Generator, hp: Hyperparameters) -> Parameters:
    """Weights from the truncated normal, every bias the constant ``hp.bias_init``."""
    dtype = np.dtype(hp.dtype)
    return Parameters(
        W1=truncated_normal(rng, (hp.n_input, hp.hidden_units), hp.init_std, dtype),
        b1=np.full(hp.hidden_units, hp.bias_init, dtype=dtype),
        W2=truncated_normal(rng, (hp.hidden_units, hp.n_output), hp.init_std, dtype),
        b2=np.full(hp.n_output, hp.bias_init, dtype=dtype),
    )


def affine(X: np.ndarray, W: np.ndarray, b: np.ndarray, out: np.ndarray | None = None):
    """Weighted sums of a layer: s = X @ W + b, (B, n_in) @ (n_in, n_out) -> (B, n_out)."""
    out = np.matmul(X, W, out=out)
    out += b
    return out


def sigmoid(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + e^-s), written as (1 + tanh(s/2)) / 2 so that no exp overflows."""
    out = np.multiply(s, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def row_max(s: np.ndarray) -> np.ndarray:
    """The largest entry of each row, (B, n) -> (B, 1), NaN if the row holds one.

    Read off at the argmax: the same values as s.max(axis=1), but numpy finds the argmax of
    rows as short as the 10 outputs several times faster than their max.
    """
    return s[np.arange(s.shape[0]), s.argmax(axis=1)][:, None]


def softmax(
    s: np.ndarray, out: np.ndarray | None = None, log_sum: np.ndarray | None = None
) -> np.ndarray:
    """Row-wise e^s / sum e^s, shifted by the row maximum m so that no exp overflows.

    ``log_sum`` (B,), if given, receives ln sum e^s = m + ln sum e^(s - m) of each row from
    the same sums: the log loss's normaliser, at the cost of one log per row.
    """
    m = row_max(s)
    out = np.subtract(s, m, out=out)
    np.exp(out, out=out)
    sums = out.sum(axis=1, keepdims=True)
    out /= sums
    if log_sum is not None:
        np.log(sums[:, 0], out=log_sum)
        log_sum += m[:, 0]
    return out


def log_loss(s2: np.ndarray, y: np.ndarray, log_sum: np.ndarray | None = None) -> float:
    """Batch mean of -ln softmax(s2)[y] = ln sum e^s2 - s2[y] (natural log), from the sums.

    Log-sum-exp keeps the loss finite where a probability would underflow to zero. Pass the
    rows' ``log_sum`` when the forward pass has it (Cache.log_sum) not to compute it again.
    """
    if log_sum is None:
        log_sum = np.empty(len(s2), dtype=s2.dtype)
        softmax(s2, log_sum=log_sum)
    # The mean in float64, as np.mean(..., dtype=np.float64) computes it, without its overhead.
    return float(np.add.reduce(log_sum - s2[np.arange(len(y)), y], dtype=np.float64)) / len(y)


def accuracy(s2: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose largest output sum is the target class."""
    return np.count_nonzero(s2.argmax(axis=1) == y) / len(y)


def forward(
    params: Parameters, X: np.ndarray, mask: np.ndarray | None = None, cache: Cache | None = None
) -> Cache:
    """Forward pass of a batch X (B, n_input); ``mask`` (B, n_hidden) applies dropout."""
    if cache is None:
        cache = empty_cache(params, X.shape[0], dropout=mask is not None)
    s1 = affine(X, params.W1, params.b1, out=cache.a1)  # s1 becomes a1 in place
    sigmoid(s1, out=cache.a1)
    if mask is not None:
        np.multiply(cache.a1, mask, out=cache.d1)
    affine(cache.d1, params.W2, params.b2, out=cache.s2)
    softmax(cache.s2, out=cache.a2, log_sum=cache.log_sum)
    return cache


def backward(
    params: Parameters,
    X: np.ndarray,
    y: np.ndarray,
    cache: Cache,
    mask: np.ndarray | None = None,
    grads: Parameters | None = None,
) -> Parameters:
    """Gradients of the batch-mean log loss with respect to W1, b1, W2, b2.

    delta2 = (a2 - onehot(y)) / B                     (B, n_output)
    delta1 = (delta2 @ W2.T) * mask * a1 * (1 - a1)   (B, n_hidden)
    dW2 = d1.T @ delta2, db2 = sum(delta2), dW1 = X.T @ delta1, db1 = sum(delta1)

    The cache is the workspace: ``cache.a2`` is overwritten by delta2, ``cache.delta1`` by
    delta1, and ``cache.a1`` by 1 - a1 once d1 is used.
    """
    B = X.shape[0]
    if grads is None:
        grads = Parameters(*(np.empty_like(p) for p in vars(params).values()))
    delta2 = cache.a2
    delta2[np.arange(B), y] -= 1
    delta2 /= B
    np.matmul(cache.d1.T, delta2, out=grads.W2)
    np.sum(delta2, axis=0, out=grads.b2)
    delta1 = np.matmul(delta2, params.W2.T, out=cache.delta1)
    if mask is not None:
        delta1 *= mask
    delta1 *= cache.a1
    one_minus_a1 = np.subtract(1, cache.a1, out=cache.a1)
    delta1 *= one_minus_a1
    np.matmul(X.T, delta1, out=grads.W1)
    np.sum(delta1, axis=0, out=grads.b1)
    return grads


def sgd_step(params: Parameters, grads: Parameters, learning_rate: float) -> None:
    """Plain gradient descent, in place: p <- p - learning_rate * dp."""
    for p, dp in zip(vars(params).values(), vars(grads).values(), strict=True):
        dp *= learning_rate
        p -= dp


def dropout_mask(rng: np.random.Generator, shape, rate: float, dtype) -> np.ndarray:
    """Inverted-dropout mask: 0 with probability ``rate``, else 1 / (1 - rate)."""
    keep = rng.random(shape) >= rate
    return keep.astype(dtype) / dtype.type(1 - rate)
