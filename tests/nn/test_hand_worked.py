"""Hand-worked examples: one SGD step on a 2-2-1 network, each optimiser's update rule written out
again, and the learning-rate schedules' values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpstudy.nn import OPTIMIZERS, SCHEDULES, Network, get_optimizer
from hpstudy.nn.optimizers import Optimizer, get_schedule


def two_two_one(output: str) -> Network:
    """x = (1, −1); W1 = [[0.5, 0.25], [0.5, 0.25]], b1 = 0; W2 = [[1], [−2]], b2 = 0.5."""
    net = Network.mlp([2, 2, 1], activation="sigmoid", output=output, dtype="float64")
    W1, b1, W2, b2 = net.parameters()
    W1[...] = [[0.5, 0.25], [0.5, 0.25]]
    b1[...] = 0.0
    W2[...] = [[1.0], [-2.0]]
    b2[...] = 0.5
    return net


X = np.array([[1.0, -1.0]])
Y = np.array([[1.0]])
LR = 0.1


def test_sgd_step_by_hand_identity_output():
    # Forward
    #   z1 = x W1 + b1 = (1·0.5 − 1·0.5, 1·0.25 − 1·0.25) = (0, 0)
    #   h  = σ(z1) = (0.5, 0.5)
    #   ŷ  = h W2 + b2 = 0.5·1 + 0.5·(−2) + 0.5 = 0          (identity output)
    #   L  = (ŷ − y)² / 1 = (0 − 1)² = 1                     (mse: mean over n·k = 1 element)
    # Backward
    #   δ2 = dL/dŷ = 2(ŷ − y) / 1 = −2
    #   dW2 = hᵀ δ2 = (0.5·−2, 0.5·−2) = (−1, −1);  db2 = −2
    #   δ1 = (δ2 W2ᵀ) ⊙ σ'(z1) = (−2·1, −2·−2) ⊙ (0.25, 0.25) = (−0.5, 1)
    #   dW1 = xᵀ δ1 = [[1·−0.5, 1·1], [−1·−0.5, −1·1]] = [[−0.5, 1], [0.5, −1]];  db1 = (−0.5, 1)
    # Update θ ← θ − 0.1·g
    #   W1 = [[0.5 + 0.05, 0.25 − 0.1], [0.5 − 0.05, 0.25 + 0.1]] = [[0.55, 0.15], [0.45, 0.35]]
    #   b1 = (0.05, −0.1);  W2 = (1 + 0.1, −2 + 0.1) = (1.1, −1.9);  b2 = 0.5 + 0.2 = 0.7
    net = two_two_one("identity")
    np.testing.assert_allclose(net.forward(X), [[0.0]], atol=1e-15)
    loss, (dW1, db1, dW2, db2) = net.gradients(X, Y, loss="mse")
    assert loss == pytest.approx(1.0)
    np.testing.assert_allclose(dW2, [[-1.0], [-1.0]])
    np.testing.assert_allclose(db2, [-2.0])
    np.testing.assert_allclose(dW1, [[-0.5, 1.0], [0.5, -1.0]])
    np.testing.assert_allclose(db1, [-0.5, 1.0])

    history = net.fit(X, Y, loss="mse", epochs=1, batch_size=1, learning_rate=LR, optimizer="sgd")
    W1, b1, W2, b2 = net.parameters()
    np.testing.assert_allclose(W1, [[0.55, 0.15], [0.45, 0.35]], rtol=1e-12)
    np.testing.assert_allclose(b1, [0.05, -0.1], rtol=1e-12)
    np.testing.assert_allclose(W2, [[1.1], [-1.9]], rtol=1e-12)
    np.testing.assert_allclose(b2, [0.7], rtol=1e-12)
    assert history.train_loss == [pytest.approx(1.0)]  # the batch loss before the step


def test_sgd_step_by_hand_sigmoid_output():
    # Forward: z1 = (0, 0), h = (0.5, 0.5), z2 = 0.5 − 1 + 0.5 = 0, ŷ = σ(0) = 0.5
    #   L = (0.5 − 1)² = 0.25
    # Backward
    #   dL/dŷ = 2(0.5 − 1) = −1;  δ2 = −1 · σ'(0) = −1 · 0.25 = −0.25
    #   dW2 = (0.5·−0.25, 0.5·−0.25) = (−0.125, −0.125);  db2 = −0.25
    #   δ1 = (−0.25·1, −0.25·−2) ⊙ 0.25 = (−0.0625, 0.125)
    #   dW1 = [[−0.0625, 0.125], [0.0625, −0.125]];  db1 = (−0.0625, 0.125)
    # Update with η = 0.1
    #   W1 = [[0.50625, 0.2375], [0.49375, 0.2625]];  b1 = (0.00625, −0.0125)
    #   W2 = (1.0125, −1.9875);  b2 = 0.525
    net = two_two_one("sigmoid")
    loss, (dW1, db1, dW2, db2) = net.gradients(X, Y, loss="mse")
    assert loss == pytest.approx(0.25)
    np.testing.assert_allclose(dW2, [[-0.125], [-0.125]])
    np.testing.assert_allclose(db2, [-0.25])
    np.testing.assert_allclose(dW1, [[-0.0625, 0.125], [0.0625, -0.125]])
    np.testing.assert_allclose(db1, [-0.0625, 0.125])

    net.fit(X, Y, loss="mse", epochs=1, batch_size="full", learning_rate=LR, optimizer="sgd")
    W1, b1, W2, b2 = net.parameters()
    np.testing.assert_allclose(W1, [[0.50625, 0.2375], [0.49375, 0.2625]], rtol=1e-12)
    np.testing.assert_allclose(b1, [0.00625, -0.0125], rtol=1e-12)
    np.testing.assert_allclose(W2, [[1.0125], [-1.9875]], rtol=1e-12)
    np.testing.assert_allclose(b2, [0.525], rtol=1e-12)


def test_batch_gradient_is_the_mean_over_rows():
    # Two copies of the same row give the same mean loss and gradient as one row.
    net = two_two_one("identity")
    one = net.gradients(X, Y, loss="mse")
    two = net.gradients(np.vstack([X, X]), np.vstack([Y, Y]), loss="mse")
    assert one[0] == pytest.approx(two[0])
    for a, b in zip(one[1], two[1], strict=True):
        np.testing.assert_allclose(a, b)


# -- optimisers, written out again -------------------------------------------------------------

THETA0 = [1.0, -2.0]
GRADS = [[0.5, -1.0], [0.2, 0.4], [-0.3, 0.1]]
ETA, MU = 0.1, 0.9


def sgd_by_hand():
    theta = list(THETA0)
    for g in GRADS:
        theta = [t - ETA * gi for t, gi in zip(theta, g, strict=True)]
    return theta


def momentum_by_hand(nesterov: bool):
    theta, v = list(THETA0), [0.0, 0.0]
    for g in GRADS:
        v = [MU * vi - ETA * gi for vi, gi in zip(v, g, strict=True)]
        if nesterov:  # look-ahead: θ + μ v_new − η g
            theta = [t + MU * vi - ETA * gi for t, vi, gi in zip(theta, v, g, strict=True)]
        else:
            theta = [t + vi for t, vi in zip(theta, v, strict=True)]
    return theta


def adam_by_hand(b1=0.9, b2=0.999, eps=1e-8):
    # Kingma & Ba, Algorithm 1 with the bias corrections folded into the step size (their
    # "more efficient" ordering, also scikit-learn's): η_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ).
    theta, m, s = list(THETA0), [0.0, 0.0], [0.0, 0.0]
    for t, g in enumerate(GRADS, start=1):
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        s = [b2 * si + (1 - b2) * gi * gi for si, gi in zip(s, g, strict=True)]
        eta_t = ETA * math.sqrt(1 - b2**t) / (1 - b1**t)
        theta = [th - eta_t * mi / (math.sqrt(si) + eps) for th, mi, si in zip(theta, m, s, strict=True)]
    return theta


def run_optimizer(opt: Optimizer):
    theta = np.array(THETA0)
    for g in GRADS:
        opt.step(theta, np.array(g), ETA)  # a fresh gradient buffer each step (step may reuse it)
    return theta


@pytest.mark.parametrize(("name", "kwargs", "expected"), [
    ("sgd", {}, sgd_by_hand),
    ("momentum", {"momentum": MU}, lambda: momentum_by_hand(False)),
    ("momentum", {"momentum": MU, "nesterov": True}, lambda: momentum_by_hand(True)),
    ("adam", {}, adam_by_hand),
], ids=["sgd", "momentum", "nesterov", "adam"])
def test_optimizer_three_steps_match_update_rule(name, kwargs, expected):
    theta = run_optimizer(get_optimizer(name, **kwargs))
    np.testing.assert_allclose(theta, expected(), rtol=1e-12, atol=1e-15)


def test_sgd_values_by_hand():
    # θ₃ = θ₀ − η Σ g = (1 − 0.1·0.4, −2 − 0.1·(−0.5)) = (0.96, −1.95)
    np.testing.assert_allclose(run_optimizer(get_optimizer("sgd")), [0.96, -1.95], rtol=1e-12)


def test_momentum_values_by_hand():
    # first coordinate, μ = 0.9, η = 0.1:
    #   v1 = −0.05            θ1 = 0.95
    #   v2 = −0.045 − 0.02 = −0.065      θ2 = 0.885
    #   v3 = −0.0585 + 0.03 = −0.0285    θ3 = 0.8565
    theta = run_optimizer(get_optimizer("momentum", momentum=0.9))
    assert theta[0] == pytest.approx(0.8565, abs=1e-12)


def test_adam_first_step_is_eta_times_sign():
    # t = 1: m = 0.1 g, s = 0.001 g², η_1 = η √0.001 / 0.1, so Δθ = −η g/|g| (up to ε)
    opt = get_optimizer("adam")
    theta = np.array(THETA0)
    opt.step(theta, np.array(GRADS[0]), ETA)
    np.testing.assert_allclose(theta, [1.0 - 0.1, -2.0 + 0.1], rtol=1e-6)


def test_every_optimizer_is_covered():
    assert set(OPTIMIZERS) == {"sgd", "momentum", "adam"}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_is_per_instance_and_fit_uses_it(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3))
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    net = Network.mlp([3, 4, 2], activation="tanh", seed=0, dtype="float64")
    history = net.fit(X, Y, epochs=15, batch_size=8, learning_rate=0.05, optimizer=name)
    assert history.train_loss[-1] < history.train_loss[0]


# -- schedules ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("constant", [0.1] * 6),
    # η₀ · 0.5^⌊epoch / 10⌋ at epochs 0, 1, 9, 10, 19, 20
    ("step", [0.1, 0.1, 0.1, 0.05, 0.05, 0.025]),
    # η₀ · 0.95^epoch
    ("exponential", [0.1, 0.095, 0.1 * 0.95**9, 0.1 * 0.95**10, 0.1 * 0.95**19, 0.1 * 0.95**20]),
    # ½ η₀ (1 + cos(π · epoch / 20))
    ("cosine", [0.1, 0.05 * (1 + math.cos(math.pi / 20)), 0.05 * (1 + math.cos(math.pi * 9 / 20)),
                0.05, 0.05 * (1 + math.cos(math.pi * 19 / 20)), 0.0]),
])
def test_schedule_values(name, expected):
    schedule = get_schedule(name)
    values = [schedule(0.1, epoch, 20) for epoch in (0, 1, 9, 10, 19, 20)]
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-15)


def test_every_schedule_is_covered():
    assert set(SCHEDULES) == {"constant", "step", "exponential", "cosine"}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_fit_records_the_scheduled_learning_rate(name):
    X = np.random.default_rng(0).normal(size=(16, 2))
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    net = Network.mlp([2, 3, 2], seed=0)
    history = net.fit(X, Y, epochs=12, batch_size=8, learning_rate=0.2, schedule=name)
    schedule = get_schedule(name)
    np.testing.assert_allclose(history.learning_rate, [schedule(0.2, e, 12) for e in range(12)])


def test_callable_schedule_is_accepted():
    X = np.random.default_rng(0).normal(size=(16, 2))
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    net = Network.mlp([2, 3, 2], seed=0)
    history = net.fit(X, Y, epochs=3, learning_rate=0.2, schedule=lambda lr, e, n: lr / (e + 1))
    np.testing.assert_allclose(history.learning_rate, [0.2, 0.1, 0.2 / 3])
