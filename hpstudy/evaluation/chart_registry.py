"""The charts a trial can log: one registry that the config, the trial and the report read.

:data:`CHARTS` names each chart once with what it needs (a task, a number of input features),
how it is drawn (a function of :class:`ChartInputs` and a path, calling
:mod:`hpstudy.evaluation.charts`), its title and where it is shown (offered in ``[tracking]
charts``, and its place in the report's winner section). Adding a chart means an entry here
and its plot function in :mod:`hpstudy.evaluation.charts`.

Importing this module does not import matplotlib: a drawer loads the chart module when it
draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CHARTS", "Chart", "ChartInputs", "selectable_charts", "winner_charts"]


@dataclass(frozen=True)
class ChartInputs:
    """What a trial's charts are drawn from: its test split, predictions and training history.

    Attributes
    ----------
    task : str
        ``"classification"`` or ``"regression"``.
    y : ndarray of shape (n,)
        Test labels 0..k-1, or test targets.
    pred : ndarray
        ``(n, k)`` class probabilities, or ``(n,)`` predictions in the target's units.
    X : ndarray of shape (n, d)
        Test features (as the network sees them).
    class_names : list of str or None
        Class names (classification).
    predict_proba : callable or None
        ``X -> (n, k)`` class probabilities (the decision boundary evaluates it on a grid).
    history : hpstudy.nn.History
        Per-epoch losses, metric and diagnostics.
    loss_name : str
        The training loss, as the loss curve names it.
    penalty : str or None
        The regularization penalty the training loss includes, as the loss curve names it.
    layer_names : list of str
        One label per layer for the gradient-norm chart.
    """

    task: str
    y: np.ndarray
    pred: np.ndarray
    X: np.ndarray
    class_names: Sequence[str] | None
    predict_proba: Callable | None
    history: Any
    loss_name: str
    penalty: str | None
    layer_names: Sequence[str]

    @property
    def scores(self) -> np.ndarray:
        """The score of the ranking charts: P(positive) for two classes, else every column."""
        return self.pred[:, 1] if self.pred.shape[1] == 2 else self.pred


@dataclass(frozen=True)
class Chart:
    """One chart a trial can log as ``charts/<name>.png``.

    Attributes
    ----------
    name : str
    title : str
        Its title in reports.
    draw : callable
        ``(ChartInputs, path) -> None``.
    task : str or None
        The task it needs (None: any).
    features : int or None
        The number of input features it needs (None: any).
    selectable : bool
        Offered in ``[tracking] charts``; a chart that is not is drawn for every trial of its
        task that logs charts.
    winner_position : int or None
        Its place in the report's section on the best trial (None: not shown there).
    """

    name: str
    title: str
    draw: Callable[[ChartInputs, Path], Any]
    task: str | None = None
    features: int | None = None
    selectable: bool = True
    winner_position: int | None = None

    def problem(self, task: str | None, n_features: int | None) -> str | None:
        """Why the chart does not fit a task and data (``"not known"`` in it when that is
        only known after loading), or None when it fits."""
        if self.task is not None and task != self.task:
            return f"{self.name} needs a {self.task} task (the task is {task or 'not known'})"
        if self.features is not None and n_features != self.features:
            known = n_features or "not known"
            return (f"{self.name} needs exactly {self.features} input features "
                    f"(the data has {known})")
        return None


def _charts():
    from hpstudy.evaluation import charts

    return charts


def _loss_curve(c: ChartInputs, path: Path) -> None:
    h = c.history
    metric = {"name": h.metric_name, "train": h.train_metric, "val": h.val_metric}
    _charts().plot_loss_curves(h.train_loss, h.val_loss, path, metric=metric,
                               loss_name=c.loss_name, penalty=c.penalty)


def _gradient_norms(c: ChartInputs, path: Path) -> None:
    _charts().plot_gradient_norms(c.history.layer_series("grad_norm"), path,
                                  layer_names=list(c.layer_names))


def _confusion_matrix(c: ChartInputs, path: Path) -> None:
    from hpstudy.evaluation.metrics import confusion

    cm = confusion(c.y, c.pred.argmax(axis=1), c.pred.shape[1])
    _charts().plot_confusion_matrix(cm, c.class_names, path)


def _roc(c: ChartInputs, path: Path) -> None:
    _charts().plot_roc(c.y, c.pred, path, class_names=c.class_names)


def _gain(c: ChartInputs, path: Path) -> None:
    _charts().plot_cumulative_gain(c.y, c.scores, path, class_names=c.class_names)


def _lift(c: ChartInputs, path: Path) -> None:
    _charts().plot_lift(c.y, c.scores, path, class_names=c.class_names)


def _ks(c: ChartInputs, path: Path) -> None:
    """Binary: the KS chart of P(positive); several classes: of the class separated worst."""
    from hpstudy.evaluation.ranking import ks_curve

    y, proba, names = c.y, c.pred, c.class_names
    if proba.shape[1] == 2:
        _charts().plot_ks(ks_curve(y, proba[:, 1]), path)
        return
    curves = {k: ks_curve((y == k).astype(int), proba[:, k]) for k in range(proba.shape[1])
              if 0 < np.sum(y == k) < len(y)}
    worst = min(curves, key=lambda k: curves[k]["statistic"])
    _charts().plot_ks(curves[worst], path, title=f"Kolmogorov–Smirnov: {names[worst]} vs rest "
                      "(the class separated worst)", score_label=f"P({names[worst]})")


def _decision_boundary(c: ChartInputs, path: Path) -> None:
    _charts().plot_decision_boundary(c.predict_proba, c.X, c.y, path, class_names=c.class_names)


def _regression(c: ChartInputs, path: Path) -> None:
    _charts().plot_regression(c.y, c.pred, path)


def _registry(*charts: Chart) -> dict[str, Chart]:
    return {chart.name: chart for chart in charts}


_C = "classification"

#: Every chart, in the order ``[tracking] charts`` lists them by default.
CHARTS: dict[str, Chart] = _registry(
    Chart("loss_curve", "Training curves", _loss_curve, winner_position=7),
    Chart("confusion_matrix", "Confusion matrix (test split)", _confusion_matrix, _C,
          winner_position=0),
    Chart("roc", "ROC curves", _roc, _C, winner_position=1),
    Chart("gain", "Cumulative gain", _gain, _C, winner_position=2),
    Chart("lift", "Lift", _lift, _C, winner_position=3),
    Chart("ks", "Kolmogorov–Smirnov", _ks, _C, winner_position=4),
    Chart("gradient_norms", "Gradient norm per layer", _gradient_norms, winner_position=8),
    Chart("decision_boundary", "Decision boundary", _decision_boundary, _C, features=2,
          winner_position=5),
    Chart("regression", "Predicted vs actual", _regression, "regression", selectable=False,
          winner_position=6),
)


def selectable_charts() -> tuple[str, ...]:
    """The chart names ``[tracking] charts`` accepts, in registry order."""
    return tuple(name for name, chart in CHARTS.items() if chart.selectable)


def winner_charts() -> tuple[str, ...]:
    """The charts of the report's section on the best trial, in the order it shows them."""
    shown = [chart for chart in CHARTS.values() if chart.winner_position is not None]
    return tuple(chart.name for chart in sorted(shown, key=lambda c: c.winner_position))
