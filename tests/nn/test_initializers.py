"""Initialiser spreads on large matrices, ``auto`` resolution, and zero biases."""

from __future__ import annotations

import numpy as np
import pytest

from hpstudy.nn import ACTIVATIONS, INITIALIZERS, Network, _kernels, resolve_initializer
from hpstudy.nn.initializers import initialize

FAN_IN, FAN_OUT = 800, 400

# name -> (expected variance, uniform bound or None)
EXPECTED = {
    "he_normal": (2 / FAN_IN, None),
    "he_uniform": (2 / FAN_IN, np.sqrt(6 / FAN_IN)),
    "xavier_normal": (2 / (FAN_IN + FAN_OUT), None),
    "xavier_uniform": (2 / (FAN_IN + FAN_OUT), np.sqrt(6 / (FAN_IN + FAN_OUT))),
    "lecun_normal": (1 / FAN_IN, None),
    "normal": (1e-4, None),
}


def test_every_initializer_is_covered():
    assert set(EXPECTED) == set(INITIALIZERS)


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initializer_variance_mean_and_support(name):
    W = initialize(name, FAN_IN, FAN_OUT, np.random.default_rng(0), np.float64)
    variance, bound = EXPECTED[name]
    assert W.shape == (FAN_IN, FAN_OUT)
    # 320,000 draws: the sample variance is within ~0.3 % (normal) of the truth; allow 2 %
    assert W.var() == pytest.approx(variance, rel=0.02)
    assert abs(W.mean()) < 0.01 * np.sqrt(variance)
    if bound is None:
        # a normal: about 4.6 % of draws beyond 2σ, none beyond 6σ
        share = np.mean(np.abs(W) > 2 * np.sqrt(variance))
        assert share == pytest.approx(0.0455, abs=0.003)
    else:
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.99 * bound


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_network_uses_initializer_per_layer_and_zero_biases(name, dtype):
    net = Network.mlp([600, 300, 200], activation="tanh", output="softmax", initializer=name,
                      seed=1, dtype=dtype)
    for layer in net.layers:
        variance = {"he_normal": 2 / layer.fan_in, "he_uniform": 2 / layer.fan_in,
                    "xavier_normal": 2 / (layer.fan_in + layer.fan_out),
                    "xavier_uniform": 2 / (layer.fan_in + layer.fan_out),
                    "lecun_normal": 1 / layer.fan_in, "normal": 1e-4}[name]
        assert layer.W.dtype == np.dtype(dtype) and layer.b.dtype == np.dtype(dtype)
        assert float(layer.W.var()) == pytest.approx(variance, rel=0.03)
        assert np.all(layer.b == 0)


@pytest.mark.parametrize(("activation", "expected"), [
    ("relu", "he_normal"), ("leaky_relu", "he_normal"),
    ("tanh", "xavier_normal"), ("sigmoid", "xavier_normal"),
    ("identity", "xavier_normal"), ("softmax", "xavier_normal"),
])
def test_auto_resolves_he_for_relu_family_else_xavier(activation, expected):
    assert resolve_initializer("auto", activation) == expected


def test_auto_covers_every_activation():
    for name in ACTIVATIONS:
        assert resolve_initializer("auto", name) in INITIALIZERS


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_concrete_names_resolve_to_themselves(name):
    assert resolve_initializer(name, "relu") == name


def test_auto_in_a_network_picks_per_layer():
    # relu hidden layer: He, 2/fan_in; softmax output layer: Xavier, 2/(fan_in + fan_out)
    net = Network.mlp([1000, 500, 100], activation="relu", output="softmax", initializer="auto",
                      seed=0, dtype="float64")
    hidden, out = net.layers
    assert hidden.W.var() == pytest.approx(2 / 1000, rel=0.02)
    assert out.W.var() == pytest.approx(2 / 600, rel=0.03)


def test_same_seed_same_weights_different_seed_different_weights():
    a = _kernels.get_state(Network.mlp([5, 4, 3], seed=7))
    b = _kernels.get_state(Network.mlp([5, 4, 3], seed=7))
    c = _kernels.get_state(Network.mlp([5, 4, 3], seed=8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
