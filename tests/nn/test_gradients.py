"""Vectorised derivatives against central differences, over every registry name.

- ``Network.gradients`` for every hidden activation × every valid output/loss pair × every
  regulariser (float64 networks, every parameter entry perturbed);
- each activation's ``backward`` against finite differences of its ``forward`` (softmax: the
  Jacobian-vector product, not an element-wise derivative);
- ``input_gradient`` and ``jacobian`` against finite differences of ``forward``;
- numerical stability of sigmoid, softmax, cross-entropy and binary cross-entropy at |z| ~ 1000.
"""

from __future__ import annotations

import numpy as np
import pytest

from hpstudy.nn import ACTIVATIONS, LOSSES, REGULARIZERS, Network, _kernels, get_activation, get_loss

EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-8
LAMBDA = 0.01

# Every valid (loss, output activation) pair: mse works with any output; the fused losses
# need their own output.
PAIRS = [("mse", name) for name in ACTIVATIONS] + [
    ("cross_entropy", "softmax"),
    ("binary_cross_entropy", "sigmoid"),
]


def assert_close_grad(analytic, numeric, what=""):
    """``|a − b| ≤ ATOL + RTOL·|b|`` entry-wise, with a message naming the worst entry."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    err = np.abs(analytic - numeric) - (ATOL + RTOL * np.abs(numeric))
    worst = np.unravel_index(np.argmax(err), err.shape) if err.size else ()
    assert (err <= 0).all(), f"{what}: analytic {analytic[worst]} vs numeric {numeric[worst]} at {worst}"


def numeric_gradient(f, x: np.ndarray) -> np.ndarray:
    """Central differences ``(f(x + ε e_k) − f(x − ε e_k)) / 2ε`` for every entry k of ``x``.

    ``x`` is perturbed in place and restored exactly afterwards.
    """
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + EPS
        plus = f()
        x[k] = old - EPS
        minus = f()
        x[k] = old
        grad[k] = (plus - minus) / (2 * EPS)
    return grad


def targets(loss: str, n: int, k: int, rng) -> np.ndarray:
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (n, k)).astype(float)
    return rng.normal(size=(n, k))


def build(hidden: str, output: str, loss: str, seed: int = 0):
    """A float64 [3, 4, 3, k] network with non-zero biases, and matching data."""
    rng = np.random.default_rng(seed)
    k = 1 if loss == "binary_cross_entropy" else 3
    net = Network.mlp([3, 4, 3, k], activation=hidden, output=output, initializer="xavier_normal",
                      seed=seed, dtype="float64")
    for b in net.parameters()[1::2]:
        b[...] = rng.normal(0.0, 0.3, b.shape)
    X = rng.normal(size=(6, 3))
    return net, X, targets(loss, 6, k, rng)


@pytest.mark.parametrize("regularizer", sorted(REGULARIZERS))
@pytest.mark.parametrize(("loss", "output"), PAIRS, ids=[f"{lo}-{out}" for lo, out in PAIRS])
@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
def test_network_gradients_match_central_differences(hidden, loss, output, regularizer):
    net, X, Y = build(hidden, output, loss)
    l1, l2 = REGULARIZERS[regularizer](LAMBDA)
    total, grads = net.gradients(X, Y, loss=loss, l1=l1, l2=l2)
    assert np.isfinite(total)
    params = net.parameters()
    assert [g.shape for g in grads] == [p.shape for p in params]
    loss_obj = get_loss(loss)

    def objective():  # the forward pass alone, and the penalty written out
        weights = params[0::2]
        penalty = l1 * sum(np.abs(W).sum() for W in weights) + l2 * sum((W**2).sum() for W in weights)
        return _kernels.data_loss(net, X, Y, loss_obj)[0] + penalty

    assert objective() == pytest.approx(total, rel=1e-12)
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        numeric = numeric_gradient(objective, p)
        assert_close_grad(g, numeric, f"parameter {i} ({'W' if i % 2 == 0 else 'b'}{i // 2 + 1})")


def test_gradient_table_covers_every_registry_name():
    assert {out for _, out in PAIRS} == set(ACTIVATIONS)
    assert {loss for loss, _ in PAIRS} == set(LOSSES)


@pytest.mark.parametrize("regularizer", sorted(REGULARIZERS))
def test_total_loss_is_data_loss_plus_penalty_on_weights_only(regularizer):
    net, X, Y = build("tanh", "softmax", "cross_entropy")
    l1, l2 = REGULARIZERS[regularizer](0.1)
    data_loss, _ = net.gradients(X, Y, loss="cross_entropy")
    total, _ = net.gradients(X, Y, loss="cross_entropy", l1=l1, l2=l2)
    weights = net.parameters()[0::2]
    penalty = l1 * sum(np.abs(W).sum() for W in weights) + l2 * sum((W**2).sum() for W in weights)
    assert total == pytest.approx(data_loss + penalty, rel=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_matches_finite_differences_of_forward(name):
    """``backward(z, a, g)`` is ∂(Σ g ⊙ f(z))/∂z: for softmax, the Jacobian-vector product."""
    rng = np.random.default_rng(1)
    act = get_activation(name)
    z = rng.normal(size=(4, 5))
    z[np.abs(z) < 1e-3] += 0.01  # keep ReLU-family kinks out of the ±ε window
    g = rng.normal(size=(4, 5))
    a = act.forward(z.copy())
    analytic = act.backward(z, a, g.copy())
    numeric = numeric_gradient(lambda: float(np.sum(g * act.forward(z.copy()))), z)
    assert analytic.shape == z.shape
    assert_close_grad(analytic, numeric, name)


@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - {"softmax"}))
def test_elementwise_derivative_is_the_diagonal(name):
    rng = np.random.default_rng(2)
    act = get_activation(name)
    z = rng.normal(size=(3, 4))
    z[np.abs(z) < 1e-3] += 0.01
    numeric = (act.forward(z + EPS) - act.forward(z - EPS)) / (2 * EPS)
    assert_close_grad(act.derivative(z, act.forward(z.copy())), numeric, name)


def test_softmax_jacobian_vector_product_is_not_elementwise():
    """s ⊙ (g − Σ_j g_j s_j) differs from g ⊙ s(1 − s), and the full Jacobian agrees with it."""
    act = get_activation("softmax")
    z = np.array([[0.5, -1.0, 2.0]])
    s = act.forward(z.copy())
    g = np.array([[1.0, -2.0, 0.5]])
    jac = np.diag(s[0]) - np.outer(s[0], s[0])  # ∂s_j/∂z_i = s_j(δ_ij − s_i)
    np.testing.assert_allclose(act.backward(z, s, g.copy())[0], jac @ g[0], rtol=1e-12)
    assert not np.allclose(act.backward(z, s, g.copy()), g * s * (1 - s))
    with pytest.raises(TypeError, match="backward"):
        act.derivative(z, s)


def test_leaky_relu_slope_is_used_in_both_directions():
    act = get_activation("leaky_relu", leaky_alpha=0.2)
    z = np.array([[-2.0, 3.0]])
    np.testing.assert_allclose(act.forward(z), [[-0.4, 3.0]])
    np.testing.assert_allclose(act.backward(z, act.forward(z), np.ones((1, 2))), [[0.2, 1.0]])


# -- input gradients ----------------------------------------------------------------------------

@pytest.mark.parametrize(("hidden", "output"), [("tanh", "softmax"), ("relu", "identity"),
                                                ("sigmoid", "sigmoid"), ("leaky_relu", "tanh")])
def test_jacobian_matches_finite_differences(hidden, output):
    net = Network.mlp([3, 5, 4, 2], activation=hidden, output=output, seed=3, dtype="float64")
    X = np.random.default_rng(3).normal(size=(4, 3))
    J = net.jacobian(X)
    assert J.shape == (4, 2, 3)
    for i in range(4):
        for d in range(3):
            step = np.zeros(3)
            step[d] = EPS
            numeric = (net.forward(X[i : i + 1] + step) - net.forward(X[i : i + 1] - step)) / (2 * EPS)
            assert_close_grad(J[i, :, d], numeric[0], f"row {i}, input {d}")


@pytest.mark.parametrize("grad_output", [None, "random"])
def test_input_gradient_matches_finite_differences(grad_output):
    rng = np.random.default_rng(4)
    net = Network.mlp([3, 6, 2], activation="tanh", output="softmax", seed=4, dtype="float64")
    X = rng.normal(size=(5, 3))
    g = np.ones((5, 2)) if grad_output is None else rng.normal(size=(5, 2))
    analytic = net.input_gradient(X, None if grad_output is None else g)
    numeric = numeric_gradient(lambda: float(np.sum(g * net.forward(X))), X)
    assert analytic.shape == X.shape
    assert_close_grad(analytic, numeric, "input gradient")


def test_input_gradient_does_not_modify_grad_output():
    net = Network.mlp([2, 3, 2], activation="relu", output="identity", seed=0, dtype="float64")
    g = np.array([[1.0, -1.0], [0.5, 2.0]])
    before = g.copy()
    net.input_gradient(np.array([[0.3, -0.2], [1.0, 0.5]]), g)
    assert np.array_equal(g, before)


def test_input_gradient_rejects_wrong_grad_output_shape():
    net = Network.mlp([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="grad_output"):
        net.input_gradient(np.zeros((4, 2)), np.ones((4, 3)))


# -- stability at |z| ~ 1000 --------------------------------------------------------------------

STRICT = {"over": "raise", "invalid": "raise", "divide": "raise", "under": "ignore"}
BIG = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [-1000.0, -1000.0, -1000.0]])


def test_sigmoid_is_finite_with_right_limits_at_large_z():
    act = get_activation("sigmoid")
    with np.errstate(**STRICT):
        a = act.forward(np.array([[1000.0, -1000.0, 0.0, 40.0, -40.0]]))
        d = act.derivative(None, a)
    assert a[0, 0] == 1.0 and a[0, 1] == 0.0 and a[0, 2] == 0.5
    assert 0.0 <= a[0, 4] < 1e-17 and a[0, 3] == pytest.approx(1.0)
    assert np.isfinite(d).all() and d[0, 0] == 0.0 and d[0, 1] == 0.0


def test_softmax_is_finite_with_right_limits_at_large_z():
    with np.errstate(**STRICT):
        s = get_activation("softmax").forward(BIG.copy())
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    np.testing.assert_allclose(s[0], [1.0, 0.0, 0.0])
    assert s[1, 1] == pytest.approx(1 / (1 + np.exp(-1.0)))  # e^1000 / (e^1000 + e^999)
    np.testing.assert_allclose(s[2], [1 / 3] * 3)  # equal logits, however negative


def test_cross_entropy_is_finite_with_right_limits_at_large_z():
    loss = get_loss("cross_entropy")
    act = get_activation("softmax")
    right = np.eye(3)[[0, 1, 2]]  # sure and right, nearly sure and right, uniform
    wrong = np.eye(3)[[1, 0, 0]]  # sure and wrong by 2000, by ~2000, uniform
    with np.errstate(**STRICT):
        Y_hat, value = loss.forward(BIG, right, act)
        _, value_wrong = loss.forward(BIG, wrong, act)
        delta = loss.delta(BIG, Y_hat, wrong, act)
    # −log p_y = logsumexp(z) − z_y per row. Right: 0, log(1 + e^{−1}), log 3.
    # Wrong: 1000 − (−1000), (1000 + log(1 + e^{−1})) − (−1000), log 3.
    lse1 = np.log1p(np.exp(-1.0))
    assert value == pytest.approx((0 + lse1 + np.log(3)) / 3)
    assert value_wrong == pytest.approx((2000 + 2000 + lse1 + np.log(3)) / 3)
    assert np.isfinite(delta).all()
    np.testing.assert_allclose(delta, (Y_hat - wrong) / 3)


def test_binary_cross_entropy_is_finite_with_right_limits_at_large_z():
    loss = get_loss("binary_cross_entropy")
    act = get_activation("sigmoid")
    z = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]])
    Y = np.array([[1.0], [0.0], [0.0], [1.0]])
    with np.errstate(**STRICT):
        Y_hat, value = loss.forward(z, Y, act)
        delta = loss.delta(z, Y_hat, Y, act)
    # per row: 0, 0, 1000, 1000 (−log σ(−1000) = 1000 + log(1 + e^{−1000}))
    assert value == pytest.approx(500.0)
    np.testing.assert_allclose(Y_hat[:, 0], [1.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(delta[:, 0], [0.0, 0.0, 0.25, -0.25])


@pytest.mark.parametrize(("loss", "output"), [("cross_entropy", "softmax"),
                                              ("binary_cross_entropy", "sigmoid")])
def test_network_loss_and_gradients_finite_when_outputs_saturate(loss, output):
    net, X, Y = build("tanh", output, loss)
    net.parameters()[-2][...] *= 1e4  # output pre-activations of order 1e3 to 1e4
    with np.errstate(**STRICT):
        total, grads = net.gradients(X, Y, loss=loss)
    assert np.isfinite(total) and total > 10
    assert all(np.isfinite(g).all() for g in grads)
