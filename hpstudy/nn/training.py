"""One trainer for batch, stochastic and mini-batch gradient descent.

Every epoch the rows are shuffled (seeded) and cut into batches of ``batch_size`` rows; each
batch makes one step ``θ ← optimiser(θ, ∇L_batch, η_epoch)``. ``batch_size=1`` is stochastic
gradient descent, ``None`` or ``"full"`` is batch gradient descent (one step per epoch), and
anything between is mini-batch.

After each epoch the trainer records the history (train/validation loss and metric, learning
rate, seconds), per-layer diagnostics, stops with :class:`DivergenceError` when the loss or the
weights stop being finite, and calls the callbacks (which may stop training or raise, e.g. to
prune an Optuna trial — such exceptions propagate unchanged).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from hpstudy.nn import _kernels
from hpstudy.nn._checks import check_positive
from hpstudy.nn._metrics import r2_score
from hpstudy.nn.optimizers import check_learning_rate, get_optimizer, get_schedule

#: rows of the training set used for the end-of-epoch diagnostics and train metric; 256 rows
#: give stable norms and fractions while keeping the pass a small share of an epoch
DIAGNOSTIC_ROWS = 256
#: a weight whose magnitude is below this counts as "near zero" (L1 sparsity)
NEAR_ZERO = 1e-3
#: matrix products of at most this many multiply-adds run on one thread in OpenBLAS (whose
#: threshold is 65536 · 4); the end-of-epoch passes stay below it when training does
SINGLE_THREAD_MACS = 1 << 18
#: data sets up to this size are shuffled by one copy per epoch (then batches are views);
#: larger ones are gathered batch by batch into a reused buffer
SHUFFLE_COPY_BYTES = 1 << 24
#: data sets up to this size are kept as a copy with a column of ones, which saves the first
#: layer a bias addition and a row sum per step (measured, float32: 2 % of the training time of
#: a [64, 64] network on 32-row batches, 6 % of a [32] one on 16-row batches); for larger ones
#: the copy, or adding the column to each gathered batch (100 µs per 128×784 batch, 5 times
#: what it saves), costs more
ONES_COLUMN_BYTES = 1 << 24


class DivergenceError(RuntimeError):
    """Training diverged: the loss or the weights became NaN or infinite.

    Attributes
    ----------
    epoch : int
        The epoch (counted from 1) in which it happened.
    cause : str
        What was found, e.g. ``"training loss is nan"``.
    """

    def __init__(self, epoch: int, cause: str):
        self.epoch, self.cause = epoch, cause
        super().__init__(f"training diverged in epoch {epoch}: {cause}")


@dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch.

    ``train_loss`` is the objective minimised, data loss plus regularisation penalty, averaged
    over the epoch's steps: each batch's objective at the weights its step was evaluated at,
    weighted by the batch's rows (scikit-learn's ``loss_curve_`` does the same). Data loss and
    penalty are thus taken at the same weights, and both come out of the pass that computes
    the step's gradient, at no extra cost; the objective at the end-of-epoch weights instead
    would take another pass over every training row. With batch gradient descent it is the
    objective at the weights the epoch started from. ``val_loss`` is the data loss alone at the
    end-of-epoch weights, comparable across regularisation strengths. ``train_metric`` is
    measured at the end of each epoch on a fixed sample of up to ``DIAGNOSTIC_ROWS`` training
    rows. ``metric_name`` is :func:`metric_name` of the network: ``accuracy`` for
    softmax/sigmoid outputs and ``r2`` otherwise.
    """

    metric_name: str
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    train_metric: list = field(default_factory=list)
    val_metric: list = field(default_factory=list)
    learning_rate: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.train_loss)

    def layer_series(self, name: str) -> np.ndarray:
        """Diagnostic ``name`` (e.g. ``"grad_norm"``) over epochs, shape (epochs, n_layers).

        Layers that do not report it (e.g. ``dead_fraction`` of a tanh layer) hold NaN.
        """
        n_layers = max((int(k[5:].split("_", 1)[0]) for d in self.diagnostics for k in d), default=0)
        out = np.full((len(self.diagnostics), n_layers), np.nan)
        for e, diag in enumerate(self.diagnostics):
            for layer in range(1, n_layers + 1):
                out[e, layer - 1] = diag.get(f"layer{layer}_{name}", np.nan)
        return out


class Callback:
    """Hook into training. Override any of the three methods.

    ``on_epoch_end`` returns True to stop training after this epoch. Exceptions raised here
    propagate out of :func:`fit` unchanged (Optuna's ``TrialPruned`` uses this).
    """

    def on_train_begin(self, net, settings: dict) -> None:
        """Called once before the first epoch with the resolved training settings."""

    def on_epoch_end(self, net, epoch: int, logs: dict) -> bool | None:
        """Called after each epoch (``epoch`` from 1) with that epoch's ``logs``."""
        return None

    def on_train_end(self, net, history: History) -> None:
        """Called once after the last epoch (not after an exception)."""


class _FunctionCallback(Callback):
    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, net, epoch, logs):
        return self.fn(net, epoch, logs)


class EarlyStopping(Callback):
    """Stop when the monitored loss has not improved by ``min_delta`` for ``patience`` epochs.

    Monitors ``val_loss`` when validation data is given, else ``train_loss``; restores the
    weights of the best epoch at the end when ``restore_best`` is true.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, restore_best: bool = True):
        self.patience = check_positive("early_stopping", patience, integer=True)
        self.min_delta, self.restore_best = float(min_delta), restore_best

    def on_train_begin(self, net, settings):
        self.best, self.best_epoch, self.best_state, self.wait = np.inf, None, None, 0
        self.stopped = False

    def on_epoch_end(self, net, epoch, logs):
        value = logs["val_loss"] if logs.get("val_loss") is not None else logs["train_loss"]
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_state = _kernels.get_state(net) if self.restore_best else None
            return False
        self.wait += 1
        self.stopped = self.wait >= self.patience
        return self.stopped

    def on_train_end(self, net, history):
        history.stopped_early = self.stopped
        history.best_epoch = self.best_epoch
        if self.best_state is not None:
            _kernels.set_state(net, self.best_state)


def _fraction(mask: np.ndarray) -> float:
    """Share of the True entries of a boolean array: ``np.mean(mask)`` without its Python
    wrapper (the same value; the end-of-epoch pass takes several per layer)."""
    return np.count_nonzero(mask) / mask.size


def _norm(x: np.ndarray) -> float:
    """Frobenius norm, computed as ``np.linalg.norm`` does (``√(x·x)`` in x's dtype)."""
    flat = x.ravel()
    return float(np.sqrt(np.dot(flat, flat)))


def metric_name(net) -> str:
    """The metric :func:`fit` records for ``net`` (``History.metric_name``): ``"accuracy"`` for
    a softmax or sigmoid output, ``"r2"`` for any other (identity, tanh, ReLU, …)."""
    return "accuracy" if net.output_activation.name in ("softmax", "sigmoid") else "r2"


def _metric(name: str, Y_hat: np.ndarray, Y: np.ndarray) -> float:
    """Accuracy (one-hot or 0/1 targets) or R² (:func:`hpstudy.nn._metrics.r2_score`: uniform
    average over output columns; a constant column scores 1.0 if predicted exactly, else 0.0)."""
    if name == "accuracy":
        if Y.shape[1] == 1:
            return _fraction((Y_hat > 0.5) == (Y > 0.5))
        return _fraction(Y_hat.argmax(axis=1) == Y.argmax(axis=1))
    return r2_score(Y, Y_hat)


def _layer_diagnostics(net, acts) -> dict:
    """Per-layer diagnostics from the last backward pass and its cached activations.

    For layer l (from 1): ``grad_norm`` ‖∂L/∂Wˡ‖_F, ``weight_norm`` ‖Wˡ‖_F, ``near_zero_fraction``
    share of |w| < NEAR_ZERO; ReLU-family hidden layers: ``dead_fraction``, share of units
    inactive (a ≤ 0) on every sampled row; sigmoid/tanh layers: ``saturated_fraction``, share
    of unit activations in the flat tails of the function.
    """
    out, grad_W = {}, _kernels.weight_gradients(net)
    for i, layer in enumerate(net.layers, start=1):
        W, act, a = layer.W, layer.activation, acts[i]
        out[f"layer{i}_grad_norm"] = _norm(grad_W[i - 1])
        out[f"layer{i}_weight_norm"] = _norm(W)
        out[f"layer{i}_near_zero_fraction"] = _fraction(np.abs(W) < NEAR_ZERO)
        if hasattr(act, "inactive") and i < len(net.layers):
            out[f"layer{i}_dead_fraction"] = _fraction(np.logical_and.reduce(act.inactive(a), axis=0))
        if hasattr(act, "saturated"):
            out[f"layer{i}_saturated_fraction"] = _fraction(act.saturated(a))
    return out


def _batch_rows(batch_size, n: int) -> int:
    """Rows per step: ``None``/``"full"`` → n (batch GD), else the positive int, at most n."""
    if batch_size is None or batch_size == "full":
        return n
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(f"batch_size must be a positive integer, None or 'full', got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (1 = stochastic), got {batch_size!r}")
    return min(int(batch_size), n)


def _callbacks(callbacks, early_stopping) -> list[Callback]:
    out = []
    for cb in callbacks or ():
        if not (isinstance(cb, Callback) or callable(cb)):
            raise TypeError(f"callbacks must be Callback objects or functions, got {cb!r}")
        out.append(cb if isinstance(cb, Callback) else _FunctionCallback(cb))
    if early_stopping:
        out.append(EarlyStopping(early_stopping))
    return out


def _prepare(net, X, Y, loss, validation, seed):
    """Checked arrays: ``(loss, X, Y, val or None, diagnostic sample (Xd, Yd))``."""
    loss, X, Y = _kernels.check_targets(net, X, Y, loss)
    val = None
    if validation is not None:
        if not isinstance(validation, tuple | list) or len(validation) != 2:
            raise TypeError("validation must be a pair (X_val, Y_val)")
        _, Xv, Yv = _kernels.check_targets(net, *validation, loss.name)
        val = (Xv, Yv)
    rows = np.random.default_rng(seed).permutation(len(X))[:DIAGNOSTIC_ROWS]
    rows.sort()
    return loss, X, Y, val, (X[rows], Y[rows])


class _Batches:
    """Each epoch's batches ``(xb, yb)`` of ``rows`` rows: ``batches(rng)`` yields them.

    Every epoch the rows are shuffled and cut into batches. Data sets up to
    ``ONES_COLUMN_BYTES`` are kept as one copy ``[X, 1]`` with a column of ones, so their
    batches ``xb`` (n_b, n_in + 1) let the first layer add its bias inside its matrix product
    (see :func:`hpstudy.nn._kernels.loss_and_gradient`). With ``rows >= n`` the one
    batch is all rows in order, ``X`` itself.

    Small data sets are shuffled with one copy per epoch and cut into views. For large ones
    each batch's rows are gathered into buffers reused all epoch instead, which saves
    allocating and writing a shuffled copy of the data every epoch (``mode="wrap"`` only skips
    ``np.take``'s buffered bounds check: the indices are a permutation, always in range).
    """

    def __init__(self, X, Y, rows: int):
        self.X, self.Y, self.rows = X, Y, rows
        n = len(X)
        self.copy = X.nbytes + Y.nbytes <= SHUFFLE_COPY_BYTES
        if rows >= n:
            return
        self.source = _with_ones(X) if X.nbytes + Y.nbytes <= ONES_COLUMN_BYTES else X
        if not self.copy:  # buffers for the full batches and the last, shorter one
            self.full = self._buffers(rows)
            self.rest = self._buffers(n % rows)

    def _buffers(self, rows: int):
        """Buffers ``(xb, yb)`` for a batch of ``rows`` rows."""
        X, Y = self.source, self.Y
        return np.empty((rows, X.shape[1]), X.dtype), np.empty((rows, Y.shape[1]), Y.dtype)

    def __call__(self, rng):
        X, Y, rows = self.X, self.Y, self.rows
        n = len(X)
        if rows >= n:
            yield X, Y
            return
        perm = rng.permutation(n)
        if self.copy:
            X, Y = self.source[perm], Y[perm]
            for start in range(0, n, rows):
                yield X[start : start + rows], Y[start : start + rows]
            return
        X = self.source
        for start in range(0, n, rows):
            idx = perm[start : start + rows]
            xb, yb = self.full if len(idx) == rows else self.rest
            yield np.take(X, idx, axis=0, out=xb, mode="wrap"), np.take(Y, idx, axis=0, out=yb, mode="wrap")


def _with_ones(X) -> np.ndarray:
    """``[X, 1]``: a row-major copy of ``X`` (n, d) with a last column of ones (n, d + 1)."""
    out = np.empty((len(X), X.shape[1] + 1), X.dtype)
    out[:, :-1] = X
    out[:, -1] = 1
    return out


def _run_epoch(net, batches, loss, optimizer, lr, rng, l1, l2) -> float:
    """One pass over the shuffled data in ``batches``; returns the epoch's training loss.

    That is the mean over the steps of each batch's objective (data loss + penalty) at the
    weights its gradient was taken at, weighted by the batch's rows (see :class:`History`).
    """
    total, theta, loss_and_gradient = 0.0, _kernels.theta(net), _kernels.loss_and_gradient
    scaled_step = optimizer.scaled_step()
    if scaled_step is not None:  # the gradient comes out multiplied by lr: one pass over θ saved
        for xb, yb in batches(rng):
            value, _, grad = loss_and_gradient(net, xb, yb, loss, l1, l2, 0, lr)
            total += value * len(xb)
            scaled_step(theta, grad)
        return total / len(batches.X)
    step = optimizer.step
    for xb, yb in batches(rng):
        value, _, grad = loss_and_gradient(net, xb, yb, loss, l1, l2)
        total += value * len(xb)
        step(theta, grad, lr)
    return total / len(batches.X)


def _eval_block(net, n: int, rows: int) -> int:
    """Rows per BLAS call for the end-of-epoch passes over ``n`` rows (0: all at once).

    While training's products (``rows`` rows) run on one thread, so do these: they go to BLAS
    in blocks of ``rows`` rows, or more while every product stays below ``SINGLE_THREAD_MACS``
    (NumPy still makes one call per layer operation). That matters for small networks trained
    in small batches: a 512-row product is big enough for OpenBLAS to wake its worker threads,
    and on a busy machine waking them (and their spinning afterwards) costs more than the whole
    epoch of single-threaded training (measured: digits trained 4–7× slower).
    """
    widest = max(a * b for a, b in zip(net.sizes[:-1], net.sizes[1:], strict=False))
    if rows * widest > SINGLE_THREAD_MACS:
        return 0  # training's products are multi-threaded anyway
    block = max(rows, SINGLE_THREAD_MACS // widest)
    return block if block < n else 0


def _end_of_epoch(net, epoch, train_loss, loss, val, sample, l1, l2, diagnostics, metric, rows):
    """Build the epoch's logs; raise DivergenceError on a non-finite loss or weights."""
    if not np.isfinite(train_loss):
        raise DivergenceError(epoch, f"training loss is {train_loss}")
    if not _kernels.all_finite(net):
        raise DivergenceError(epoch, "weights became non-finite")
    logs = {"epoch": epoch, "train_loss": train_loss, "val_loss": None, "val_metric": None}
    block = _eval_block(net, len(sample[0]), rows)
    if diagnostics:
        _, acts, _ = _kernels.loss_and_gradient(net, *sample, loss, l1, l2, block=block)
        logs.update(_layer_diagnostics(net, acts))
        Y_hat = acts[-1]
    else:
        _, Y_hat = _kernels.data_loss(net, *sample, loss, block=block)
    logs["train_metric"] = _metric(metric, Y_hat, sample[1])
    if val is not None:
        val_loss, Y_hat = _kernels.data_loss(net, *val, loss, block=_eval_block(net, len(val[0]), rows))
        if not np.isfinite(val_loss):
            raise DivergenceError(epoch, f"validation loss is {val_loss}")
        logs["val_loss"], logs["val_metric"] = val_loss, _metric(metric, Y_hat, val[1])
    return logs


def _record(history: History, logs: dict) -> None:
    history.train_loss.append(logs["train_loss"])
    history.train_metric.append(logs["train_metric"])
    history.learning_rate.append(logs["learning_rate"])
    history.epoch_seconds.append(logs["seconds"])
    if logs["val_loss"] is not None:
        history.val_loss.append(logs["val_loss"])
        history.val_metric.append(logs["val_metric"])
    history.diagnostics.append({k: v for k, v in logs.items() if k.startswith("layer")})


def fit(net, X, Y, *, loss="cross_entropy", epochs=20, batch_size=32, learning_rate=0.01,
        optimizer="sgd", momentum=0.9, nesterov=False, l1=0.0, l2=0.0, validation=None,
        schedule="constant", early_stopping=None, callbacks=None, seed=0, diagnostics=True):
    """Train ``net`` in place by gradient descent on ``loss + l1·Σ|W| + l2·ΣW²``.

    Parameters
    ----------
    net : Network
    X : array (n, n_in)
    Y : array (n, n_out)
        One-hot rows for ``cross_entropy``, a 0/1 column for ``binary_cross_entropy``,
        targets for ``mse``.
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
    epochs : int
    batch_size : int, None or "full"
        1 = stochastic, n or None/"full" = batch gradient descent, else mini-batch.
    learning_rate : float
        Base rate η₀ of the ``schedule`` (``constant``, ``step``, ``exponential``, ``cosine``).
    optimizer : {"sgd", "momentum", "adam"}
        ``momentum`` and ``nesterov`` configure the ``momentum`` optimiser.
    l1, l2 : float
        Regularisation strengths (≥ 0) on the weight matrices.
    validation : (X_val, Y_val), optional
    early_stopping : int, optional
        Patience in epochs; restores the best weights at the end.
    callbacks : list of Callback or functions ``f(net, epoch, logs)``
    seed : int
        Seeds the shuffling: the same seed and data give the same history.
    diagnostics : bool
        Record per-layer diagnostics each epoch (one extra pass over ≤ DIAGNOSTIC_ROWS rows).

    Returns
    -------
    History

    Raises
    ------
    DivergenceError
        When the loss or the weights become non-finite; the weights of the last finite epoch
        are restored first.
    """
    check_positive("epochs", epochs, integer=True)
    for name, value in (("l1", l1), ("l2", l2)):
        check_positive(name, value, allow_zero=True)
    lr0 = check_learning_rate(learning_rate)
    sched = get_schedule(schedule)
    opt = get_optimizer(optimizer, momentum=momentum, nesterov=nesterov)
    loss, X, Y, val, sample = _prepare(net, X, Y, loss, validation, seed)
    rows = _batch_rows(batch_size, len(X))
    cbs = _callbacks(callbacks, early_stopping)
    metric = metric_name(net)
    history, rng = History(metric_name=metric), np.random.default_rng(seed)
    batches = _Batches(X, Y, rows)
    settings = {"epochs": epochs, "batch_size": rows, "learning_rate": lr0, "loss": loss.name,
                "optimizer": opt.name, "schedule": getattr(sched, "__name__", str(sched)),
                "l1": l1, "l2": l2, "n_train": len(X), "metric": metric}
    for cb in cbs:
        cb.on_train_begin(net, settings)
    good_state = _kernels.get_state(net)
    try:
        for epoch in range(1, epochs + 1):
            start, lr = time.perf_counter(), sched(lr0, epoch - 1, epochs)
            try:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                    train_loss = _run_epoch(net, batches, loss, opt, lr, rng, l1, l2)
                    logs = _end_of_epoch(net, epoch, train_loss, loss, val, sample, l1, l2,
                                         diagnostics, metric, rows)
            except DivergenceError:
                _kernels.set_state(net, good_state)
                raise
            good_state = _kernels.get_state(net)
            logs.update(learning_rate=lr, seconds=time.perf_counter() - start)
            _record(history, logs)
            if any([bool(cb.on_epoch_end(net, epoch, logs)) for cb in cbs]):
                break
    finally:
        _kernels.release_workspaces(net)  # the trained network does not keep the buffers
    for cb in cbs:
        cb.on_train_end(net, history)
    return history
