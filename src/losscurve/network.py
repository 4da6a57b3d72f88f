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
    """What the forward pass keeps for the backward pass."""

    a1: np.ndarray  # (B, n_hidden) sigmoid activations
    d1: np.ndarray  # (B, n_hidden) activations after dropout (a1 itself without dropout)
    s2: np.ndarray  # (B, n_output) output sums
    a2: np.ndarray  # (B, n_output) softmax probabilities


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


def softmax(s: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise e^s / sum e^s, shifted by the row maximum so that no exp overflows."""
    out = np.subtract(s, s.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def log_loss(s2: np.ndarray, y: np.ndarray) -> float:
    """Batch mean of -ln softmax(s2)[y] (natural log), computed from the output sums.

    Using log-sum-exp keeps the loss finite where a probability would underflow to zero.
    """
    m = s2.max(axis=1)
    log_sum = np.log(np.exp(s2 - m[:, None]).sum(axis=1)) + m
    return float(np.mean(log_sum - s2[np.arange(len(y)), y], dtype=np.float64))


def accuracy(s2: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose largest output sum is the target class."""
    return float(np.mean(s2.argmax(axis=1) == y))


def forward(
    params: Parameters, X: np.ndarray, mask: np.ndarray | None = None, cache: Cache | None = None
) -> Cache:
    """Forward pass of a batch X (B, n_input); ``mask`` (B, n_hidden) applies dropout."""
    if cache is None:
        B = X.shape[0]
        a1 = np.empty((B, params.W1.shape[1]), dtype=params.W1.dtype)
        s2 = np.empty((B, params.W2.shape[1]), dtype=params.W2.dtype)
        cache = Cache(
            a1=a1, d1=a1 if mask is None else np.empty_like(a1), s2=s2, a2=np.empty_like(s2)
        )
    s1 = affine(X, params.W1, params.b1, out=cache.a1)  # s1 becomes a1 in place
    sigmoid(s1, out=cache.a1)
    if mask is not None:
        np.multiply(cache.a1, mask, out=cache.d1)
    affine(cache.d1, params.W2, params.b2, out=cache.s2)
    softmax(cache.s2, out=cache.a2)
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

    ``cache.a2`` is overwritten by delta2.
    """
    B = X.shape[0]
    if grads is None:
        grads = Parameters(*(np.empty_like(p) for p in vars(params).values()))
    delta2 = cache.a2
    delta2[np.arange(B), y] -= 1
    delta2 /= B
    np.matmul(cache.d1.T, delta2, out=grads.W2)
    np.sum(delta2, axis=0, out=grads.b2)
    delta1 = np.matmul(delta2, params.W2.T)
    if mask is not None:
        delta1 *= mask
    delta1 *= cache.a1
    delta1 *= 1 - cache.a1
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
