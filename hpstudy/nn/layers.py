"""The dense (fully connected) layer."""

from __future__ import annotations

import numpy as np

from hpstudy.nn.activations import Activation


class Dense:
    """A fully connected layer ``a = f(X W + b)``.

    Parameters
    ----------
    W : ndarray, shape (fan_in, fan_out)
        Weights; column j holds the incoming weights of unit j.
    b : ndarray, shape (fan_out,)
        Biases.
    activation : Activation
        The non-linearity ``f``.

    Notes
    -----
    ``W`` and ``b`` are views into the owning network's single parameter vector, so optimisers
    can update every layer with one vector operation. Write into them (``W[...] = …``) rather
    than rebinding them.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, activation: Activation):
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"W must be (fan_in, fan_out) and b (fan_out,), got {W.shape} and {b.shape}")
        self.W, self.b, self.activation = W, b, activation

    @property
    def fan_in(self) -> int:
        return self.W.shape[0]

    @property
    def fan_out(self) -> int:
        return self.W.shape[1]

    def linear(self, X: np.ndarray) -> np.ndarray:
        """Pre-activations ``z = X W + b``, shape (n, fan_out)."""
        z = X @ self.W
        z += self.b
        return z

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(z, a)`` for inputs ``X`` (n, fan_in); both (n, fan_out)."""
        z = self.linear(X)
        return z, self.activation.forward(z)

    def __repr__(self) -> str:
        return f"Dense({self.fan_in} -> {self.fan_out}, {self.activation!r})"
