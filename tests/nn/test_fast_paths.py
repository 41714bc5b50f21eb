"""The speed paths compute what the plain formulas compute.

The training hot path writes into preallocated (sometimes column-major) buffers, calls
in-place variants of the activations and losses, gathers batches in two ways and sends the
end-of-epoch passes to BLAS in row blocks. Each is compared here with a plain computation.
"""

from __future__ import annotations

import numpy as np
import pytest

from hpstudy.nn import (
    ACTIVATIONS,
    LOSSES,
    Network,
    _kernels,
    get_activation,
    get_loss,
    regularization,
    training,
)
from hpstudy.nn.optimizers import SGD, Adam, Momentum

rng = np.random.default_rng(0)


def reference_gradients(net, X, Y, loss_name):
    """Textbook backprop with fresh arrays: zˡ = aˡ⁻¹Wˡ + bˡ, δ from the loss, chain rule."""
    acts, zs = [X], []
    for layer in net.layers:
        zs.append(acts[-1] @ layer.W + layer.b)
        acts.append(layer.activation.forward(zs[-1].copy()))
    loss = get_loss(loss_name)
    Y_hat, value = loss.forward(zs[-1].copy(), Y, net.output_activation)
    delta = loss.delta(zs[-1].copy(), Y_hat.copy(), Y, net.output_activation)
    grads = [None] * (2 * len(net.layers))
    for i in range(len(net.layers) - 1, -1, -1):
        grads[2 * i], grads[2 * i + 1] = acts[i].T @ delta, delta.sum(axis=0)
        if i > 0:
            act = net.layers[i - 1].activation
            delta = act.backward(zs[i - 1], acts[i], delta @ net.layers[i].W.T)
    return value, grads, Y_hat


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize("sizes", [[5, 7, 6, 3], [300, 128, 64, 3]], ids=["row-major", "column-major"])
def test_loss_and_gradient_matches_plain_backprop(hidden, sizes):
    # [300, 128, 64] with 40 rows: products ≥ 2²⁰ multiply-adds use column-major buffers
    net = Network.mlp(sizes, activation=hidden, output="softmax", seed=1, dtype="float64")
    X = rng.normal(size=(40, sizes[0]))
    Y = np.eye(3)[rng.integers(0, 3, 40)]
    value, grads, Y_hat = reference_gradients(net, X, Y, "cross_entropy")
    for block in (0, 16):
        loss, acts, grad = _kernels.loss_and_gradient(net, X, Y, get_loss("cross_entropy"), block=block)
        assert loss == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(acts[-1], Y_hat, rtol=1e-12, atol=1e-15)
        got = _kernels.gradient_list(net)
        for g, want in zip(got, grads, strict=True):
            np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-13)
        np.testing.assert_array_equal(grad, np.concatenate([g.ravel() for g in got]))  # θ's layout


def test_column_major_buffers_are_used_for_large_products():
    net = Network.mlp([300, 128, 64, 3], seed=0)
    ws = _kernels.workspace(net, 40)
    assert ws.z[0].flags.f_contiguous and not ws.z[0].flags.c_contiguous
    assert _kernels.workspace(net, 2).z[0].flags.c_contiguous
    assert _kernels.workspace(net, 40, block=16).z[0].flags.c_contiguous  # row blocks need row-major


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize("block", [7, 10, 64])
def test_blocked_products_match_unblocked(loss_name, block):
    output = {"mse": "identity", "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}[loss_name]
    k = 1 if loss_name == "binary_cross_entropy" else 3
    net = Network.mlp([4, 6, 5, k], activation="tanh", output=output, seed=2, dtype="float64")
    X = rng.normal(size=(30, 4))  # 30 rows: blocks of 7 and 10 (with and without a remainder)
    Y = rng.integers(0, 2, (30, k)).astype(float) if k == 1 else np.eye(3)[rng.integers(0, 3, 30)]
    loss = get_loss(loss_name)
    plain = _kernels.loss_and_gradient(net, X, Y, loss, l1=0.01, l2=0.02)
    plain = (plain[0], [a.copy() for a in plain[1]], plain[2].copy())
    blocked = _kernels.loss_and_gradient(net, X, Y, loss, l1=0.01, l2=0.02, block=block)
    assert blocked[0] == pytest.approx(plain[0], rel=1e-12)
    for a, b in zip(blocked[1], plain[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(blocked[2], plain[2], rtol=1e-10, atol=1e-14)
    penalty = regularization.penalty(_kernels.weights_vector(net), 0.01, 0.02)
    for b in (0, block):
        value, Y_hat = _kernels.data_loss(net, X, Y, loss, block=b)
        assert value + penalty == pytest.approx(plain[0], rel=1e-12)
        np.testing.assert_allclose(Y_hat, plain[1][-1], rtol=1e-12, atol=1e-15)


def test_workspaces_for_many_batch_sizes_stay_correct():
    net = Network.mlp([3, 4, 2], activation="relu", seed=0, dtype="float64")
    loss = get_loss("cross_entropy")
    data = {n: (rng.normal(size=(n, 3)), np.eye(2)[rng.integers(0, 2, n)]) for n in range(1, 9)}
    expected = {n: reference_gradients(net, X, Y, "cross_entropy")[0] for n, (X, Y) in data.items()}
    for _ in range(2):
        for n, (X, Y) in data.items():  # more sizes than the workspace cache keeps
            assert _kernels.loss_and_gradient(net, X, Y, loss)[0] == pytest.approx(expected[n], rel=1e-12)
    assert len(net._workspaces) <= _kernels.WORKSPACES


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("order", ["C", "F"])
def test_activation_forward_into_matches_forward(name, order):
    act = get_activation(name, leaky_alpha=0.1)
    z = np.asarray(rng.normal(size=(5, 4)) * 3, order=order)
    before = z.copy()
    out = np.empty_like(z)
    a = act.forward_into(z, out)
    np.testing.assert_array_equal(a, act.forward(z))
    np.testing.assert_array_equal(z, before)  # z is never modified


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_result_does_not_depend_on_reusing_grad_a(name):
    act = get_activation(name)
    z = rng.normal(size=(5, 4))
    a = act.forward(z)
    g = rng.normal(size=(5, 4))
    expected = act.backward(z, a, g.copy())
    buffer = g.copy()
    np.testing.assert_array_equal(act.backward(z, a, buffer), expected)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_inplace_variants_match_plain_ones(name):
    output = {"mse": "tanh", "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}[name]
    loss, act = get_loss(name), get_activation(output)
    z = rng.normal(size=(6, 3)) * 5
    Y = np.eye(3)[rng.integers(0, 3, 6)]
    Y_hat, value = loss.forward(z, Y, act)
    delta = loss.delta(z, Y_hat, Y, act)
    z_buffer = z.copy()
    Y_hat2, value2 = loss.forward_inplace(z_buffer, Y, act)
    assert value2 == value
    np.testing.assert_array_equal(Y_hat2, Y_hat)
    out = np.empty_like(Y_hat)
    np.testing.assert_array_equal(loss.delta_into(z, Y_hat2, Y, act, out), delta)


def test_plain_loss_forward_does_not_modify_z():
    z = rng.normal(size=(4, 3))
    before = z.copy()
    get_loss("cross_entropy").forward(z, np.eye(3)[[0, 1, 2, 0]], get_activation("softmax"))
    np.testing.assert_array_equal(z, before)


def fit_digits_like(**kwargs):
    X = np.random.default_rng(5).normal(size=(300, 20))
    Y = np.eye(4)[np.argmax(X[:, :4], axis=1)]
    net = Network.mlp([20, 16, 4], activation="relu", seed=0, dtype="float64")
    history = net.fit(X, Y, epochs=3, batch_size=8, learning_rate=0.05, seed=3,
                      validation=(X[:100], Y[:100]), **kwargs)
    return net, history


def test_batch_gathering_paths_give_identical_training(monkeypatch):
    net_copy, copied = fit_digits_like()
    monkeypatch.setattr(training, "SHUFFLE_COPY_BYTES", 0)  # gather each batch with np.take
    net_take, gathered = fit_digits_like()
    assert copied.train_loss == gathered.train_loss
    np.testing.assert_array_equal(_kernels.get_state(net_copy), _kernels.get_state(net_take))


def test_blocked_end_of_epoch_pass_matches_unblocked(monkeypatch):
    monkeypatch.setattr(training, "SINGLE_THREAD_MACS", 40 * 20 * 16)
    assert training._eval_block(Network.mlp([20, 16, 4]), 300, 8) == 40  # 300 = 7 · 40 + 20
    _, blocked = fit_digits_like()
    monkeypatch.setattr(training, "SINGLE_THREAD_MACS", 0)  # no blocking
    _, plain = fit_digits_like()
    np.testing.assert_allclose(blocked.val_loss, plain.val_loss, rtol=1e-12)
    assert blocked.train_metric == plain.train_metric
    for a, b in zip(blocked.diagnostics, plain.diagnostics, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-10, abs=1e-14), key


@pytest.mark.parametrize(("sizes", "n", "rows", "expected"), [
    ([64, 64, 64, 10], 512, 32, 64),     # 64 rows · 64 · 64 = 2¹⁸ multiply-adds per product
    ([30, 32, 4], 512, 16, 273),
    ([784, 256, 10], 512, 128, 0),       # training's products are multi-threaded anyway
    ([4, 4, 2], 100, 8, 0),              # the whole pass is small
    ([64, 64, 10], 512, 512, 0),         # full batch
])
def test_eval_block_sizes(sizes, n, rows, expected):
    assert training._eval_block(Network.mlp(sizes), n, rows) == expected


def test_training_buffers_are_released_after_fit():
    net, _ = fit_digits_like()
    assert net._workspaces == {}


# -- parameter layout, bias folding, scaled gradients, the SGD shortcut -----------------------

def test_each_layer_keeps_its_bias_right_after_its_weights():
    net = Network.mlp([3, 4, 2], seed=0, dtype="float64")
    theta = _kernels.get_state(net)
    W0, b0, W1, b1 = net.parameters()
    np.testing.assert_array_equal(theta, np.concatenate([W0.ravel(), b0, W1.ravel(), b1]))
    for p in net.parameters():  # live views of θ, in the shapes of the public contract
        assert np.shares_memory(p, _kernels.theta(net))
    assert [p.shape for p in net.parameters()] == [(3, 4), (4,), (4, 2), (2,)]
    np.testing.assert_array_equal(_kernels.weights_vector(net), np.concatenate([W0.ravel(), W1.ravel()]))
    X, Y = rng.normal(size=(5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]
    _, _, grad = _kernels.loss_and_gradient(net, X, Y, get_loss("cross_entropy"))
    gW0, gb0, gW1, gb1 = _kernels.gradient_list(net)  # the gradient vector has θ's layout
    np.testing.assert_array_equal(grad, np.concatenate([gW0.ravel(), gb0, gW1.ravel(), gb1]))
    for grad_W in _kernels.weight_gradients(net):  # live views of the gradient vector
        assert np.shares_memory(grad_W, grad)


def with_ones(X):
    return np.hstack([X, np.ones((len(X), 1))])


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize("sizes", [[5, 7, 6, 3], [300, 128, 64, 3], [5, 3]],
                         ids=["row-major", "column-major", "one-layer"])
@pytest.mark.parametrize("block", [0, 16])
def test_inputs_with_a_column_of_ones_fold_the_first_bias(hidden, sizes, block):
    net = Network.mlp(sizes, activation=hidden, output="softmax", seed=1, dtype="float64")
    for p in net.parameters():
        p += rng.normal(0, 0.1, p.shape)  # non-zero biases
    X = rng.normal(size=(40, sizes[0]))
    Y = np.eye(3)[rng.integers(0, 3, 40)]
    loss = get_loss("cross_entropy")
    value, acts, grad = _kernels.loss_and_gradient(net, X, Y, loss, l1=0.01, l2=0.02, block=block)
    value, acts, grad = value, [a.copy() for a in acts], grad.copy()
    folded = _kernels.loss_and_gradient(net, with_ones(X), Y, loss, l1=0.01, l2=0.02, block=block)
    assert folded[0] == pytest.approx(value, rel=1e-12)
    np.testing.assert_array_equal(folded[1][0], X)  # the inputs, without the ones
    for a, b in zip(folded[1], acts, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(folded[2], grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_scale_multiplies_the_gradient_and_not_the_loss(loss_name):
    output = {"mse": "tanh", "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}[loss_name]
    k = 1 if loss_name == "binary_cross_entropy" else 3
    net = Network.mlp([4, 6, k], activation="relu", output=output, seed=2, dtype="float64")
    X = rng.normal(size=(20, 4))
    Y = rng.integers(0, 2, (20, k)).astype(float) if k == 1 else np.eye(3)[rng.integers(0, 3, 20)]
    loss = get_loss(loss_name)
    value, _, grad = _kernels.loss_and_gradient(net, X, Y, loss, l1=0.01, l2=0.02)
    grad = grad.copy()
    scaled_value, _, scaled = _kernels.loss_and_gradient(net, X, Y, loss, l1=0.01, l2=0.02, scale=0.3)
    assert scaled_value == value
    np.testing.assert_allclose(scaled, 0.3 * grad, rtol=1e-12, atol=1e-16)


class StepSGD(SGD):
    """SGD whose ``step`` is overridden (to count), so the trainer must call it."""

    def __init__(self):
        self.steps = 0

    def step(self, theta, grad, lr):
        self.steps += 1
        super().step(theta, grad, lr)


def test_sgd_takes_the_scaled_gradient_shortcut_only_with_its_own_step():
    assert SGD().scaled_step() is not None
    assert StepSGD().scaled_step() is None
    assert Momentum().scaled_step() is None and Adam().scaled_step() is None
    theta, grad = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    SGD().scaled_step()(theta, 0.1 * grad)
    np.testing.assert_allclose(theta, [0.95, 2.1])


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_sgd_shortcut_trains_like_the_plain_step(l2):
    shortcut, _ = fit_digits_like(optimizer=SGD(), l2=l2)
    opt = StepSGD()
    plain, _ = fit_digits_like(optimizer=opt, l2=l2)
    assert opt.steps == 3 * 38  # 300 rows in batches of 8
    np.testing.assert_allclose(_kernels.get_state(shortcut), _kernels.get_state(plain),
                               rtol=1e-10, atol=1e-13)


def test_training_batches_carry_a_column_of_ones(monkeypatch):
    X = rng.normal(size=(30, 4))
    Y = np.eye(2)[rng.integers(0, 2, 30)]
    for copy_bytes in (1 << 24, 0):  # one shuffled copy per epoch; rows gathered per batch
        monkeypatch.setattr(training, "SHUFFLE_COPY_BYTES", copy_bytes)
        batches = training._Batches(X, Y, 8)
        seen = []
        for xb, yb in batches(np.random.default_rng(0)):
            assert xb.shape == (len(yb), 5) and (xb[:, -1] == 1).all()
            seen.append(np.hstack([xb[:, :-1], yb]))
        assert [len(s) for s in seen] == [8, 8, 8, 6]
        rows, expected = np.vstack(seen), np.hstack([X, Y])
        sort = np.lexsort  # every row exactly once, in some order
        np.testing.assert_array_equal(rows[sort(rows.T)], expected[sort(expected.T)])
    whole = training._Batches(X, Y, 30)
    assert [xb is X for xb, _ in whole(np.random.default_rng(0))] == [True]  # batch GD: X itself


def test_diagnostic_fractions_and_norms_equal_numpys():
    a = rng.normal(size=(7, 5)).astype(np.float32)
    assert training._norm(a) == float(np.linalg.norm(a))
    assert training._fraction(a > 0.3) == float(np.mean(a > 0.3))
