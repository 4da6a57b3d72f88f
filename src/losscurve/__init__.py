"""losscurve: log loss over training iterations of a 784-256-10 MNIST classifier, modelled."""

__version__ = "0.1.0"
