"""Stability scores: how much a model's predictions move when its input or training data move.

A model is any object with

* ``predict_proba(X) -> (n, k)`` class probabilities (``task="classification"``), or
* ``forward(X) -> (n, m)`` outputs (``task="regression"``; ``predict(X)`` is used if there is
  no ``forward``),
* and, for :func:`jacobian_norm`, ``jacobian(X) -> (n, m, d)`` with ``J[i, j, l] =
  ∂f_j(x_i)/∂x_il`` (central differences of the output are used when it is missing).

``hpstudy.nn.Network`` provides all three. Every score is 0 for a constant model and grows with
the steepness of the model; none of them needs labels except :func:`retraining_stability`.
Inputs are assumed standardised (zero mean, unit variance per feature), so a noise level ε is a
fraction of a feature's standard deviation. Returned keys are valid MLflow metric names; callers
add prefixes such as ``stability_``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np
from sklearn.metrics import accuracy_score, r2_score

from hpstudy.evaluation._validation import as_labels

__all__ = [
    "TASKS",
    "noise_sensitivity",
    "jacobian_norm",
    "finite_difference_jacobian",
    "retraining_stability",
    "stability_scores",
]

TASKS = ("classification", "regression")
RETRAIN_METHODS = ("bootstrap", "replace")
DEFAULT_LEVELS = (0.01, 0.05, 0.1)


# ----------------------------------------------------------------------------------------------
# argument checks and the model's output function
# ----------------------------------------------------------------------------------------------
def _check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    return task


def _output_fn(model, task: str) -> Callable[[np.ndarray], np.ndarray]:
    """The function whose stability is measured, returning a 2-D float64 array."""
    _check_task(task)
    names = ("predict_proba",) if task == "classification" else ("forward", "predict")
    found = [name for name in names if callable(getattr(model, name, None))]
    if found:
        name = found[0]
        fn = getattr(model, name)
        return lambda X: _as_2d(fn(X), name)
    wanted = " or ".join(f"{n}(X)" for n in names)
    raise TypeError(f"model must have {wanted} for task={task!r}; "
                    f"got a {type(model).__name__} without it")


def _as_2d(out, name: str) -> np.ndarray:
    arr = np.asarray(out, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"model.{name}(X) must return an array of shape (n, m); got {arr.shape}")
    return arr


def _as_features(X, name: str = "X") -> np.ndarray:
    """A finite 2-D float array (float32 stays float32 so float32 models see their dtype)."""
    arr = np.asarray(X)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a 2-D array (n rows, d features), n, d >= 1; "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {int(np.sum(~np.isfinite(arr)))} "
                         f"non-finite values")
    return arr


def _check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(v) for v in np.atleast_1d(np.asarray(levels, dtype=np.float64)))
    if not values or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"levels must be a non-empty sequence of positive noise levels; "
                         f"got {levels!r}")
    if len({f"{v:g}" for v in values}) != len(values):
        raise ValueError(f"levels must be distinct (they name the metrics); got {levels!r}")
    return values


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------------------------
# input noise
# ----------------------------------------------------------------------------------------------
def noise_sensitivity(model, X, *, levels: Sequence[float] = DEFAULT_LEVELS, draws: int = 5,
                      seed: int = 0, task: str = "classification") -> dict[str, float]:
    """Change of the predictions per unit of Gaussian input noise, and the class flip rate.

    For each level ε and draw ``r = 1..R`` (the same standard-normal draws ``Z_r`` serve every
    level): ``X' = X + ε·Z_r``, and with ``f`` the predicted probabilities (classification) or
    outputs (regression)::

        sensitivity(ε) = mean_{i, r} ‖f(x'_i) − f(x_i)‖₂ / ‖x'_i − x_i‖₂
        flip_rate(ε)   = mean_{i, r} [argmax f(x'_i) ≠ argmax f(x_i)]     (classification)

    Rationale: a well-behaved model gives similar answers to nearly identical inputs.
    ``sensitivity`` is an empirical local Lipschitz constant: for small ε it is ``‖J u‖`` for a
    random unit direction u, whose mean square is ``‖J‖_F² / d`` (see :func:`jacobian_norm`);
    ``flip_rate`` counts decisions that a measurement error of ε standard deviations would
    change (it is 0 for a constant model and, unlike sensitivity, blind to confidence).

    Parameters
    ----------
    model : object
        Has ``predict_proba`` (classification) or ``forward`` / ``predict`` (regression).
    X : array-like of shape (n, d)
        Standardised inputs.
    levels : sequence of float, default (0.01, 0.05, 0.1)
        Noise standard deviations ε > 0, in feature standard deviations.
    draws : int, default 5
        Noise draws per level (R).
    seed : int, default 0
        Seed of the noise (``numpy.random.default_rng``).
    task : {"classification", "regression"}

    Returns
    -------
    dict[str, float]
        ``noise_sensitivity_<ε>`` per level (ε formatted with ``:g``, e.g. ``0.05``), their mean
        ``noise_sensitivity``; for classification also ``flip_rate_<ε>`` and ``flip_rate``.
    """
    f = _output_fn(model, task)
    X = _as_features(X)
    levels = _check_levels(levels)
    draws = _check_count(draws, "draws", 1)
    base = f(X)
    rng = np.random.default_rng(seed)
    sens, flips = np.zeros(len(levels)), np.zeros(len(levels))
    for _ in range(draws):
        noise = rng.standard_normal(X.shape)
        for i, eps in enumerate(levels):
            X_noisy = X + (eps * noise).astype(X.dtype)
            out = f(X_noisy)
            dx = np.linalg.norm((X_noisy - X).astype(np.float64), axis=1)
            dy = np.linalg.norm(out - base, axis=1)
            sens[i] += np.mean(np.divide(dy, dx, out=np.zeros_like(dy), where=dx > 0))
            flips[i] += np.mean(out.argmax(axis=1) != base.argmax(axis=1))
    return _noise_record(levels, sens / draws, flips / draws, task)


def _noise_record(levels, sens, flips, task: str) -> dict[str, float]:
    record = {f"noise_sensitivity_{eps:g}": float(s) for eps, s in zip(levels, sens, strict=True)}
    record["noise_sensitivity"] = float(np.mean(sens))
    if task == "classification":
        record.update({f"flip_rate_{eps:g}": float(r) for eps, r in zip(levels, flips, strict=True)})
        record["flip_rate"] = float(np.mean(flips))
    return record


# ----------------------------------------------------------------------------------------------
# Jacobian
# ----------------------------------------------------------------------------------------------
def finite_difference_jacobian(f: Callable[[np.ndarray], np.ndarray], X,
                               eps: float | None = None) -> np.ndarray:
    """Central-difference Jacobian ``J[i, j, l] ≈ (f(x_i + h·e_l) − f(x_i − h·e_l))_j / 2h``.

    Parameters
    ----------
    f : callable
        Row-wise function mapping (n, d) to (n, m) (or (n,)).
    X : array-like of shape (n, d)
    eps : float, optional
        Step h; default the cube root of the machine epsilon of X's dtype (≈ 6e-6 for
        float64, 5e-3 for float32), which balances truncation and rounding error.

    Returns
    -------
    ndarray of shape (n, m, d), float64
    """
    X = _as_features(X)
    h = float(np.finfo(X.dtype).eps ** (1 / 3)) if eps is None else float(eps)
    columns = []
    for col in range(X.shape[1]):
        step = np.zeros(X.shape[1], dtype=X.dtype)
        step[col] = h
        up, down = _as_2d(f(X + step), "f"), _as_2d(f(X - step), "f")
        columns.append((up - down) / (2 * h))
    return np.stack(columns, axis=2)


def jacobian_norm(model, X, *, task: str | None = None) -> float:
    """Mean Frobenius norm of the input–output Jacobian: ``mean_i ‖∂f(x_i)/∂x_i‖_F``.

    ``‖J‖_F = sqrt(Σ_j Σ_l (∂f_j/∂x_l)²)``. Rationale: the first-order change of the output
    under an input change δ is ``J δ``, and ``E‖J u‖² = ‖J‖_F² / d`` for a random unit
    direction u, so this is the noise-free limit of :func:`noise_sensitivity` (times √d). Large
    values flag steep, over-confident or poorly regularised models.

    Parameters
    ----------
    model : object
        Has ``jacobian(X) -> (n, m, d)`` of its output (the softmax probabilities, the
        regression outputs). Without it the Jacobian of the `task` output (``predict_proba``
        or ``forward`` / ``predict``) is taken by central differences.
    X : array-like of shape (n, d)
    task : {"classification", "regression"}, optional
        With ``"classification"`` the norm is that of the Jacobian of the class probabilities:
        a binary network whose output is one sigmoid unit p (``jacobian`` of shape (n, 1, d))
        is measured through ``[1 − p, p]``, i.e. ``J → [−J; J]`` (a factor √2), so it scores
        like the equivalent two-unit softmax network. Default (None): the model's output as
        is; for the fallback ``predict_proba`` if the model has it, else ``forward``.

    Returns
    -------
    float
    """
    X = _as_features(X)
    if callable(getattr(model, "jacobian", None)):
        J = np.asarray(model.jacobian(X), dtype=np.float64)
        if task == "classification" and J.ndim == 3 and J.shape[1] == 1:
            J = np.concatenate([-J, J], axis=1)  # one sigmoid unit p: Jacobian of [1 − p, p]
    else:
        if task is None:
            task = "classification" if callable(getattr(model, "predict_proba", None)) \
                else "regression"
        J = finite_difference_jacobian(_output_fn(model, task), X)
    if J.ndim != 3 or J.shape[0] != X.shape[0] or J.shape[2] != X.shape[1]:
        raise ValueError(f"model.jacobian(X) must return shape (n, m, d) = ({X.shape[0]}, m, "
                         f"{X.shape[1]}); got {J.shape}")
    return float(np.mean(np.sqrt(np.sum(J**2, axis=(1, 2)))))


def stability_scores(model, X, *, task: str = "classification",
                     levels: Sequence[float] = DEFAULT_LEVELS, draws: int = 5,
                     seed: int = 0) -> dict[str, float]:
    """Noise sensitivity, flip rate (classification) and Jacobian norm in one record.

    ``{**noise_sensitivity(model, X, ...), "jacobian_norm": jacobian_norm(model, X)}``; the
    caller adds prefixes (e.g. ``stability_``). Cost: ``1 + draws · len(levels)`` forward
    passes over X plus one Jacobian (n · m · d numbers).

    Returns
    -------
    dict[str, float]
        ``noise_sensitivity``, ``noise_sensitivity_<ε>``, ``flip_rate``, ``flip_rate_<ε>``
        (classification only) and ``jacobian_norm``.
    """
    record = noise_sensitivity(model, X, levels=levels, draws=draws, seed=seed, task=task)
    record["jacobian_norm"] = jacobian_norm(model, X, task=task)
    return record


# ----------------------------------------------------------------------------------------------
# retraining
# ----------------------------------------------------------------------------------------------
def _perturbed_indices(rng: np.random.Generator, n: int, method: str,
                       replace_fraction: float) -> np.ndarray:
    """Row indices of a perturbed training set of size n."""
    if method == "bootstrap":
        return rng.integers(0, n, size=n)
    idx = np.arange(n)
    m = int(round(replace_fraction * n))
    if m == 0:
        return idx
    replaced = rng.choice(n, size=m, replace=False)
    kept = np.setdiff1d(idx, replaced)
    idx[replaced] = rng.choice(kept, size=m, replace=True)
    return idx


def _check_retrain_args(n: int, k, method: str, replace_fraction: float) -> int:
    k = _check_count(k, "k", 2)
    if method not in RETRAIN_METHODS:
        raise ValueError(f"method must be one of {', '.join(RETRAIN_METHODS)}; got {method!r}")
    if not 0.0 <= replace_fraction < 1.0:
        raise ValueError(f"replace_fraction must be in [0, 1); got {replace_fraction!r}")
    if n < 2:
        raise ValueError(f"X_train must have at least 2 rows to perturb; got {n}")
    return k


def _test_score(out: np.ndarray, y_test: np.ndarray, task: str) -> float:
    if task == "classification":
        return float(accuracy_score(y_test, out.argmax(axis=1)))
    return float(r2_score(y_test, out[:, 0] if y_test.ndim == 1 else out))


def _disagreement(a: np.ndarray, b: np.ndarray, task: str) -> float:
    if task == "classification":
        return float(np.mean(a.argmax(axis=1) != b.argmax(axis=1)))
    return float(np.sqrt(np.mean((a - b) ** 2)))


def retraining_stability(train_fn: Callable, X_train, y_train, X_test, y_test, *, k: int = 5,
                         method: str = "bootstrap", replace_fraction: float = 0.05,
                         seed: int = 0, task: str = "classification",
                         vary_seed: bool = False) -> dict[str, float]:
    """Agreement of k models trained on k perturbed copies of the training set.

    Model ``a = train_fn(X_train[idx_a], y_train[idx_a], seed_a)`` for ``a = 1..k`` where
    ``idx_a`` is a bootstrap resample (``method="bootstrap"``: n rows drawn with replacement)
    or the identity with ``round(replace_fraction · n)`` rows replaced by copies of other
    randomly drawn training rows (``method="replace"``). Then, on the test set::

        disagreement = mean_{a<b} mean_i [ŷ_a(x_i) ≠ ŷ_b(x_i)]            (classification)
        disagreement = mean_{a<b} sqrt(mean_{i,j} (f_a(x_i) − f_b(x_i))_j²)   (regression)
        metric_a     = accuracy (classification) or R² (regression) of model a

    Rationale: a learning algorithm is stable (Bousquet & Elisseeff) when small changes of the
    training set barely change the learned function; unstable settings (a learning rate at the
    edge of divergence, no regularisation, tiny batches) show up as high disagreement and a wide
    spread of test scores. It costs k trainings: callers decide when to pay it.

    Parameters
    ----------
    train_fn : callable
        ``train_fn(X, y, seed) -> model`` with ``predict_proba`` (classification) or
        ``forward`` / ``predict`` (regression).
    X_train, y_train : array-like with n rows
        Training data (y in whatever form ``train_fn`` expects, indexed by rows).
    X_test : array-like of shape (n_test, d)
    y_test : array-like of shape (n_test,) class indices, or (n_test,) / (n_test, m) targets
    k : int, default 5
        Number of models (>= 2).
    method : {"bootstrap", "replace"}
    replace_fraction : float in [0, 1), default 0.05
        Share of training rows replaced (``method="replace"`` only).
    seed : int, default 0
        Seed of the perturbations; also the training seed given to every ``train_fn`` call, so
        the score isolates the effect of the data (``vary_seed=True`` passes ``seed + a``
        to fold initialisation randomness in).
    task : {"classification", "regression"}

    Returns
    -------
    dict[str, float]
        ``retrain_disagreement``, ``retrain_metric_mean``, ``retrain_metric_std`` (sample
        standard deviation, ddof = 1, of the k test scores) and ``retrain_k``.
    """
    _check_task(task)
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    k = _check_retrain_args(X_train.shape[0], k, method, replace_fraction)
    X_test = _as_features(X_test, "X_test")
    y_test = as_labels(y_test, "y_test") if task == "classification" else np.asarray(y_test)
    rng = np.random.default_rng(seed)
    outputs, scores = [], []
    for a in range(k):
        idx = _perturbed_indices(rng, X_train.shape[0], method, replace_fraction)
        model = train_fn(X_train[idx], y_train[idx], seed + a if vary_seed else seed)
        outputs.append(_output_fn(model, task)(X_test))
        scores.append(_test_score(outputs[-1], y_test, task))
    pairs = [_disagreement(outputs[a], outputs[b], task) for a, b in combinations(range(k), 2)]
    return {
        "retrain_disagreement": float(np.mean(pairs)),
        "retrain_metric_mean": float(np.mean(scores)),
        "retrain_metric_std": float(np.std(scores, ddof=1)) if np.ptp(scores) > 0 else 0.0,
        "retrain_k": k,
    }
