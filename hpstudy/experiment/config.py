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

This module imports only the standard library and the name registries of ``hpstudy.nn`` and
``hpstudy.data``; it never imports optuna or mlflow (``space.py`` turns the config into Optuna
objects).
"""

from __future__ import annotations

import copy
import difflib
import importlib.util
import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpstudy.data import DATASETS, MISSING_POLICIES, SCALERS, TASKS
from hpstudy.data.loading import CSV_SUFFIXES
from hpstudy.experiment.errors import ConfigError, show_value
from hpstudy.nn import ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZERS, REGULARIZERS, SCHEDULES

__all__ = [
    "CHARTS",
    "CONDITIONS",
    "PRUNERS",
    "SAMPLERS",
    "SEARCH_DEFAULTS",
    "Choice",
    "ConfigError",
    "DataConfig",
    "ExperimentConfig",
    "Fixed",
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
    "resolve_loss",
    "resolve_output",
    "valid_metrics",
]

# --------------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------------

SECTIONS = ("study", "data", "train", "search", "stability", "tracking")
SAMPLERS = ("tpe", "random", "cmaes", "gp", "nsga2", "grid")
PRUNERS = ("none", "median", "percentile", "hyperband", "successive_halving")
#: Python packages an Optuna sampler needs beyond Optuna itself (checked at validation time).
SAMPLER_REQUIREMENTS = {"cmaes": ("cmaes",), "gp": ("torch", "scipy")}
DIRECTIONS = ("maximize", "minimize")
DTYPES = ("float32", "float64")
RETRAIN_METHODS = ("bootstrap", "replace")
ARTIFACT_POLICIES = ("all", "improving", "none")
CHARTS = (
    "loss_curve", "confusion_matrix", "roc", "gain", "lift", "ks", "gradient_norms",
    "decision_boundary",
)
#: Charts that only make sense for classification.
CLASSIFICATION_CHARTS = ("confusion_matrix", "roc", "gain", "lift", "ks", "decision_boundary")

CLASSIFICATION_METRICS = (
    "accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted", "roc_auc",
    "log_loss", "ks",
)
REGRESSION_METRICS = ("mse", "rmse", "mae", "r2")
STABILITY_METRICS = (
    "stability_noise_sensitivity", "stability_flip_rate", "stability_jacobian_norm",
)
#: Metrics (without ``val_``/``test_``) for which smaller is better; every other one is maximized.
MINIMIZED_METRICS = frozenset(
    {"log_loss", "mse", "rmse", "mae", *STABILITY_METRICS}
)
DEFAULT_OBJECTIVE = {"classification": "val_f1_macro", "regression": "val_rmse"}


#: The value every ``[search]`` parameter takes when the file does not mention it.
#: The order matters: a conditional parameter comes after the one it depends on.
SEARCH_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.01,      # step size, > 0
    "batch_size": 32,           # positive int or "full" (1 = stochastic GD, "full" = batch GD)
    "depth": 2,                 # number of hidden layers, >= 1
    "width": 64,                # units of EVERY hidden layer (hidden sizes = [width] * depth)
    "activation": "relu",       # hidden activation (any activation but softmax)
    "initializer": "auto",      # auto: he_* for relu-like activations, xavier_* otherwise
    "regularizer": "none",      # none | l1 | l2 | elastic
    "lambda": 1e-4,             # regularization strength; 0.0 whenever regularizer == "none"
    "optimizer": "adam",        # sgd | momentum | adam
    "momentum": 0.9,            # only used (and searched) when optimizer == "momentum"
    "epochs": 20,               # >= 1
    "loss": "auto",             # auto: cross_entropy (classification) / mse (regression)
    "schedule": "constant",     # learning-rate schedule
}

#: Conditional hyperparameters: name -> (the parameter it depends on, when it is used).
#: An unused one is not searched: ``lambda`` is then 0.0 and ``momentum`` keeps its fixed or
#: default value.
CONDITIONS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "lambda": ("regularizer", lambda regularizer: regularizer != "none"),
    "momentum": ("optimizer", lambda optimizer: optimizer == "momentum"),
}


def is_active(name: str, params: Mapping[str, Any]) -> bool:
    """Whether hyperparameter ``name`` is used given the values chosen so far.

    Parameters
    ----------
    name : str
        A key of :data:`SEARCH_DEFAULTS`.
    params : Mapping
        Values chosen so far; a condition on a parameter not yet chosen counts as met.
    """
    if name not in CONDITIONS:
        return True
    parent, used = CONDITIONS[name]
    return parent not in params or used(params[parent])


def can_be_active(name: str, space: Mapping[str, Any]) -> bool:
    """Whether ``name`` is used for at least one value its parent can take in ``space``."""
    if name not in CONDITIONS:
        return True
    parent, used = CONDITIONS[name]
    return any(used(value) for value in space.values_of(parent))


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _listing(names) -> str:
    return ", ".join(str(name) for name in names)


def _did_you_mean(word: str, names) -> str:
    close = difflib.get_close_matches(str(word), [str(n) for n in names], n=1, cutoff=0.6)
    return f" (did you mean {show_value(close[0])}?)" if close else ""


def _choose(source: str, key: str, value: Any, names, what: str) -> str:
    """Check that ``value`` is one of ``names`` and return it."""
    if not isinstance(value, str):
        raise ConfigError(source, key, f"must be a string naming {what}: {_listing(names)}", value)
    if value not in names:
        hint = _did_you_mean(value, names)
        raise ConfigError(source, key, f"unknown {what}{hint}; valid: {_listing(names)}", value)
    return value


def _section_of(key: str) -> str | None:
    """The section a key belongs to, if it is valid in exactly one (used for hints)."""
    homes = [name for name, valid in _valid_keys().items() if key in valid]
    return homes[0] if len(homes) == 1 else None


def _unknown_key(source: str, section: str, key: str, valid) -> ConfigError:
    home = _section_of(key)
    if key in SECTIONS and section in SECTIONS:
        hint = f" ([{key}] is a section: start it with a line [{key}])"
    elif home and home != section and section in SECTIONS:
        hint = f" ({key} belongs in [{home}])"
    else:
        hint = _did_you_mean(key, valid)
    return ConfigError(
        source, f"{section}.{key}", f"unknown key{hint}; valid keys: {_listing(valid)}"
    )


def _check_keys(source: str, section: str, table: Mapping, valid) -> None:
    for key in table:
        if key not in valid:
            raise _unknown_key(source, section, key, valid)


# Checkers: (source, key, value) -> normalized value, or raise ConfigError.
Checker = Callable[[str, str, Any], Any]


def _int_at_least(minimum: int) -> Checker:
    def check(source: str, key: str, value: Any) -> int:
        if not _is_int(value):
            raise ConfigError(source, key, f"must be an integer >= {minimum}", value)
        if value < minimum:
            raise ConfigError(source, key, f"must be >= {minimum}", value)
        return value

    return check


def _int_in(low: int, high: int) -> Checker:
    """Integers in ``[low, high)``."""

    def check(source: str, key: str, value: Any) -> int:
        if not _is_int(value) or not low <= value < high:
            raise ConfigError(source, key, f"must be an integer in [{low}, {high})", value)
        return value

    return check


def _number_in(low: float, high: float = math.inf, *, low_open: bool = False) -> Checker:
    """Numbers in ``[low, high)`` (``(low, high)`` with ``low_open``); ints become floats."""
    bracket = "(" if low_open else "["
    text = f"> {low}" if low_open else f">= {low}"
    if high != math.inf:
        text = f"in {bracket}{low}, {high})"

    def check(source: str, key: str, value: Any) -> float:
        if not _is_number(value):
            raise ConfigError(source, key, f"must be a finite number {text}", value)
        if value < low or (low_open and value == low) or value >= high:
            raise ConfigError(source, key, f"must be {text}", value)
        return float(value)

    return check


def _one_of(names, what: str) -> Checker:
    def check(source: str, key: str, value: Any) -> str:
        return _choose(source, key, value, names, what)

    return check


def _boolean(source: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(source, key, "must be true or false", value)
    return value


def _string_list(source: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(source, key, "must be a list of strings", value)
    return list(value)


def _string(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(source, key, "must be a string", value)
    return value


def _table(source: str, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(source, key, f"must be a table ([{key}] or {key} = {{ ... }})", value)
    return value


# --------------------------------------------------------------------------------------------
# [search]: one value, a list of choices or a range per hyperparameter
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixed:
    """A hyperparameter that is not searched: ``name = value`` in ``[search]``."""

    value: Any


@dataclass(frozen=True)
class Choice:
    """A categorical hyperparameter: ``name = [a, b, c]`` (distinct, at least one)."""

    values: tuple


@dataclass(frozen=True)
class Range:
    """A numeric range ``{ low, high, log = false, step }``, both ends included.

    An integer parameter (``batch_size``, ``depth``, ``width``, ``epochs``) has int bounds and
    step; the others have float bounds. ``log`` samples uniformly in ``log(x)``; ``step``
    restricts values to ``low + k * step`` and cannot be combined with ``log``.
    """

    low: int | float
    high: int | float
    log: bool = False
    step: int | float | None = None

    @property
    def is_int(self) -> bool:
        """Whether the range holds integers (both bounds are ints)."""
        return _is_int(self.low) and _is_int(self.high)

    def grid_values(self) -> list | None:
        """Every value of the range, or ``None`` for a continuous (float, no step) range."""
        if self.is_int:
            return list(range(self.low, self.high + 1, self.step or 1))
        if self.step is None:
            return None
        count = round((self.high - self.low) / self.step)
        # Rounded so that 0.1 + 2 * 0.1 is 0.3 (and still within the range).
        return [min(round(self.low + k * self.step, 12), self.high) for k in range(count + 1)]

    def to_dict(self) -> dict[str, Any]:
        """The range as a TOML table (``step`` left out when absent)."""
        table = {"low": self.low, "high": self.high, "log": self.log}
        if self.step is not None:
            table["step"] = self.step
        return table


Param = Fixed | Choice | Range

#: Numeric hyperparameters: (holds integers, predicate on a value, the rule in words).
NUMERIC_PARAMS: dict[str, tuple[bool, Callable[[float], bool], str]] = {
    "learning_rate": (False, lambda v: v > 0, "> 0"),
    "batch_size": (True, lambda v: v >= 1, ">= 1"),
    "depth": (True, lambda v: v >= 1, ">= 1"),
    "width": (True, lambda v: v >= 1, ">= 1"),
    "lambda": (False, lambda v: v >= 0, ">= 0"),
    "momentum": (False, lambda v: 0 <= v < 1, "in [0, 1)"),
    "epochs": (True, lambda v: v >= 1, ">= 1"),
}


def param_names(name: str) -> tuple[str, ...]:
    """Valid names of a categorical hyperparameter (``activation``, ``loss``, ...).

    Hidden layers may use every activation but ``softmax``; ``initializer`` and ``loss`` also
    accept ``"auto"``.
    """
    table = {
        "activation": tuple(a for a in ACTIVATIONS if a != "softmax"),
        "initializer": tuple(dict.fromkeys(("auto", *INITIALIZERS))),
        "regularizer": tuple(REGULARIZERS),
        "optimizer": tuple(OPTIMIZERS),
        "loss": tuple(dict.fromkeys(("auto", *LOSSES))),
        "schedule": tuple(SCHEDULES),
    }
    return table[name]


def _number_problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` as a value of numeric parameter ``name`` (None if fine)."""
    integer, accept, rule = NUMERIC_PARAMS[name]
    if integer and not _is_int(value):
        return "must be an integer " + rule
    if not integer and not _is_number(value):
        return "must be a finite number " + rule
    return None if accept(value) else "must be " + rule


def check_param_value(source: str, key: str, name: str, value: Any) -> Any:
    """Validate one value of hyperparameter ``name`` and return it normalized.

    Parameters
    ----------
    source, key : str
        File and key path used in the error message.
    name : str
        A key of :data:`SEARCH_DEFAULTS`.
    value : Any
        The value (float parameters accept ints and return floats; ``batch_size`` accepts
        ``"full"``).

    Raises
    ------
    ConfigError
        If the value has the wrong type, is out of range or names nothing known.
    """
    if name not in NUMERIC_PARAMS:
        return _choose(source, key, value, param_names(name), name)
    if name == "batch_size" and value == "full":
        return value
    problem = _number_problem(name, value)
    if problem and name == "batch_size":
        problem = 'must be a positive integer or "full"'
    if problem:
        raise ConfigError(source, key, problem, value)
    integer = NUMERIC_PARAMS[name][0]
    return value if integer else float(value)


def _parse_choice(source: str, key: str, name: str, values: list) -> Choice:
    if not values:
        raise ConfigError(source, key, "empty list of choices; give at least one value", values)
    seen: list = []
    for value in values:
        value = check_param_value(source, key, name, value)
        if any(type(value) is type(old) and value == old for old in seen):
            raise ConfigError(source, key, "duplicate choice; list each value once", value)
        seen.append(value)
    return Choice(tuple(seen))


def _range_bound(source: str, key: str, name: str, which: str, table: dict) -> int | float:
    if which not in table:
        raise ConfigError(source, key, "a range needs both low and high", table)
    value = table[which]
    problem = _number_problem(name, value)
    if problem:
        raise ConfigError(source, key, f"{which} {problem}", value)
    return value if NUMERIC_PARAMS[name][0] else float(value)


def _range_step(source: str, key: str, name: str, rng: Range, table: dict) -> int | float:
    step = table["step"]
    integer = NUMERIC_PARAMS[name][0]
    if rng.log:
        raise ConfigError(source, key, "step cannot be combined with log = true", step)
    if (integer and not _is_int(step)) or not _is_number(step):
        kind = "an integer" if integer else "a number"
        raise ConfigError(source, key, f"step must be {kind} > 0", step)
    if step <= 0:
        raise ConfigError(source, key, "step must be > 0", step)
    count = (rng.high - rng.low) / step
    if abs(count - round(count)) > 1e-9 * max(1.0, count):
        raise ConfigError(source, key, "high - low must be a multiple of step", table)
    return step if integer else float(step)


def _parse_range(source: str, key: str, name: str, table: dict) -> Range:
    if name not in NUMERIC_PARAMS:
        problem = "a range { low, high } is only for numbers; give a name or a list of names"
        raise ConfigError(source, key, problem, table)
    param = key.rpartition(".")[2]
    _check_keys(source, key, table, ("low", "high", "log", "step"))
    log = _boolean(source, f"{key}.log", table.get("log", False))
    if log and _is_number(table.get("low")) and table["low"] <= 0:
        raise ConfigError(source, key, "low must be > 0 for a log range", table["low"])
    low = _range_bound(source, key, name, "low", table)
    high = _range_bound(source, key, name, "high", table)
    if low > high:
        raise ConfigError(source, key, "low must be < high", table)
    if low == high:
        raise ConfigError(source, key, f"empty range; use a fixed value {param} = {low}", table)
    rng = Range(low, high, log)
    if "step" in table:
        rng = Range(low, high, log, _range_step(source, key, name, rng, table))
    return rng


def _parse_param(source: str, name: str, value: Any) -> Param:
    key = f"search.{name}"
    if isinstance(value, dict):
        return _parse_range(source, key, name, value)
    if isinstance(value, list):
        return _parse_choice(source, key, name, value)
    return Fixed(check_param_value(source, key, name, value))


@dataclass(frozen=True)
class SearchSpace(Mapping):
    """The ``[search]`` section: a read-only mapping name -> :class:`Fixed`, :class:`Choice`
    or :class:`Range`, with every name of :data:`SEARCH_DEFAULTS` present (in that order).

    Attributes
    ----------
    params : dict
        Name -> parameter.
    source : str
        The experiment file (for error messages of later checks such as ``fixed_params``).
    """

    params: dict[str, Param]
    source: str = field(default="", compare=False)

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def values_of(self, name: str) -> tuple:
        """Every value ``name`` can take, or ``()`` for a continuous range."""
        param = self.params[name]
        if isinstance(param, Fixed):
            return (param.value,)
        if isinstance(param, Choice):
            return param.values
        return tuple(param.grid_values() or ())

    def to_dict(self) -> dict[str, Any]:
        """The section as TOML data: value, list, or ``{low, high, log[, step]}``."""
        return {name: _param_to_data(param) for name, param in self.params.items()}


def _param_to_data(param: Param) -> Any:
    if isinstance(param, Fixed):
        return param.value
    if isinstance(param, Choice):
        return list(param.values)
    return param.to_dict()


def _parse_search(source: str, table: dict) -> SearchSpace:
    _check_keys(source, "search", table, tuple(SEARCH_DEFAULTS))
    params = {
        name: _parse_param(source, name, table.get(name, default))
        for name, default in SEARCH_DEFAULTS.items()
    }
    return SearchSpace(params, source)


# --------------------------------------------------------------------------------------------
# [data]
# --------------------------------------------------------------------------------------------

#: Options of ``[data]`` besides ``dataset`` and how they are checked; all of them are passed
#: on to ``hpstudy.data.load_dataset(dataset, **options)`` (which owns their defaults).
DATA_OPTIONS: dict[str, Checker] = {
    "target": _string,
    "features": _string_list,
    "categorical": _string_list,
    "missing": _one_of(MISSING_POLICIES, "missing-value policy"),
    "task": _one_of(TASKS, "task"),
    "val_size": _number_in(0.0, 1.0, low_open=True),
    "test_size": _number_in(0.0, 1.0, low_open=True),
    "scaling": _one_of(tuple(SCALERS), "scaling"),
    "seed": _int_in(0, 2**32),
    "n_samples": _int_at_least(1),
    "noise": _number_in(0.0),
}


@dataclass(frozen=True)
class DataConfig:
    """The ``[data]`` section.

    Attributes
    ----------
    dataset : str
        A built-in name (a key of ``hpstudy.data.DATASETS``) or a path to a CSV file.
    options : dict
        Every other key, passed on as ``load_dataset(dataset, **options)``.
    """

    dataset: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def info(self) -> Any:
        """The ``hpstudy.data.DatasetSpec`` of a built-in dataset, ``None`` for a CSV file."""
        return DATASETS.get(self.dataset)

    @property
    def task(self) -> str | None:
        """``"classification"``/``"regression"`` if known without loading the data."""
        if self.info is not None:
            return self.info.task
        return self.options.get("task")

    @property
    def n_classes(self) -> int | None:
        """Number of classes of a built-in classification dataset (else ``None``)."""
        return self.info.n_classes if self.info is not None else None

    @property
    def n_features(self) -> int | None:
        """Number of input columns if known: ``features`` given, or a built-in dataset.

        (A categorical CSV column becomes several one-hot columns; ``categorical`` makes the
        count unknown.)
        """
        features = self.options.get("features")
        if features is not None and not self.options.get("categorical"):
            return len(features)
        return self.info.n_features if self.info is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The section as TOML data."""
        return {"dataset": self.dataset, **copy.deepcopy(self.options)}


def _is_csv_path(name: str) -> bool:
    """Read as a CSV file like ``load_dataset`` does: a CSV suffix, or an existing file."""
    return name.lower().endswith(CSV_SUFFIXES) or Path(name).is_file()


def _parse_dataset(source: str, table: dict) -> str:
    if "dataset" not in table:
        problem = f"required: a built-in dataset ({_listing(DATASETS)}) or a path to a .csv file"
        raise ConfigError(source, "data.dataset", problem)
    name = table["dataset"]
    if isinstance(name, str) and (name in DATASETS or _is_csv_path(name)):
        return name
    hint = _did_you_mean(name, DATASETS) if isinstance(name, str) else ""
    problem = f"unknown dataset{hint}; use a built-in ({_listing(DATASETS)}) or a .csv path"
    raise ConfigError(source, "data.dataset", problem, name)


def _parse_data(source: str, table: dict) -> DataConfig:
    _check_keys(source, "data", table, ("dataset", *DATA_OPTIONS))
    dataset = _parse_dataset(source, table)
    options = {}
    for key, value in table.items():
        check = DATA_OPTIONS.get(key)
        if key != "dataset":
            options[key] = check(source, f"data.{key}", value)
    split = options.get("val_size", 0.0) + options.get("test_size", 0.0)
    if split >= 1.0:
        raise ConfigError(source, "data.test_size", "val_size + test_size must be < 1", split)
    config = DataConfig(dataset, options)
    known = DATASETS.get(dataset)
    if known and options.get("task", known.task) != known.task:
        problem = f"{dataset} is a {known.task} dataset; leave task out"
        raise ConfigError(source, "data.task", problem, options["task"])
    return config


# --------------------------------------------------------------------------------------------
# [study]
# --------------------------------------------------------------------------------------------


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
    base = metric.split("_", 1)[1] if metric.startswith(("val_", "test_")) else metric
    return "minimize" if base in MINIMIZED_METRICS else "maximize"


def valid_metrics(task: str | None) -> tuple[str, ...]:
    """Final metric names that can be an objective for ``task`` (``None``: unknown task)."""
    bases = {
        "classification": CLASSIFICATION_METRICS,
        "regression": REGRESSION_METRICS,
    }.get(task, CLASSIFICATION_METRICS + REGRESSION_METRICS)
    stability = tuple(m for m in STABILITY_METRICS if task != "regression" or "flip" not in m)
    return tuple(f"{split}_{base}" for split in ("val", "test") for base in bases) + stability


def metric_task(metric: str) -> str | None:
    """The task a metric belongs to, ``None`` for task-independent (stability) metrics."""
    base = metric.split("_", 1)[-1]
    if metric in STABILITY_METRICS:
        return "classification" if "flip" in metric else None
    if base in REGRESSION_METRICS:
        return "regression"
    return "classification" if base in CLASSIFICATION_METRICS else None


def _check_metric(source: str, key: str, metric: Any, task: str | None) -> str:
    if not isinstance(metric, str):
        raise ConfigError(source, key, "must be a metric name such as val_f1_macro", metric)
    valid = valid_metrics(task)
    if metric in valid:
        return metric
    if metric in valid_metrics(None):
        problem = f"not a {task} metric; use one of {_listing(valid)}"
        raise ConfigError(source, key, problem, metric)
    hint = _did_you_mean(metric, valid)
    raise ConfigError(source, key, f"unknown metric{hint}; valid: {_listing(valid)}", metric)


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
        return (_choose(source, key, given, DIRECTIONS, "direction"),)
    if not isinstance(given, list) or len(given) != len(objectives):
        problem = f"needs one direction per objective ({len(objectives)})"
        raise ConfigError(source, key, problem, given)
    return tuple(_choose(source, key, value, DIRECTIONS, "direction") for value in given)


def _study_name(source: str, table: dict) -> str:
    default = Path(source).stem or "experiment"
    name = table.get("name", default)
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        where = "" if "name" in table else " (taken from the file name; set study.name)"
        problem = f"must be letters, digits, _ . - only, starting with a letter or digit{where}"
        raise ConfigError(source, "study.name", problem, name)
    return name


def _parse_study(source: str, table: dict, task: str | None) -> StudyConfig:
    _check_keys(source, "study", table, STUDY_KEYS)
    name = _study_name(source, table)
    objectives = _objective_list(source, table, task)
    directions = _direction_list(source, table, objectives)
    multi = len(objectives) > 1
    trials = _int_at_least(1)(source, "study.trials", table.get("trials", 20))
    timeout = table.get("timeout", 0)
    if not _is_number(timeout) or timeout < 0:
        raise ConfigError(source, "study.timeout", "must be a number of seconds >= 0", timeout)
    sampler = table.get("sampler", "nsga2" if multi else "tpe")
    pruner = table.get("pruner", "none" if multi else "median")
    return StudyConfig(
        name=name, objectives=objectives, directions=directions, trials=trials,
        timeout=timeout,
        sampler=_choose(source, "study.sampler", sampler, SAMPLERS, "sampler"),
        pruner=_choose(source, "study.pruner", pruner, PRUNERS, "pruner"),
        seed=_int_at_least(0)(source, "study.seed", table.get("seed", 0)),
    )


# --------------------------------------------------------------------------------------------
# [train], [stability], [tracking]
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """The ``[train]`` section: fixed training settings that are not searched.

    Attributes
    ----------
    output : str
        Output activation, or ``"auto"``: softmax for cross_entropy (and for classification
        with mse), sigmoid for binary_cross_entropy, identity for regression.
    dtype : str
        ``"float32"`` or ``"float64"``.
    early_stopping : int
        Patience in epochs, 0 = off.
    leaky_alpha : float
        Slope of leaky_relu for negative inputs, in [0, 1).
    nesterov : bool
        Nesterov look-ahead for the momentum optimizer.
    seed : int
        Base of the network init / shuffle seed (the trial number is added).
    """

    output: str = "auto"
    dtype: str = "float32"
    early_stopping: int = 0
    leaky_alpha: float = 0.01
    nesterov: bool = False
    seed: int = 0


def _output_check(source: str, key: str, value: Any) -> str:
    return _choose(source, key, value, ("auto", *ACTIVATIONS), "output activation")


TRAIN_CHECKS: dict[str, Checker] = {
    "output": _output_check,
    "dtype": _one_of(DTYPES, "dtype"),
    "early_stopping": _int_at_least(0),
    "leaky_alpha": _number_in(0.0, 1.0),
    "nesterov": _boolean,
    "seed": _int_at_least(0),
}


@dataclass(frozen=True)
class StabilityConfig:
    """The ``[stability]`` section.

    Attributes
    ----------
    noise_levels : tuple of float
        Standard deviations of the Gaussian input noise (in scaled feature units), each > 0.
    draws : int
        Noise draws per level, >= 1.
    retrain_top : int
        How many of the best trials get the retraining score at the end (0 = off).
    retrain_k : int
        Retrainings per trial for that score, >= 2.
    retrain_method : str
        ``"bootstrap"`` (resample the training set) or ``"replace"`` (new seeds only).
    """

    noise_levels: tuple[float, ...] = (0.01, 0.05, 0.1)
    draws: int = 3
    retrain_top: int = 3
    retrain_k: int = 5
    retrain_method: str = "bootstrap"


def _noise_levels(source: str, key: str, value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(source, key, "must be a non-empty list of numbers > 0", value)
    check = _number_in(0.0, low_open=True)
    return tuple(check(source, key, level) for level in value)


STABILITY_CHECKS: dict[str, Checker] = {
    "noise_levels": _noise_levels,
    "draws": _int_at_least(1),
    "retrain_top": _int_at_least(0),
    "retrain_k": _int_at_least(2),
    "retrain_method": _one_of(RETRAIN_METHODS, "retrain method"),
}


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
        raise ConfigError(source, key, f"must be a list of chart names ({_listing(CHARTS)})", value)
    charts = tuple(_choose(source, key, name, CHARTS, "chart") for name in value)
    for i, name in enumerate(charts):
        if name in charts[:i]:
            raise ConfigError(source, key, "each chart may appear only once", name)
    return charts


TRACKING_CHECKS: dict[str, Checker] = {
    "charts": _chart_list,
    "charts_for": _one_of(ARTIFACT_POLICIES, "charts_for policy"),
    "model_for": _one_of(ARTIFACT_POLICIES, "model_for policy"),
}


def _parse_fields(source: str, section: str, table: dict, checks: dict[str, Checker]) -> dict:
    """Check the keys and values of a flat section; absent keys are left out."""
    _check_keys(source, section, table, tuple(checks))
    return {key: checks[key](source, f"{section}.{key}", value) for key, value in table.items()}


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


def _parse_tracking(source: str, table: dict, data: DataConfig, task: str | None):
    values = _parse_fields(source, "tracking", table, TRACKING_CHECKS)
    if "charts" not in values:
        values["charts"] = default_charts(data, task)
    for name in values["charts"]:
        problem = _chart_problem(name, data, task)
        # An unknown task or feature count is only known after loading: the chart is skipped.
        if problem and "not known" not in problem:
            raise ConfigError(source, "tracking.charts", problem, name)
    return TrackingConfig(**values)


# --------------------------------------------------------------------------------------------
# The whole experiment
# --------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Tuples -> lists, recursively, so the result is TOML-able data."""
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated experiment with every default filled in.

    Attributes
    ----------
    study, data, train, search, stability, tracking
        One object per section.
    source : str
        The file it was read from (not part of equality).
    """

    study: StudyConfig
    data: DataConfig
    train: TrainConfig
    search: SearchSpace
    stability: StabilityConfig
    tracking: TrackingConfig
    source: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        """The study name."""
        return self.study.name

    @property
    def is_multi_objective(self) -> bool:
        """Whether several objectives are optimized (a Pareto search)."""
        return self.study.is_multi_objective

    @property
    def objectives(self) -> tuple[str, ...]:
        """The objective metric names."""
        return self.study.objectives

    @property
    def directions(self) -> tuple[str, ...]:
        """``"maximize"``/``"minimize"`` per objective."""
        return self.study.directions

    @property
    def task(self) -> str | None:
        """The task, from the dataset or else from the objective metrics (None if unknown)."""
        if self.data.task is not None:
            return self.data.task
        tasks = [metric_task(metric) for metric in self.objectives]
        return next((task for task in tasks if task), None)

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved config as plain TOML-able data (lists, dicts, scalars)."""
        return {
            "study": self.study.to_dict(),
            "data": self.data.to_dict(),
            "train": _plain(vars(self.train)),
            "search": self.search.to_dict(),
            "stability": _plain(vars(self.stability)),
            "tracking": _plain(vars(self.tracking)),
        }


def _valid_keys() -> dict[str, tuple[str, ...]]:
    return {
        "study": STUDY_KEYS,
        "data": ("dataset", *DATA_OPTIONS),
        "train": tuple(TRAIN_CHECKS),
        "search": tuple(SEARCH_DEFAULTS),
        "stability": tuple(STABILITY_CHECKS),
        "tracking": tuple(TRACKING_CHECKS),
    }


def _sections(source: str, data: Mapping) -> dict[str, dict]:
    """Check the top level (sections only) and return every section, ``{}`` when absent."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, "", "must be a table of sections", data)
    for key, value in data.items():
        if key in SECTIONS:
            _table(source, key, value)
            continue
        home = _section_of(key)
        if home is not None and not isinstance(value, dict):
            raise ConfigError(source, key, f"must be inside a section: put it under [{home}]")
        hint = _did_you_mean(key, SECTIONS)
        problem = f"unknown section [{key}]{hint}; valid: {_listing(SECTIONS)}"
        raise ConfigError(source, key, problem)
    return {name: dict(data.get(name, {})) for name in SECTIONS}


def _check_losses(source: str, search: SearchSpace, data: DataConfig, task: str | None) -> None:
    for loss in search.values_of("loss"):
        if task == "regression" and loss in ("cross_entropy", "binary_cross_entropy"):
            problem = "a classification loss on a regression task; use mse (or auto)"
        elif loss == "binary_cross_entropy" and (data.n_classes or 2) > 2:
            problem = (f"binary_cross_entropy needs 2 classes but {data.dataset} has "
                       f"{data.n_classes}; use cross_entropy, mse or auto")
        else:
            continue
        raise ConfigError(source, "search.loss", problem, loss)


def missing_sampler_modules(sampler: str) -> list[str]:
    """Packages that sampler ``sampler`` needs but that are not installed (never imported)."""
    required = SAMPLER_REQUIREMENTS.get(sampler, ())
    return [name for name in required if importlib.util.find_spec(name) is None]


def _check_sampler(source: str, study: StudyConfig, search: SearchSpace) -> None:
    if study.is_multi_objective and study.pruner != "none":
        problem = 'pruning needs a single objective; use pruner = "none" with objectives'
        raise ConfigError(source, "study.pruner", problem, study.pruner)
    if study.is_multi_objective and study.sampler == "cmaes":
        problem = "cmaes handles one objective; use nsga2, tpe, random, gp or grid"
        raise ConfigError(source, "study.sampler", problem, study.sampler)
    missing = missing_sampler_modules(study.sampler)
    if missing:
        problem = (f"sampler {study.sampler} needs the package(s) {_listing(missing)} "
                   f"(pip install {' '.join(missing)}) or another sampler")
        raise ConfigError(source, "study.sampler", problem, study.sampler)
    if study.sampler == "grid":
        for name, param in search.items():
            continuous = isinstance(param, Range) and param.grid_values() is None
            if continuous and can_be_active(name, search):
                problem = ("sampler grid needs a fixed value, a list or a range with step; "
                           "this range is continuous")
                raise ConfigError(source, f"search.{name}", problem, param.to_dict())


def parse_config(data: Mapping, source: str = "<config>") -> ExperimentConfig:
    """Validate TOML data (as :func:`tomllib.load` returns it) into an experiment config.

    Parameters
    ----------
    data : Mapping
        Sections -> tables.
    source : str
        The file name used in error messages; its stem is the default study name.

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ConfigError
        At the first problem found (sections in the order data, study, train, search,
        stability, tracking, then checks across sections).
    """
    source = str(source)
    tables = _sections(source, data)
    data_cfg = _parse_data(source, tables["data"])
    study = _parse_study(source, tables["study"], data_cfg.task)
    train = TrainConfig(**_parse_fields(source, "train", tables["train"], TRAIN_CHECKS))
    search = _parse_search(source, tables["search"])
    stability_values = _parse_fields(source, "stability", tables["stability"], STABILITY_CHECKS)
    stability = StabilityConfig(**stability_values)
    config = ExperimentConfig(study, data_cfg, train, search, stability, TrackingConfig(), source)
    tracking = _parse_tracking(source, tables["tracking"], data_cfg, config.task)
    _check_losses(source, search, data_cfg, config.task)
    _check_sampler(source, study, search)
    return ExperimentConfig(study, data_cfg, train, search, stability, tracking, source)


# --------------------------------------------------------------------------------------------
# Reading files and --set overrides
# --------------------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def read_toml(source: str | Path) -> dict[str, Any]:
    """Read a TOML file as data, turning every failure into a :class:`ConfigError`."""
    path = Path(source)
    source = str(source)
    if not path.exists():
        raise ConfigError(source, "", "file not found; give the path of an experiment .toml file")
    if path.is_dir():
        raise ConfigError(source, "", "is a directory; give the path of an experiment .toml file")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _TOML_POSITION.search(message)
        if match is None:
            raise ConfigError(source, "", f"invalid TOML: {message}") from None
        text = _TOML_POSITION.sub("", message)
        where, problem = f"line {match.group(1)}", f"invalid TOML: {text} (column {match.group(2)})"
        raise ConfigError(source, where, problem) from None
    except UnicodeDecodeError:
        raise ConfigError(source, "", "not UTF-8 text; save the file as UTF-8") from None
    except OSError as error:
        raise ConfigError(source, "", f"cannot be read: {error.strerror}") from None


def parse_value(text: str) -> Any:
    """Parse ``--set`` value text as a TOML value, or keep it as a plain string.

    ``0.01`` -> 0.01, ``true`` -> True, ``[16, 32]`` -> [16, 32], ``{low = 1, high = 3}`` ->
    a dict, ``tanh`` -> ``"tanh"``, ``full`` -> ``"full"``; a list of bare words such as
    ``[relu, tanh]`` becomes ``["relu", "tanh"]``.
    """
    text = text.strip()
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        pass
    if text.startswith("[") and text.endswith("]"):
        items = [item for item in text[1:-1].split(",") if item.strip()]
        return [parse_value(item) for item in items]
    return text


_OVERRIDE_KEY = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def parse_set_option(text: str) -> tuple[str, Any]:
    """Split one ``--set key=value`` option and parse the value (see :func:`parse_value`).

    Examples
    --------
    >>> parse_set_option("learning_rate=0.01")
    ('learning_rate', 0.01)
    >>> parse_set_option("train.epochs_note=x")[0]
    'train.epochs_note'
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _OVERRIDE_KEY.fullmatch(key):
        problem = "expected key=value, e.g. learning_rate=0.01 or train.seed=3"
        raise ConfigError("--set", "", problem, text)
    if not raw.strip():
        raise ConfigError("--set", key, "missing value after =", text)
    return key, parse_value(raw)


def _override_path(key: str) -> list[str]:
    parts = key.split(".")
    return parts if len(parts) > 1 and parts[0] in SECTIONS else ["search", *parts]


def apply_overrides(data: Mapping, overrides: Mapping[str, Any], source: str) -> dict:
    """Return a copy of TOML data with ``overrides`` set.

    A plain key (``learning_rate``) is a ``[search]`` key; a dotted key whose first part is a
    section (``train.seed``, ``study.trials``, ``data.noise``) reaches other sections, and a
    deeper one a field of a table (``learning_rate.low``). String values are parsed with
    :func:`parse_value`.
    """
    result = copy.deepcopy(dict(data))
    for key, value in overrides.items():
        path = _override_path(key)
        table = result
        for depth, part in enumerate(path[:-1]):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                where = ".".join(path[: depth + 1])
                problem = f"is not a table, so --set {key} cannot set a field inside it"
                raise ConfigError(source, where, problem, table)
        table[path[-1]] = parse_value(value) if isinstance(value, str) else value
    return result


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Read, override and validate an experiment file.

    Parameters
    ----------
    path : str or Path
        The ``.toml`` file.
    overrides : Mapping, optional
        ``--set`` pairs already split (see :func:`parse_set_option` and
        :func:`apply_overrides`).

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ConfigError
        For a missing or unreadable file, a TOML syntax error or any invalid setting.
    """
    source = str(path)
    data = read_toml(source)
    if overrides:
        data = apply_overrides(data, overrides, source)
    return parse_config(data, source)


# --------------------------------------------------------------------------------------------
# "auto" names
# --------------------------------------------------------------------------------------------


def resolve_loss(loss: str, task: str | None) -> str:
    """``"auto"`` -> ``cross_entropy`` for classification, ``mse`` for regression."""
    if loss != "auto":
        return loss
    return "mse" if task == "regression" else "cross_entropy"


def resolve_output(output: str, loss: str, task: str | None) -> str:
    """``"auto"`` output activation for a (resolved) loss and task.

    identity for regression, sigmoid for binary_cross_entropy, softmax otherwise (also for
    classification trained with mse).
    """
    if output != "auto":
        return output
    if task == "regression":
        return "identity"
    return "sigmoid" if loss == "binary_cross_entropy" else "softmax"
