"""Tests for hpstudy.nn.gradcheck: the full table passes, and the check can fail."""

from __future__ import annotations

import io

import numpy as np
import pytest

from hpstudy.nn import Network
from hpstudy.nn.gradcheck import (
    TABLE_REGULARIZERS,
    build_case,
    check_network,
    format_table,
    kink_straddles,
    main,
    numeric_gradients,
    run_case,
    table_cases,
    value_network_loss,
)

CASES = table_cases()


@pytest.mark.parametrize(
    ("index", "activation", "loss", "regularizer"),
    [(i, *case) for i, case in enumerate(CASES)],
    ids=["-".join(case) for case in CASES],
)
def test_gradcheck_table_row_passes(index, activation, loss, regularizer):
    record = run_case(activation, loss, regularizer, seed=[0, index])
    assert record["passed"], record
    assert record["skipped"] == 0
    assert record["max_rel_error_value"] < 1e-12


def test_table_covers_every_activation_loss_and_regularizer():
    assert len(CASES) == 60
    assert {c[0] for c in CASES} == {"sigmoid", "relu", "leaky_relu", "tanh", "identity"}
    assert {c[1] for c in CASES} == {"mse", "cross_entropy", "binary_cross_entropy"}
    assert {c[2] for c in CASES} == {"none", "l1", "l2", "elastic"}


def test_main_prints_the_table_and_returns_zero():
    out = io.StringIO()
    assert main(seed=0, stream=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[-1] == "60 passed, 0 failed"
    assert len(lines) == 2 + 60 + 1  # header, rule, rows, summary


def corrupt(monkeypatch, net, change):
    """Replace ``net.gradients`` with one whose output is passed through ``change``."""
    original = net.gradients

    def gradients(X, Y, loss="cross_entropy", l1=0.0, l2=0.0):
        return change(*original(X, Y, loss=loss, l1=l1, l2=l2), l1, l2)

    monkeypatch.setattr(net, "gradients", gradients)


def test_check_fails_when_a_gradient_entry_is_perturbed(monkeypatch):
    net, X, Y, l1, l2 = build_case("tanh", "cross_entropy", "none", seed=1)
    assert check_network(net, X, Y, loss="cross_entropy").passed

    def perturb(loss, grads, l1, l2):
        grads[2][1, 0] += 1e-4
        return loss, grads

    corrupt(monkeypatch, net, perturb)
    result = check_network(net, X, Y, loss="cross_entropy")
    assert not result.passed
    assert result.max_rel_error_numeric > 1e-5
    assert result.max_rel_error_value > 1e-5
    assert result.max_abs_error_value == pytest.approx(1e-4, rel=1e-6)
    by_name = {p.name: p for p in result.parameters}
    assert by_name["W2"].max_abs_error_value == pytest.approx(1e-4, rel=1e-6)
    assert by_name["W1"].max_rel_error_value < 1e-12


def test_check_fails_when_the_l2_gradient_is_missing(monkeypatch):
    net, X, Y, l1, l2 = build_case("relu", "mse", "l2", seed=2)

    def drop_l2(loss, grads, l1, l2):
        for i in range(0, len(grads), 2):
            grads[i] -= 2 * l2 * net.parameters()[i]
        return loss, grads

    corrupt(monkeypatch, net, drop_l2)
    assert not check_network(net, X, Y, loss="mse", l1=l1, l2=l2).passed


def test_check_fails_when_the_loss_value_is_wrong(monkeypatch):
    # A constant offset leaves every gradient (and central difference) intact; only the
    # comparison with the Value engine's loss can see it.
    net, X, Y, _, _ = build_case("sigmoid", "binary_cross_entropy", seed=3)
    corrupt(monkeypatch, net, lambda loss, grads, l1, l2: (loss + 1e-3, grads))
    result = check_network(net, X, Y, loss="binary_cross_entropy")
    assert not result.passed
    assert result.loss_rel_error > 1e-5
    assert result.max_rel_error_numeric < 1e-6 and result.max_rel_error_value < 1e-12


@pytest.mark.parametrize("regularizer", TABLE_REGULARIZERS)
@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky_relu"])
def test_value_network_loss_equals_network_loss(activation, loss, regularizer):
    net, X, Y, l1, l2 = build_case(activation, loss, regularizer, seed=4)
    expected, grads = net.gradients(X, Y, loss=loss, l1=l1, l2=l2)
    total, weight_values, bias_values = value_network_loss(
        [layer.W for layer in net.layers], [layer.b for layer in net.layers],
        [layer.activation.name for layer in net.layers], loss, X, Y, l1=l1, l2=l2,
    )
    assert total.data == pytest.approx(expected, rel=0, abs=1e-12)
    total.backward()
    W1_grad = np.array([[v.grad for v in row] for row in weight_values[0]])
    np.testing.assert_allclose(W1_grad, grads[0], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose([v.grad for v in bias_values[-1]], grads[-1], atol=1e-14)


def test_value_network_loss_hand_worked():
    # One identity unit: ŷ = 2·3 + 1 = 7, y = 5, L = (7 − 5)² + 0.5·|2| + 0.25·2² = 6;
    # dL/dW = 2(ŷ − y)·x + 0.5·sign(W) + 2·0.25·W = 12 + 0.5 + 1 = 13.5, dL/db = 2(ŷ − y) = 4.
    total, W, b = value_network_loss(
        [np.array([[2.0]])], [np.array([1.0])], ["identity"], "mse", [[3.0]], [[5.0]],
        l1=0.5, l2=0.25,
    )
    total.backward()
    assert total.data == 6.0
    assert W[0][0][0].grad == 13.5
    assert b[0][0].grad == 4.0


def test_value_network_loss_cross_entropy_hand_worked():
    # z = [0, ln 3] for the one row, p = [1/4, 3/4], y = [0, 1]: L = −ln(3/4); dL/db = p − y.
    total, _, b = value_network_loss(
        [np.zeros((1, 2))], [np.array([0.0, np.log(3.0)])], ["softmax"], "cross_entropy",
        [[1.0]], [[0.0, 1.0]],
    )
    total.backward()
    assert total.data == pytest.approx(-np.log(0.75))
    assert [v.grad for v in b[0]] == pytest.approx([0.25, -0.25])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"activations": ["relu", "swish"]}, ValueError, "valid names: .*identity.*tanh"),
        ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'; valid names"),
        ({"activations": ["relu", "identity"]}, ValueError, "needs output activation 'softmax'"),
        ({"Y": np.zeros((4, 2))}, ValueError, r"Y must have shape \(5, 2\)"),
        ({"X": np.zeros((5, 4))}, ValueError, r"layer 1: W must be \(fan_in=4"),
        ({"biases": [np.zeros(3)]}, ValueError, "one entry per layer"),
        ({"X": np.ones(3)}, ValueError, r"X must be a 2-D array"),
        ({"l1": -0.1}, ValueError, "l1 must be >= 0"),
        ({"l2": "big"}, TypeError, "l2 must be a number"),
    ],
)
def test_value_network_loss_rejects_bad_arguments(kwargs, error, match):
    args = {
        "weights": [np.ones((3, 3)), np.ones((3, 2))],
        "biases": [np.zeros(3), np.zeros(2)],
        "activations": ["relu", "softmax"],
        "loss": "cross_entropy",
        "X": np.ones((5, 3)),
        "Y": np.eye(2)[[0, 1, 0, 1, 0]],
    } | kwargs
    with pytest.raises(error, match=match):
        value_network_loss(**args)


def test_float32_network_is_rejected():
    net = Network.mlp([3, 4, 2], dtype="float32")
    X, Y = np.ones((2, 3)), np.eye(2)
    with pytest.raises(ValueError, match=r'float32.*dtype="float64"'):
        check_network(net, X, Y)
    with pytest.raises(ValueError, match="float64"):
        numeric_gradients(net, X, Y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"eps": 0.0}, "eps must be"), ({"rtol": -1.0}, "rtol must be"), ({"atol": "x"}, "atol")],
)
def test_check_network_rejects_bad_tolerances(kwargs, match):
    net, X, Y, _, _ = build_case("tanh", "cross_entropy", seed=0)
    with pytest.raises(ValueError, match=match):
        check_network(net, X, Y, **kwargs)


def test_numeric_gradients_restore_parameters_exactly(monkeypatch):
    net, X, Y, _, _ = build_case("relu", "cross_entropy", seed=5)
    before = [p.copy() for p in net.parameters()]
    numeric_gradients(net, X, Y)
    for p, q in zip(net.parameters(), before, strict=True):
        np.testing.assert_array_equal(p, q)
    calls = {"n": 0}
    original = net.gradients

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        return original(*args, **kwargs)

    monkeypatch.setattr(net, "gradients", failing)
    with pytest.raises(RuntimeError, match="boom"):
        numeric_gradients(net, X, Y)
    for p, q in zip(net.parameters(), before, strict=True):
        np.testing.assert_array_equal(p, q)


def relu_net_on_a_kink(offset):
    """A relu network whose hidden unit 0 has pre-activation ``offset`` on row 0."""
    net, X, Y, _, _ = build_case("relu", "cross_entropy", seed=6)
    W1, b1 = net.parameters()[:2]
    b1[0] = offset - X[0] @ W1[:, 0]
    return net, X, Y


def test_entries_straddling_a_relu_kink_are_skipped():
    net, X, Y = relu_net_on_a_kink(1e-8)
    masks = kink_straddles(net, X, eps=1e-6)
    assert masks[1][0]  # b1[0] moves the pre-activation across 0
    grads = net.gradients(X, Y)[1]
    numeric = numeric_gradients(net, X, Y)
    # The central difference there is half-way between the two one-sided slopes: wrong.
    assert abs(numeric[1][0] - grads[1][0]) > 1e-4
    result = check_network(net, X, Y)
    assert result.passed
    assert result.n_skipped == sum(int(m.sum()) for m in masks) > 0
    assert result.max_rel_error_value < 1e-12


def test_l1_kink_of_a_weight_near_zero_is_skipped():
    net, X, Y, l1, l2 = build_case("tanh", "mse", "l1", seed=7)
    net.parameters()[2][0, 0] = 1e-8
    result = check_network(net, X, Y, loss="mse", l1=l1, l2=l2)
    assert result.passed
    assert {p.name: p.n_skipped for p in result.parameters}["W2"] == 1


def test_format_table_aligns_columns_and_summarises():
    base = {
        "activation": "relu", "loss": "mse", "output": "identity", "regularizer": "none",
        "max_abs_error_numeric": 1e-10, "max_rel_error_numeric": 2e-8,
        "max_abs_error_value": 1e-16, "max_rel_error_value": 3e-15, "passed": True,
    }
    failed = base | {"activation": "leaky_relu", "max_rel_error_value": 0.5, "passed": False}
    text = format_table([base, failed])
    lines = text.splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    assert "FAIL" in lines[3] and lines[2].endswith("ok")
    assert lines[0].startswith("activation")
    assert lines[2].index("mse") == lines[3].index("mse") == lines[0].index("loss")
    assert "5.0e-01" in lines[3]


def test_main_returns_one_when_a_case_fails(monkeypatch):
    import hpstudy.nn.gradcheck as gradcheck

    record = {
        "activation": "relu", "loss": "mse", "output": "identity", "regularizer": "none",
        "max_abs_error_numeric": 1.0, "max_rel_error_numeric": 1.0,
        "max_abs_error_value": 1.0, "max_rel_error_value": 1.0, "passed": False,
    }
    monkeypatch.setattr(gradcheck, "run_gradcheck_table", lambda seed=0: [record])
    out = io.StringIO()
    assert main(stream=out) == 1
    assert out.getvalue().endswith("0 passed, 1 failed\n")
