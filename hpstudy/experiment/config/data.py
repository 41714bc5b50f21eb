"""The ``[data]`` section: a built-in dataset or a CSV file, and the options to load it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpstudy.data import DATASETS, MISSING_POLICIES, SCALERS, TASKS
from hpstudy.data.loading import CSV_SUFFIXES
from hpstudy.experiment.config._checks import (
    Checker,
    check_keys,
    check_string,
    check_string_list,
    did_you_mean,
    int_at_least,
    int_in,
    listing,
    number_in,
    one_of,
)
from hpstudy.experiment.errors import ConfigError

#: Options of ``[data]`` besides ``dataset`` and how they are checked; all of them are passed
#: on to ``hpstudy.data.load_dataset(dataset, **options)`` (which owns their defaults).
DATA_OPTIONS: dict[str, Checker] = {
    "target": check_string,
    "features": check_string_list,
    "categorical": check_string_list,
    "missing": one_of(MISSING_POLICIES, "missing-value policy"),
    "task": one_of(TASKS, "task"),
    "val_size": number_in(0.0, 1.0, low_open=True),
    "test_size": number_in(0.0, 1.0, low_open=True),
    "scaling": one_of(tuple(SCALERS), "scaling"),
    "seed": int_in(0, 2**32),
    "n_samples": int_at_least(1),
    "noise": number_in(0.0),
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
        problem = f"required: a built-in dataset ({listing(DATASETS)}) or a path to a .csv file"
        raise ConfigError(source, "data.dataset", problem)
    name = table["dataset"]
    if isinstance(name, str) and (name in DATASETS or _is_csv_path(name)):
        return name
    hint = did_you_mean(name, DATASETS) if isinstance(name, str) else ""
    problem = f"unknown dataset{hint}; use a built-in ({listing(DATASETS)}) or a .csv path"
    raise ConfigError(source, "data.dataset", problem, name)


def parse_data(source: str, table: dict) -> DataConfig:
    check_keys(source, "data", table, ("dataset", *DATA_OPTIONS))
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

