"""Files a trial leaves behind: ``trial.json``, charts, the gain/lift table.

Charts are drawn on the test split (the loss and gradient curves from the training history):

- ``loss_curve``: train/validation loss and metric per epoch;
- ``gradient_norms``: per-layer gradient norm per epoch (vanishing gradients);
- ``confusion_matrix``, ``roc``, ``gain``, ``lift``, ``ks`` (classification; one-vs-rest for
  several classes, and the KS chart of the class the model separates worst);
- ``decision_boundary`` (classification with 2 features);
- ``regression`` (predicted vs actual; drawn for every regression trial with charts).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hpstudy.evaluation import charts as ch
from hpstudy.evaluation.metrics import confusion
from hpstudy.evaluation.ranking import gain_lift_one_vs_rest, gain_lift_table, ks_curve


def preprocess_info(dataset, spec: dict) -> dict:
    """What the pyfunc model needs to take raw features (see :mod:`.pyfunc`)."""
    return {"feature_names": list(dataset.feature_names),
            "mean": dataset.scaler_offset.tolist(), "scale": dataset.scaler_scale.tolist(),
            "task": dataset.task, "class_names": dataset.class_names,
            "target_offset": spec.get("target_offset", 0.0),
            "target_scale": spec.get("target_scale", 1.0)}


def _scores(proba: np.ndarray) -> np.ndarray:
    """The score the ranking charts use: P(positive) for two classes, else all columns."""
    return proba[:, 1] if proba.shape[1] == 2 else proba


def _ks_chart(y, proba, path, names) -> None:
    if proba.shape[1] == 2:
        ch.plot_ks(ks_curve(y, proba[:, 1]), path)
        return
    curves = {c: ks_curve((y == c).astype(int), proba[:, c]) for c in range(proba.shape[1])
              if 0 < np.sum(y == c) < len(y)}
    worst = min(curves, key=lambda c: curves[c]["statistic"])
    ch.plot_ks(curves[worst], path, title=f"Kolmogorov–Smirnov: {names[worst]} vs rest "
               "(the class separated worst)", score_label=f"P({names[worst]})")


def _classification_charts(result, dataset, wanted, out: Path) -> None:
    from hpstudy.experiment.objective import predictions

    y, k = dataset.y_test, dataset.n_classes
    proba = predictions(result.net, dataset.X_test, dataset.task)
    names = dataset.class_names
    draw = {
        "confusion_matrix": lambda p: ch.plot_confusion_matrix(
            confusion(y, proba.argmax(axis=1), k), names, p),
        "roc": lambda p: ch.plot_roc(y, proba, p, class_names=names),
        "gain": lambda p: ch.plot_cumulative_gain(y, _scores(proba), p, class_names=names),
        "lift": lambda p: ch.plot_lift(y, _scores(proba), p, class_names=names),
        "ks": lambda p: _ks_chart(y, proba, p, names),
        "decision_boundary": lambda p: ch.plot_decision_boundary(
            result.net.predict_proba, dataset.X_test, y, p, class_names=names),
    }
    for name in wanted:
        if name in draw and not (name == "decision_boundary" and dataset.n_features != 2):
            draw[name](out / f"{name}.png")


def _history_charts(result, wanted, out: Path) -> None:
    h = result.history
    if "loss_curve" in wanted:
        metric = {"name": h.metric_name, "train": h.train_metric, "val": h.val_metric}
        ch.plot_loss_curves(h.train_loss, h.val_loss, out / "loss_curve.png",
                            metric=metric, loss_name=result.spec["loss"],
                            penalty=_penalty(result.params))
    if "gradient_norms" in wanted:
        norms = h.layer_series("grad_norm")
        names = [f"layer {i} ({a})" for i, a in enumerate(result.spec["activations"], 1)]
        ch.plot_gradient_norms(norms, out / "gradient_norms.png", layer_names=names)


def _penalty(params: dict) -> str | None:
    """The regularisation penalty in the training loss, as the loss curve names it."""
    kind, lam = params.get("regularizer", "none"), params.get("lambda", 0.0)
    if kind in (None, "none") or not lam:
        return None
    return f"{'elastic' if kind == 'elastic' else kind.upper()} penalty (λ = {float(lam):.3g})"


def gain_lift(result, dataset):
    """The gain/lift table of the test split (binary, or one-vs-rest), or None."""
    from hpstudy.experiment.objective import predictions

    if dataset.task != "classification":
        return None
    proba = predictions(result.net, dataset.X_test, dataset.task)
    if proba.shape[1] == 2:
        return gain_lift_table(dataset.y_test, proba[:, 1])
    table = gain_lift_one_vs_rest(dataset.y_test, proba)
    table["class"] = [dataset.class_names[int(c)] for c in table["class"]]
    return table


def write_trial_artifacts(directory: Path, result, dataset, charts: list[str]) -> None:
    """Write ``trial.json`` and, when ``charts`` is not empty, ``charts/*.png`` and
    ``gain_lift.csv`` into ``directory``."""
    record = {"params": result.params, "metrics": result.metrics,
              "network": {k: v for k, v in result.spec.items()}}
    (directory / "trial.json").write_text(json.dumps(record, indent=1, default=str))
    if not charts:
        return
    out = directory / "charts"
    out.mkdir()
    _history_charts(result, charts, out)
    if dataset.task == "classification":
        _classification_charts(result, dataset, charts, out)
        gain_lift(result, dataset).to_csv(directory / "gain_lift.csv", index=False)
    else:
        from hpstudy.experiment.objective import predictions

        pred = predictions(result.net, dataset.X_test, "regression", result.spec)
        ch.plot_regression(dataset.y_test, pred, out / "regression.png")
