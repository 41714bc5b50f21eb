"""The search space meets Optuna: the only module of hpstudy that calls ``trial.suggest_*``.

:func:`suggest_params` turns a :class:`~hpstudy.experiment.config.SearchSpace` into one flat
dict of hyperparameters per trial, :func:`fixed_params` does the same without a search (for
``hpstudy train``), and :func:`make_sampler` / :func:`make_pruner` build the Optuna objects
named in ``[study]``.

Conventions
-----------
* Parameters are suggested under their own names (``learning_rate``, ``batch_size``, ...), in
  the order of :data:`~hpstudy.experiment.hyperparameters.HYPERPARAMETERS`.
* Fixed values are never suggested, only returned (so they need no place in a grid).
* Conditional parameters (``parent`` in the registry) are suggested only
  when used: ``lambda`` when ``regularizer != "none"`` (else 0.0), ``momentum`` when
  ``optimizer == "momentum"`` (else its fixed value, or 0.9 when it is searched).
* ``width`` is one shared width: the hidden layer sizes are ``[width] * depth``
  (:func:`hidden_sizes`).
* ``batch_size`` choices may mix ints and ``"full"``; Optuna's categorical distribution keeps
  each choice's type (checked with Optuna 5.0, in memory and in a journal file).
"""

from __future__ import annotations

from typing import Any

import optuna

from hpstudy.experiment.config import (
    Choice,
    Fixed,
    Param,
    Range,
    SearchSpace,
    StudyConfig,
    can_be_active,
    check_param_value,
    is_active,
    missing_sampler_modules,
)
from hpstudy.experiment.errors import ConfigError
from hpstudy.experiment.hyperparameters import HYPERPARAMETERS, KEEP_FIXED

__all__ = [
    "INACTIVE_VALUES",
    "PRUNER_FACTORIES",
    "SAMPLER_FACTORIES",
    "fixed_params",
    "grid_search_space",
    "hidden_sizes",
    "make_pruner",
    "make_sampler",
    "suggest_params",
]

def _inactive_value(name: str, param: Param | None = None) -> Any:
    """The value of conditional parameter ``name`` when it is not used (``param``: its entry
    in the search space; a fixed one keeps its value when the registry says so)."""
    hp = HYPERPARAMETERS[name]
    if hp.inactive != KEEP_FIXED:
        return hp.inactive
    return param.value if isinstance(param, Fixed) else hp.default


#: Value of a conditional parameter that is not used (and not fixed, for momentum).
INACTIVE_VALUES: dict[str, Any] = {
    name: _inactive_value(name) for name, hp in HYPERPARAMETERS.items() if hp.parent is not None
}


def _suggest(trial: optuna.trial.BaseTrial, name: str, param: Choice | Range) -> Any:
    if isinstance(param, Choice):
        return trial.suggest_categorical(name, list(param.values))
    if param.is_int:
        step = param.step or 1
        return trial.suggest_int(name, param.low, param.high, step=step, log=param.log)
    return trial.suggest_float(name, param.low, param.high, step=param.step, log=param.log)


def suggest_params(trial: optuna.trial.BaseTrial, space: SearchSpace) -> dict[str, Any]:
    """Ask ``trial`` for every searched hyperparameter and return all of them.

    Parameters
    ----------
    trial : optuna.trial.BaseTrial
        The running trial (a ``FixedTrial`` works too).
    space : SearchSpace
        The ``[search]`` section.

    Returns
    -------
    dict
        Every key of ``SEARCH_DEFAULTS``, in that order: suggested values for choices and
        ranges, the value of fixed ones, and the inactive value of unused conditional ones.
    """
    params: dict[str, Any] = {}
    for name, param in space.items():
        if not is_active(name, params):
            params[name] = _inactive_value(name, param)
        elif isinstance(param, Fixed):
            params[name] = param.value
        else:
            params[name] = _suggest(trial, name, param)
    return params


def hidden_sizes(params: dict[str, Any]) -> list[int]:
    """Hidden layer sizes of a trial: one shared width, ``[width] * depth``."""
    return [int(params["width"])] * int(params["depth"])


def grid_search_space(space: SearchSpace) -> dict[str, list]:
    """The search space as ``optuna.samplers.GridSampler`` wants it: name -> every value.

    Fixed parameters are left out (they are never suggested), and so are conditional
    parameters that can never be used. A conditional parameter that is used for some grid
    points only (``lambda`` with ``regularizer = ["none", "l2"]``) is kept, so its values are
    also crossed with the points where it is unused (those trials repeat a configuration).

    Raises
    ------
    ConfigError
        If a used parameter is a continuous range (validation rejects this earlier).
    """
    grid: dict[str, list] = {}
    for name, param in space.items():
        if isinstance(param, Fixed) or not can_be_active(name, space):
            continue
        values = list(space.values_of(name))
        if not values:
            problem = "sampler grid needs a fixed value, a list or a range with step"
            raise ConfigError(space.source, f"search.{name}", problem, param.to_dict())
        grid[name] = values
    return grid


def _open_description(name: str, param: Param) -> str:
    if isinstance(param, Choice):
        return f"{name} (choices {', '.join(map(str, param.values))})"
    return f"{name} (range {param.low}..{param.high})"


def _checked_overrides(source: str, space: SearchSpace, overrides: dict) -> dict[str, Fixed]:
    checked = {}
    for name, value in overrides.items():
        if name not in space:
            problem = f"unknown hyperparameter; valid: {', '.join(space)}"
            raise ConfigError(source, f"search.{name}", problem, value)
        checked[name] = Fixed(check_param_value(source, f"search.{name}", name, value))
    return checked


def fixed_params(space: SearchSpace, **overrides: Any) -> dict[str, Any]:
    """Every hyperparameter of a single run without a search (``hpstudy train``).

    Parameters
    ----------
    space : SearchSpace
        The ``[search]`` section.
    **overrides
        Values that replace entries of ``space`` (``**{"lambda": 0.01}`` for lambda);
        validated like values in the file.

    Returns
    -------
    dict
        Same keys and conditional rules as :func:`suggest_params`.

    Raises
    ------
    ConfigError
        For an unknown or invalid override, or when a used parameter is still a list or a
        range; the message lists all of them.
    """
    source = space.source or "--set"
    fixed = {**space, **_checked_overrides(source, space, overrides)}
    params: dict[str, Any] = {}
    still_open: list[str] = []
    for name, param in fixed.items():
        if not is_active(name, params):
            params[name] = _inactive_value(name, param)
        elif isinstance(param, Fixed):
            params[name] = param.value
        else:
            still_open.append(_open_description(name, param))
    if still_open:
        problem = ("a single run needs one value per hyperparameter; fix these in [search] "
                   "or pass --set name=value: " + "; ".join(still_open))
        raise ConfigError(source, "search", problem)
    return params


# --------------------------------------------------------------------------------------------
# Samplers and pruners
# --------------------------------------------------------------------------------------------


def _startup_trials(study: StudyConfig) -> int:
    """Random trials before a model-based sampler starts: a quarter of the study, 2..10."""
    return max(2, min(10, study.trials // 4))


def _tpe(study: StudyConfig, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    # Optuna 5: multivariate=None (the default) means multivariate TPE for one objective and
    # independent TPE for several; constant_liar=True by default (parallel workers).
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=_startup_trials(study))


def _random(study: StudyConfig, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def _cmaes(study: StudyConfig, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    # Categorical and conditional parameters fall back to random sampling (not logged).
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def _gp(study: StudyConfig, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GPSampler(
        seed=seed, n_startup_trials=_startup_trials(study), warn_independent_sampling=False
    )


def _nsga2(study: StudyConfig, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    # Generations of a quarter of the trials (4..50) so a short study still evolves.
    population = max(4, min(50, study.trials // 4))
    return optuna.samplers.NSGAIISampler(seed=seed, population_size=population)


def _grid(study: StudyConfig, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GridSampler(grid_search_space(space), seed=seed)


#: Sampler name -> factory(study config, search space, seed).
SAMPLER_FACTORIES = {
    "tpe": _tpe,
    "random": _random,
    "cmaes": _cmaes,
    "gp": _gp,
    "nsga2": _nsga2,
    "grid": _grid,
}


def make_sampler(
    study: StudyConfig, space: SearchSpace, *, seed: int | None = None
) -> optuna.samplers.BaseSampler:
    """The seeded Optuna sampler named by ``study.sampler``.

    ``seed`` replaces ``study.seed`` (e.g. a different seed per parallel worker or resume).

    ``tpe``: TPESampler (multivariate for one objective, 2..10 startup trials); ``random``;
    ``cmaes``: CmaEsSampler (its ``cmaes`` package is a dependency of hpstudy); ``gp``:
    GPSampler (needs the optional package ``torch``); ``nsga2``: NSGAIISampler with a
    population of trials/4 (4..50);
    ``grid``: GridSampler over :func:`grid_search_space`.

    Raises
    ------
    ConfigError
        If the sampler needs a package that is not installed.
    """
    missing = missing_sampler_modules(study.sampler)
    if missing:
        problem = (f"sampler {study.sampler} needs the package(s) {', '.join(missing)} "
                   f"(pip install {' '.join(missing)}) or another sampler")
        raise ConfigError(space.source, "study.sampler", problem, study.sampler)
    return SAMPLER_FACTORIES[study.sampler](study, space, study.seed if seed is None else seed)


#: Pruner name -> factory. Steps are epochs.
PRUNER_FACTORIES = {
    "none": lambda: optuna.pruners.NopPruner(),
    # Prune below the median of earlier trials at the same epoch, after 5 finished trials
    # and 2 warm-up epochs.
    "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
    # Stricter: keep only trials in the best quarter of earlier trials at the same epoch (same
    # start-up and warm-up as median).
    "percentile": lambda: optuna.pruners.PercentilePruner(25.0, n_startup_trials=5,
                                                          n_warmup_steps=2),
    "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3),
    "successive_halving": lambda: optuna.pruners.SuccessiveHalvingPruner(),
}


def make_pruner(study: StudyConfig) -> optuna.pruners.BasePruner:
    """The Optuna pruner named by ``study.pruner`` (always NopPruner for several objectives).

    Raises
    ------
    ConfigError
        If a pruner is asked for a multi-objective study (validation rejects this earlier).
    """
    if study.is_multi_objective and study.pruner != "none":
        problem = 'pruning needs a single objective; use pruner = "none" with objectives'
        raise ConfigError(study.name, "study.pruner", problem, study.pruner)
    return PRUNER_FACTORIES[study.pruner]()
