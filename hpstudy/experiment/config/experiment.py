"""The whole experiment: :class:`ExperimentConfig` and :func:`parse_config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpstudy.experiment.config._checks import (
    SECTION_KEYS,
    SECTIONS,
    check_table,
    did_you_mean,
    listing,
    parse_fields,
    section_of,
)
from hpstudy.experiment.config.cross import check_losses, check_sampler
from hpstudy.experiment.config.data import DATA_OPTIONS, DataConfig, parse_data
from hpstudy.experiment.config.search import SearchSpace, parse_search
from hpstudy.experiment.config.stability import STABILITY_CHECKS, StabilityConfig
from hpstudy.experiment.config.study import STUDY_KEYS, StudyConfig, metric_task, parse_study
from hpstudy.experiment.config.tracking import TRACKING_CHECKS, TrackingConfig, parse_tracking
from hpstudy.experiment.config.train import TRAIN_CHECKS, TrainConfig
from hpstudy.experiment.errors import ConfigError
from hpstudy.experiment.hyperparameters import HYPERPARAMETERS


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


def valid_keys() -> dict[str, tuple[str, ...]]:
    return {
        "study": STUDY_KEYS,
        "data": ("dataset", *DATA_OPTIONS),
        "train": tuple(TRAIN_CHECKS),
        "search": tuple(HYPERPARAMETERS),
        "stability": tuple(STABILITY_CHECKS),
        "tracking": tuple(TRACKING_CHECKS),
    }


SECTION_KEYS.append(valid_keys)  # the "(key belongs in [section])" hints of every section


def _sections(source: str, data: Mapping) -> dict[str, dict]:
    """Check the top level (sections only) and return every section, ``{}`` when absent."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, "", "must be a table of sections", data)
    for key, value in data.items():
        if key in SECTIONS:
            check_table(source, key, value)
            continue
        home = section_of(key)
        if home is not None and not isinstance(value, dict):
            raise ConfigError(source, key, f"must be inside a section: put it under [{home}]")
        hint = did_you_mean(key, SECTIONS)
        problem = f"unknown section [{key}]{hint}; valid: {listing(SECTIONS)}"
        raise ConfigError(source, key, problem)
    return {name: dict(data.get(name, {})) for name in SECTIONS}


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
    data_cfg = parse_data(source, tables["data"])
    study = parse_study(source, tables["study"], data_cfg.task)
    train = TrainConfig(**parse_fields(source, "train", tables["train"], TRAIN_CHECKS))
    search = parse_search(source, tables["search"])
    stability_values = parse_fields(source, "stability", tables["stability"], STABILITY_CHECKS)
    stability = StabilityConfig(**stability_values)
    config = ExperimentConfig(study, data_cfg, train, search, stability, TrackingConfig(), source)
    tracking = parse_tracking(source, tables["tracking"], data_cfg, config.task)
    check_losses(source, search, data_cfg, config.task)
    check_sampler(source, study, search)
    return ExperimentConfig(study, data_cfg, train, search, stability, tracking, source)
