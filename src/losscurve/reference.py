"""The published numbers this pipeline reproduces, copied from the paper.

Source: Figure 4.3 of the paper "Modelling Log Loss over Training Iterations of Multi-Class
Classification Artificial Neural Networks" (Mathematics Higher Level Internal Assessment): the
quartic best-fit coefficients of log loss over the first 500 training iterations of ten trials
of a 784-256-10 MNIST classifier, their average (the AVG row), and the final model L(x) stated
in its conclusion, as printed (three significant figures).
"""

from __future__ import annotations

import numpy as np

SOURCE = (
    "Figure 4.3 of the paper 'Modelling Log Loss over Training Iterations of Multi-Class "
    "Classification Artificial Neural Networks'"
)

# Coefficients of x^4, x^3, x^2, x^1, x^0 (highest power first), as printed.
POWERS = (4, 3, 2, 1, 0)

TRIALS: dict[int, tuple[float, ...]] = {
    1: (-8.64e-11, 6.69e-08, -8.01e-06, -6.55e-03, 2.29),
    2: (-7.97e-11, 6.89e-08, -8.19e-06, -6.78e-03, 2.29),
    3: (-7.95e-11, 7.17e-08, -7.96e-06, -6.87e-03, 2.34),
    4: (-8.00e-11, 7.59e-08, -8.65e-06, -6.59e-03, 2.35),
    5: (-7.81e-11, 6.72e-08, -8.99e-06, -7.36e-03, 2.30),
    6: (-7.66e-11, 6.23e-08, -8.48e-06, -7.13e-03, 2.30),
    7: (-7.99e-11, 7.58e-08, -8.51e-06, -6.99e-03, 2.33),
    8: (-7.43e-11, 7.48e-08, -8.53e-06, -6.85e-03, 2.31),
    9: (-7.95e-11, 6.93e-08, -9.09e-06, -6.96e-03, 2.32),
    10: (-8.84e-11, 7.59e-08, -9.13e-06, -6.73e-03, 2.31),
}

# The AVG row, which is also the final model L(x) of the paper's conclusion.
AVERAGE: tuple[float, ...] = (-8.02e-11, 7.09e-08, -8.55e-06, -6.88e-03, 2.31)

EQUATION = (
    "L(x) = (-8.02e-11)x^4 + (7.09e-08)x^3 + (-8.55e-06)x^2 + (-6.88e-03)x + 2.31, 0 <= x <= 500"
)

# The paper states its model for 0 <= x <= 500; its trials recorded 500 losses.
DOMAIN = (0, 500)


def average_polynomial() -> np.ndarray:
    """The published L(x) as numpy.polyval coefficients, (5,) highest power first."""
    return np.array(AVERAGE)
