"""The multilayer perceptron: forward pass, backpropagation, input gradients, save and load.

Notation for a network of L dense layers, ``a⁰ = X``:

    zˡ = aˡ⁻¹ Wˡ + bˡ,    aˡ = fˡ(zˡ),    Ŷ = aᴸ

Backpropagation starts from ``δᴸ = dL/dzᴸ`` (given by the loss, fused with the output
activation) and runs the chain rule backwards:

    dL/dWˡ = (aˡ⁻¹)ᵀ δˡ,   dL/dbˡ = Σ_rows δˡ,   δˡ⁻¹ = (δˡ Wˡᵀ) ⊙ fˡ⁻¹'(zˡ⁻¹)

All parameters live in one contiguous vector ``θ`` (every W, then every b) and the gradients in
a vector of the same layout; the layers' ``W`` and ``b`` are views into it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hpstudy import __version__
from hpstudy.nn import regularization
from hpstudy.nn._checks import check_choice, check_positive
from hpstudy.nn.activations import activation_from_config, get_activation
from hpstudy.nn.initializers import initialize, resolve_initializer
from hpstudy.nn.layers import Dense
from hpstudy.nn.losses import get_loss

DTYPES = {"float32": np.float32, "float64": np.float64}
_FORMAT = "hpstudy.nn.Network/1"


def as_dtype(dtype) -> np.dtype:
    """Return the NumPy dtype for ``"float32"`` / ``"float64"`` (or the dtypes themselves)."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    check_choice("dtype", name, DTYPES)
    return np.dtype(DTYPES[name])


def _check_sizes(sizes) -> list[int]:
    sizes = list(sizes) if isinstance(sizes, list | tuple) else sizes
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise ValueError(f"sizes must list at least [n_in, n_out], got {sizes!r}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1:
            raise ValueError(f"sizes must be positive integers, got {sizes!r}")
    return [int(s) for s in sizes]


class Network:
    """A stack of :class:`~hpstudy.nn.layers.Dense` layers.

    Build one with :meth:`mlp`. Learned state is the parameter vector shared by the layers.

    Parameters
    ----------
    weights, biases : list of ndarray
        ``weights[l]`` (fan_in, fan_out) and ``biases[l]`` (fan_out,) for each layer.
    activations : list of Activation
        One per layer; the last is the output activation.
    dtype : {"float32", "float64"}
    """

    def __init__(self, weights, biases, activations, dtype="float32"):
        self.dtype = as_dtype(dtype)
        sizes = [w.size for w in weights] + [b.size for b in biases]
        self._theta = np.empty(sum(sizes), dtype=self.dtype)
        self._grad = np.zeros_like(self._theta)
        self._n_weights = sum(w.size for w in weights)
        w_views, b_views = self._views(self._theta, weights, biases)
        self.layers = []
        for W, b, w0, b0, act in zip(w_views, b_views, weights, biases, activations, strict=True):
            W[...] = w0
            b[...] = b0
            self.layers.append(Dense(W, b, act))
        self._grad_W, self._grad_b = self._views(self._grad, weights, biases)
        self.sizes = [self.layers[0].fan_in] + [layer.fan_out for layer in self.layers]

    @staticmethod
    def _views(flat, weights, biases):
        """Split ``flat`` into views shaped like ``weights`` then ``biases``."""
        views, at = [], 0
        for arr in [*weights, *biases]:
            views.append(flat[at : at + arr.size].reshape(arr.shape))
            at += arr.size
        return views[: len(weights)], views[len(weights) :]

    @classmethod
    def mlp(cls, sizes, activation="relu", output="softmax", initializer="auto", seed=0,
            dtype="float32", leaky_alpha=0.01) -> Network:
        """Build a multilayer perceptron ``sizes = [n_in, h1, ..., n_out]``.

        Hidden layers use ``activation``, the last layer ``output``. ``initializer="auto"``
        picks He for ReLU-family layers and Xavier otherwise; biases start at zero. The same
        ``seed`` gives the same weights.
        """
        sizes = _check_sizes(sizes)
        dtype = as_dtype(dtype)
        rng = np.random.default_rng(seed)
        acts = [get_activation(activation, leaky_alpha=leaky_alpha) for _ in sizes[2:]]
        acts.append(get_activation(output, leaky_alpha=leaky_alpha))
        weights = []
        for fan_in, fan_out, act in zip(sizes[:-1], sizes[1:], acts, strict=True):
            name = resolve_initializer(initializer, act.name)
            weights.append(initialize(name, fan_in, fan_out, rng, dtype))
        biases = [np.zeros(s, dtype=dtype) for s in sizes[1:]]
        return cls(weights, biases, acts, dtype=dtype)

    # -- parameters ---------------------------------------------------------------------------

    def parameters(self) -> list[np.ndarray]:
        """``[W1, b1, W2, b2, ...]``: the live arrays (writing into them changes the network)."""
        return [p for layer in self.layers for p in (layer.W, layer.b)]

    @property
    def output_activation(self):
        """The activation of the last layer."""
        return self.layers[-1].activation

    @property
    def n_parameters(self) -> int:
        """Number of trainable scalars."""
        return self._theta.size

    def weights_vector(self) -> np.ndarray:
        """All weight matrices, flattened into one view (P_w,) of the parameter vector."""
        return self._theta[: self._n_weights]

    def get_state(self) -> np.ndarray:
        """A copy of the parameter vector θ (P,), for :meth:`set_state`."""
        return self._theta.copy()

    def set_state(self, theta: np.ndarray) -> None:
        """Overwrite every parameter from a vector made by :meth:`get_state`."""
        self._theta[...] = theta

    # -- forward ------------------------------------------------------------------------------

    def _as_input(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(
                f"X must have shape (n, {self.sizes[0]}), got {X.shape}"
            )
        return X

    def forward(self, X) -> np.ndarray:
        """Output activations ``Ŷ`` (n, n_out) for inputs ``X`` (n, n_in)."""
        a = self._as_input(X)
        for layer in self.layers:
            a = layer.activation.forward(layer.linear(a))
        return a

    def forward_cached(self, X):
        """Forward pass keeping what backprop needs: lists ``zs`` and ``activations``.

        ``activations[0]`` is ``X``; ``activations[l + 1]`` and ``zs[l]`` belong to layer l.
        The output activation is applied too (use :meth:`~hpstudy.nn.losses.Loss.forward`
        instead of the last entry when a fused loss is wanted).
        """
        acts, zs = [X], []
        for layer in self.layers:
            z, a = layer.forward(acts[-1])
            zs.append(z)
            acts.append(a)
        return zs, acts

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, k). A single sigmoid output gives ``[1 − p, p]`` columns."""
        out = self.forward(X)
        if self.output_activation.name not in ("softmax", "sigmoid"):
            raise ValueError(
                f"predict_proba needs a softmax or sigmoid output, this network's output is "
                f"{self.output_activation.name!r}; use forward or predict"
            )
        if out.shape[1] == 1:
            return np.hstack([1.0 - out, out])
        return out

    def predict(self, X) -> np.ndarray:
        """Class index (n,) for softmax / single-sigmoid outputs, else the outputs (n, n_out)."""
        name = self.output_activation.name
        if name == "softmax" or (name == "sigmoid" and self.sizes[-1] == 1):
            return np.argmax(self.predict_proba(X), axis=1)
        return self.forward(X)

    # -- backward -----------------------------------------------------------------------------

    def _backward(self, zs, acts, delta) -> None:
        """Fill the gradient vector from ``δᴸ`` (n, n_out) by the chain rule (module docstring)."""
        for i in range(len(self.layers) - 1, -1, -1):
            np.dot(acts[i].T, delta, out=self._grad_W[i])
            np.sum(delta, axis=0, out=self._grad_b[i])
            if i > 0:
                grad_a = delta @ self.layers[i].W.T
                delta = self.layers[i - 1].activation.backward(zs[i - 1], acts[i], grad_a)

    def loss_and_gradient(self, X, Y, loss, l1=0.0, l2=0.0):
        """Mean data loss (float), the activations and the gradient vector (P,), not a copy.

        ``X`` and ``Y`` must already be arrays of this network's dtype; the returned
        activations are ``[X, a¹, …, Ŷ]``. This is the training hot path; :meth:`gradients` is
        the checked public form.
        """
        out_act = self.output_activation
        zs, acts = [], [X]
        for layer in self.layers[:-1]:
            z, a = layer.forward(acts[-1])
            zs.append(z)
            acts.append(a)
        zs.append(self.layers[-1].linear(acts[-1]))
        Y_hat, data_loss = loss.forward(zs[-1], Y, out_act)
        self._backward(zs, acts, loss.delta(zs[-1], Y_hat, Y, out_act))
        if l1 or l2:
            regularization.add_gradient(self._grad[: self._n_weights], self.weights_vector(), l1, l2)
        acts.append(Y_hat)
        return data_loss, acts, self._grad

    def data_loss(self, X, Y, loss):
        """Mean data loss (no penalty) and ``Ŷ`` for arrays already of this network's dtype."""
        a = X
        for layer in self.layers[:-1]:
            a = layer.activation.forward(layer.linear(a))
        Y_hat, value = loss.forward(self.layers[-1].linear(a), Y, self.output_activation)
        return value, Y_hat

    def check_targets(self, X, Y, loss_name):
        """Validate and convert ``X`` (n, n_in) and ``Y`` (n, n_out) for the loss ``loss_name``.

        Returns ``(loss, X, Y)`` with arrays of this network's dtype; ``Y`` of shape (n,)
        becomes a column.
        """
        loss = get_loss(loss_name)
        loss.check_output(self.output_activation)
        X = self._as_input(X)
        Y = np.asarray(Y, dtype=self.dtype)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.shape != (len(X), self.sizes[-1]):
            raise ValueError(
                f"Y must have shape ({len(X)}, {self.sizes[-1]}) for this network, got {Y.shape}"
                + ("; cross_entropy needs one-hot rows" if loss.name == "cross_entropy" else "")
            )
        return loss, X, Y

    def gradients(self, X, Y, loss="cross_entropy", l1=0.0, l2=0.0):
        """Loss and its gradient for every parameter.

        Returns
        -------
        loss : float
            ``mean data loss + l1·Σ|W| + l2·ΣW²`` over the weight matrices.
        grads : list of ndarray
            Copies, in the order and shapes of :meth:`parameters`.
        """
        loss_obj, X, Y = self.check_targets(X, Y, loss)
        for name, value in (("l1", l1), ("l2", l2)):
            check_positive(name, value, allow_zero=True)
        data_loss, _, _ = self.loss_and_gradient(X, Y, loss_obj, l1, l2)
        total = data_loss + regularization.penalty(self.weights_vector(), l1, l2)
        grads = [g.copy() for pair in zip(self._grad_W, self._grad_b, strict=True) for g in pair]
        return total, grads

    def input_gradient(self, X, grad_output=None) -> np.ndarray:
        """``∂(Σ_j g_j f_j(x))/∂x`` for each row: shape (n, n_in).

        ``grad_output`` (n, n_out) holds the weights ``g``; ones by default (the gradient of the
        sum of the outputs). :meth:`jacobian` stacks this for one-hot ``g``.
        """
        X = self._as_input(X)
        zs, acts = self.forward_cached(X)
        return self._pull_back(zs, acts, grad_output)

    def _pull_back(self, zs, acts, grad_output):
        g = np.ones_like(acts[-1]) if grad_output is None else np.asarray(grad_output, self.dtype)
        if g.shape != acts[-1].shape:
            raise ValueError(f"grad_output must have shape {acts[-1].shape}, got {g.shape}")
        if grad_output is not None:
            g = g.copy()  # activations may work in place on the buffer they are given
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            g = layer.activation.backward(zs[i], acts[i + 1], g) @ layer.W.T
        return g

    def jacobian(self, X) -> np.ndarray:
        """Jacobian of the outputs with respect to the inputs, shape (n, n_out, n_in)."""
        X = self._as_input(X)
        zs, acts = self.forward_cached(X)
        J = np.empty((len(X), self.sizes[-1], self.sizes[0]), dtype=self.dtype)
        for j in range(self.sizes[-1]):
            onehot = np.zeros_like(acts[-1])
            onehot[:, j] = 1.0
            J[:, j, :] = self._pull_back(zs, acts, onehot)
        return J

    # -- training -----------------------------------------------------------------------------

    def fit(self, X, Y, **options):
        """Train in place with mini-batch gradient descent; see :func:`hpstudy.nn.training.fit`.

        Returns the :class:`~hpstudy.nn.training.History`.
        """
        from hpstudy.nn.training import fit

        return fit(self, X, Y, **options)

    # -- persistence --------------------------------------------------------------------------

    def config(self) -> dict:
        """JSON-able description of the architecture (no weights)."""
        return {
            "format": _FORMAT,
            "hpstudy_version": __version__,
            "sizes": self.sizes,
            "activations": [layer.activation.config() for layer in self.layers],
            "dtype": self.dtype.name,
        }

    def save(self, path) -> Path:
        """Write weights and a JSON description to ``path`` (``.npz``; no pickle involved)."""
        path = Path(path)
        arrays = {f"W{i}": layer.W for i, layer in enumerate(self.layers)}
        arrays |= {f"b{i}": layer.b for i, layer in enumerate(self.layers)}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, meta=np.array(json.dumps(self.config())), **arrays)
        os.replace(tmp, path)  # never leave a half-written model at ``path``
        return path

    @classmethod
    def load(cls, path) -> Network:
        """Load a network written by :meth:`save` (with ``allow_pickle=False``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        with np.load(path, allow_pickle=False) as data:
            try:
                meta = json.loads(str(data["meta"]))
            except (KeyError, ValueError) as err:
                raise ValueError(f"{path}: not an hpstudy model (no valid metadata)") from err
            if meta.get("format") != _FORMAT:
                raise ValueError(f"{path}: unsupported model format {meta.get('format')!r}")
            n = len(meta["activations"])
            weights = [data[f"W{i}"] for i in range(n)]
            biases = [data[f"b{i}"] for i in range(n)]
        acts = [activation_from_config(c) for c in meta["activations"]]
        return cls(weights, biases, acts, dtype=meta["dtype"])

    def __repr__(self) -> str:
        acts = "/".join(layer.activation.name for layer in self.layers)
        return f"Network(sizes={self.sizes}, activations={acts}, dtype={self.dtype.name})"
