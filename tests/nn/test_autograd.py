"""Tests for the scalar autodiff engine: every op against central differences, plus hand checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpstudy.nn.autograd import (
    Value,
    as_value,
    log_softmax,
    logsumexp,
    softmax,
    value_mean,
    value_sum,
)

EPS = 1e-6
GENERAL = (-2.3, -0.7, 0.4, 1.9)
POSITIVE = (0.3, 1.1, 2.7)

# name -> (function of one Value, points). Points avoid kinks (relu, leaky_relu, abs at 0).
UNARY = {
    "neg": (lambda a: -a, GENERAL),
    "abs": (lambda a: abs(a), GENERAL),
    "exp": (lambda a: a.exp(), GENERAL),
    "log": (lambda a: a.log(), POSITIVE),
    "tanh": (lambda a: a.tanh(), GENERAL),
    "sigmoid": (lambda a: a.sigmoid(), GENERAL + (-30.0, 30.0)),
    "softplus": (lambda a: a.softplus(), GENERAL + (-30.0, 30.0)),
    "relu": (lambda a: a.relu(), GENERAL),
    "leaky_relu": (lambda a: a.leaky_relu(), GENERAL),
    "leaky_relu_0.2": (lambda a: a.leaky_relu(alpha=0.2), GENERAL),
    "pow2": (lambda a: a**2, GENERAL),
    "pow3": (lambda a: a**3, GENERAL),
    "pow-1": (lambda a: a**-1, GENERAL),
    "pow0.5": (lambda a: a**0.5, POSITIVE),
    "pow-1.5": (lambda a: a**-1.5, POSITIVE),
    "pow0": (lambda a: a**0, GENERAL),
    "radd": (lambda a: 3.0 + a, GENERAL),
    "rsub": (lambda a: 3.0 - a, GENERAL),
    "rmul": (lambda a: -1.5 * a, GENERAL),
    "rtruediv": (lambda a: 3.0 / a, GENERAL),
    "add_const": (lambda a: a + 2, GENERAL),
    "sub_const": (lambda a: a - 2, GENERAL),
    "mul_const": (lambda a: a * 2, GENERAL),
    "div_const": (lambda a: a / 4, GENERAL),
}

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
}
PAIRS = ((1.3, -0.6), (-2.1, 0.8), (0.5, 2.5))

# Sequence helpers reduced to a scalar with fixed weights so every output's gradient counts.
WEIGHTS = (0.7, -1.2, 0.4)
SEQUENCE = {
    "value_sum": lambda vs: value_sum(vs),
    "value_mean": lambda vs: value_mean(vs),
    "logsumexp": lambda vs: logsumexp(vs),
    "softmax": lambda vs: value_sum(w * s for w, s in zip(WEIGHTS, softmax(vs), strict=True)),
    "log_softmax": lambda vs: value_sum(
        w * s for w, s in zip(WEIGHTS, log_softmax(vs), strict=True)
    ),
}
VECTORS = ((0.2, -1.0, 1.5), (300.0, 301.0, 299.5), (-4.0, -4.0, 2.0))


def central_difference(f, xs, i, eps=EPS):
    """``(f(x + eps e_i) − f(x − eps e_i)) / 2eps`` with ``f`` evaluated through Values."""
    up, down = list(xs), list(xs)
    up[i] += eps
    down[i] -= eps
    return (f(*map(Value, up)).data - f(*map(Value, down)).data) / (2 * eps)


def analytic(f, xs):
    """Return ``(f(xs).data, [d f / d x_i])`` from the engine."""
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


def assert_matches_numeric(f, xs):
    _, grads = analytic(f, xs)
    for i, g in enumerate(grads):
        assert g == pytest.approx(central_difference(f, xs, i), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize(
    ("name", "x"), [(name, x) for name, (_, points) in UNARY.items() for x in points]
)
def test_unary_gradient_matches_central_difference(name, x):
    assert_matches_numeric(UNARY[name][0], (x,))


@pytest.mark.parametrize("xs", PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_gradient_matches_central_difference(name, xs):
    assert_matches_numeric(BINARY[name], xs)


@pytest.mark.parametrize("xs", VECTORS, ids=str)
@pytest.mark.parametrize("name", SEQUENCE)
def test_sequence_helper_gradient_matches_central_difference(name, xs):
    assert_matches_numeric(lambda *vs: SEQUENCE[name](vs), xs)


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (lambda a: a + 1, 3.5),
        (lambda a: 1 + a, 3.5),
        (lambda a: a - 1, 1.5),
        (lambda a: 1 - a, -1.5),
        (lambda a: a * 2, 5.0),
        (lambda a: 2 * a, 5.0),
        (lambda a: a / 2, 1.25),
        (lambda a: 2 / a, 0.8),
        (lambda a: np.float64(2.0) * a, 5.0),
        (lambda a: np.float32(1.0) + a, 3.5),
    ],
)
def test_reflected_and_constant_forms_compute_the_right_value(f, expected):
    out = f(Value(2.5))
    assert isinstance(out, Value)
    assert out.data == pytest.approx(expected)


def test_composite_expression_hand_checked():
    # f = (x·y + y²) / x at x = 2, y = 3: f = 15/2;
    # df/dx = y/x − (x·y + y²)/x² = 3/2 − 15/4 = −2.25;  df/dy = (x + 2y)/x = 4.
    x, y = Value(2.0), Value(3.0)
    f = (x * y + y**2) / x
    f.backward()
    assert f.data == 7.5
    assert x.grad == pytest.approx(-2.25)
    assert y.grad == pytest.approx(4.0)


def test_neuron_hand_checked():
    # o = tanh(w1·x1 + w2·x2 + b) with n = 0.8813735870195432 (tanh(n) = 1/√2):
    # do/dn = 1 − 1/2 = 0.5, so do/dw1 = 0.5·x1, do/dx2 = 0.5·w2.
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    assert o.data == pytest.approx(1 / math.sqrt(2))
    assert w1.grad == pytest.approx(1.0)
    assert x1.grad == pytest.approx(-1.5)
    assert x2.grad == pytest.approx(0.5)
    assert w2.grad == pytest.approx(0.0)
    assert b.grad == pytest.approx(0.5)


def test_log_of_exp_plus_one_hand_checked():
    # g = ln(e^x + 1) at x = 0: ln 2, dg/dx = e^x / (e^x + 1) = 1/2.
    x = Value(0.0)
    g = (x.exp() + 1).log()
    g.backward()
    assert g.data == pytest.approx(math.log(2))
    assert x.grad == pytest.approx(0.5)


def test_node_used_twice_accumulates_gradient():
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0  # d(a²)/da = 2a
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    # A shared intermediate: e = 2a, f = e² + e, df/da = (2e + 1)·2 = 26 at a = 3.
    a = Value(3.0)
    e = a * 2
    f = e * e + e
    f.backward()
    assert a.grad == 26.0
    assert e.grad == 13.0


def test_deep_chain_backward_does_not_recurse():
    x = Value(1.0)
    y = x
    for _ in range(5000):
        y = y + x
    y = y.tanh() * 0 + y  # a few more ops on top of the chain
    y.backward()
    assert y.data == 5001.0
    assert x.grad == 5001.0


def test_deep_chain_of_multiplications():
    x = Value(1.0)
    y = Value(1.0)
    for _ in range(4000):
        y = y * 1.0001 + x * 0.0
    y = y * x
    y.backward()
    assert x.grad == pytest.approx(1.0001**4000)


def test_backward_twice_gives_the_same_gradients_and_zero_grad_resets():
    x = Value(2.0)
    y = (x * x) * 1.0
    y.backward()
    y.backward()
    assert x.grad == 4.0
    y.zero_grad()
    assert x.grad == 0.0 and y.grad == 0.0
    y.backward()
    assert x.grad == 4.0


@pytest.mark.parametrize("x", [0.0, -1.0, -1e-300])
def test_log_of_non_positive_raises_naming_the_value(x):
    with pytest.raises(ValueError, match=r"log needs a positive Value.*" + re_float(x)):
        Value(x).log()


def re_float(x):
    return repr(x).replace(".", r"\.").replace("-", r"\-")


def test_power_by_value_is_a_type_error():
    with pytest.raises(TypeError, match="exponent must be a constant"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError, match="constant power"):
        2 ** Value(3.0)
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** "3"


def test_power_outside_the_reals_is_a_value_error():
    with pytest.raises(ValueError, match="not a real number"):
        Value(-8.0) ** 0.5
    with pytest.raises(ValueError, match="not a real number"):
        Value(0.0) ** -1
    assert (Value(-2.0) ** 3).data == -8.0


def test_division_by_zero_raises():
    with pytest.raises(ZeroDivisionError, match="data 0.0"):
        Value(1.0) / Value(0.0)
    with pytest.raises(ZeroDivisionError):
        1.0 / Value(0.0)


def test_data_must_be_a_real_number():
    assert type(Value(3).data) is float
    assert type(Value(np.float32(0.5)).data) is float
    with pytest.raises(TypeError, match="data must be a real number"):
        Value("1.0")
    with pytest.raises(TypeError, match="alpha"):
        Value(1.0).leaky_relu(alpha="x")
    with pytest.raises(TypeError):
        Value(1.0) + "a"


def test_exp_overflow_names_the_value():
    with pytest.raises(OverflowError, match="1000"):
        Value(1000.0).exp()


@pytest.mark.parametrize("x", [-1000.0, -40.0, 40.0, 1000.0])
def test_sigmoid_and_softplus_are_stable_for_large_inputs(x):
    v = Value(x)
    s = v.sigmoid()
    sp = v.softplus()
    (s + sp).backward()
    assert 0.0 <= s.data <= 1.0
    assert s.data == pytest.approx(1.0 if x > 0 else 0.0, abs=1e-15)
    assert sp.data == pytest.approx(max(x, 0.0), abs=1e-15)
    assert math.isfinite(v.grad)


def test_kink_conventions_match_the_network():
    # relu'(0) = 0, leaky_relu'(0) = alpha, |.|'(0) = 0, as in hpstudy.nn.activations.
    for f, expected in [
        (lambda a: a.relu(), 0.0),
        (lambda a: a.leaky_relu(0.1), 0.1),
        (lambda a: abs(a), 0.0),
    ]:
        a = Value(0.0)
        f(a).backward()
        assert a.grad == expected


def test_softmax_and_logsumexp_are_stable_and_correct():
    xs = [1000.0, 1001.0, 999.0]
    probs = [p.data for p in softmax(xs)]
    assert sum(probs) == pytest.approx(1.0)
    ref = np.exp(np.array(xs) - 1001.0)
    np.testing.assert_allclose(probs, ref / ref.sum(), rtol=1e-14)
    assert logsumexp(xs).data == pytest.approx(1001.0 + math.log(ref.sum()))
    np.testing.assert_allclose(
        [p.data for p in log_softmax(xs)], np.log(ref / ref.sum()), rtol=1e-13
    )


def test_sequence_helpers_reject_empty_input():
    assert value_sum([]).data == 0.0
    for helper in (value_mean, logsumexp, log_softmax, softmax):
        with pytest.raises(ValueError, match="at least one Value"):
            helper([])


def test_value_sum_counts_repeated_values():
    a = Value(2.0)
    s = value_sum([a, a, 3.0])
    s.backward()
    assert s.data == 7.0
    assert a.grad == 2.0


def test_as_value_and_repr():
    v = Value(1.5)
    assert as_value(v) is v
    assert as_value(2).data == 2.0
    assert repr(Value(1.5)) == "Value(data=1.5, grad=0.0)"
