"""The multilayer perceptron: forward pass, backpropagation, input gradients, save and load.

Notation for a network of L dense layers, ``a⁰ = X``:

    zˡ = aˡ⁻¹ Wˡ + bˡ,    aˡ = fˡ(zˡ),    Ŷ = aᴸ

Backpropagation starts from ``δᴸ = dL/dzᴸ`` (given by the loss, fused with the output
activation) and runs the chain rule backwards:

    dL/dWˡ = (aˡ⁻¹)ᵀ δˡ,   dL/dbˡ = Σ_rows δˡ,   δˡ⁻¹ = (δˡ Wˡᵀ) ⊙ fˡ⁻¹'(zˡ⁻¹)

All parameters live in one contiguous vector ``θ``, layer by layer: each layer's ``W``
(fan_in × fan_out, row-major) directly followed by its ``b``; the layers' ``W`` and ``b`` are
views into ``θ``, and the gradients live in a vector of the same layout. The passes over that
vector (the training hot path, its buffers and why they are laid out as they are) are the
private kernels in :mod:`hpstudy.nn._kernels`; :class:`Network` is the public face: build,
predict, differentiate, train, save and load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hpstudy import __version__
from hpstudy.nn import _kernels
from hpstudy.nn._checks import check_choice, check_positive
from hpstudy.nn.activations import activation_from_config, get_activation
from hpstudy.nn.initializers import initialize, resolve_initializer
from hpstudy.nn.layers import Dense

DTYPES = {"float32": np.float32, "float64": np.float64}
_FORMAT = "hpstudy.nn.Network/1"


def as_dtype(dtype) -> np.dtype:
    """Return the NumPy dtype for ``"float32"`` / ``"float64"`` (or the dtypes themselves)."""
    if isinstance(dtype, str):
        name = dtype
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError as err:
            raise TypeError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}") from err
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


def _read_model(path: Path):
    """``(meta, weights, biases)`` from a file written by :meth:`Network.save`.

    Raises ValueError, naming the file, for anything else: not an ``.npz`` archive, an archive
    without hpstudy metadata, another format version, or missing weight arrays.
    """
    not_model = f"{path}: not an hpstudy model"
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{not_model} (not an .npz archive)") from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{not_model} (a single .npy array, not an .npz archive)")
    with data:
        try:
            meta = json.loads(str(data["meta"]))
        except (KeyError, ValueError) as err:
            raise ValueError(f"{not_model} (no valid metadata)") from err
        if not isinstance(meta, dict):
            raise ValueError(f"{not_model} (no valid metadata)")
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path}: unsupported model format {meta.get('format')!r}")
        n = len(meta["activations"])
        missing = [name for i in range(n) for name in (f"W{i}", f"b{i}") if name not in data.files]
        if missing:
            raise ValueError(f"{path}: damaged hpstudy model, missing arrays {', '.join(missing)}")
        return meta, [data[f"W{i}"] for i in range(n)], [data[f"b{i}"] for i in range(n)]


def _augmented_shape(W, b) -> tuple[int, int]:
    """``(fan_in + 1, fan_out)``: the shape of ``[W; b]``, after checking ``W`` and ``b`` fit."""
    W, b = np.asarray(W), np.asarray(b)
    if W.ndim != 2 or b.shape != (W.shape[1],):
        raise ValueError(f"W must be (fan_in, fan_out) and b (fan_out,), got {W.shape} and {b.shape}")
    return W.shape[0] + 1, W.shape[1]


def _views(flat, shapes) -> list[np.ndarray]:
    """Split ``flat`` into consecutive row-major views of the given 2-D ``shapes``."""
    views, at = [], 0
    for rows, cols in shapes:
        views.append(flat[at : at + rows * cols].reshape(rows, cols))
        at += rows * cols
    return views


class Network:
    """A stack of :class:`~hpstudy.nn.layers.Dense` layers.

    Build one with :meth:`mlp`. Learned state is the parameter vector shared by the layers.
    The public surface is what ``docs/interfaces.md`` lists: :meth:`mlp`, :meth:`load`,
    :meth:`forward`, :meth:`predict_proba`, :meth:`predict`, :meth:`input_gradient`,
    :meth:`jacobian`, :meth:`parameters`, :meth:`gradients`, :meth:`fit`, :meth:`save`,
    :attr:`output_activation`, :attr:`n_parameters` and the attributes ``layers``, ``sizes``
    and ``dtype``. The trainer works on the private vectors through :mod:`hpstudy.nn._kernels`.

    Parameters
    ----------
    weights, biases : list of ndarray
        ``weights[l]`` (fan_in, fan_out) and ``biases[l]`` (fan_out,) for each layer.
    activations : list of Activation
        One per layer; the last is the output activation.
    dtype : {"float32", "float64"}

    Attributes
    ----------
    layers : list of Dense
        ``layer.W`` (fan_in, fan_out) and ``layer.b`` (fan_out,) are views into θ.
    sizes : list of int
        ``[n_in, h1, ..., n_out]``.
    dtype : numpy.dtype
        float32 or float64, of every parameter, gradient and output.
    """

    def __init__(self, weights, biases, activations, dtype="float32"):
        self.dtype = as_dtype(dtype)
        shapes = [_augmented_shape(w, b) for w, b in zip(weights, biases, strict=True)]
        # θ, its gradient and their per-layer views; used through hpstudy.nn._kernels
        self._theta = np.empty(sum(r * c for r, c in shapes), dtype=self.dtype)
        self._grad = np.zeros_like(self._theta)
        self._W_hat, self._grad_hat = _views(self._theta, shapes), _views(self._grad, shapes)
        self.layers = []
        for W_hat, w0, b0, act in zip(self._W_hat, weights, biases, activations, strict=True):
            W_hat[:-1] = w0
            W_hat[-1] = b0
            self.layers.append(Dense(W_hat[:-1], W_hat[-1], act))
        self._grad_W = [g[:-1] for g in self._grad_hat]
        self._grad_b = [g[-1] for g in self._grad_hat]
        self.sizes = [self.layers[0].fan_in] + [layer.fan_out for layer in self.layers]
        self._workspaces: dict[tuple[int, int], _kernels.Workspace] = {}

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
        acts.append(get_activation(output, leaky_alpha=leaky_alpha, argument="output"))
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
        """The activation of the last layer (``.name`` is its registry name)."""
        return self.layers[-1].activation

    @property
    def n_parameters(self) -> int:
        """Number of trainable scalars (weights and biases)."""
        return self._theta.size

    # -- forward ------------------------------------------------------------------------------

    def forward(self, X) -> np.ndarray:
        """Output activations ``Ŷ`` (n, n_out) for inputs ``X`` (n, n_in)."""
        a = _kernels.as_input(self, X)
        for layer in self.layers:
            a = layer.activation.forward(layer.linear(a))
        return a

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

    def gradients(self, X, Y, loss="cross_entropy", l1=0.0, l2=0.0):
        """Loss and its gradient for every parameter.

        Returns
        -------
        loss : float
            ``mean data loss + l1·Σ|W| + l2·ΣW²`` over the weight matrices.
        grads : list of ndarray
            Copies, in the order and shapes of :meth:`parameters`.
        """
        loss_obj, X, Y = _kernels.check_targets(self, X, Y, loss)
        for name, value in (("l1", l1), ("l2", l2)):
            check_positive(name, value, allow_zero=True)
        total, _, _ = _kernels.loss_and_gradient(self, X, Y, loss_obj, l1, l2)
        return total, _kernels.gradient_list(self)

    def input_gradient(self, X, grad_output=None) -> np.ndarray:
        """``∂(Σ_j g_j f_j(x))/∂x`` for each row: shape (n, n_in).

        ``grad_output`` (n, n_out) holds the weights ``g``; ones by default (the gradient of the
        sum of the outputs). :meth:`jacobian` stacks this for one-hot ``g``.
        """
        X = _kernels.as_input(self, X)
        zs, acts = _kernels.forward_cached(self, X)
        return _kernels.pull_back(self, zs, acts, grad_output)

    def jacobian(self, X) -> np.ndarray:
        """Jacobian of the outputs with respect to the inputs, shape (n, n_out, n_in)."""
        X = _kernels.as_input(self, X)
        zs, acts = _kernels.forward_cached(self, X)
        J = np.empty((len(X), self.sizes[-1], self.sizes[0]), dtype=self.dtype)
        for j in range(self.sizes[-1]):
            onehot = np.zeros_like(acts[-1])
            onehot[:, j] = 1.0
            J[:, j, :] = _kernels.pull_back(self, zs, acts, onehot)
        return J

    # -- training -----------------------------------------------------------------------------

    def fit(self, X, Y, **options):
        """Train in place with mini-batch gradient descent; see :func:`hpstudy.nn.training.fit`.

        Returns the :class:`~hpstudy.nn.training.History`.
        """
        from hpstudy.nn.training import fit

        return fit(self, X, Y, **options)

    # -- persistence --------------------------------------------------------------------------

    def save(self, path) -> Path:
        """Write weights and a JSON description to ``path`` (``.npz``; no pickle involved)."""
        path = Path(path)
        arrays = {f"W{i}": layer.W for i, layer in enumerate(self.layers)}
        arrays |= {f"b{i}": layer.b for i, layer in enumerate(self.layers)}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, meta=np.array(json.dumps(_description(self))), **arrays)
        os.replace(tmp, path)  # never leave a half-written model at ``path``
        return path

    @classmethod
    def load(cls, path) -> Network:
        """Load a network written by :meth:`save` (with ``allow_pickle=False``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        meta, weights, biases = _read_model(path)
        acts = [activation_from_config(c) for c in meta["activations"]]
        return cls(weights, biases, acts, dtype=meta["dtype"])

    def __repr__(self) -> str:
        acts = "/".join(layer.activation.name for layer in self.layers)
        return f"Network(sizes={self.sizes}, activations={acts}, dtype={self.dtype.name})"


def _description(net) -> dict:
    """JSON-able description of ``net``'s architecture (no weights): the saved metadata."""
    return {
        "format": _FORMAT,
        "hpstudy_version": __version__,
        "sizes": net.sizes,
        "activations": [layer.activation.config() for layer in net.layers],
        "dtype": net.dtype.name,
    }
