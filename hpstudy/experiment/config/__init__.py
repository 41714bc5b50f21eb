"""Experiment files: read, validate and resolve them into frozen dataclasses.

An experiment is a TOML file (read as data with :mod:`tomllib`, never evaluated) with the
sections ``[study]``, ``[data]``, ``[train]``, ``[search]``, ``[stability]`` and ``[tracking]``.
:func:`load_config` reads one, applies ``--set`` overrides and returns an
:class:`ExperimentConfig` with every default filled in; :meth:`ExperimentConfig.to_dict` gives
the resolved config back as plain TOML-able data, and ``parse_config(cfg.to_dict(), src)``
rebuilds an equal config.

Validation happens entirely here, before anything is stored, and stops at the first problem
with a one-line :class:`~hpstudy.experiment.errors.ConfigError`::

    experiments/x.toml: search.learning_rate: low must be > 0 for a log range, got 0

One module per job:

- :mod:`._checks`: small checkers and the wording of messages shared by every section;
- :mod:`.search`: the search-space grammar (:class:`Fixed`, :class:`Choice`, :class:`Range`,
  :class:`SearchSpace`);
- :mod:`.study`, :mod:`.data`, :mod:`.train`, :mod:`.stability`, :mod:`.tracking`: one section
  each, its dataclass and its parsing;
- :mod:`.cross`: checks across sections (losses against the task, samplers against the study);
- :mod:`.experiment`: :class:`ExperimentConfig` and :func:`parse_config`;
- :mod:`.overrides`: ``--set`` options; :mod:`.reading`: :func:`read_toml` and
  :func:`load_config`.

Sections are frozen dataclasses checked by small checkers rather than pydantic models: the
one-line messages are part of the interface (tests pin them word for word), and pydantic's
would need a custom validator per field to say the same, more code than the checkers.

Hyperparameters, metrics and charts are read from their registries
(:data:`hpstudy.experiment.hyperparameters.HYPERPARAMETERS`,
:data:`hpstudy.evaluation.metrics.METRICS`, :data:`hpstudy.evaluation.chart_registry.CHARTS`);
nothing here lists them again. The package imports only the standard library and the name
registries of ``hpstudy.nn``, ``hpstudy.data``, ``hpstudy.evaluation`` and
``hpstudy.experiment.hyperparameters``; it never imports optuna or mlflow (``space.py`` turns
the config into Optuna objects).
"""

from __future__ import annotations

from hpstudy.experiment.config.cross import SAMPLER_REQUIREMENTS, missing_sampler_modules
from hpstudy.experiment.config.data import DataConfig
from hpstudy.experiment.config.experiment import ExperimentConfig, parse_config
from hpstudy.experiment.config.overrides import apply_overrides, parse_set_option, parse_value
from hpstudy.experiment.config.reading import load_config, read_toml
from hpstudy.experiment.config.search import (
    CONDITIONS,
    SEARCH_DEFAULTS,
    Choice,
    Fixed,
    Param,
    Range,
    SearchSpace,
    can_be_active,
    check_param_value,
    is_active,
    param_names,
)
from hpstudy.experiment.config.stability import StabilityConfig
from hpstudy.experiment.config.study import (
    PRUNERS,
    SAMPLERS,
    StudyConfig,
    metric_direction,
    metric_task,
    valid_metrics,
)
from hpstudy.experiment.config.tracking import CHARTS, TrackingConfig, default_charts
from hpstudy.experiment.config.train import TrainConfig
from hpstudy.experiment.errors import ConfigError

__all__ = [
    "CHARTS",
    "CONDITIONS",
    "PRUNERS",
    "SAMPLERS",
    "SAMPLER_REQUIREMENTS",
    "SEARCH_DEFAULTS",
    "Choice",
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "Fixed",
    "Param",
    "Range",
    "SearchSpace",
    "StabilityConfig",
    "StudyConfig",
    "TrackingConfig",
    "TrainConfig",
    "apply_overrides",
    "can_be_active",
    "check_param_value",
    "default_charts",
    "is_active",
    "load_config",
    "metric_direction",
    "metric_task",
    "missing_sampler_modules",
    "param_names",
    "parse_config",
    "parse_set_option",
    "parse_value",
    "read_toml",
    "valid_metrics",
]
