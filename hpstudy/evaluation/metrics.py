"""Standard classification and regression metrics, computed by scikit-learn and SciPy.

Values equal scikit-learn's (and SciPy's for KS) for the calls documented in each function; the
only code here decides what to call and what to return when a metric is undefined (NaN, never
an exception). Keys are the names a study logs with ``val_`` / ``test_`` prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from hpstudy.evaluation._validation import as_labels, as_proba, check_labels_fit
from hpstudy.evaluation.ranking import ks_one_vs_rest, ks_statistic

__all__ = [
    "CLASSIFICATION_METRICS",
    "GREATER_IS_BETTER",
    "METRICS",
    "Metric",
    "REGRESSION_METRICS",
    "STABILITY_METRICS",
    "classification_metrics",
    "confusion",
    "find_metric",
    "regression_metrics",
]

#: prefixes of a final metric logged for the validation and the test split
SPLITS = ("val_", "test_")


@dataclass(frozen=True)
class Metric:
    """One metric a study logs, as every part of hpstudy knows it.

    Attributes
    ----------
    name : str
        The key the function that computes it returns (``f1_macro``, ``noise_sensitivity``).
    task : str or None
        ``"classification"`` or ``"regression"``; None when it applies to both.
    direction : str
        ``"maximize"`` or ``"minimize"`` (the default direction of an objective).
    best : float or None
        The value no model can beat (1.0 for accuracy, 0.0 for an error), so that an objective
        that reached it (saturated) can be said out loud; None if unbounded.
    prefixes : tuple of str
        How it is logged: ``("val_", "test_")`` for a final metric of both splits,
        ``("stability_",)`` for a stability score.
    objective : bool
        Whether ``[study] objective`` may name it (retraining scores are computed at the end of
        a study, too late to steer it).
    label : str or None
        Short column label in reports (None: the logged name).
    leaderboard : bool
        Shown on the report's leaderboard.
    console : tuple of str
        The prefixes with which the console's table of top trials shows it.
    """

    name: str
    task: str | None
    direction: str
    best: float | None
    prefixes: tuple[str, ...] = SPLITS
    objective: bool = True
    label: str | None = None
    leaderboard: bool = False
    console: tuple[str, ...] = ()

    @property
    def bounded(self) -> bool:
        """Whether a best value exists (an objective can saturate)."""
        return self.best is not None

    @property
    def logged_names(self) -> tuple[str, ...]:
        """The metric names a study logs for it (``val_f1_macro``, ``test_f1_macro``)."""
        return tuple(prefix + self.name for prefix in self.prefixes)


def _metrics(*metrics: Metric) -> dict[str, Metric]:
    return {metric.name: metric for metric in metrics}


_C, _R, _MAX, _MIN, _STAB = "classification", "regression", "maximize", "minimize", ("stability_",)

#: Every metric a study logs, by name: classification, regression, then stability scores
#: (:func:`classification_metrics`, :func:`regression_metrics` and
#: :mod:`hpstudy.evaluation.stability` compute them; a test ties the names to their keys).
METRICS: dict[str, Metric] = _metrics(
    Metric("accuracy", _C, _MAX, 1.0, leaderboard=True),
    Metric("precision_macro", _C, _MAX, 1.0),
    Metric("recall_macro", _C, _MAX, 1.0),
    Metric("f1_macro", _C, _MAX, 1.0, leaderboard=True, console=SPLITS),
    Metric("f1_weighted", _C, _MAX, 1.0),
    Metric("roc_auc", _C, _MAX, 1.0, leaderboard=True),
    Metric("log_loss", _C, _MIN, 0.0),
    Metric("ks", _C, _MAX, 1.0, leaderboard=True),
    Metric("mse", _R, _MIN, 0.0),
    Metric("rmse", _R, _MIN, 0.0, leaderboard=True, console=("test_",)),
    Metric("mae", _R, _MIN, 0.0, leaderboard=True),
    Metric("r2", _R, _MAX, 1.0, leaderboard=True),
    Metric("noise_sensitivity", None, _MIN, 0.0, _STAB, label="noise sensitivity",
           leaderboard=True, console=_STAB),
    Metric("flip_rate", _C, _MIN, 0.0, _STAB, label="flip rate", leaderboard=True),
    Metric("jacobian_norm", None, _MIN, 0.0, _STAB, label="Jacobian norm"),
    Metric("retrain_disagreement", None, _MIN, 0.0, _STAB, objective=False,
           label="retrain disagreement", leaderboard=True),
    Metric("retrain_metric_std", None, _MIN, 0.0, _STAB, objective=False,
           label="retrain metric std"),
)

CLASSIFICATION_METRICS = tuple(m.name for m in METRICS.values() if m.prefixes == SPLITS
                               and m.task == _C)
REGRESSION_METRICS = tuple(m.name for m in METRICS.values() if m.prefixes == SPLITS
                           and m.task == _R)
#: stability scores by their logged names (``stability_noise_sensitivity``, ...)
STABILITY_METRICS = tuple(name for m in METRICS.values() if m.prefixes == _STAB
                          for name in m.logged_names)
#: split metrics where larger is better; the others (log_loss, mse, rmse, mae) are minimised
GREATER_IS_BETTER = {m.name: m.direction == _MAX for m in METRICS.values()
                     if m.prefixes == SPLITS}


def find_metric(logged_name: str) -> Metric | None:
    """The metric a logged name (``val_f1_macro``, ``stability_flip_rate``) belongs to."""
    for prefix in ("val_", "test_", "stability_"):
        if logged_name.startswith(prefix):
            metric = METRICS.get(logged_name[len(prefix):])
            if metric is not None and prefix in metric.prefixes:
                return metric
    return None


def classification_metrics(y_true, proba) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1, weighted F1, ROC AUC, log loss and KS.

    With ``y_pred = argmax_c proba[:, c]`` and ``k = proba.shape[1]``:

    * ``accuracy`` = ``accuracy_score(y_true, y_pred)``;
    * ``precision_macro``, ``recall_macro``, ``f1_macro`` = the scikit-learn scores with
      ``average="macro", zero_division=0``; ``f1_weighted`` with ``average="weighted"``. As in
      scikit-learn, the macro mean runs over the classes present in ``y_true`` or ``y_pred``:
      a class never predicted scores 0 (``zero_division=0``), a class neither present nor
      predicted is left out. ``F1 = 2·P·R / (P + R)`` per class;
    * ``roc_auc``: binary ``roc_auc_score(y_true, proba[:, 1])``; multiclass one-vs-rest macro
      ``roc_auc_score(y_true, proba, multi_class="ovr", labels=range(k))``. When a class is
      absent from ``y_true`` its AUC is undefined and the macro mean runs over the present
      classes (``mean_c roc_auc_score(y_true == c, proba[:, c])``);
    * ``log_loss`` = ``log_loss(y_true, proba, labels=range(k))`` = ``-mean_i log p_i,y_i``;
    * ``ks``: binary ``ks_2samp`` statistic of ``proba[:, 1]`` of positives vs negatives;
      multiclass the macro mean of the one-vs-rest statistics over the present classes.

    ``roc_auc`` and ``ks`` are NaN when ``y_true`` holds a single class.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class indices 0..k-1.
    proba : array-like of shape (n, k)
        Class probabilities, rows summing to 1 (a 1-D array is read as P(class 1)).

    Returns
    -------
    dict[str, float]
        Keys :data:`CLASSIFICATION_METRICS`.
    """
    y = as_labels(y_true, "y_true")
    p = as_proba(proba, y.size, "proba")
    k = p.shape[1]
    check_labels_fit(y, k)
    y_pred = p.argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(y, y_pred)),
        "precision_macro": float(precision_score(y, y_pred, average="macro", zero_division=0)),
        "recall_macro": float(recall_score(y, y_pred, average="macro", zero_division=0)),
        "f1_macro": float(f1_score(y, y_pred, average="macro", zero_division=0)),
        "f1_weighted": float(f1_score(y, y_pred, average="weighted", zero_division=0)),
        "roc_auc": _roc_auc(y, p),
        "log_loss": float(log_loss(y, p, labels=list(range(k)))),
        "ks": _ks(y, p),
    }


def _roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC (binary, or one-vs-rest macro over the classes present in `y`); NaN if undefined."""
    k = p.shape[1]
    present = np.unique(y)
    if present.size < 2:
        return float("nan")
    if k == 2:
        return float(roc_auc_score(y, p[:, 1]))
    if present.size == k:
        return float(roc_auc_score(y, p, multi_class="ovr", average="macro",
                                   labels=list(range(k))))
    return float(np.mean([roc_auc_score(y == c, p[:, c]) for c in present]))


def _ks(y: np.ndarray, p: np.ndarray) -> float:
    """KS statistic: binary on ``p[:, 1]``, multiclass the one-vs-rest macro mean."""
    if p.shape[1] == 2:
        return ks_statistic(y, p[:, 1]).statistic
    return ks_one_vs_rest(y, p)["macro"]


def _as_targets(a, name: str) -> np.ndarray:
    """Regression targets as a finite float64 array of shape (n,) or (n, m)."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, m) with n >= 1; got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {int(np.sum(~np.isfinite(arr)))} "
                         f"non-finite values")
    return arr


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """Mean squared error, its root, mean absolute error and R².

    ``mse = mean (y - ŷ)²``, ``rmse = sqrt(mse)``, ``mae = mean |y - ŷ|``,
    ``r2 = 1 - Σ(y - ŷ)² / Σ(y - ȳ)²``, computed by scikit-learn (``mean_squared_error``,
    ``root_mean_squared_error``, ``mean_absolute_error``, ``r2_score``). With several outputs
    each score is computed per output and averaged uniformly (scikit-learn's default).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, m)
        Targets and predictions of the same shape ((n, 1) is read as (n,)).

    Returns
    -------
    dict[str, float]
        Keys :data:`REGRESSION_METRICS`. ``r2`` is NaN for fewer than two rows.
    """
    t = _as_targets(y_true, "y_true")
    p = _as_targets(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_pred must have the shape of y_true {t.shape}; got {p.shape}")
    r2 = float(r2_score(t, p)) if t.shape[0] >= 2 else float("nan")
    return {
        "mse": float(mean_squared_error(t, p)),
        "rmse": float(root_mean_squared_error(t, p)),
        "mae": float(mean_absolute_error(t, p)),
        "r2": r2,
    }


def confusion(y_true, y_pred, k: int) -> np.ndarray:
    """Confusion matrix ``C[i, j]`` = number of rows of true class i predicted as class j.

    ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(k))``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class indices 0..k-1.
    y_pred : array-like of shape (n,) or (n, k)
        Predicted class indices, or class probabilities (then ``y_pred = argmax``).
    k : int
        Number of classes (>= 2).

    Returns
    -------
    ndarray of shape (k, k), int64
        Rows are true classes, columns predicted classes.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise ValueError(f"k must be an integer number of classes >= 2; got {k!r}")
    y = as_labels(y_true, "y_true")
    pred = np.asarray(y_pred)
    if pred.ndim == 2:
        pred = as_proba(pred, y.size, "y_pred").argmax(axis=1)
    pred = as_labels(pred, "y_pred")
    if pred.size != y.size:
        raise ValueError(f"y_pred must have one entry per row of y_true ({y.size}); "
                         f"got {pred.size}")
    check_labels_fit(y, k, "y_true")
    check_labels_fit(pred, k, "y_pred")
    return confusion_matrix(y, pred, labels=list(range(k))).astype(np.int64)
