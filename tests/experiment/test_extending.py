"""Adding a hyperparameter, a metric or a chart touches its registry (and the code that
computes it), nothing else: a registry entry alone is validated, searched, shown, offered and
drawn by the config, the search space, the console, the artifacts and the report."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest

from hpstudy.evaluation.chart_registry import CHARTS, Chart, winner_charts
from hpstudy.evaluation.metrics import METRICS, Metric
from hpstudy.experiment.artifacts import draw_charts
from hpstudy.experiment.config import (
    ConfigError,
    Fixed,
    Range,
    metric_direction,
    parse_config,
    valid_metrics,
)
from hpstudy.experiment.console import shown_metrics, top_table
from hpstudy.experiment.hyperparameters import (
    HYPERPARAMETERS,
    Hyperparameter,
    console_names,
    report_order,
)
from hpstudy.experiment.space import fixed_params, suggest_params
from hpstudy.report.analysis import param_order


# ------------------------------------------------------------------------------------------
# a hyperparameter: dropout
# ------------------------------------------------------------------------------------------
@pytest.fixture
def dropout(monkeypatch):
    """A new float hyperparameter, added to the registry only."""
    hp = Hyperparameter("dropout", "float", 0.0, "share of hidden units dropped", 13,
                        "in [0, 1)", lambda v: 0 <= v < 1, summary=True)
    monkeypatch.setitem(HYPERPARAMETERS, "dropout", hp)
    return hp


def _config(**search):
    return parse_config({"data": {"dataset": "digits"}, "search": search}, "t.toml")


def test_a_new_hyperparameter_is_validated_searched_and_shown(dropout):
    assert _config().search["dropout"] == Fixed(0.0)
    space = _config(dropout={"low": 0.0, "high": 0.5}).search
    assert space["dropout"] == Range(0.0, 0.5)
    with pytest.raises(ConfigError, match=r"search\.dropout: must be in \[0, 1\), got 1"):
        _config(dropout=1)
    with pytest.raises(ConfigError, match=r"search\.dropot: unknown key \(did you mean \"dropout\"\?\)"):
        parse_config({"data": {"dataset": "digits"}, "search": {"dropot": 0.1}}, "t.toml")
    params = suggest_params(optuna.trial.FixedTrial({"dropout": 0.25}), space)
    assert params["dropout"] == 0.25
    assert fixed_params(_config().search)["dropout"] == 0.0
    assert console_names()[-1] == "dropout" and report_order()[-1] == "dropout"
    assert param_order(["dropout", "learning_rate"]) == ["learning_rate", "dropout"]


def test_console_table_has_a_column_for_the_new_hyperparameter(dropout):
    trial = optuna.trial.create_trial(
        value=0.9, params={}, distributions={},
        user_attrs={"hparams": {"learning_rate": 0.1, "dropout": 0.25},
                    "metrics": {"val_f1_macro": 0.9}})
    study = optuna.create_study(direction="maximize")
    study.add_trial(trial)
    header = top_table(study, ["val_f1_macro"]).splitlines()[0].split()
    assert header == ["trial", "val_f1_macro", "learning_rate", "dropout"]


# ------------------------------------------------------------------------------------------
# a metric: balanced_accuracy
# ------------------------------------------------------------------------------------------
@pytest.fixture
def balanced_accuracy(monkeypatch):
    metric = Metric("balanced_accuracy", "classification", "maximize", 1.0, console=("val_",))
    monkeypatch.setitem(METRICS, "balanced_accuracy", metric)
    return metric


def test_a_new_metric_is_a_valid_objective_with_its_direction(balanced_accuracy):
    assert {"val_balanced_accuracy", "test_balanced_accuracy"} <= set(
        valid_metrics("classification"))
    assert "val_balanced_accuracy" not in valid_metrics("regression")
    assert metric_direction("test_balanced_accuracy") == "maximize"
    cfg = parse_config({"data": {"dataset": "digits"},
                        "study": {"objective": "val_balanced_accuracy"}}, "t.toml")
    assert cfg.directions == ("maximize",)
    assert shown_metrics()[-1] == "val_balanced_accuracy"


# ------------------------------------------------------------------------------------------
# a chart: precision_recall
# ------------------------------------------------------------------------------------------
@pytest.fixture
def precision_recall(monkeypatch):
    drawn = []
    chart = Chart("precision_recall", "Precision–recall curves",
                  lambda inputs, path: drawn.append((inputs.task, Path(path).name)),
                  "classification", winner_position=9)
    monkeypatch.setitem(CHARTS, "precision_recall", chart)
    return drawn


def _tracking(charts=None, dataset="digits"):
    table = {} if charts is None else {"charts": charts}
    return parse_config({"data": {"dataset": dataset}, "tracking": table}, "t.toml").tracking


def test_a_new_chart_is_offered_checked_and_drawn(precision_recall):
    assert "precision_recall" in _tracking().charts
    assert _tracking(["precision_recall"]).charts == ("precision_recall",)
    assert "precision_recall" not in _tracking(dataset="diabetes").charts
    with pytest.raises(ConfigError, match="precision_recall needs a classification task"):
        _tracking(["precision_recall"], dataset="diabetes")
    inputs = SimpleNamespace(task="classification")
    assert draw_charts(["precision_recall"], inputs, 4, Path("out")) == ["precision_recall"]
    assert precision_recall == [("classification", "precision_recall.png")]
    # the report's winner section (records.WINNER_CHARTS, text.WINNER_TITLES) is built from:
    assert winner_charts()[-1] == "precision_recall"
