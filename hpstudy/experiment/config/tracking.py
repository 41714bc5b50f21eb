"""The ``[tracking]`` section: which charts and models the trials log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpstudy.evaluation.chart_registry import CHARTS as CHART_REGISTRY
from hpstudy.evaluation.chart_registry import selectable_charts
from hpstudy.experiment.config._checks import Checker, choose, listing, one_of, parse_fields
from hpstudy.experiment.config.data import DataConfig
from hpstudy.experiment.errors import ConfigError

ARTIFACT_POLICIES = ("all", "improving", "none")
#: The charts ``[tracking] charts`` may name (:data:`hpstudy.evaluation.chart_registry.CHARTS`).
CHARTS = selectable_charts()


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
    names = selectable_charts()
    if not isinstance(value, list):
        raise ConfigError(source, key, f"must be a list of chart names ({listing(names)})", value)
    charts = tuple(choose(source, key, name, names, "chart") for name in value)
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
    return tuple(name for name in selectable_charts() if _chart_problem(name, data, task) is None)


def _chart_problem(name: str, data: DataConfig, task: str | None) -> str | None:
    return CHART_REGISTRY[name].problem(task, data.n_features)


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

