"""A scalar reverse-mode automatic differentiation engine (in the style of micrograd).

A :class:`Value` wraps one Python float. Every operation on Values returns a new Value that
remembers its inputs (``_prev``) and a ``_backward`` closure which, given ``out.grad``
(``dL/dout``), adds ``dL/dinput = dL/dout · dout/dinput`` into each input's ``grad`` with ``+=``
(a Value used several times receives the sum of its contributions). :meth:`Value.backward` sorts
the graph topologically (iteratively, so graphs of many thousands of nodes do not hit Python's
recursion limit), seeds ``dL/dL = 1`` and runs the closures from the output back to the leaves.

The engine is deliberately slow and simple: it exists to check the vectorised backpropagation of
:mod:`hpstudy.nn` on small networks (see :mod:`hpstudy.nn.gradcheck`).

Examples
--------
>>> x = Value(2.0)
>>> y = x * x + 3 * x          # y = x² + 3x, dy/dx = 2x + 3
>>> y.backward()
>>> y.data, x.grad
(10.0, 7.0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

__all__ = [
    "Value",
    "as_value",
    "value_sum",
    "value_mean",
    "logsumexp",
    "log_softmax",
    "softmax",
]


def _as_float(x, argument: str) -> float:
    """Return ``x`` as a Python float, or raise TypeError naming ``argument``."""
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(f"{argument} must be a real number (int or float), got {x!r}")


def as_value(x) -> Value:
    """Return ``x`` if it is a :class:`Value`, else a new constant leaf ``Value(x)``."""
    return x if isinstance(x, Value) else Value(x)


class Value:
    """A scalar node of a computation graph, with its value and the gradient of a loss.

    Parameters
    ----------
    data : int or float
        The scalar value; stored as a Python float.

    Attributes
    ----------
    data : float
        The value of this node.
    grad : float
        ``dL/dself`` for the root ``L`` of the last :meth:`backward` call; starts at 0.
    """

    __slots__ = ("data", "grad", "_backward", "_prev", "_op")
    # Make NumPy scalars defer to our reflected operators (np.float64(2) * Value -> __rmul__).
    __array_ufunc__ = None

    def __init__(self, data, _children: tuple[Value, ...] = (), _op: str = ""):
        self.data = _as_float(data, "data")
        self.grad = 0.0
        self._backward = _noop
        self._prev = _children
        self._op = _op

    # ----------------------------------------------------------------- binary operators
    def __add__(self, other) -> Value:
        """``a + b``; ``∂/∂a = 1``, ``∂/∂b = 1``."""
        other = _coerce(other)
        if other is NotImplemented:
            return other
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __sub__(self, other) -> Value:
        """``a − b``; ``∂/∂a = 1``, ``∂/∂b = −1``."""
        other = _coerce(other)
        if other is NotImplemented:
            return other
        out = Value(self.data - other.data, (self, other), "-")

        def _backward():
            self.grad += out.grad
            other.grad -= out.grad

        out._backward = _backward
        return out

    def __mul__(self, other) -> Value:
        """``a · b``; ``∂/∂a = b``, ``∂/∂b = a``."""
        other = _coerce(other)
        if other is NotImplemented:
            return other
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __truediv__(self, other) -> Value:
        """``a / b``; ``∂/∂a = 1/b``, ``∂/∂b = −a/b² = −(a/b)/b``.

        Raises
        ------
        ZeroDivisionError
            If the divisor's data is 0.
        """
        other = _coerce(other)
        if other is NotImplemented:
            return other
        if other.data == 0.0:
            raise ZeroDivisionError(f"division by a Value with data 0.0 (numerator {self.data!r})")
        out = Value(self.data / other.data, (self, other), "/")

        def _backward():
            self.grad += out.grad / other.data
            other.grad -= out.data / other.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent) -> Value:
        """``a ** p`` for a constant ``p``; ``∂/∂a = p · a^(p−1)``.

        Raises
        ------
        TypeError
            If ``p`` is a :class:`Value` (only constant exponents are supported) or not a number.
        ValueError
            If the result is not a real number: ``a < 0`` with non-integer ``p``, or ``a = 0``
            with ``p < 0``.
        """
        if isinstance(exponent, Value):
            raise TypeError(
                "exponent must be a constant int or float, got a Value; Value ** Value is not "
                "supported (write (b * a.log()).exp() for a ** b with a > 0)"
            )
        p = _as_float(exponent, "exponent")
        x = self.data
        if (x < 0.0 and not p.is_integer()) or (x == 0.0 and p < 0.0):
            raise ValueError(f"{x!r} ** {p!r} is not a real number (base {x!r}, exponent {p!r})")
        out = Value(x**p, (self,), f"**{p:g}")

        def _backward():
            self.grad += _power_derivative(x, p) * out.grad

        out._backward = _backward
        return out

    def __rpow__(self, base):
        """Not supported: ``c ** Value``. Raises TypeError suggesting ``(v * log c).exp()``."""
        raise TypeError(
            f"a Value can only be raised to a constant power; for {base!r} ** v use "
            "(v * math.log(base)).exp()"
        )

    # ----------------------------------------------------------------- unary operators
    def __neg__(self) -> Value:
        """``−a``; ``∂/∂a = −1``."""
        out = Value(-self.data, (self,), "neg")

        def _backward():
            self.grad -= out.grad

        out._backward = _backward
        return out

    def __abs__(self) -> Value:
        """``|a|``; ``∂/∂a = sign(a)`` (0 at the kink a = 0, by convention)."""
        x = self.data
        return self._unary(abs(x), float((x > 0.0) - (x < 0.0)), "abs")

    # ----------------------------------------------------------------- reflected operators
    def __radd__(self, other) -> Value:
        """``c + a``; same rule as :meth:`__add__`."""
        return self + other

    def __rsub__(self, other) -> Value:
        """``c − a``; ``∂/∂a = −1``."""
        other = _coerce(other)
        if other is NotImplemented:
            return other
        return other - self

    def __rmul__(self, other) -> Value:
        """``c · a``; same rule as :meth:`__mul__`."""
        return self * other

    def __rtruediv__(self, other) -> Value:
        """``c / a``; ``∂/∂a = −c/a²``."""
        other = _coerce(other)
        if other is NotImplemented:
            return other
        return other / self

    # ----------------------------------------------------------------- functions
    def exp(self) -> Value:
        """``e^a``; ``∂/∂a = e^a``.

        Raises
        ------
        OverflowError
            If ``a > ~709.78`` (the result does not fit in a float).
        """
        try:
            e = math.exp(self.data)
        except OverflowError:
            message = f"exp overflows a float for data {self.data!r} (> 709.78)"
            raise OverflowError(message) from None
        return self._unary(e, e, "exp")

    def log(self) -> Value:
        """Natural logarithm ``ln a`` for ``a > 0``; ``∂/∂a = 1/a``.

        Raises
        ------
        ValueError
            If ``a <= 0``.
        """
        x = self.data
        if not x > 0.0:
            raise ValueError(f"log needs a positive Value, got data={x!r}")
        return self._unary(math.log(x), 1.0 / x, "log")

    def tanh(self) -> Value:
        """``tanh a``; ``∂/∂a = 1 − tanh² a``."""
        t = math.tanh(self.data)
        return self._unary(t, 1.0 - t * t, "tanh")

    def sigmoid(self) -> Value:
        """Logistic ``σ(a) = 1 / (1 + e^{−a})``; ``∂/∂a = σ(a)(1 − σ(a))``.

        Stable for any ``|a|``: for ``a < 0`` it is evaluated as ``e^a / (1 + e^a)``, so no
        exponential of a large positive number is taken.
        """
        s = _sigmoid(self.data)
        return self._unary(s, s * (1.0 - s), "sigmoid")

    def softplus(self) -> Value:
        """``softplus(a) = ln(1 + e^a)``; ``∂/∂a = σ(a)``.

        Stable form ``max(a, 0) + ln(1 + e^{−|a|})``. Note ``ln σ(a) = −softplus(−a)`` and
        ``ln(1 − σ(a)) = −softplus(a)``, which is how binary cross-entropy stays finite.
        """
        x = self.data
        return self._unary(max(x, 0.0) + math.log1p(math.exp(-abs(x))), _sigmoid(x), "softplus")

    def relu(self) -> Value:
        """``max(0, a)``; ``∂/∂a = 1[a > 0]`` (0 at the kink a = 0, by convention)."""
        x = self.data
        return self._unary(x if x > 0.0 else 0.0, 1.0 if x > 0.0 else 0.0, "relu")

    def leaky_relu(self, alpha: float = 0.01) -> Value:
        """``a`` if ``a > 0`` else ``α·a``; ``∂/∂a = 1`` if ``a > 0`` else ``α`` (α at a = 0)."""
        alpha = _as_float(alpha, "alpha")
        x = self.data
        slope = 1.0 if x > 0.0 else alpha
        return self._unary(slope * x, slope, "leaky_relu")

    def _unary(self, result: float, derivative: float, op: str) -> Value:
        """Return the node ``f(self)`` with value ``result`` and local derivative ``f'(self)``."""
        out = Value(result, (self,), op)

        def _backward():
            self.grad += derivative * out.grad

        out._backward = _backward
        return out

    # ----------------------------------------------------------------- graph
    def backward(self) -> None:
        """Set ``v.grad = d self / d v`` for every node ``v`` of the graph below ``self``.

        Zeroes every gradient in the graph, seeds ``self.grad = 1`` and runs each node's
        ``_backward`` in reverse topological order, so a node's gradient is complete before it
        is passed on to its inputs. Calling it twice gives the same gradients (they are not
        accumulated across calls).
        """
        order = _topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        """Set ``grad = 0`` on this node and every node it was computed from."""
        for node in _topological_order(self):
            node.grad = 0.0

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"


def _noop() -> None:
    """The ``_backward`` of a leaf: nothing to propagate."""


def _coerce(other):
    """Return ``other`` as a Value, or ``NotImplemented`` if it is not a real number."""
    if isinstance(other, Value):
        return other
    if isinstance(other, numbers.Real):
        return Value(other)
    return NotImplemented


def _sigmoid(x: float) -> float:
    """Numerically stable logistic function of a float."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _power_derivative(x: float, p: float) -> float:
    """``d(x^p)/dx = p · x^(p−1)``; ``±inf`` at ``x = 0`` when ``0 < p < 1``."""
    if p == 0.0:
        return 0.0
    if x == 0.0 and p < 1.0:
        return math.inf
    return p * x ** (p - 1.0)


def _topological_order(root: Value) -> list[Value]:
    """Return the nodes reachable from ``root``, every node after all of its inputs.

    Iterative depth-first search with an explicit stack: a node is pushed once to expand it
    (push its unvisited inputs) and once more, below them, to emit it after they are emitted.
    """
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in node._prev if id(child) not in visited)
    return order


# --------------------------------------------------------------------- helpers on sequences
def _as_values(values: Iterable, argument: str = "values") -> list[Value]:
    """Return ``values`` as a non-empty list of Values, or raise ValueError naming ``argument``."""
    vs = [as_value(v) for v in values]
    if not vs:
        raise ValueError(f"{argument} must hold at least one Value, got an empty sequence")
    return vs


def value_sum(values: Iterable) -> Value:
    """``s = Σ_i v_i`` as one node (not a chain of additions); ``∂s/∂v_i = 1``.

    An empty sequence gives ``Value(0.0)``; numbers are taken as constants.
    """
    vs = [as_value(v) for v in values]
    out = Value(math.fsum(v.data for v in vs), tuple(vs), "sum")

    def _backward():
        for v in vs:
            v.grad += out.grad

    out._backward = _backward
    return out


def value_mean(values: Iterable) -> Value:
    """``m = (1/n) Σ_i v_i``; ``∂m/∂v_i = 1/n``. Raises ValueError for an empty sequence."""
    vs = _as_values(values)
    return value_sum(vs) * (1.0 / len(vs))


def _shifted_log_sum(vs: list[Value]) -> tuple[list[Value], Value]:
    """Return ``(v − m, ln Σ_i e^{v_i − m})`` with the constant ``m = max_i v_i``."""
    m = max(v.data for v in vs)
    shifted = [v - m for v in vs]
    return shifted, value_sum([s.exp() for s in shifted]).log()


def logsumexp(values: Iterable) -> Value:
    """``ln Σ_i e^{v_i}``, computed stably as ``m + ln Σ_i e^{v_i − m}`` with ``m = max_i v_i``.

    ``m`` is a constant shift (it cancels exactly), so it carries no gradient;
    ``∂/∂v_i = softmax(v)_i``. Raises ValueError for an empty sequence.
    """
    vs = _as_values(values)
    _, log_sum = _shifted_log_sum(vs)
    return log_sum + max(v.data for v in vs)


def log_softmax(values: Iterable) -> list[Value]:
    """``ln softmax(v)_j = (v_j − m) − ln Σ_k e^{v_k − m}`` with the constant ``m = max_k v_k``.

    Equal to ``v_j − logsumexp(v)`` but without the cancellation of two large numbers;
    ``∂/∂v_i = δ_ij − softmax(v)_i``. Raises ValueError for an empty sequence.
    """
    shifted, log_sum = _shifted_log_sum(_as_values(values))
    return [s - log_sum for s in shifted]


def softmax(values: Iterable) -> list[Value]:
    """``s_j = e^{v_j − m} / Σ_k e^{v_k − m}`` with the constant ``m = max_k v_k``.

    ``∂s_j/∂v_i = s_j (δ_ij − s_i)``. Raises ValueError for an empty sequence.
    """
    vs = _as_values(values)
    m = max(v.data for v in vs)
    exps = [(v - m).exp() for v in vs]
    total = value_sum(exps)
    return [e / total for e in exps]
