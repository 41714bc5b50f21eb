"""Shared fixtures for the evaluation tests: small hand-written models with known Jacobians."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class LinearSoftmax:
    """p = softmax(X W + b); ∂p_j/∂x = p_j (W[:, j] − W p), the Jacobian in closed form."""

    def __init__(self, W: np.ndarray, b: np.ndarray | None = None):
        self.W = np.asarray(W, dtype=np.float64)
        self.b = np.zeros(self.W.shape[1]) if b is None else np.asarray(b, dtype=np.float64)

    def predict_proba(self, X):
        return _softmax(np.asarray(X) @ self.W + self.b)

    forward = predict_proba

    def jacobian(self, X):
        p = self.predict_proba(X)                      # (n, k)
        mean_w = p @ self.W.T                          # (n, d): Σ_c p_c W[:, c]
        return p[:, :, None] * (self.W.T[None, :, :] - mean_w[:, None, :])


class LinearRegressor:
    """f = X W + b, Jacobian W.T for every row."""

    def __init__(self, W: np.ndarray, b: np.ndarray | None = None):
        self.W = np.asarray(W, dtype=np.float64)
        self.b = np.zeros(self.W.shape[1]) if b is None else np.asarray(b, dtype=np.float64)

    def forward(self, X):
        return np.asarray(X) @ self.W + self.b

    def jacobian(self, X):
        return np.broadcast_to(self.W.T, (np.asarray(X).shape[0], *self.W.T.shape)).copy()


class Constant:
    """Ignores its input: the same probabilities / outputs for every row."""

    def __init__(self, row):
        self.row = np.asarray(row, dtype=np.float64)

    def predict_proba(self, X):
        return np.tile(self.row, (np.asarray(X).shape[0], 1))

    forward = predict_proba

    def jacobian(self, X):
        return np.zeros((np.asarray(X).shape[0], self.row.size, np.asarray(X).shape[1]))


class NoJacobian:
    """Wraps a model and hides its ``jacobian`` (exercises the finite-difference fallback)."""

    def __init__(self, model):
        self._model = model

    def predict_proba(self, X):
        return self._model.predict_proba(X)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def softmax_model():
    """A 5-feature, 3-class linear softmax model with moderate (unsaturated) weights."""
    W = np.random.default_rng(7).normal(scale=0.4, size=(5, 3))
    return LinearSoftmax(W, b=np.array([0.1, -0.2, 0.05]))


@pytest.fixture
def features():
    return np.random.default_rng(3).standard_normal((200, 5))


def binary_problem(n: int = 300, seed: int = 0):
    """Labels and informative but imperfect probabilities of a binary problem."""
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, n)
    logit = 1.5 * (2 * y - 1) + r.normal(scale=1.5, size=n)
    p1 = 1 / (1 + np.exp(-logit))
    return y, np.column_stack([1 - p1, p1])


def multiclass_problem(n: int = 400, k: int = 4, seed: int = 0):
    """Labels 0..k-1 and softmax probabilities that favour the true class."""
    r = np.random.default_rng(seed)
    y = r.integers(0, k, n)
    logits = r.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    return y, _softmax(logits)


@pytest.fixture
def fakes():
    """The fake model classes above, for tests that build their own."""
    return SimpleNamespace(LinearSoftmax=LinearSoftmax, LinearRegressor=LinearRegressor,
                           Constant=Constant, NoJacobian=NoJacobian)


@pytest.fixture
def binary_data():
    return binary_problem()


@pytest.fixture
def multiclass_data():
    return multiclass_problem()
