"""The trainer: learning XOR and digits, reproducibility, batch sizes, dtypes, divergence, early
stopping, callbacks, diagnostics, and the shapes of predictions."""

from __future__ import annotations

import numpy as np
import pytest

from hpstudy.nn import ACTIVATIONS, Callback, DivergenceError, EarlyStopping, History, Network, _kernels
from hpstudy.nn.optimizers import SGD
from hpstudy.nn.training import metric_name


def blobs(n=60, seed=0, k=2, d=3):
    """``k`` well separated Gaussian blobs in ``d`` dimensions, one-hot targets."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    centres = rng.normal(0, 3, (k, d))
    X = centres[labels] + rng.normal(size=(n, d))
    return X, np.eye(k)[labels], labels


# -- learning ----------------------------------------------------------------------------------

def test_xor_learned_by_small_tanh_network():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    net = Network.mlp([2, 4, 2], activation="tanh", output="softmax", seed=0, dtype="float64")
    history = net.fit(X, np.eye(2)[y], loss="cross_entropy", epochs=300, batch_size="full",
                      learning_rate=0.5, optimizer="momentum", diagnostics=False)
    assert np.array_equal(net.predict(X), y)
    assert history.train_metric[-1] == 1.0
    assert history.train_loss[-1] < 0.1


def test_xor_with_single_sigmoid_output_and_binary_cross_entropy():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    net = Network.mlp([2, 4, 1], activation="tanh", output="sigmoid", seed=1, dtype="float64")
    net.fit(X, y[:, None], loss="binary_cross_entropy", epochs=300, batch_size=None,
            learning_rate=0.5, optimizer="momentum", diagnostics=False)
    assert np.array_equal(net.predict(X), y)


def test_digits_learned_to_high_test_accuracy():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = X / 16.0
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(X))
    train, test = perm[:1350], perm[1350:]
    net = Network.mlp([64, 64, 10], activation="relu", output="softmax", seed=0)
    history = net.fit(X[train], np.eye(10)[y[train]], epochs=30, batch_size=32, learning_rate=0.1,
                      optimizer="momentum", momentum=0.5, validation=(X[test], np.eye(10)[y[test]]))
    accuracy = np.mean(net.predict(X[test]) == y[test])
    assert accuracy >= 0.95
    assert history.val_metric[-1] == pytest.approx(accuracy)


def test_regression_learned_with_mse_and_identity_output():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2))
    Y = np.column_stack([np.sin(2 * X[:, 0]) + X[:, 1], X[:, 0] * X[:, 1]])
    net = Network.mlp([2, 16, 2], activation="tanh", output="identity", seed=0, dtype="float64")
    history = net.fit(X, Y, loss="mse", epochs=150, batch_size=16, learning_rate=0.01,
                      optimizer="adam", diagnostics=False)
    assert history.metric_name == "r2"
    assert history.train_metric[-1] > 0.9


# -- reproducibility ---------------------------------------------------------------------------

def train(seed, net_seed=0, **kwargs):
    X, Y, _ = blobs(80, seed=3)
    net = Network.mlp([3, 5, 2], activation="relu", seed=net_seed, dtype="float64")
    options = dict(epochs=5, batch_size=8, learning_rate=0.05, seed=seed) | kwargs
    history = net.fit(X, Y, validation=(X[:20], Y[:20]), **options)
    return net, history


def test_same_seed_gives_identical_history_and_weights():
    net_a, a = train(seed=1)
    net_b, b = train(seed=1)
    assert a.train_loss == b.train_loss and a.val_loss == b.val_loss
    assert a.train_metric == b.train_metric and a.diagnostics == b.diagnostics
    assert np.array_equal(_kernels.get_state(net_a), _kernels.get_state(net_b))


def test_different_seed_gives_different_history():
    _, a = train(seed=1)
    _, b = train(seed=2)  # other shuffling order
    _, c = train(seed=1, net_seed=5)  # other initial weights
    assert a.train_loss != b.train_loss
    assert a.train_loss != c.train_loss


# -- batch sizes -------------------------------------------------------------------------------

class CountingSGD(SGD):
    """Plain SGD that counts its steps."""

    def __init__(self):
        self.steps = 0

    def step(self, theta, grad, lr):
        self.steps += 1
        super().step(theta, grad, lr)


@pytest.mark.parametrize(("batch_size", "steps_per_epoch"), [
    (1, 10), (3, 4), (10, 1), (50, 1), (None, 1), ("full", 1),
])
def test_batch_size_gives_expected_steps_per_epoch(batch_size, steps_per_epoch):
    X, Y, _ = blobs(10)
    net = Network.mlp([3, 4, 2], seed=0)
    opt = CountingSGD()
    history = net.fit(X, Y, epochs=3, batch_size=batch_size, learning_rate=0.05, optimizer=opt)
    assert opt.steps == 3 * steps_per_epoch
    assert history.epochs == 3 and np.isfinite(history.train_loss).all()


@pytest.mark.parametrize("batch_size", [None, "full", 10])
def test_full_batch_epoch_is_one_gradient_step(batch_size):
    X, Y, _ = blobs(10)
    net = Network.mlp([3, 4, 2], activation="tanh", seed=0, dtype="float64")
    manual = Network.mlp([3, 4, 2], activation="tanh", seed=0, dtype="float64")
    for _ in range(2):
        loss, grads = manual.gradients(X, Y, l2=0.01)
        for p, g in zip(manual.parameters(), grads, strict=True):
            p -= 0.3 * g
    net.fit(X, Y, epochs=2, batch_size=batch_size, learning_rate=0.3, l2=0.01)
    np.testing.assert_allclose(_kernels.get_state(net), _kernels.get_state(manual), rtol=1e-12, atol=1e-15)


def test_mini_batch_epoch_visits_every_row_once():
    # With lr → a tiny value the epoch's mean batch loss equals the full-data loss.
    X, Y, _ = blobs(12)
    net = Network.mlp([3, 4, 2], seed=0, dtype="float64")
    loss, _ = net.gradients(X, Y)
    history = net.fit(X, Y, epochs=1, batch_size=5, learning_rate=1e-12)
    assert history.train_loss[0] == pytest.approx(loss, rel=1e-9)


# -- dtypes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_preserved_in_parameters_gradients_and_outputs(dtype):
    X, Y, _ = blobs(20)
    net = Network.mlp([3, 4, 2], seed=0, dtype=dtype)
    net.fit(X.astype(np.float64), Y, epochs=2, batch_size=4, learning_rate=0.05, optimizer="adam")
    want = np.dtype(dtype)
    assert net.dtype == want
    assert all(p.dtype == want for p in net.parameters())
    assert all(g.dtype == want for g in net.gradients(X, Y)[1])
    for X_in in (X.astype(np.float32), X.astype(np.float64), X.tolist()):
        assert net.forward(X_in).dtype == want
        assert net.predict_proba(X_in).dtype == want
    assert net.input_gradient(X).dtype == want and net.jacobian(X).dtype == want


def test_float32_and_float64_agree_closely():
    X, Y, _ = blobs(40)
    results = []
    for dtype in ("float32", "float64"):
        net = Network.mlp([3, 4, 2], activation="tanh", seed=0, dtype=dtype)
        history = net.fit(X, Y, epochs=3, batch_size=8, learning_rate=0.05)
        results.append(history.train_loss)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4)


# -- divergence --------------------------------------------------------------------------------

def regression_data(n=32):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([[1.0], [-2.0], [0.5]]) + 3.0


def test_divergence_raises_naming_the_epoch_and_keeps_weights_finite():
    X, Y = regression_data()
    net = Network.mlp([3, 8, 1], activation="relu", output="identity", seed=0)
    before = _kernels.get_state(net)
    with pytest.raises(DivergenceError, match=r"epoch 1\b") as info:
        net.fit(X, Y, loss="mse", epochs=5, batch_size=8, learning_rate=1e6)
    assert info.value.epoch == 1
    assert "non-finite" in info.value.cause or "inf" in info.value.cause or "nan" in info.value.cause
    assert all(np.isfinite(p).all() for p in net.parameters())
    np.testing.assert_array_equal(_kernels.get_state(net), before)  # the last finite state: the start


def test_divergence_after_good_epochs_restores_last_finite_weights():
    X, Y = regression_data()
    net = Network.mlp([3, 8, 1], activation="relu", output="identity", seed=0, dtype="float64")
    states = []

    def schedule(lr, epoch, epochs):  # two gentle epochs, then a huge step
        return 1e-3 if epoch < 2 else 1e8

    with pytest.raises(DivergenceError) as info:
        net.fit(X, Y, loss="mse", epochs=6, batch_size=8, learning_rate=1.0, schedule=schedule,
                callbacks=[lambda net, epoch, logs: states.append(_kernels.get_state(net))])
    assert info.value.epoch >= 3
    np.testing.assert_array_equal(_kernels.get_state(net), states[-1])
    assert np.isfinite(_kernels.get_state(net)).all()


# -- early stopping and callbacks --------------------------------------------------------------

def test_early_stopping_stops_and_restores_the_best_weights():
    X, Y, _ = blobs(60)
    flipped = Y[:, ::-1]  # validation labels are the opposite: val loss rises as training works
    net = Network.mlp([3, 6, 2], activation="tanh", seed=0, dtype="float64")
    states = {}

    def remember(net, epoch, logs):
        states[epoch] = _kernels.get_state(net)

    history = net.fit(X, Y, epochs=50, batch_size=10, learning_rate=0.1, validation=(X, flipped),
                      early_stopping=3, callbacks=[remember])
    best = int(np.argmin(history.val_loss)) + 1
    assert history.stopped_early
    assert history.best_epoch == best
    assert history.epochs == best + 3 < 50
    np.testing.assert_array_equal(_kernels.get_state(net), states[best])


def test_early_stopping_callback_monitors_train_loss_without_validation():
    X, Y, _ = blobs(40)
    net = Network.mlp([3, 4, 2], seed=0)
    stopper = EarlyStopping(patience=2, min_delta=1e9)  # nothing counts as an improvement
    history = net.fit(X, Y, epochs=20, batch_size=10, learning_rate=0.05, callbacks=[stopper])
    assert history.epochs == 3 and history.stopped_early and history.best_epoch == 1


def test_callback_returning_true_stops_training():
    X, Y, _ = blobs(30)
    net = Network.mlp([3, 4, 2], seed=0)
    seen = []

    def stop_at_three(net, epoch, logs):
        seen.append(logs)
        return epoch == 3

    history = net.fit(X, Y, epochs=10, batch_size=10, learning_rate=0.05, callbacks=[stop_at_three])
    assert history.epochs == 3
    assert [logs["epoch"] for logs in seen] == [1, 2, 3]
    for key in ("train_loss", "val_loss", "train_metric", "val_metric", "learning_rate",
                "layer1_grad_norm", "layer1_dead_fraction"):
        assert key in seen[0]


def test_exception_in_callback_propagates_unchanged():
    class Pruned(Exception):
        pass

    error = Pruned("stop this trial")

    class Pruner(Callback):
        def __init__(self):
            self.ended = False

        def on_epoch_end(self, net, epoch, logs):
            if epoch == 2:
                raise error

        def on_train_end(self, net, history):
            self.ended = True

    X, Y, _ = blobs(30)
    pruner = Pruner()
    with pytest.raises(Pruned) as info:
        Network.mlp([3, 4, 2], seed=0).fit(X, Y, epochs=5, learning_rate=0.05, callbacks=[pruner])
    assert info.value is error
    assert not pruner.ended


def test_callback_hooks_are_called_in_order():
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, net, settings):
            calls.append(("begin", settings["epochs"], settings["batch_size"]))

        def on_epoch_end(self, net, epoch, logs):
            calls.append(("epoch", epoch))

        def on_train_end(self, net, history):
            calls.append(("end", history.epochs))

    X, Y, _ = blobs(12)
    Network.mlp([3, 4, 2], seed=0).fit(X, Y, epochs=2, batch_size="full", callbacks=[Recorder()])
    assert calls == [("begin", 2, 12), ("epoch", 1), ("epoch", 2), ("end", 2)]


# -- history and diagnostics -------------------------------------------------------------------

def test_history_has_one_entry_per_epoch():
    X, Y, _ = blobs(40)
    net = Network.mlp([3, 5, 4, 2], seed=0)
    history = net.fit(X, Y, epochs=4, batch_size=8, learning_rate=0.05, validation=(X, Y))
    assert isinstance(history, History) and history.metric_name == "accuracy"
    for series in (history.train_loss, history.val_loss, history.train_metric, history.val_metric,
                   history.learning_rate, history.epoch_seconds, history.diagnostics):
        assert len(series) == 4
    grad_norms = history.layer_series("grad_norm")
    assert grad_norms.shape == (4, 3) and np.isfinite(grad_norms).all()
    dead = history.layer_series("dead_fraction")
    assert np.isfinite(dead[:, :2]).all() and np.isnan(dead[:, 2]).all()  # output layer: none


def test_diagnostics_can_be_switched_off():
    X, Y, _ = blobs(20)
    history = Network.mlp([3, 4, 2], seed=0).fit(X, Y, epochs=2, diagnostics=False)
    assert history.diagnostics == [{}, {}]


def last(history, key):
    return history.diagnostics[-1][key]


def test_dead_fraction_rises_with_large_negative_bias():
    X, Y, _ = blobs(40)
    healthy = Network.mlp([3, 8, 2], activation="relu", seed=0)
    dead = Network.mlp([3, 8, 2], activation="relu", seed=0)
    dead.parameters()[1][...] = -100.0
    h = healthy.fit(X, Y, epochs=1, learning_rate=0.01)
    d = dead.fit(X, Y, epochs=1, learning_rate=0.01)
    assert last(d, "layer1_dead_fraction") == 1.0
    assert last(h, "layer1_dead_fraction") < 0.5


def test_saturated_fraction_rises_with_large_sigmoid_weights():
    X, Y, _ = blobs(40)
    calm = Network.mlp([3, 8, 2], activation="sigmoid", seed=0)
    hot = Network.mlp([3, 8, 2], activation="sigmoid", seed=0)
    hot.parameters()[0][...] *= 100.0
    c = calm.fit(X, Y, epochs=1, learning_rate=0.01)
    s = hot.fit(X, Y, epochs=1, learning_rate=0.01)
    assert last(s, "layer1_saturated_fraction") > 0.8
    assert last(c, "layer1_saturated_fraction") < 0.3


def test_near_zero_fraction_rises_with_strong_l1():
    X, Y, _ = blobs(100, d=6)
    plain = Network.mlp([6, 16, 2], activation="tanh", seed=0, dtype="float64")
    sparse = Network.mlp([6, 16, 2], activation="tanh", seed=0, dtype="float64")
    p = plain.fit(X, Y, epochs=40, batch_size=20, learning_rate=0.02)
    s = sparse.fit(X, Y, epochs=40, batch_size=20, learning_rate=0.02, l1=0.05)
    near_zero = s.layer_series("near_zero_fraction")[:, 0]
    assert near_zero[-1] > near_zero[0] + 0.2  # rises during training
    assert near_zero[-1] > last(p, "layer1_near_zero_fraction") + 0.2
    assert last(s, "layer1_weight_norm") < last(p, "layer1_weight_norm")


# -- predictions -------------------------------------------------------------------------------

def test_softmax_predict_and_predict_proba_shapes():
    X = np.random.default_rng(0).normal(size=(7, 3))
    net = Network.mlp([3, 4, 5], output="softmax", seed=0)
    proba = net.predict_proba(X)
    assert proba.shape == (7, 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    pred = net.predict(X)
    assert pred.shape == (7,) and np.array_equal(pred, proba.argmax(axis=1))


def test_single_sigmoid_unit_gives_two_probability_columns():
    X = np.random.default_rng(0).normal(size=(7, 3))
    net = Network.mlp([3, 4, 1], output="sigmoid", seed=0)
    p = net.forward(X)[:, 0]
    proba = net.predict_proba(X)
    assert proba.shape == (7, 2)
    np.testing.assert_allclose(proba, np.column_stack([1 - p, p]))
    assert np.array_equal(net.predict(X), (p > 0.5).astype(int))


def test_multi_sigmoid_and_identity_outputs():
    X = np.random.default_rng(0).normal(size=(7, 3))
    multi = Network.mlp([3, 4, 3], output="sigmoid", seed=0)
    assert multi.predict_proba(X).shape == (7, 3)
    reg = Network.mlp([3, 4, 2], output="identity", seed=0)
    assert reg.predict(X).shape == (7, 2)
    with pytest.raises(ValueError, match="predict_proba"):
        reg.predict_proba(X)


def test_forward_of_an_empty_batch():
    net = Network.mlp([3, 4, 2], seed=0)
    assert net.forward(np.zeros((0, 3))).shape == (0, 2)


# -- what the history's numbers mean -----------------------------------------------------------

def test_train_loss_is_the_objective_at_the_weights_each_step_was_taken_at():
    # Batch gradient descent takes one step per epoch, so an epoch's train_loss is the objective
    # (data loss + penalty) at the weights the epoch started from: both terms at the same weights,
    # not the data loss before the step plus the penalty after it.
    X, Y, _ = blobs(20)
    net = Network.mlp([3, 6, 2], activation="tanh", seed=0, dtype="float64")
    penalties = {"l1": 0.02, "l2": 0.05}
    at_start = [net.gradients(X, Y, **penalties)[0]]

    def objective_at_end(net, epoch, logs):  # = at the start of the next epoch
        at_start.append(net.gradients(X, Y, **penalties)[0])

    history = net.fit(X, Y, epochs=3, batch_size="full", learning_rate=0.5, diagnostics=False,
                      callbacks=[objective_at_end], **penalties)
    np.testing.assert_allclose(history.train_loss, at_start[:3], rtol=1e-12)
    assert at_start[1] < at_start[0] - 0.01  # the weights (and penalty) did change


def test_mini_batch_train_loss_averages_each_batch_objective_by_rows():
    # With lr → 0 every step is taken at the starting weights: the epoch's mean batch objective
    # is then the full-data objective, penalty included once.
    X, Y, _ = blobs(12)
    net = Network.mlp([3, 4, 2], seed=0, dtype="float64")
    objective, _ = net.gradients(X, Y, l1=0.03, l2=0.07)
    history = net.fit(X, Y, epochs=1, batch_size=5, learning_rate=1e-12, l1=0.03, l2=0.07)
    assert history.train_loss[0] == pytest.approx(objective, rel=1e-9)


def test_r2_of_a_constant_target_follows_scikit_learn():
    # Zero weights and the constant as output bias predict a constant target exactly (and the
    # gradient is zero, so training keeps it so): R² = 1, as sklearn's r2_score says.
    X = np.random.default_rng(0).normal(size=(16, 3))
    Y = np.full((16, 1), 0.5)
    net = Network.mlp([3, 4, 1], activation="tanh", output="identity", seed=0, dtype="float64")
    for p in net.parameters():
        p[...] = 0.0
    net.parameters()[-1][...] = 0.5
    history = net.fit(X, Y, loss="mse", epochs=2, batch_size=4, learning_rate=0.1,
                      validation=(X[:5], Y[:5] + 1.0))
    assert history.metric_name == "r2"
    assert history.train_metric == [1.0, 1.0]
    assert history.val_metric == [0.0, 0.0]  # constant target, predictions off by 1


@pytest.mark.parametrize("output", sorted(ACTIVATIONS))
def test_metric_name_of_the_network_is_the_history_metric_name(output):
    X, Y, _ = blobs(12)
    net = Network.mlp([3, 4, 2], output=output, seed=0)
    history = net.fit(X, Y, loss="mse", epochs=1, diagnostics=False)
    assert metric_name(net) == history.metric_name
    assert history.metric_name == ("accuracy" if output in ("softmax", "sigmoid") else "r2")
