"""The ``[study]`` section: name, objectives and their directions, trials, sampler, pruner."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpstudy.evaluation.metrics import METRICS, SPLITS, find_metric
from hpstudy.experiment.config._checks import (
    check_keys,
    choose,
    did_you_mean,
    int_at_least,
    is_number,
    listing,
)
from hpstudy.experiment.errors import ConfigError

SAMPLERS = ("tpe", "random", "cmaes", "gp", "nsga2", "grid")
PRUNERS = ("none", "median", "percentile", "hyperband", "successive_halving")
DIRECTIONS = ("maximize", "minimize")
DEFAULT_OBJECTIVE = {"classification": "val_f1_macro", "regression": "val_rmse"}


@dataclass(frozen=True)
class StudyConfig:
    """The ``[study]`` section.

    Attributes
    ----------
    name : str
        Study name, ``[A-Za-z0-9_.-]+`` (default: the file stem).
    objectives : tuple of str
        Final metrics to optimize (one for a plain study, several for a Pareto search).
        Default: ``val_f1_macro`` for classification, ``val_rmse`` for regression.
    directions : tuple of str
        ``"maximize"``/``"minimize"`` per objective (default: inferred from the metric).
    trials : int
        Target total number of trials (a resumed study tops up to it). Default 20.
    timeout : int or float
        Seconds for the whole search, 0 = no limit. Default 0.
    sampler : str
        One of :data:`SAMPLERS`. Default ``tpe`` (``nsga2`` for several objectives).
    pruner : str
        One of :data:`PRUNERS`. Default ``median`` (``none`` for several objectives).
    seed : int
        Sampler seed. Default 0.
    """

    name: str
    objectives: tuple[str, ...] = ("val_f1_macro",)
    directions: tuple[str, ...] = ("maximize",)
    trials: int = 20
    timeout: int | float = 0
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0

    @property
    def is_multi_objective(self) -> bool:
        """Whether the study searches a Pareto front (several objectives)."""
        return len(self.objectives) > 1

    @property
    def objective(self) -> str:
        """The first (for a plain study: the only) objective."""
        return self.objectives[0]

    @property
    def direction(self) -> str:
        """The direction of :attr:`objective`."""
        return self.directions[0]

    def to_dict(self) -> dict[str, Any]:
        """The section as TOML data (``objective``/``direction`` for one objective)."""
        data: dict[str, Any] = {"name": self.name}
        if self.is_multi_objective:
            data |= {"objectives": list(self.objectives), "directions": list(self.directions)}
        else:
            data |= {"objective": self.objective, "direction": self.direction}
        keys = ("trials", "timeout", "sampler", "pruner", "seed")
        return data | {key: getattr(self, key) for key in keys}


STUDY_KEYS = (
    "name", "objective", "objectives", "direction", "directions", "trials", "timeout",
    "sampler", "pruner", "seed",
)
#: study names: they also name an MLflow experiment and its artifact folder, so a name starts
#: with a letter or digit (never ``.``, ``..`` or an option-like ``-x``)
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def metric_direction(metric: str) -> str:
    """``"minimize"`` for losses, errors and sensitivities, ``"maximize"`` otherwise."""
    found = find_metric(metric) or METRICS.get(metric)  # a split metric may come bare: "rmse"
    if found is None or (found.name == metric and found.prefixes != SPLITS):
        return "maximize"
    return found.direction


def valid_metrics(task: str | None) -> tuple[str, ...]:
    """Final metric names that can be an objective for ``task`` (``None``: unknown task)."""
    fits = [m for m in METRICS.values()
            if m.objective and (task is None or m.task in (task, None))]
    split = tuple(prefix + m.name for prefix in SPLITS for m in fits if m.prefixes == SPLITS)
    return split + tuple(name for m in fits if m.prefixes != SPLITS for name in m.logged_names)


def metric_task(metric: str) -> str | None:
    """The task a metric belongs to, ``None`` for task-independent (stability) metrics."""
    found = find_metric(metric)
    if found is not None and found.prefixes != SPLITS:
        return found.task
    split = METRICS.get(metric.split("_", 1)[-1])
    return split.task if split is not None and split.prefixes == SPLITS else None


def _check_metric(source: str, key: str, metric: Any, task: str | None) -> str:
    if not isinstance(metric, str):
        raise ConfigError(source, key, "must be a metric name such as val_f1_macro", metric)
    valid = valid_metrics(task)
    if metric in valid:
        return metric
    if metric in valid_metrics(None):
        problem = f"not a {task} metric; use one of {listing(valid)}"
        raise ConfigError(source, key, problem, metric)
    hint = did_you_mean(metric, valid)
    raise ConfigError(source, key, f"unknown metric{hint}; valid: {listing(valid)}", metric)


def _objective_list(source: str, table: dict, task: str | None) -> tuple[str, ...]:
    if "objective" in table and "objectives" in table:
        raise ConfigError(
            source, "study.objectives", "give objective or objectives, not both",
            table["objectives"],
        )
    if "objectives" in table:
        metrics = table["objectives"]
        if not isinstance(metrics, list) or len(metrics) < 2:
            problem = "must list at least 2 metrics (use objective = \"...\" for one)"
            raise ConfigError(source, "study.objectives", problem, metrics)
    elif "objective" in table:
        metrics = [table["objective"]]
    elif task is None:
        problem = ("required when the task is unknown (a CSV file without data.task), "
                   "e.g. val_f1_macro or val_rmse")
        raise ConfigError(source, "study.objective", problem)
    else:
        metrics = [DEFAULT_OBJECTIVE[task]]
    key = "study.objectives" if "objectives" in table else "study.objective"
    for metric in metrics:
        task = task or (metric_task(metric) if isinstance(metric, str) else None)
        _check_metric(source, key, metric, task)
    if len(set(metrics)) != len(metrics):
        raise ConfigError(source, key, "each metric may appear only once", metrics)
    return tuple(metrics)


def _direction_list(source: str, table: dict, objectives: tuple[str, ...]) -> tuple[str, ...]:
    multi = len(objectives) > 1
    right, wrong = ("directions", "direction") if multi else ("direction", "directions")
    if wrong in table:
        hint = "use directions = [...] with objectives" if multi else "use direction with objective"
        raise ConfigError(source, f"study.{wrong}", hint, table[wrong])
    if right not in table:
        return tuple(metric_direction(metric) for metric in objectives)
    key, given = f"study.{right}", table[right]
    if not multi:
        return (choose(source, key, given, DIRECTIONS, "direction"),)
    if not isinstance(given, list) or len(given) != len(objectives):
        problem = f"needs one direction per objective ({len(objectives)})"
        raise ConfigError(source, key, problem, given)
    return tuple(choose(source, key, value, DIRECTIONS, "direction") for value in given)


def _study_name(source: str, table: dict) -> str:
    default = Path(source).stem or "experiment"
    name = table.get("name", default)
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        where = "" if "name" in table else " (taken from the file name; set study.name)"
        problem = f"must be letters, digits, _ . - only, starting with a letter or digit{where}"
        raise ConfigError(source, "study.name", problem, name)
    return name


def parse_study(source: str, table: dict, task: str | None) -> StudyConfig:
    check_keys(source, "study", table, STUDY_KEYS)
    name = _study_name(source, table)
    objectives = _objective_list(source, table, task)
    directions = _direction_list(source, table, objectives)
    multi = len(objectives) > 1
    trials = int_at_least(1)(source, "study.trials", table.get("trials", 20))
    timeout = table.get("timeout", 0)
    if not is_number(timeout) or timeout < 0:
        raise ConfigError(source, "study.timeout", "must be a number of seconds >= 0", timeout)
    sampler = table.get("sampler", "nsga2" if multi else "tpe")
    pruner = table.get("pruner", "none" if multi else "median")
    return StudyConfig(
        name=name, objectives=objectives, directions=directions, trials=trials,
        timeout=timeout,
        sampler=choose(source, "study.sampler", sampler, SAMPLERS, "sampler"),
        pruner=choose(source, "study.pruner", pruner, PRUNERS, "pruner"),
        seed=int_at_least(0)(source, "study.seed", table.get("seed", 0)),
    )

