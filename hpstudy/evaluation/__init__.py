"""hpstudy.evaluation: metrics, KS / gain / lift, stability scores and charts.

Importing this package does not import matplotlib: the charts live in
:mod:`hpstudy.evaluation.charts`, loaded on first use (``hpstudy.evaluation.charts`` or
``from hpstudy.evaluation.charts import plot_roc``).

Metrics (:mod:`.metrics`)
    METRICS (the registry of metric names), classification_metrics, regression_metrics, confusion
Charts (:mod:`.chart_registry`, without matplotlib)
    CHARTS (the registry of chart names and how each is drawn)
Ranking (:mod:`.ranking`)
    ks_statistic, ks_curve, ks_one_vs_rest, gain_lift_table, gain_lift_one_vs_rest,
    cumulative_gain_curve, roc_curves
Stability (:mod:`.stability`)
    noise_sensitivity, jacobian_norm, retraining_stability, stability_scores,
    finite_difference_jacobian
"""

from __future__ import annotations

import importlib

from hpstudy.evaluation.metrics import (
    CLASSIFICATION_METRICS,
    GREATER_IS_BETTER,
    METRICS,
    REGRESSION_METRICS,
    Metric,
    classification_metrics,
    confusion,
    regression_metrics,
)
from hpstudy.evaluation.ranking import (
    KSResult,
    cumulative_gain_curve,
    gain_lift_one_vs_rest,
    gain_lift_table,
    ks_curve,
    ks_one_vs_rest,
    ks_statistic,
    roc_curves,
)
from hpstudy.evaluation.stability import (
    finite_difference_jacobian,
    jacobian_norm,
    noise_sensitivity,
    retraining_stability,
    stability_scores,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "GREATER_IS_BETTER",
    "METRICS",
    "Metric",
    "REGRESSION_METRICS",
    "KSResult",
    "classification_metrics",
    "confusion",
    "cumulative_gain_curve",
    "finite_difference_jacobian",
    "gain_lift_one_vs_rest",
    "gain_lift_table",
    "jacobian_norm",
    "ks_curve",
    "ks_one_vs_rest",
    "ks_statistic",
    "noise_sensitivity",
    "regression_metrics",
    "retraining_stability",
    "roc_curves",
    "stability_scores",
]


def __getattr__(name: str):
    """Load :mod:`hpstudy.evaluation.charts` (and matplotlib) only when it is asked for."""
    if name == "charts":
        return importlib.import_module("hpstudy.evaluation.charts")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
