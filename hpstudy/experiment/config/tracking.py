"""The ``[tracking]`` section: which charts and models the trials log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpstudy.experiment.config._checks import Checker, choose, listing, one_of, parse_fields
from hpstudy.experiment.config.data import DataConfig
from hpstudy.experiment.errors import ConfigError

ARTIFACT_POLICIES = ("all", "improving", "none")
CHARTS = (
    "loss_curve", "confusion_matrix", "roc", "gain", "lift", "ks", "gradient_norms",
    "decision_boundary",
)
#: Charts that only make sense for classification.
CLASSIFICATION_CHARTS = ("confusion_matrix", "roc", "gain", "lift", "ks", "decision_boundary")

@dataclass(frozen=True)
class TrackingConfig:
    """The ``[tracking]`` section.

    Attributes
    ----------
    charts : tuple of str
        Charts logged per trial (names of :data:`CHARTS`). Default: every chart that fits the
        task and data (classification charts for classification, decision_boundary for 2-D).
    charts_for : str
        Which trials get charts: ``all``, ``improving`` (trials that beat the best so far, so
        the best one always has them) or ``none``.
    model_for : str
        Which trials log their model, same values.
    """

    charts: tuple[str, ...] = CHARTS
    charts_for: str = "improving"
    model_for: str = "improving"


def _chart_list(source: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(source, key, f"must be a list of chart names ({listing(CHARTS)})", value)
    charts = tuple(choose(source, key, name, CHARTS, "chart") for name in value)
    for i, name in enumerate(charts):
        if name in charts[:i]:
            raise ConfigError(source, key, "each chart may appear only once", name)
    return charts


TRACKING_CHECKS: dict[str, Checker] = {
    "charts": _chart_list,
    "charts_for": one_of(ARTIFACT_POLICIES, "charts_for policy"),
    "model_for": one_of(ARTIFACT_POLICIES, "model_for policy"),
}


def default_charts(data: DataConfig, task: str | None) -> tuple[str, ...]:
    """Charts that fit ``task`` and the data when ``[tracking] charts`` is not given."""
    return tuple(name for name in CHARTS if _chart_problem(name, data, task) is None)


def _chart_problem(name: str, data: DataConfig, task: str | None) -> str | None:
    if name in CLASSIFICATION_CHARTS and task != "classification":
        return f"{name} needs a classification task (the task is {task or 'not known'})"
    if name == "decision_boundary" and data.n_features != 2:
        known = data.n_features or "not known"
        return f"decision_boundary needs exactly 2 input features (the data has {known})"
    return None


def parse_tracking(source: str, table: dict, data: DataConfig, task: str | None):
    values = parse_fields(source, "tracking", table, TRACKING_CHECKS)
    if "charts" not in values:
        values["charts"] = default_charts(data, task)
    for name in values["charts"]:
        problem = _chart_problem(name, data, task)
        # An unknown task or feature count is only known after loading: the chart is skipped.
        if problem and "not known" not in problem:
            raise ConfigError(source, "tracking.charts", problem, name)
    return TrackingConfig(**values)

