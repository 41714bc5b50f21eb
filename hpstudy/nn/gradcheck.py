"""Check the vectorised backpropagation of a small network two independent ways.

:func:`check_network` compares ``net.gradients(X, Y, ...)`` with

1. **central differences** of the network's own loss,
   ``∂L/∂θ_k ≈ (L(θ + ε e_k) − L(θ − ε e_k)) / 2ε`` (:func:`numeric_gradients`), and
2. the **scalar autodiff engine** :class:`~hpstudy.nn.autograd.Value`, which rebuilds the same
   network and loss from scalars and backpropagates through them (:func:`value_network_loss`).

Both comparisons use the element-wise relative error with an absolute floor

    rel_k = |a_k − b_k| / max(|a_k|, |b_k|, atol / rtol)

and pass when ``max_k rel_k ≤ rtol``; equivalently, every entry satisfies
``|a_k − b_k| ≤ max(atol, rtol · max(|a_k|, |b_k|))``. The floor keeps gradients that are
(nearly) zero — dead ReLU units, whose numeric estimate is rounding noise of order 1e-10 — from
producing huge ratios. The losses (network vs Value engine) are compared the same way.

Kinks. ``relu``, ``leaky_relu`` and the L1 term ``|W|`` are not differentiable at 0. With random
float64 data a pre-activation is exactly 0 with probability 0, but a central difference can
*straddle* a kink: the ±ε perturbation of one parameter flips the sign of some ReLU-family
pre-activation (or of the perturbed weight itself, under L1). Such entries are detected by
comparing the signs at θ + ε e_k and θ − ε e_k and are excluded from the numeric comparison
(counted in ``GradcheckResult.n_skipped``); the Value comparison, evaluated exactly at θ, keeps
every entry (both sides use the derivative conventions relu'(0) = 0, leaky_relu'(0) = α,
sign(0) = 0). :func:`run_gradcheck_table` additionally draws data whose kinked pre-activations
and (under L1) weights are at least ``KINK_MARGIN`` away from 0, so its checks skip nothing.
"""

from __future__ import annotations

import math
import numbers
import sys
from dataclasses import dataclass

import numpy as np

from hpstudy.nn._checks import check_choice
from hpstudy.nn.autograd import Value, log_softmax, softmax, value_mean, value_sum

__all__ = [
    "GradcheckResult",
    "ParameterCheck",
    "value_network_loss",
    "numeric_gradients",
    "check_network",
    "run_gradcheck_table",
    "format_table",
    "main",
]

#: activation name -> function of one Value (``alpha`` is the leaky_relu slope); softmax is
#: applied across a whole row instead (see :func:`_activate`).
_SCALAR_ACTIVATIONS = {
    "sigmoid": lambda v, alpha: v.sigmoid(),
    "relu": lambda v, alpha: v.relu(),
    "leaky_relu": lambda v, alpha: v.leaky_relu(alpha),
    "tanh": lambda v, alpha: v.tanh(),
    "identity": lambda v, alpha: v,
}
VALUE_ACTIVATIONS = (*_SCALAR_ACTIVATIONS, "softmax")
#: activations with a kink at 0 (not differentiable there)
KINKED_ACTIVATIONS = ("relu", "leaky_relu")

#: the table: hidden activations × (loss, its output activation, n_out) × regularisers
TABLE_ACTIVATIONS = ("sigmoid", "relu", "leaky_relu", "tanh", "identity")
TABLE_LOSSES = {
    "mse": ("identity", 2),
    "cross_entropy": ("softmax", 3),
    "binary_cross_entropy": ("sigmoid", 1),
}
TABLE_LAMBDA = 0.01
#: regulariser -> (l1, l2) at strength TABLE_LAMBDA (elastic = both, as in hpstudy.nn)
TABLE_REGULARIZERS = {
    "none": (0.0, 0.0),
    "l1": (TABLE_LAMBDA, 0.0),
    "l2": (0.0, TABLE_LAMBDA),
    "elastic": (TABLE_LAMBDA, TABLE_LAMBDA),
}
TABLE_HIDDEN = (4, 3)
TABLE_INPUTS = 3
TABLE_ROWS = 5
#: minimum distance from 0 of kinked pre-activations (and of weights under L1) in the table
KINK_MARGIN = 1e-3
_MAX_DRAWS = 100


# ============================================================================ results
@dataclass(frozen=True)
class ParameterCheck:
    """Errors for one parameter array (``W1``, ``b1``, ...), see the module docstring."""

    name: str
    shape: tuple[int, ...]
    max_abs_error_numeric: float
    max_rel_error_numeric: float
    max_abs_error_value: float
    max_rel_error_value: float
    n_skipped: int


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`check_network`.

    Attributes
    ----------
    passed : bool
        True when both comparisons and the loss comparison have ``max rel ≤ rtol``.
    max_abs_error_numeric, max_rel_error_numeric : float
        ``max_k |g_k − n_k|`` and ``max_k rel_k`` of backprop ``g`` against central
        differences ``n`` over all compared entries.
    max_abs_error_value, max_rel_error_value : float
        The same against the :class:`~hpstudy.nn.autograd.Value` engine's gradients.
    loss, value_loss : float
        The network's loss and the Value engine's loss; ``loss_rel_error`` their relative error.
    n_entries, n_skipped : int
        Parameter entries, and entries left out of the numeric comparison because their
        central difference straddles a kink.
    parameters : tuple of ParameterCheck
        Per-parameter errors, in the order of ``net.parameters()``.
    """

    passed: bool
    max_abs_error_numeric: float
    max_rel_error_numeric: float
    max_abs_error_value: float
    max_rel_error_value: float
    loss: float
    value_loss: float
    loss_rel_error: float
    n_entries: int
    n_skipped: int
    rtol: float
    atol: float
    parameters: tuple[ParameterCheck, ...]


# ============================================================================ Value network
def value_network_loss(weights, biases, activations, loss, X, Y, l1=0.0, l2=0.0,
                       leaky_alpha=0.01):
    """Build a dense network and its loss from :class:`~hpstudy.nn.autograd.Value` scalars.

    Layer l computes ``z = a W_l + b_l`` and ``a = f_l(z)`` (softmax across the row); the loss is
    ``mean data loss + l1·Σ|W| + l2·ΣW²`` over the weight matrices, with

    - ``mse``: ``1/(n·k) Σ (ŷ − y)²`` over all elements,
    - ``cross_entropy``: ``−1/n Σ_i Σ_j y_ij log softmax(z_i)_j`` (stable log-softmax; needs a
      softmax output),
    - ``binary_cross_entropy``: ``1/(n·k) Σ [y·softplus(−z) + (1 − y)·softplus(z)]``, which is
      ``−[y log σ(z) + (1 − y) log(1 − σ(z))]`` in stable form (needs a sigmoid output).

    Parameters
    ----------
    weights : list of ndarray
        ``weights[l]`` of shape (fan_in, fan_out).
    biases : list of ndarray
        ``biases[l]`` of shape (fan_out,).
    activations : list of str
        One name per layer, the last is the output: sigmoid relu leaky_relu tanh softmax identity.
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
    X : array_like, shape (n, n_in)
    Y : array_like, shape (n, n_out), or (n,) when n_out = 1
    l1, l2 : float, default 0.0
        Non-negative regularisation strengths.
    leaky_alpha : float, default 0.01
        Slope of leaky_relu for negative inputs.

    Returns
    -------
    total : Value
        The loss; call ``total.backward()`` to fill the ``grad`` of the Values below.
    weight_values : list of list of list of Value
        ``weight_values[l][i][j]`` is the Value of ``weights[l][i, j]``.
    bias_values : list of list of Value
        ``bias_values[l][j]`` is the Value of ``biases[l][j]``.
    """
    X, Y = _check_value_network(weights, biases, activations, loss, X, Y)
    l1, l2 = _non_negative("l1", l1), _non_negative("l2", l2)
    weight_values = [[[Value(w) for w in row] for row in W.tolist()] for W in weights]
    bias_values = [[Value(b) for b in np.asarray(bias, dtype=float).tolist()] for bias in biases]
    z_rows = [
        _forward_row(x, weight_values, bias_values, activations, leaky_alpha) for x in X.tolist()
    ]
    total = _DATA_LOSSES[loss](z_rows, Y.tolist(), activations[-1], leaky_alpha)
    all_weights = [w for grid in weight_values for row in grid for w in row]
    if l1:
        total = total + l1 * value_sum(abs(w) for w in all_weights)
    if l2:
        total = total + l2 * value_sum(w * w for w in all_weights)
    return total, weight_values, bias_values


def _check_value_network(weights, biases, activations, loss, X, Y):
    """Validate the arguments of :func:`value_network_loss`; return ``X``, ``Y`` as 2-D floats."""
    if not (len(weights) == len(biases) == len(activations) >= 1):
        raise ValueError(
            "weights, biases and activations must have one entry per layer (at least one), got "
            f"{len(weights)}, {len(biases)} and {len(activations)}"
        )
    check_choice("loss", loss, _DATA_LOSSES)
    if np.ndim(X) != 2:
        raise ValueError(f"X must be a 2-D array (n, n_in), got shape {np.shape(X)}")
    fan_in = np.shape(X)[1]
    for l, (W, b, name) in enumerate(zip(weights, biases, activations, strict=True), start=1):
        check_choice(f"activations[{l - 1}]", name, VALUE_ACTIVATIONS)
        if np.ndim(W) != 2 or np.shape(b) != (np.shape(W)[1],) or np.shape(W)[0] != fan_in:
            raise ValueError(
                f"layer {l}: W must be (fan_in={fan_in}, fan_out) and b (fan_out,), "
                f"got W {np.shape(W)} and b {np.shape(b)}"
            )
        fan_in = np.shape(W)[1]
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.shape != (len(X), fan_in):
        raise ValueError(f"Y must have shape ({len(X)}, {fan_in}), got {Y.shape}")
    return X, Y


def _non_negative(argument: str, value) -> float:
    """Return ``value`` as a float, or raise unless it is a real number ``>= 0``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a number >= 0, got {value!r}")
    if not value >= 0:
        raise ValueError(f"{argument} must be >= 0, got {value!r}")
    return float(value)


def _activate(z: list[Value], name: str, alpha: float) -> list[Value]:
    """Apply activation ``name`` to one row of pre-activations (softmax across the row)."""
    if name == "softmax":
        return softmax(z)
    f = _SCALAR_ACTIVATIONS[name]
    return [f(v, alpha) for v in z]


def _forward_row(x, weight_values, bias_values, activations, alpha) -> list[Value]:
    """Pre-activations ``z`` of the last layer for one input row ``x`` (list of floats)."""
    a = x
    for l, (W, b) in enumerate(zip(weight_values, bias_values, strict=True)):
        z = [
            value_sum([W[i][j] * a[i] for i in range(len(a))] + [b[j]]) for j in range(len(b))
        ]
        if l == len(weight_values) - 1:
            return z
        a = _activate(z, activations[l], alpha)
    raise AssertionError("unreachable: the network has at least one layer")


def _mse(z_rows, Y, output, alpha) -> Value:
    """``1/(n·k) Σ (f(z) − y)²`` over all elements."""
    terms = [
        (y_hat - y) ** 2
        for z, ys in zip(z_rows, Y, strict=True)
        for y_hat, y in zip(_activate(z, output, alpha), ys, strict=True)
    ]
    return value_mean(terms)


def _cross_entropy(z_rows, Y, output, alpha) -> Value:
    """``−1/n Σ_i Σ_j y_ij log softmax(z_i)_j`` (softmax output only)."""
    _require_output("cross_entropy", "softmax", output)
    per_row = [
        -value_sum(y * lp for y, lp in zip(ys, log_softmax(z), strict=True))
        for z, ys in zip(z_rows, Y, strict=True)
    ]
    return value_mean(per_row)


def _binary_cross_entropy(z_rows, Y, output, alpha) -> Value:
    """``1/(n·k) Σ [y·softplus(−z) + (1 − y)·softplus(z)]`` (sigmoid output only)."""
    _require_output("binary_cross_entropy", "sigmoid", output)
    terms = [
        y * (-v).softplus() + (1.0 - y) * v.softplus()
        for z, ys in zip(z_rows, Y, strict=True)
        for v, y in zip(z, ys, strict=True)
    ]
    return value_mean(terms)


def _require_output(loss: str, needed: str, output: str) -> None:
    if output != needed:
        raise ValueError(f"loss {loss!r} needs output activation {needed!r}, got {output!r}")


#: loss name -> function (z rows of the last layer, Y rows, output activation, alpha) -> Value
_DATA_LOSSES = {
    "mse": _mse,
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
}


# ============================================================================ network side
def _check_float64(net) -> None:
    """Raise ValueError unless every parameter of ``net`` is float64."""
    dtypes = sorted({p.dtype.name for p in net.parameters()})
    if dtypes != ["float64"]:
        raise ValueError(
            f"net must be a float64 network for a gradient check, its parameters are "
            f"{'/'.join(dtypes)}; build it with Network.mlp(..., dtype=\"float64\")"
        )


def _each_entry(net, eps: float, evaluate) -> list[list[tuple]]:
    """Evaluate ``evaluate()`` at ``θ + ε e_k`` and ``θ − ε e_k`` for every parameter entry k.

    The live arrays of ``net.parameters()`` are perturbed in place and restored exactly (also
    when ``evaluate`` raises). Returns, per parameter and in C order of its entries,
    ``(f(θ + ε e_k), f(θ − ε e_k), step)`` where ``step = (θ_k + ε) − (θ_k − ε)`` as stored.
    """
    results = []
    for p in net.parameters():
        rows = []
        for idx in np.ndindex(p.shape):
            orig = p[idx]
            try:
                p[idx] = orig + eps
                up, f_up = p[idx], evaluate()
                p[idx] = orig - eps
                down, f_down = p[idx], evaluate()
            finally:
                p[idx] = orig
            rows.append((f_up, f_down, float(up - down)))
        results.append(rows)
    return results


def numeric_gradients(net, X, Y, loss="cross_entropy", l1=0.0, l2=0.0, eps=1e-6):
    """Central-difference estimate of ``dL/dθ`` for every parameter of ``net``.

    ``g_k = (L(θ + ε e_k) − L(θ − ε e_k)) / ((θ_k + ε) − (θ_k − ε))`` with ``L`` the first
    return value of ``net.gradients(X, Y, loss, l1, l2)``; the denominator is the step actually
    stored (≈ 2ε), which removes the rounding of ``θ_k ± ε``. Error O(ε²) + O(u·|L|/ε) for
    float64 rounding u ≈ 1.1e-16. Parameters are restored exactly afterwards.

    Returns
    -------
    list of ndarray
        Same order and shapes as ``net.parameters()``.
    """
    _check_float64(net)
    if not (isinstance(eps, numbers.Real) and eps > 0):
        raise ValueError(f"eps must be a number > 0, got {eps!r}")

    def evaluate():
        return net.gradients(X, Y, loss=loss, l1=l1, l2=l2)[0]

    return [
        np.array([(up - down) / step for up, down, step in rows]).reshape(p.shape)
        for p, rows in zip(net.parameters(), _each_entry(net, eps, evaluate), strict=True)
    ]


def _numpy_activation(name: str, z: np.ndarray, alpha: float) -> np.ndarray:
    """The activation ``name`` applied to pre-activations ``z`` (n, units) with NumPy."""
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    functions = {
        "sigmoid": lambda: 0.5 * (1.0 + np.tanh(0.5 * z)),
        "relu": lambda: np.maximum(z, 0.0),
        "leaky_relu": lambda: np.where(z > 0, z, alpha * z),
        "tanh": lambda: np.tanh(z),
        "identity": lambda: z,
    }
    return functions[name]()


def _kinked_values(net, X: np.ndarray, l1: float) -> list[np.ndarray]:
    """Values whose sign decides a kink: ReLU-family pre-activations, and W under L1."""
    out, a = [], X
    for layer in net.layers:
        act = layer.activation
        z = a @ layer.W + layer.b
        if act.name in KINKED_ACTIVATIONS:
            out.append(z)
        a = _numpy_activation(act.name, z, getattr(act, "alpha", 0.0))
    if l1:
        out.extend(layer.W for layer in net.layers)
    return out


def kink_margin(net, X, l1: float = 0.0) -> float:
    """Smallest ``|v|`` over the values whose sign decides a kink (inf when there are none)."""
    values = _kinked_values(net, np.asarray(X, dtype=np.float64), l1)
    return min((float(np.abs(v).min()) for v in values if v.size), default=math.inf)


def kink_straddles(net, X, l1: float = 0.0, eps: float = 1e-6) -> list[np.ndarray]:
    """Boolean masks (shapes of ``net.parameters()``): entries whose ±ε perturbation flips the
    sign of a kinked value (:func:`kink_margin`), so their central difference is meaningless."""
    X = np.asarray(X, dtype=np.float64)

    def pattern():
        return np.concatenate([np.sign(v).ravel() for v in _kinked_values(net, X, l1)] or [[]])

    return [
        np.array([not np.array_equal(up, down) for up, down, _ in rows]).reshape(p.shape)
        for p, rows in zip(net.parameters(), _each_entry(net, eps, pattern), strict=True)
    ]


def _value_gradients(net, X, Y, loss, l1, l2):
    """Loss and gradients (order of ``net.parameters()``) from the Value engine."""
    names = [layer.activation.name for layer in net.layers]
    alphas = {getattr(layer.activation, "alpha", None) for layer in net.layers} - {None}
    if len(alphas) > 1:
        raise ValueError(f"net: every leaky_relu layer must use one alpha, got {sorted(alphas)}")
    total, weight_values, bias_values = value_network_loss(
        [layer.W for layer in net.layers], [layer.b for layer in net.layers], names, loss,
        X, Y, l1=l1, l2=l2, leaky_alpha=alphas.pop() if alphas else 0.01,
    )
    total.backward()
    grads = []
    for grid, bias in zip(weight_values, bias_values, strict=True):
        grads.append(np.array([[v.grad for v in row] for row in grid]))
        grads.append(np.array([v.grad for v in bias]))
    return total.data, grads


# ============================================================================ comparison
def relative_errors(a, b, rtol: float = 1e-5, atol: float = 1e-7) -> np.ndarray:
    """Element-wise ``|a − b| / max(|a|, |b|, atol / rtol)`` (see the module docstring)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), atol / rtol)


def _max(values: np.ndarray) -> float:
    return float(values.max()) if values.size else 0.0


def _compare(name, grad, numeric, value, skip, rtol, atol) -> ParameterCheck:
    """Errors of one parameter's backprop gradient against numeric and Value gradients."""
    keep = ~skip
    return ParameterCheck(
        name=name,
        shape=tuple(grad.shape),
        max_abs_error_numeric=_max(np.abs(grad - numeric)[keep]),
        max_rel_error_numeric=_max(relative_errors(grad, numeric, rtol, atol)[keep]),
        max_abs_error_value=_max(np.abs(grad - value)),
        max_rel_error_value=_max(relative_errors(grad, value, rtol, atol)),
        n_skipped=int(skip.sum()),
    )


def _check_tolerances(eps, rtol, atol) -> None:
    for argument, value in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
            raise ValueError(f"{argument} must be a number > 0, got {value!r}")


def check_network(net, X, Y, loss="cross_entropy", l1=0.0, l2=0.0, eps=1e-6, rtol=1e-5,
                  atol=1e-7) -> GradcheckResult:
    """Check ``net.gradients`` against central differences and the Value engine.

    Parameters
    ----------
    net : Network
        A float64 network (``Network.mlp(..., dtype="float64")``); float32 is too coarse for
        central differences and raises ValueError.
    X : array_like, shape (n, n_in)
    Y : array_like, shape (n, n_out)
        Targets in the form the loss expects (one-hot for cross_entropy, 0/1 for
        binary_cross_entropy).
    loss : {"cross_entropy", "mse", "binary_cross_entropy"}
    l1, l2 : float
        Regularisation strengths, as in ``net.gradients``.
    eps : float, default 1e-6
        Central-difference step.
    rtol, atol : float
        Pass when ``max_k |a_k − b_k| / max(|a_k|, |b_k|, atol/rtol) ≤ rtol`` for both
        comparisons and for the two losses.

    Returns
    -------
    GradcheckResult
    """
    _check_float64(net)
    _check_tolerances(eps, rtol, atol)
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    loss_value, grads = net.gradients(X, Y, loss=loss, l1=l1, l2=l2)
    numeric = numeric_gradients(net, X, Y, loss=loss, l1=l1, l2=l2, eps=eps)
    skips = kink_straddles(net, X, l1=l1, eps=eps)
    value_loss, value_grads = _value_gradients(net, X, Y, loss, l1, l2)
    names = [f"{kind}{i // 2 + 1}" for i, kind in enumerate(["W", "b"] * len(net.layers))]
    checks = tuple(
        _compare(name, np.asarray(g), n, v, s, rtol, atol)
        for name, g, n, v, s in zip(names, grads, numeric, value_grads, skips, strict=True)
    )
    return _summarise(checks, float(loss_value), value_loss, rtol, atol)


def _summarise(checks, loss_value, value_loss, rtol, atol) -> GradcheckResult:
    """Fold per-parameter checks into a :class:`GradcheckResult`."""
    loss_rel = float(relative_errors(loss_value, value_loss, rtol, atol))
    worst = {
        field: max((getattr(c, field) for c in checks), default=0.0)
        for field in ("max_abs_error_numeric", "max_rel_error_numeric",
                      "max_abs_error_value", "max_rel_error_value")
    }
    passed = max(worst["max_rel_error_numeric"], worst["max_rel_error_value"], loss_rel) <= rtol
    return GradcheckResult(
        passed=bool(passed),
        loss=loss_value,
        value_loss=value_loss,
        loss_rel_error=loss_rel,
        n_entries=sum(math.prod(c.shape) for c in checks),
        n_skipped=sum(c.n_skipped for c in checks),
        rtol=rtol,
        atol=atol,
        parameters=checks,
        **worst,
    )


# ============================================================================ the table
def build_case(activation: str, loss: str, regularizer: str = "none", seed=0):
    """A tiny float64 network and data for one row of the table, away from every kink.

    Sizes ``[3, 4, 3, k]`` (k = 2 for mse with identity output, 3 for cross_entropy with
    softmax, 1 for binary_cross_entropy with sigmoid), He-normal weights, biases drawn from
    N(0, 0.5²) (zero biases would put the pre-activation of a unit fed only by dead ReLUs
    exactly on the kink), X ~ N(0, 1) of 5 rows. Redraws until :func:`kink_margin` is at
    least ``KINK_MARGIN``. ``seed`` is an int or a sequence of ints (``np.random.default_rng``).
    Returns ``(net, X, Y, l1, l2)``.
    """
    # Imported here: hpstudy.nn's __init__ may import this module before network is loaded.
    from hpstudy.nn.network import Network

    check_choice("activation", activation, TABLE_ACTIVATIONS)
    check_choice("loss", loss, TABLE_LOSSES)
    check_choice("regularizer", regularizer, TABLE_REGULARIZERS)
    output, n_out = TABLE_LOSSES[loss]
    l1, l2 = TABLE_REGULARIZERS[regularizer]
    rng = np.random.default_rng(seed)
    for _ in range(_MAX_DRAWS):
        net = Network.mlp([TABLE_INPUTS, *TABLE_HIDDEN, n_out], activation=activation,
                          output=output, initializer="he_normal",
                          seed=int(rng.integers(2**31)), dtype="float64")
        for b in net.parameters()[1::2]:
            b[...] = rng.normal(0.0, 0.5, size=b.shape)
        X = rng.normal(size=(TABLE_ROWS, TABLE_INPUTS))
        if kink_margin(net, X, l1) >= KINK_MARGIN:
            return net, X, _targets(loss, n_out, rng), l1, l2
    raise RuntimeError(f"no draw kept kinks {KINK_MARGIN} away from 0 in {_MAX_DRAWS} tries")


def _targets(loss: str, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """Random targets: one-hot rows (cross_entropy), 0/1 (binary), N(0, 1) (mse)."""
    if loss == "cross_entropy":
        return np.eye(n_out)[rng.integers(n_out, size=TABLE_ROWS)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(TABLE_ROWS, n_out)).astype(np.float64)
    return rng.normal(size=(TABLE_ROWS, n_out))


def table_cases() -> list[tuple[str, str, str]]:
    """Every ``(activation, loss, regularizer)`` combination of the table, in table order."""
    return [
        (activation, loss, regularizer)
        for activation in TABLE_ACTIVATIONS
        for loss in TABLE_LOSSES
        for regularizer in TABLE_REGULARIZERS
    ]


def run_case(activation: str, loss: str, regularizer: str, seed=0) -> dict:
    """Check one combination; return its table record (see :func:`run_gradcheck_table`)."""
    net, X, Y, l1, l2 = build_case(activation, loss, regularizer, seed)
    result = check_network(net, X, Y, loss=loss, l1=l1, l2=l2)
    return {
        "activation": activation,
        "loss": loss,
        "output": TABLE_LOSSES[loss][0],
        "regularizer": regularizer,
        "l1": l1,
        "l2": l2,
        "max_abs_error_numeric": result.max_abs_error_numeric,
        "max_rel_error_numeric": result.max_rel_error_numeric,
        "max_abs_error_value": result.max_abs_error_value,
        "max_rel_error_value": result.max_rel_error_value,
        "loss_rel_error": result.loss_rel_error,
        "skipped": result.n_skipped,
        "passed": result.passed,
    }


def run_gradcheck_table(seed=0) -> list[dict]:
    """Gradient-check every hidden activation × loss × regulariser on a tiny network.

    Hidden activations: sigmoid relu leaky_relu tanh identity; losses (output): mse (identity),
    cross_entropy (softmax), binary_cross_entropy (sigmoid); regularisers: none, l1, l2,
    elastic, with λ = 0.01. Each combination gets its own data (seeded by ``seed`` and its
    position in the table), see :func:`build_case`.

    Returns
    -------
    list of dict
        One record per combination (60) with keys activation, loss, output, regularizer, l1,
        l2, max_abs_error_numeric, max_rel_error_numeric, max_abs_error_value,
        max_rel_error_value, loss_rel_error, skipped, passed.
    """
    return [
        run_case(activation, loss, regularizer, seed=[seed, i])
        for i, (activation, loss, regularizer) in enumerate(table_cases())
    ]


_COLUMNS = (
    ("activation", "activation", "{}"),
    ("loss", "loss", "{}"),
    ("output", "output", "{}"),
    ("regularizer", "reg", "{}"),
    ("max_abs_error_numeric", "abs err (numeric)", "{:.1e}"),
    ("max_rel_error_numeric", "rel err (numeric)", "{:.1e}"),
    ("max_abs_error_value", "abs err (Value)", "{:.1e}"),
    ("max_rel_error_value", "rel err (Value)", "{:.1e}"),
    ("passed", "result", "{}"),
)


def format_table(records: list[dict]) -> str:
    """Records of :func:`run_gradcheck_table` as an aligned plain-text table.

    Text columns are left-aligned, numbers right-aligned; the last line summarises, e.g.
    ``60 passed, 0 failed``.
    """
    header = [title for _, title, _ in _COLUMNS]
    rows = [
        [
            ("ok" if r[key] else "FAIL") if key == "passed" else fmt.format(r[key])
            for key, _, fmt in _COLUMNS
        ]
        for r in records
    ]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    numeric = [fmt != "{}" for _, _, fmt in _COLUMNS]

    def line(cells):
        return "  ".join(
            cell.rjust(w) if right else cell.ljust(w)
            for cell, w, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    passed = sum(bool(r["passed"]) for r in records)
    body = [line(header), line(["-" * w for w in widths]), *map(line, rows)]
    return "\n".join([*body, f"{passed} passed, {len(records) - passed} failed"])


def main(seed: int = 0, stream=None) -> int:
    """Print the gradient-check table to ``stream`` (stdout); return 0 if all pass, else 1."""
    records = run_gradcheck_table(seed=seed)
    print(format_table(records), file=stream or sys.stdout)
    return 0 if all(r["passed"] for r in records) else 1
