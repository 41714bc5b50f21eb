"""The computational kernels of :class:`~hpstudy.nn.network.Network` (private to hpstudy.nn).

Each function takes the network as its first argument. The trainer
(:mod:`hpstudy.nn.training`) and the network's public methods call these; nothing else
touches the network's parameter and gradient vectors. Tests may call them directly.

API
---
Parameter vector: :func:`theta` (live θ, for optimisers), :func:`get_state`,
:func:`set_state`, :func:`all_finite`, :func:`weights_vector`, :func:`weight_gradients`,
:func:`gradient_list`.
Inputs: :func:`as_input`, :func:`check_targets`.
Passes: :func:`loss_and_gradient` (the training hot path), :func:`data_loss`,
:func:`forward_cached`, :func:`pull_back`.
Buffers: :class:`Workspace`, :func:`workspace`, :func:`release_workspaces`.

Layout (see :mod:`hpstudy.nn.network`): all parameters live in one contiguous vector ``θ``,
layer by layer: each layer's ``W`` (fan_in × fan_out, row-major) directly followed by its
``b``, so that together they are one (fan_in + 1) × fan_out matrix ``Ŵ = [W; b]``
(``net._W_hat``). The gradients live in a vector of the same layout (``net._grad``,
``net._grad_hat``). With a column of ones appended to a layer's input, ``â = [a, 1]``,

    z = â Ŵ,    [dL/dW; dL/db] = âᵀ δ

so one BLAS call computes each of them, bias included, where adding ``b`` and summing ``δ`` over
the rows would take one more NumPy call each. Every hidden layer's activation buffer carries
that column of ones, and so do the trainer's batches of small data sets (the first layer's
input; see ``hpstudy.nn.training.ONES_COLUMN_BYTES``).

Speed: :func:`loss_and_gradient`, the training hot path, writes every intermediate into
buffers preallocated per batch size (:class:`Workspace`), so a training step allocates nothing
but a few row vectors, and calls BLAS through ``np.dot`` (less dispatch than ``np.matmul``).
A step of a small network is ~25 NumPy calls of a few µs each, so each call saved counts:
folding the hidden and output layers' biases into their products as above saved 3 % of the
training time of a [64, 64, 64, 10] network on 32-row batches (float32, measured against
adding ``b`` and summing ``δ`` separately). Results of large products (≥ 2²⁰ multiply-adds,
e.g. 128×784 @ 784×256) go to column-major buffers: OpenBLAS computes ``a W`` and ``δ Wᵀ``
into those 15–25 % faster than into row-major ones (measured with float32 on 2 cores; for
small products neither order wins throughout). A hidden layer's buffers share one order:
element-wise NumPy code on operands of mixed order is 2–3× slower (ReLU's backward pass on
128×256: 58 µs against 21 µs), which costs more than the products gain from mixing them
(measured: 6 % of the training time of a [784, 256, 256, 10] network on 128-row batches).
"""

from __future__ import annotations

import numpy as np

from hpstudy.nn import regularization
from hpstudy.nn.losses import get_loss

#: how many batch sizes keep their buffers (training uses two: full batches and the remainder)
WORKSPACES = 4
#: products of at least this many multiply-adds write into column-major buffers (module doc)
COLUMN_MAJOR_MACS = 1 << 20


# -- the parameter vector ---------------------------------------------------------------------

def theta(net) -> np.ndarray:
    """The live parameter vector θ (P,): optimisers update it in place (the layers' ``W`` and
    ``b`` are views into it)."""
    return net._theta


def get_state(net) -> np.ndarray:
    """A copy of the parameter vector θ (P,), for :func:`set_state`."""
    return net._theta.copy()


def set_state(net, state: np.ndarray) -> None:
    """Overwrite every parameter from a vector made by :func:`get_state`."""
    net._theta[...] = state


def all_finite(net) -> bool:
    """Whether every parameter is finite (no NaN or infinity)."""
    return bool(np.isfinite(net._theta).all())


def weights_vector(net) -> np.ndarray:
    """All weight matrices flattened into one vector (P_w,): a copy (θ keeps each layer's ``b``
    right after its ``W``)."""
    return np.concatenate([layer.W.ravel() for layer in net.layers])


def weight_gradients(net) -> list[np.ndarray]:
    """``[∂L/∂W¹, …]``: live views of the last :func:`loss_and_gradient`'s weight gradients."""
    return net._grad_W


def gradient_list(net) -> list[np.ndarray]:
    """Copies of the last gradients, ``[∂L/∂W¹, ∂L/∂b¹, …]`` (order of ``net.parameters()``)."""
    return [g.copy() for pair in zip(net._grad_W, net._grad_b, strict=True) for g in pair]


# -- inputs -----------------------------------------------------------------------------------

def as_input(net, X) -> np.ndarray:
    """``X`` as an array of the network's dtype, after checking its shape is (n, n_in)."""
    X = np.asarray(X, dtype=net.dtype)
    if X.ndim != 2 or X.shape[1] != net.sizes[0]:
        raise ValueError(f"X must have shape (n, {net.sizes[0]}), got {X.shape}")
    return X


def check_targets(net, X, Y, loss_name):
    """Validate and convert ``X`` (n, n_in) and ``Y`` (n, n_out) for the loss ``loss_name``.

    Returns ``(loss, X, Y)`` with arrays of the network's dtype; ``Y`` of shape (n,) becomes a
    column.
    """
    loss = get_loss(loss_name)
    loss.check_output(net.output_activation)
    X = as_input(net, X)
    Y = np.asarray(Y, dtype=net.dtype)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.shape != (len(X), net.sizes[-1]):
        raise ValueError(
            f"Y must have shape ({len(X)}, {net.sizes[-1]}) for this network, got {Y.shape}"
            + ("; cross_entropy needs one-hot rows" if loss.name == "cross_entropy" else "")
        )
    return loss, X, Y


# -- products ---------------------------------------------------------------------------------

def _dot(a, b, out, block: int = 0):
    """``out[...] = a @ b`` by BLAS.

    ``np.dot`` needs a row-major ``out``; a column-major one is filled as its transpose,
    ``outᵀ = bᵀ aᵀ``. With ``block``, rows go to BLAS ``block`` at a time, in one
    ``np.matmul`` over the stack of row blocks (``out`` must then be row-major).
    """
    n = len(out)
    if block and n > block:
        m = n - n % block
        np.matmul(a[:m].reshape(-1, block, a.shape[1]), b, out=out[:m].reshape(-1, block, out.shape[1]))
        if m < n:
            np.dot(a[m:], b, out=out[m:])
        return out
    if out.flags.c_contiguous:
        return np.dot(a, b, out=out)
    np.dot(b.T, a.T, out=out.T)
    return out


def _dot_t(a, d, out, block: int = 0):
    """``out[...] = aᵀ d``, a weight gradient (a sum over the rows of ``a`` and ``d``), by BLAS.

    With ``block``, the sum of the products of ``block`` rows: one ``np.matmul`` over the stack
    of row blocks, then one sum over the stack.
    """
    n = len(a)
    if not block or n <= block:
        return np.dot(a.T, d, out=out)
    m = n - n % block
    a_blocks = a[:m].reshape(-1, block, a.shape[1]).transpose(0, 2, 1)
    np.add.reduce(np.matmul(a_blocks, d[:m].reshape(-1, block, d.shape[1])), axis=0, out=out)
    if m < n:
        out += a[m:].T @ d[m:]
    return out


# -- buffers ----------------------------------------------------------------------------------

class Workspace:
    """Buffers for the forward and backward pass of ``n`` rows, in BLAS calls of ``block`` rows.

    Hidden layer l: ``z[l]`` (n, units) pre-activations; ``a_hat[l]`` (n, units + 1) its
    activations ``a[l]`` (a view) followed by a column of ones, so that the next layer's
    pre-activations are one product with its weights and bias ``[W; b]`` (module doc);
    ``g[l]`` (n, units) the gradient ``δ Wᵀ`` arriving at its output. ``z[-1]`` the output
    layer's pre-activations and ``delta`` its error signal (row-major, like ``Y``); ``ones``
    (n,) for the first layer's bias gradient ``1ᵀ δ`` (``X`` has no column of ones). A hidden
    layer's buffers share one memory order, column-major when a product writing into them is
    large (module doc); ``column_major[l]`` says which.
    """

    def __init__(self, net, n: int, block: int = 0):
        sizes, dtype = net.sizes, net.dtype
        self.block = block
        self.z, self.a_hat, self.a, self.g, self.column_major = [], [], [], [], []
        for fan_in, units, fan_next in zip(sizes[:-2], sizes[1:-1], sizes[2:], strict=True):
            column_major = not block and n * units * max(fan_in, fan_next) >= COLUMN_MAJOR_MACS
            order = "F" if column_major else "C"
            self.z.append(np.empty((n, units), dtype, order=order))
            self.a_hat.append(np.ones((n, units + 1), dtype, order=order))
            self.a.append(self.a_hat[-1][:, :units])
            self.g.append(np.empty((n, units), dtype, order=order))
            self.column_major.append(column_major)
        self.z.append(np.empty((n, sizes[-1]), dtype))
        self.delta = np.empty((n, sizes[-1]), dtype)
        self.ones = np.ones(n, dtype)
        # each layer's weights and their gradient as flat views, for the penalty
        self.weights = [(layer.W.reshape(-1), grad_W.reshape(-1))
                        for layer, grad_W in zip(net.layers, net._grad_W, strict=True)]
        # layer by layer, what the unblocked loops of _forward and _backward take
        layers, column_major = net.layers, [*self.column_major, False]
        self.forward = [
            (layers[i], self.a[i], self.a_hat[i], net._W_hat[i + 1], self.z[i + 1], column_major[i + 1])
            for i in range(len(layers) - 1)
        ]
        self.backward = [
            (layers[i], layers[i - 1], net._grad_hat[i], self.a_hat[i - 1], self.g[i - 1],
             self.column_major[i - 1], self.z[i - 1], self.a[i - 1])
            for i in range(len(layers) - 1, 0, -1)
        ]


def workspace(net, n: int, block: int = 0) -> Workspace:
    """The buffers for batches of ``n`` rows (made on first use; the newest
    ``WORKSPACES`` sizes are kept)."""
    ws = net._workspaces.get((n, block))
    if ws is None:
        if len(net._workspaces) >= WORKSPACES:
            del net._workspaces[next(iter(net._workspaces))]  # the oldest
        ws = net._workspaces[n, block] = Workspace(net, n, block)
    return ws


def release_workspaces(net) -> None:
    """Drop every buffer :func:`workspace` keeps (a trained network does not carry them)."""
    net._workspaces.clear()


# -- the training pass ------------------------------------------------------------------------

def loss_and_gradient(net, X, Y, loss, l1=0.0, l2=0.0, block=0, scale=1.0):
    """Objective (float), the activations and ``scale`` times the gradient vector (P,).

    The objective is the mean data loss plus the penalty ``l1·Σ|W| + l2·ΣW²``, both at the
    current weights: the function whose gradient this is. ``X`` (n, n_in) and ``Y`` must
    already be arrays of the network's dtype (:func:`check_targets`); ``X`` may also be
    ``[X, 1]`` (n, n_in + 1), with a last column of ones (the trainer's batches of small data
    sets), which folds the first layer's bias into its products. The returned activations are
    ``[X, a¹, …, Ŷ]``. They and the gradient live in buffers that the next call overwrites
    (not copies). ``block`` > 0 sends the rows to BLAS ``block`` at a time (the end-of-epoch
    pass uses it to keep products as small as a training step's). ``scale`` multiplies ``δᴸ``
    and the penalty's gradient (so every gradient, not the objective) at no cost: with the
    learning rate, an SGD step needs only ``θ −= g`` (see
    :meth:`~hpstudy.nn.optimizers.Optimizer.scaled_step`).
    """
    ws = net._workspaces.get((len(X), block)) or workspace(net, len(X), block)
    X_hat, X = (X, X[:, :-1]) if X.shape[1] > net.sizes[0] else (None, X)
    if block:
        value, acts = _loss_and_gradient_blocked(net, X_hat, X, Y, loss, ws, scale)
    else:
        acts = _forward(net, X_hat, X, ws)
        out, z = net.layers[-1].activation, ws.z[-1]
        Y_hat, value = loss.forward_inplace(z, Y, out)
        _backward(net, X_hat, X, acts, loss.delta_into(z, Y_hat, Y, out, ws.delta, scale), ws)
        acts.append(Y_hat)
    if l1 or l2:  # ~1 µs per layer more than adding the penalty's gradient alone
        for w, grad_w in ws.weights:
            value += regularization.penalty_and_gradient(grad_w, w, l1, l2, scale)
    return value, acts, net._grad


# One step of a small network is ~25 NumPy calls of a few µs each, so the Python around them
# counts too: _forward and _backward call np.dot directly (a column-major buffer is filled as
# its transpose, zᵀ = Wᵀ aᵀ) with buffers listed once per batch size, which took 6 % off a
# [64, 64, 64, 10] step on 32 rows (184 → 173 µs, measured against calling a product helper
# per product and looking buffers up per layer).

def _forward(net, X_hat, X, ws) -> list[np.ndarray]:
    """Fill ``ws.z`` (the last one: the output's pre-activations); return ``[X, a¹, …]``."""
    first, z = net.layers[0], ws.z[0]
    column_major = ws.column_major and ws.column_major[0]
    if X_hat is not None:  # z = [X, 1] [W; b]
        if column_major:
            np.dot(net._W_hat[0].T, X_hat.T, out=z.T)
        else:
            np.dot(X_hat, net._W_hat[0], out=z)
    else:
        if column_major:
            np.dot(first.W.T, X.T, out=z.T)
        else:
            np.dot(X, first.W, out=z)
        z += first.b
    acts = [X]
    for layer, a, a_hat, W_hat, z_next, column_major in ws.forward:  # hidden layers
        out = layer.activation.forward_into(z, a)
        if out is not a:  # identity: f(z) is z itself
            np.copyto(a, out)
        acts.append(a)
        if column_major:  # the next layer's z = [a, 1] [W; b]
            np.dot(W_hat.T, a_hat.T, out=z_next.T)
        else:
            np.dot(a_hat, W_hat, out=z_next)
        z = z_next
    return acts


def _backward(net, X_hat, X, acts, delta, ws) -> None:
    """Fill the gradient vector from ``δᴸ`` (n, n_out) by the chain rule (network module doc)."""
    for layer, below, grad_hat, a_hat, g, column_major, z, a in ws.backward:
        np.dot(a_hat.T, delta, out=grad_hat)  # [∂W; ∂b] = [a, 1]ᵀ δ
        if column_major:
            np.dot(layer.W, delta.T, out=g.T)
        else:
            np.dot(delta, layer.W.T, out=g)
        delta = below.activation.backward(z, a, g)
    if X_hat is not None:
        np.dot(X_hat.T, delta, out=net._grad_hat[0])
    else:
        np.dot(X.T, delta, out=net._grad_W[0])
        # 1ᵀ δ by BLAS: 2–3× faster than np.add.reduce over the rows (measured, float32,
        # 128×256: 4–5 µs against 11–17 µs)
        np.dot(ws.ones, delta, out=net._grad_b[0])


def _loss_and_gradient_blocked(net, X_hat, X, Y, loss, ws, scale):
    """:func:`loss_and_gradient` (without the penalty) with products of ``ws.block`` rows."""
    block, layers, zs, acts = ws.block, net.layers, ws.z, [X]
    if X_hat is not None:
        _dot(X_hat, net._W_hat[0], zs[0], block)
    else:
        _dot(X, layers[0].W, zs[0], block)
        zs[0] += layers[0].b
    for i in range(len(layers) - 1):  # hidden layer i, then the product of layer i + 1
        a = layers[i].activation.forward_into(zs[i], ws.a[i])
        if a is not ws.a[i]:
            np.copyto(ws.a[i], a)
        acts.append(ws.a[i])
        _dot(ws.a_hat[i], net._W_hat[i + 1], zs[i + 1], block)
    out, z = layers[-1], zs[-1]
    Y_hat, data_loss = loss.forward_inplace(z, Y, out.activation)
    delta = loss.delta_into(z, Y_hat, Y, out.activation, ws.delta, scale)
    for i in range(len(layers) - 1, 0, -1):
        _dot_t(ws.a_hat[i - 1], delta, net._grad_hat[i], block)
        grad_a = _dot(delta, layers[i].W.T, ws.g[i - 1], block)
        delta = layers[i - 1].activation.backward(zs[i - 1], ws.a[i - 1], grad_a)
    if X_hat is not None:
        _dot_t(X_hat, delta, net._grad_hat[0], block)
    else:
        _dot_t(X, delta, net._grad_W[0], block)
        np.dot(ws.ones, delta, out=net._grad_b[0])
    acts.append(Y_hat)
    return data_loss, acts


# -- other passes -----------------------------------------------------------------------------

def data_loss(net, X, Y, loss, block=0):
    """Mean data loss (no penalty) and ``Ŷ`` for arrays already of the network's dtype.

    ``block`` > 0 sends the rows to BLAS ``block`` at a time (see :func:`loss_and_gradient`).
    """
    a, last = X, net.layers[-1]
    for layer in net.layers:
        z = _dot(a, layer.W, np.empty((len(a), layer.fan_out), net.dtype), block)
        z += layer.b
        if layer is last:
            break
        a = layer.activation.forward(z)
    Y_hat, value = loss.forward(z, Y, net.output_activation)
    return value, Y_hat


def forward_cached(net, X):
    """Forward pass keeping what backprop needs: lists ``zs`` and ``activations``.

    ``activations[0]`` is ``X``; ``activations[l + 1]`` and ``zs[l]`` belong to layer l. The
    output activation is applied too.
    """
    acts, zs = [X], []
    for layer in net.layers:
        z, a = layer.forward(acts[-1])
        zs.append(z)
        acts.append(a)
    return zs, acts


def pull_back(net, zs, acts, grad_output) -> np.ndarray:
    """``∂(Σ_j g_j f_j(x))/∂x`` (n, n_in) from a :func:`forward_cached` pass; ``grad_output``
    (n, n_out) holds ``g`` (ones when None)."""
    g = np.ones_like(acts[-1]) if grad_output is None else np.asarray(grad_output, net.dtype)
    if g.shape != acts[-1].shape:
        raise ValueError(f"grad_output must have shape {acts[-1].shape}, got {g.shape}")
    if grad_output is not None:
        g = g.copy()  # activations may work in place on the buffer they are given
    for i in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[i]
        g = layer.activation.backward(zs[i], acts[i + 1], g) @ layer.W.T
    return g
