"""Files a trial leaves behind: ``trial.json``, charts, the gain/lift table.

Charts are drawn on the test split (the loss and gradient curves from the training history);
which ones, what they need and how they are drawn is
:data:`hpstudy.evaluation.chart_registry.CHARTS`. A chart that does not fit the trial's task or
data (``decision_boundary`` without exactly 2 features) is skipped; ``regression`` (predicted
vs actual) is drawn for every regression trial with charts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hpstudy.evaluation.chart_registry import CHARTS, ChartInputs
from hpstudy.evaluation.ranking import gain_lift_one_vs_rest, gain_lift_table


def preprocess_info(dataset, spec: dict) -> dict:
    """What the pyfunc model needs to take raw features (see :mod:`.pyfunc`)."""
    return {"feature_names": list(dataset.feature_names),
            "mean": dataset.scaler_offset.tolist(), "scale": dataset.scaler_scale.tolist(),
            "task": dataset.task, "class_names": dataset.class_names,
            "target_offset": spec.get("target_offset", 0.0),
            "target_scale": spec.get("target_scale", 1.0)}


def chart_inputs(result, dataset, pred: np.ndarray) -> ChartInputs:
    """What the charts of a trial are drawn from (see :class:`ChartInputs`)."""
    spec = result.spec
    return ChartInputs(
        task=dataset.task, y=dataset.y_test, pred=pred, X=dataset.X_test,
        class_names=dataset.class_names, predict_proba=result.net.predict_proba,
        history=result.history, loss_name=spec["loss"], penalty=_penalty(result.params),
        layer_names=[f"layer {i} ({a})" for i, a in enumerate(spec["activations"], 1)])


def draw_charts(wanted, inputs: ChartInputs, n_features: int, out: Path) -> list[str]:
    """Draw the ``wanted`` charts (and those drawn for every trial of the task) that fit the
    task and data into ``out/<name>.png``; returns their names."""
    drawn = []
    for name, chart in CHARTS.items():
        if (name in wanted or not chart.selectable) and \
                chart.problem(inputs.task, n_features) is None:
            chart.draw(inputs, out / f"{name}.png")
            drawn.append(name)
    return drawn


def _penalty(params: dict) -> str | None:
    """The regularisation penalty in the training loss, as the loss curve names it."""
    kind, lam = params.get("regularizer", "none"), params.get("lambda", 0.0)
    if kind in (None, "none") or not lam:
        return None
    return f"{'elastic' if kind == 'elastic' else kind.upper()} penalty (λ = {float(lam):.3g})"


def gain_lift(proba: np.ndarray, dataset):
    """The gain/lift table of the test split (binary, or one-vs-rest), or None."""
    if dataset.task != "classification":
        return None
    if proba.shape[1] == 2:
        return gain_lift_table(dataset.y_test, proba[:, 1])
    table = gain_lift_one_vs_rest(dataset.y_test, proba)
    table["class"] = [dataset.class_names[int(c)] for c in table["class"]]
    return table


def write_trial_artifacts(directory: Path, result, dataset, charts: list[str],
                          pred: np.ndarray | None) -> None:
    """Write ``trial.json`` and, when ``charts`` is not empty, ``charts/*.png`` and
    ``gain_lift.csv`` into ``directory``.

    ``pred`` holds the test predictions (needed only with charts): class probabilities
    ``(n, k)`` for classification, predictions ``(n,)`` in the target's units for regression.
    """
    record = {"params": result.params, "metrics": result.metrics,
              "network": {k: v for k, v in result.spec.items()}}
    (directory / "trial.json").write_text(json.dumps(record, indent=1, default=str))
    if not charts:
        return
    out = directory / "charts"
    out.mkdir()
    draw_charts(charts, chart_inputs(result, dataset, pred), dataset.n_features, out)
    if dataset.task == "classification":
        gain_lift(pred, dataset).to_csv(directory / "gain_lift.csv", index=False)
