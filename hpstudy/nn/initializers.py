"""Weight initialisers: how the first weights are drawn, by fan-in and fan-out.

A dense layer's weight matrix has shape ``(fan_in, fan_out)``. The right spread keeps the
variance of activations (forward) and gradients (backward) roughly constant from layer to layer:

=================  ==============================================  ===========================
name               distribution                                    variance
=================  ==============================================  ===========================
``he_normal``      N(0, σ²), σ = √(2 / fan_in)                      2 / fan_in
``he_uniform``     U(−r, r), r = √(6 / fan_in)                      2 / fan_in
``xavier_normal``  N(0, σ²), σ = √(2 / (fan_in + fan_out))          2 / (fan_in + fan_out)
``xavier_uniform`` U(−r, r), r = √(6 / (fan_in + fan_out))          2 / (fan_in + fan_out)
``lecun_normal``   N(0, σ²), σ = √(1 / fan_in)                      1 / fan_in
``normal``         N(0, 0.01²)                                      1e-4
=================  ==============================================  ===========================

He suits the ReLU family (half the units are off, so the variance is doubled); Xavier suits
tanh and sigmoid. ``auto`` picks between them from the activation (:func:`resolve_initializer`).
Biases always start at zero.
"""

from __future__ import annotations

import numpy as np

from hpstudy.nn._checks import check_choice


def he_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """N(0, 2/fan_in), shape ``(fan_in, fan_out)``."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def he_uniform(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """U(−√(6/fan_in), √(6/fan_in)), variance 2/fan_in, shape ``(fan_in, fan_out)``."""
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def xavier_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """N(0, 2/(fan_in + fan_out)) (Glorot), shape ``(fan_in, fan_out)``."""
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))


def xavier_uniform(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """U(−r, r) with r = √(6/(fan_in + fan_out)), variance 2/(fan_in + fan_out)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def lecun_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """N(0, 1/fan_in), shape ``(fan_in, fan_out)``."""
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=(fan_in, fan_out))


def normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """N(0, 0.01²) whatever the fan: the classic small-random start (slow for deep nets)."""
    return rng.normal(0.0, 0.01, size=(fan_in, fan_out))


#: name -> function ``(fan_in, fan_out, rng) -> W``.
INITIALIZERS = {
    f.__name__: f
    for f in (he_normal, he_uniform, xavier_normal, xavier_uniform, lecun_normal, normal)
}

#: what ``auto`` picks for each activation
AUTO_INITIALIZER = {
    "relu": "he_normal",
    "leaky_relu": "he_normal",
    "tanh": "xavier_normal",
    "sigmoid": "xavier_normal",
    "softmax": "xavier_normal",
    "identity": "xavier_normal",
}


def resolve_initializer(name: str, activation: str) -> str:
    """Return the concrete initialiser for ``name``; ``auto`` → He for ReLU-like, else Xavier."""
    if name == "auto":
        check_choice("activation", activation, AUTO_INITIALIZER)
        return AUTO_INITIALIZER[activation]
    check_choice("initializer", name, [*INITIALIZERS, "auto"])
    return name


def initialize(name: str, fan_in: int, fan_out: int, rng: np.random.Generator, dtype) -> np.ndarray:
    """Draw a ``(fan_in, fan_out)`` weight matrix with the initialiser ``name`` in ``dtype``."""
    check_choice("initializer", name, INITIALIZERS)
    return INITIALIZERS[name](fan_in, fan_out, rng).astype(dtype, copy=False)
