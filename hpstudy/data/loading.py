"""`load_dataset`: one call from a dataset name or CSV path to a split, scaled `Dataset`."""

from __future__ import annotations

import difflib
import hashlib
import json
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

from hpstudy.data.builtin import DATASETS, load_builtin, reject_generator_options
from hpstudy.data.dataset import MISSING_POLICIES, TASKS, Dataset, RawData
from hpstudy.data.errors import DataError
from hpstudy.data.prepare import SCALERS, SPLITS, check_classes, impute_mean, split_indices

#: File names ending like this are read as CSV files even when they do not exist yet
#: (so that a missing file gets "file not found" rather than "unknown dataset").
CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".csv.zst",
                ".tsv.gz")

#: Options that change the data; with the raw data digest they make the fingerprint.
_FINGERPRINT_OPTIONS = ("task", "target", "features", "categorical", "missing", "val_size",
                        "test_size", "scaling", "seed", "n_samples", "noise")


def load_dataset(name_or_path: str | os.PathLike, *, target: str | None = None,
                 features: list[str] | None = None, categorical: list[str] | None = None,
                 missing: str = "error", task: str | None = None, val_size: float = 0.2,
                 test_size: float = 0.2, scaling: str = "standard", seed: int = 0,
                 n_samples: int | None = None, noise: float | None = None) -> Dataset:
    """Load a built-in dataset or a CSV file, split it and scale it.

    Rows are split into train/validation/test (stratified by class for classification,
    shuffled for regression, both seeded); missing values are imputed (``missing="mean"``)
    and features scaled with statistics of the training split only.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A name from `DATASETS` (checked first), else the path of a CSV file (a string ending
        in ``.csv`` or naming an existing file).
    target : str, optional
        CSV only, required there: the target column.
    features : list of str, optional
        Feature columns in order; default every column but the target. For built-in datasets,
        a subset of their feature names.
    categorical : list of str, optional
        CSV only: feature columns to one-hot encode (``c`` with level ``v`` -> ``"c_v"``);
        the levels are the distinct values of the whole file.
    missing : {"error", "drop", "mean"}
        Missing or infinite feature values: refuse, drop the rows, or fill with the training
        mean (a categorical's one-hot columns get the training frequencies of its levels).
        A missing target is refused unless ``"drop"``.
    task : {"classification", "regression"}, optional
        Default: inferred (see `hpstudy.data.tabular.infer_task`); built-in datasets have
        their own.
    val_size, test_size : float
        Fractions of all rows for validation and test, each in (0, 1), summing to < 1.
    scaling : {"standard", "minmax", "none"}
        See `SCALERS`; fitted on the training split.
    seed : int
        Seed of the split and of generated datasets, in ``0..2**32-1``.
    n_samples, noise : int, float, optional
        Generated datasets only (moons, circles, spirals, xor): rows and noise level.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Bad options or bad data, before any training, with a one-line message that starts
        with the file path or dataset name.
    """
    label, path = resolve_source(name_or_path)
    check_options(label, missing=missing, task=task, val_size=val_size, test_size=test_size,
                  scaling=scaling, seed=seed)
    if path is None:
        raw = _load_builtin(label, target=target, features=features, categorical=categorical,
                            task=task, seed=seed, n_samples=n_samples, noise=noise)
    else:
        raw = _load_csv(label, path, target=target, features=features,
                        categorical=categorical, missing=missing, task=task,
                        n_samples=n_samples, noise=noise)
    return build_dataset(raw, missing=missing, val_size=val_size, test_size=test_size,
                         scaling=scaling, seed=seed)


def resolve_source(name_or_path: object) -> tuple[str, Path | None]:
    """Tell a built-in dataset name from a CSV path.

    Returns
    -------
    label : str
        The name, or the path as given (used in messages).
    path : Path or None
        None for a built-in dataset.
    """
    if isinstance(name_or_path, str) and name_or_path in DATASETS:
        return name_or_path, None
    if isinstance(name_or_path, os.PathLike):
        return os.fspath(name_or_path), Path(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path:
        raise DataError(repr(name_or_path), "expected a built-in dataset name or a CSV file "
                        f"path; built-in datasets are: {', '.join(DATASETS)}")
    path = Path(name_or_path)
    if name_or_path.lower().endswith(CSV_SUFFIXES) or path.exists():
        return name_or_path, path
    close = difflib.get_close_matches(name_or_path, list(DATASETS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(name_or_path, f"unknown dataset{hint}; built-in datasets are: "
                    f"{', '.join(DATASETS)}; or give the path of a CSV file ending in .csv")


def check_options(label: str, *, missing: str, task: str | None, val_size: float,
                  test_size: float, scaling: str, seed: int) -> None:
    """Refuse option values outside their valid sets or ranges (`DataError`)."""
    _check_choice(label, "missing", missing, MISSING_POLICIES)
    _check_choice(label, "scaling", scaling, tuple(SCALERS))
    if task is not None:
        _check_choice(label, "task", task, TASKS)
    for option, value in (("val_size", val_size), ("test_size", test_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not 0.0 < value < 1.0:
            raise DataError(label, f"{option} must be a fraction strictly between 0 and 1, "
                            f"got {value!r}")
    if val_size + test_size >= 1.0:
        raise DataError(label, f"val_size + test_size must be below 1 to leave training rows, "
                        f"got {val_size} + {test_size} = {val_size + test_size:g}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) \
            or not 0 <= seed < 2**32:
        raise DataError(label, f"seed must be an integer in 0..2**32-1, got {seed!r}")


def _check_choice(label: str, option: str, value: object, valid: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in valid:
        raise DataError(label, f"{option}={value!r} is unknown; valid values are: "
                        f"{', '.join(valid)}")


def _load_builtin(name: str, *, target, features, categorical, task, seed, n_samples,
                  noise) -> RawData:
    """Built-in dataset: refuse the CSV-only options, then `load_builtin`."""
    for option, value in (("target", target), ("categorical", categorical)):
        if value is not None and not (isinstance(value, list | tuple) and not value):
            raise DataError(name, f"{option} only applies to CSV files; built-in dataset "
                            f"{name} has its own target and no categorical columns: leave "
                            f"{option} unset")
    spec = DATASETS[name]
    if task is not None and task != spec.task:
        raise DataError(name, f"{name} is a {spec.task} dataset; task={task!r} cannot change "
                        f"that: leave task unset or use task={spec.task!r}")
    if isinstance(features, str):
        features = [features]
    return load_builtin(name, n_samples=n_samples, noise=noise, seed=int(seed),
                        features=None if features is None else list(features))


def _load_csv(label: str, path: Path, *, target, features, categorical, missing, task,
              n_samples, noise) -> RawData:
    """CSV file: refuse the generator options, then `hpstudy.data.tabular.load_csv`."""
    reject_generator_options(label, "this is a CSV file", n_samples, noise)
    from hpstudy.data.tabular import load_csv  # lazy: pandas is only needed for files

    return load_csv(path, label, target=target, features=features, categorical=categorical,
                    missing=missing, task=task)


def build_dataset(raw: RawData, *, missing: str, val_size: float, test_size: float,
                  scaling: str, seed: int) -> Dataset:
    """Split `RawData`, impute and scale with training statistics, and fingerprint it."""
    if raw.task == "classification":
        check_classes(raw, val_size, test_size)
    indices = split_indices(raw, val_size, test_size, int(seed))
    parts = [raw.X[rows] for rows in indices]
    impute_values = None
    if missing == "mean":
        parts, impute_values = impute_mean(parts, raw.feature_names, raw.label)
    offset, scale = SCALERS[scaling](parts[0])
    X_train, X_val, X_test = ((X - offset) / scale for X in parts)
    y_train, y_val, y_test = (raw.y[rows] for rows in indices)
    options = resolved_options(raw, missing=missing, val_size=val_size, test_size=test_size,
                               scaling=scaling, seed=int(seed))
    classes = raw.classes
    rows = np.arange(len(raw.y)) if raw.rows is None else raw.rows
    return Dataset(
        name=raw.name, source=raw.source, task=raw.task,
        X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val, X_test=X_test,
        y_test=y_test, feature_names=list(raw.feature_names),
        class_names=None if classes is None else [str(c) for c in classes], classes=classes,
        fingerprint=fingerprint(raw.digest, options), scaling=scaling, scaler_offset=offset,
        scaler_scale=scale, impute_values=impute_values, options=options,
        indices={split: rows[i].astype(np.int64) for split, i in zip(SPLITS, indices,
                                                                     strict=True)},
    )


def resolved_options(raw: RawData, **split_options: Any) -> dict[str, Any]:
    """Every option that shaped the dataset, as plain JSON-ready values (for logging)."""
    options = {"dataset": raw.name, "source": raw.source, "task": raw.task,
               "target": None, "features": None, "categorical": [], "n_samples": None,
               "noise": None, "rows_dropped": 0}
    options.update(raw.options)
    options.update(split_options)
    options["n_rows"] = len(raw.y)
    return options


def fingerprint(digest: bytes, options: dict[str, Any]) -> str:
    """16 hex digits of ``sha256(digest + json(options that change the data))``.

    Parameters
    ----------
    digest : bytes
        SHA-256 of the raw data (file bytes, or the bundled/generated arrays).
    options : dict
        Resolved options; only the keys in ``_FINGERPRINT_OPTIONS`` count, so renaming or
        moving a file keeps its fingerprint.
    """
    chosen = {key: options.get(key) for key in _FINGERPRINT_OPTIONS}
    text = json.dumps(chosen, sort_keys=True, default=_json_default)
    return hashlib.sha256(b"hpstudy.data/1\0" + digest + text.encode()).hexdigest()[:16]


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot fingerprint option value {value!r}")
