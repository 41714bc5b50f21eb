"""Checks across sections: losses against the task and data, samplers against the study."""

from __future__ import annotations

import importlib.util

from hpstudy.experiment.config._checks import listing
from hpstudy.experiment.config.data import DataConfig
from hpstudy.experiment.config.search import Range, SearchSpace, can_be_active
from hpstudy.experiment.config.study import StudyConfig
from hpstudy.experiment.errors import ConfigError

#: Optional Python packages an Optuna sampler needs (checked at validation time). Packages
#: hpstudy depends on (cmaes for ``cmaes``, scipy for ``gp``) are always installed: no check.
SAMPLER_REQUIREMENTS = {"gp": ("torch",)}


def check_losses(source: str, search: SearchSpace, data: DataConfig, task: str | None) -> None:
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


def check_sampler(source: str, study: StudyConfig, search: SearchSpace) -> None:
    if study.is_multi_objective and study.pruner != "none":
        problem = 'pruning needs a single objective; use pruner = "none" with objectives'
        raise ConfigError(source, "study.pruner", problem, study.pruner)
    if study.is_multi_objective and study.sampler == "cmaes":
        problem = "cmaes handles one objective; use nsga2, tpe, random, gp or grid"
        raise ConfigError(source, "study.sampler", problem, study.sampler)
    missing = missing_sampler_modules(study.sampler)
    if missing:
        problem = (f"sampler {study.sampler} needs the package(s) {listing(missing)} "
                   f"(pip install {' '.join(missing)}) or another sampler")
        raise ConfigError(source, "study.sampler", problem, study.sampler)
    if study.sampler == "grid":
        for name, param in search.items():
            continuous = isinstance(param, Range) and param.grid_values() is None
            if continuous and can_be_active(name, search):
                problem = ("sampler grid needs a fixed value, a list or a range with step; "
                           "this range is continuous")
                raise ConfigError(source, f"search.{name}", problem, param.to_dict())
