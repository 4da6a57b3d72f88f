"""The network's maths: the paper's worked example, a finite-difference gradient check, basics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from losscurve.network import (
    Hyperparameters,
    Parameters,
    accuracy,
    affine,
    backward,
    dropout_mask,
    forward,
    init_parameters,
    log_loss,
    row_max,
    sgd_step,
    sigmoid,
    softmax,
    truncated_normal,
)

# Section III of the paper: a 2x2-pixel, 4-2-3 network. The paper writes W_ji (hidden x input)
# and W_kj (output x hidden) acting on column vectors; the project's W1, W2 are their transposes.
PAPER_W_JI = np.array([[0.5, 0.1, 1.3, 2.1], [1.6, 2.5, 0.8, 1.8]])
PAPER_W_KJ = np.array([[0.5, 1.9], [2.2, 0.4], [1.8, 1.2]])
X = np.array([[0.0, 1.0, 1.0, 0.0]])  # the forward slash
Y = np.array([0])  # class one


def paper_network() -> Parameters:
    return Parameters(
        W1=PAPER_W_JI.T.copy(), b1=np.zeros(2), W2=PAPER_W_KJ.T.copy(), b2=np.zeros(3)
    )


def assert_printed(actual, printed) -> None:
    """``actual`` agrees with a value the paper prints to three significant figures.

    The paper rounds every intermediate to 3 s.f. and carries the rounded values on, so its
    later figures can differ from exact arithmetic in the third digit: allow 0.5 %.
    """
    np.testing.assert_allclose(actual, printed, rtol=5e-3, atol=5e-4)


def test_worked_example_forward_pass_matches_every_printed_value():
    params = paper_network()
    s1 = affine(X, params.W1, params.b1)
    assert_printed(s1, [[1.4, 3.3]])
    a1 = sigmoid(s1)
    assert_printed(a1, [[0.802, 0.964]])
    s2 = affine(a1, params.W2, params.b2)
    assert_printed(s2, [[2.23, 2.15, 2.60]])
    assert_printed(softmax(s2), [[0.297, 0.274, 0.429]])
    # The paper's hand example uses log base 10; the project's loss is the natural log.
    assert f"{log_loss(s2, Y) / math.log(10):.3g}" == "0.527"
    cache = forward(params, X)
    np.testing.assert_allclose(cache.a1, a1)
    np.testing.assert_allclose(cache.s2, s2)


def test_worked_example_output_layer_update_agrees_with_the_paper():
    params = paper_network()
    grads = backward(params, X, Y, forward(params, X))
    assert_printed(grads.W2.T, [[-0.564, -0.678], [0.220, 0.264], [0.344, 0.414]])
    assert_printed(grads.b2, [-0.703, 0.274, 0.429])
    sgd_step(params, grads, learning_rate=0.1)
    assert_printed(params.W2.T, [[0.556, 1.97], [2.18, 0.374], [1.77, 1.16]])
    assert_printed(params.b2, [0.0703, -0.0274, -0.0429])


def test_worked_example_hidden_layer_gradient_differs_from_the_papers_scalar_collapse():
    params = paper_network()
    grads = backward(params, X, Y, forward(params, X))
    # The paper sums dE/da_j over j into the scalar 0.309 and gets delta_j = [0.0491, 0.0106].
    # The chain rule keeps one value per hidden node: dE/da = [1.02, -0.711], times sigmoid'.
    paper_delta_j = np.array([0.0491, 0.0106])
    correct_delta_j = grads.b1
    assert_printed(correct_delta_j, [0.162, -0.0244])
    assert not np.allclose(correct_delta_j, paper_delta_j, rtol=0.1)
    assert_printed(grads.W1.T, [[0, 0.162, 0.162, 0], [0, -0.0244, -0.0244, 0]])
    sgd_step(params, grads, learning_rate=0.1)
    assert_printed(params.W1.T, [[0.5, 0.0838, 1.28, 2.1], [1.6, 2.5, 0.802, 1.8]])
    # After this correct step the loss falls further than the paper's 0.527 -> 0.447 (log10).
    assert log_loss(forward(params, X).s2, Y) / math.log(10) < 0.447


def random_network(rng, n_input=5, n_hidden=4, n_output=3) -> Parameters:
    return Parameters(
        W1=rng.normal(size=(n_input, n_hidden)),
        b1=rng.normal(size=n_hidden),
        W2=rng.normal(size=(n_hidden, n_output)),
        b2=rng.normal(size=n_output),
    )


def test_backward_matches_central_finite_differences_with_dropout():
    rng = np.random.default_rng(7)
    params = random_network(rng)
    X_batch = rng.random((6, 5))
    y = rng.integers(0, 3, size=6)
    mask = dropout_mask(rng, (6, 4), 0.5, np.dtype(np.float64))
    assert 0 < np.count_nonzero(mask) < mask.size

    def loss() -> float:
        return log_loss(forward(params, X_batch, mask).s2, y)

    grads = backward(params, X_batch, y, forward(params, X_batch, mask), mask)
    eps = 1e-6
    for name, p in vars(params).items():
        numeric = np.empty_like(p)
        for i in np.ndindex(p.shape):
            original = p[i]
            p[i] = original + eps
            up = loss()
            p[i] = original - eps
            down = loss()
            p[i] = original
            numeric[i] = (up - down) / (2 * eps)
        analytic = getattr(grads, name)
        error = np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric)
        assert error < 1e-6, f"{name}: relative error {error:.2e}"


def test_sigmoid_and_softmax_stay_finite_for_extreme_inputs():
    s = np.array([[-1000.0, 0.0, 1000.0]])
    np.testing.assert_allclose(sigmoid(s), [[0.0, 0.5, 1.0]])
    p = softmax(s)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.isfinite(log_loss(s, np.array([0])))  # log-sum-exp: no log(0)


def test_accuracy_counts_rows_whose_argmax_is_the_target():
    s2 = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(s2, np.array([1, 1, 1])) == pytest.approx(2 / 3)


def test_truncated_normal_redraws_beyond_two_standard_deviations():
    rng = np.random.default_rng(0)
    values = truncated_normal(rng, (200_000,), 0.1, np.float64)
    assert np.abs(values).max() <= 0.2
    # Truncation at 2 sd leaves a std of 0.1 * 0.8796
    assert values.std() == pytest.approx(0.08796, rel=0.01)


def test_init_parameters_has_the_papers_shapes_and_constant_biases():
    params = init_parameters(np.random.default_rng(1), Hyperparameters())
    assert params.W1.shape == (784, 256) and params.W2.shape == (256, 10)
    assert params.W1.dtype == np.float32
    assert np.all(params.b1 == np.float32(0.1)) and np.all(params.b2 == np.float32(0.1))


def test_dropout_mask_scales_kept_units_by_the_inverse_keep_probability():
    mask = dropout_mask(np.random.default_rng(3), (1000, 100), 0.5, np.dtype(np.float32))
    assert set(np.unique(mask)) == {0.0, 2.0}
    assert mask.mean() == pytest.approx(1.0, abs=0.02)


def test_row_max_is_the_maximum_of_each_row_nan_and_infinity_included():
    s = np.random.default_rng(4).normal(size=(64, 10)).astype(np.float32)
    s[1, 3], s[2, 7], s[3, :] = np.nan, np.inf, -np.inf
    np.testing.assert_array_equal(row_max(s), s.max(axis=1, keepdims=True))


def test_softmax_hands_the_log_loss_its_normaliser_bit_for_bit():
    rng = np.random.default_rng(5)
    s2 = rng.normal(0, 30, size=(128, 10)).astype(np.float32)
    y = rng.integers(0, 10, size=128)
    log_sum = np.empty(128, dtype=np.float32)
    probabilities = softmax(s2, log_sum=log_sum)
    np.testing.assert_array_equal(probabilities, softmax(s2))
    assert log_loss(s2, y, log_sum) == log_loss(s2, y)
    exact = np.log(np.exp(s2.astype(np.float64)).sum(axis=1))
    np.testing.assert_allclose(log_sum, exact, rtol=1e-6)
