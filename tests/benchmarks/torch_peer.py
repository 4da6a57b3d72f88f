"""The same trial in PyTorch on the CPU, the peer the benchmarks time the project against.

Same shapes, initial weights (drawn by losscurve's own init from the same seed), batch order
(losscurve's batches with the same generator), pixel scaling, plain SGD, per-iteration loss
and accuracy, and the test-set evaluation at the end; written as PyTorch is usually written
(nn.Linear, autograd, torch.optim.SGD). torch is no dependency of the project: only this
benchmark imports it.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from losscurve.network import Hyperparameters, Parameters, init_parameters
from losscurve.trial import Dataset, TrialResult, batches


def linear(W: np.ndarray, b: np.ndarray) -> nn.Linear:
    """An nn.Linear holding W (n_in, n_out) as its (n_out, n_in) weight."""
    layer = nn.Linear(*W.shape, dtype=torch.from_numpy(W).dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(W.T))
        layer.bias.copy_(torch.from_numpy(b))
    return layer


def as_tensor(array: np.ndarray) -> torch.Tensor:
    with warnings.catch_warnings():  # read-only memory maps: torch only reads them here
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(np.asarray(array))


def train_torch(seed: int, hp: Hyperparameters, data: Dataset) -> TrialResult:
    torch.set_num_threads(1)
    dtype = getattr(torch, hp.dtype)
    rng = np.random.default_rng(seed)
    init = init_parameters(rng, hp)
    model = nn.Sequential(linear(init.W1, init.b1), nn.Sigmoid(), linear(init.W2, init.b2))
    optimizer = torch.optim.SGD(model.parameters(), lr=hp.learning_rate)
    images = as_tensor(data.train_images[hp.validation_size :])
    labels = as_tensor(data.train_labels[hp.validation_size :]).long()
    losses, accuracies = np.empty(hp.iterations), np.empty(hp.iterations)
    for x, idx in enumerate(batches(rng, len(images), hp.batch_size, hp.iterations)):
        rows = torch.from_numpy(idx)
        X, y = images[rows].to(dtype) / 255, labels[rows]
        outputs = model(X)
        loss = functional.cross_entropy(outputs, y)
        losses[x] = loss.item()
        accuracies[x] = (outputs.argmax(dim=1) == y).sum().item() / len(y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        outputs = model(as_tensor(data.test_images).to(dtype) / 255)
        test_labels = as_tensor(data.test_labels).long()
        test_loss = functional.cross_entropy(outputs, test_labels).item()
        test_accuracy = (outputs.argmax(dim=1) == test_labels).double().mean().item()
    hidden, output = model[0], model[2]
    trained = Parameters(
        W1=hidden.weight.detach().numpy().T,
        b1=hidden.bias.detach().numpy(),
        W2=output.weight.detach().numpy().T,
        b2=output.bias.detach().numpy(),
    )
    return TrialResult(losses, accuracies, test_loss, test_accuracy, trained)
