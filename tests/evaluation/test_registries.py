"""The metric and chart registries name exactly what evaluation computes and draws."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from hpstudy.evaluation import metrics as metrics_module
from hpstudy.evaluation import stability
from hpstudy.evaluation.chart_registry import CHARTS, ChartInputs, selectable_charts, winner_charts
from hpstudy.evaluation.metrics import (
    METRICS,
    SPLITS,
    STABILITY_METRICS,
    classification_metrics,
    find_metric,
    regression_metrics,
)

from .conftest import LinearRegressor, LinearSoftmax

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 2))
Y3 = np.arange(40) % 3
PROBA3 = np.eye(3)[Y3] * 0.7 + 0.1


def _split_metrics(task: str) -> list[str]:
    return [m.name for m in METRICS.values() if m.task == task and m.prefixes == SPLITS]


# ------------------------------------------------------------------------------------------
# metrics: the registry names the keys the functions return, in the same order
# ------------------------------------------------------------------------------------------
def test_registry_names_the_classification_metrics_computed():
    assert list(classification_metrics(Y3, PROBA3)) == _split_metrics("classification")


def test_registry_names_the_regression_metrics_computed():
    y = RNG.normal(size=10)
    assert list(regression_metrics(y, y + 0.1)) == _split_metrics("regression")


def test_registry_names_the_stability_scores_computed():
    model = LinearSoftmax(RNG.normal(size=(2, 3)))
    computed = set(stability.noise_sensitivity(model, X, levels=(0.1,), draws=1,
                                               task="classification"))
    # jacobian_norm returns one float, logged under its own name (objective.stability_metrics)
    assert np.isfinite(stability.jacobian_norm(model, X, task="classification"))
    computed.add("jacobian_norm")
    retrain = stability.retraining_stability(
        lambda X_, y_, seed: LinearRegressor(RNG.normal(size=(2, 1))), X, X[:, 0], X, X[:, 0],
        k=2, task="regression")
    computed |= set(retrain)
    registered = {m.name for m in METRICS.values() if m.prefixes == ("stability_",)}
    assert registered <= computed
    assert set(STABILITY_METRICS) == {f"stability_{name}" for name in registered}


def test_flip_rate_is_computed_for_classification_only():
    model = LinearRegressor(RNG.normal(size=(2, 1)))
    computed = stability.noise_sensitivity(model, X, levels=(0.1,), draws=1, task="regression")
    assert "flip_rate" not in computed and METRICS["flip_rate"].task == "classification"


def test_a_perfect_model_reaches_every_best_value():
    y = np.array([0, 1, 2, 0, 1, 2])
    got = classification_metrics(y, np.eye(3)[y])
    got |= regression_metrics(np.arange(6.0), np.arange(6.0))
    for name, value in got.items():
        assert METRICS[name].bounded
        assert value == pytest.approx(METRICS[name].best, abs=1e-9), name


@pytest.mark.parametrize("metric", list(METRICS.values()), ids=lambda m: m.name)
def test_every_logged_name_finds_its_metric(metric):
    assert metric.direction in ("maximize", "minimize")
    assert metric.task in ("classification", "regression", None)
    for name in metric.logged_names:
        assert find_metric(name) is metric
    assert find_metric(f"train_{metric.name}") is None


def test_directions_follow_the_registry():
    assert metrics_module.GREATER_IS_BETTER["log_loss"] is False
    assert metrics_module.GREATER_IS_BETTER["r2"] is True
    assert METRICS["noise_sensitivity"].direction == "minimize"


# ------------------------------------------------------------------------------------------
# charts: every entry draws a PNG from ChartInputs
# ------------------------------------------------------------------------------------------
def _inputs(task: str, k: int = 3) -> ChartInputs:
    history = SimpleNamespace(
        metric_name="accuracy", train_metric=[0.5, 0.7, 0.8], val_metric=[0.5, 0.6, 0.7],
        train_loss=[1.0, 0.7, 0.5], val_loss=[1.1, 0.8, 0.6],
        layer_series=lambda key: np.array([[1.0, 0.5], [0.8, 0.4], [0.6, 0.3]]))
    y = np.arange(40) % k if task == "classification" else X[:, 0] * 2.0
    model = LinearSoftmax(RNG.normal(size=(2, k)))
    pred = model.predict_proba(X) if task == "classification" else y + 0.1
    return ChartInputs(task=task, y=y, pred=pred, X=X, class_names=[f"c{i}" for i in range(k)],
                       predict_proba=model.predict_proba, history=history, loss_name="mse",
                       penalty=None, layer_names=["layer 1 (relu)", "layer 2 (softmax)"])


@pytest.mark.parametrize(("task", "k"), [("classification", 3), ("classification", 2),
                                         ("regression", 3)])
def test_every_chart_that_fits_draws_a_png(tmp_path, task, k):
    inputs = _inputs(task, k)
    drawn = []
    for name, chart in CHARTS.items():
        if chart.problem(task, X.shape[1]) is None:
            chart.draw(inputs, tmp_path / f"{name}.png")
            drawn.append(name)
    assert drawn and all((tmp_path / f"{n}.png").stat().st_size > 1000 for n in drawn)
    expected = {n for n, c in CHARTS.items() if c.task in (task, None)}
    assert set(drawn) == expected


def test_chart_problems_name_what_is_needed():
    assert CHARTS["roc"].problem("regression", 2) == (
        "roc needs a classification task (the task is regression)")
    assert CHARTS["decision_boundary"].problem("classification", 4) == (
        "decision_boundary needs exactly 2 input features (the data has 4)")
    assert CHARTS["decision_boundary"].problem("classification", None).endswith("not known)")
    assert CHARTS["loss_curve"].problem(None, None) is None


def test_views_of_the_chart_registry():
    assert "regression" not in selectable_charts()          # drawn for every regression trial
    assert set(winner_charts()) == set(CHARTS)
    assert winner_charts()[0] == "confusion_matrix"


def test_chart_registry_import_does_not_load_matplotlib():
    code = ("import sys, hpstudy.evaluation.chart_registry\n"
            "assert 'matplotlib' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
