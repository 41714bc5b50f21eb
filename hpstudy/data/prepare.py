"""Split, impute and scale: everything learnt from data is learnt from the training split.

scikit-learn is imported inside the functions that use it (importing it takes seconds).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from hpstudy.data.dataset import RawData
from hpstudy.data.errors import DataError, plural

SPLITS = ("train", "val", "test")


def fit_standard(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.preprocessing.StandardScaler``: offset = column mean, scale = column std.

    The standard deviation is the population one (``ddof=0``); a (near-)constant column
    gets scale 1, so its scaled values are ``x - mean``.

    Parameters
    ----------
    X_train : ndarray of float64, shape (n, d)

    Returns
    -------
    offset, scale : ndarray of float64, shape (d,)
        ``X_scaled = (X - offset) / scale``.
    """
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_train)
    return scaler.mean_.astype(np.float64), scaler.scale_.astype(np.float64)


def fit_minmax(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.preprocessing.MinMaxScaler``: offset = column min, scale = max - min.

    Training rows map into [0, 1]; a constant column (range below 10 machine epsilons, as in
    scikit-learn) gets scale 1.

    Parameters
    ----------
    X_train : ndarray of float64, shape (n, d)

    Returns
    -------
    offset, scale : ndarray of float64, shape (d,)
    """
    from sklearn.preprocessing import MinMaxScaler

    scaler = MinMaxScaler().fit(X_train)
    data_range = scaler.data_range_.astype(np.float64)
    scale = np.where(data_range < 10 * np.finfo(np.float64).eps, 1.0, data_range)
    return scaler.data_min_.astype(np.float64), scale


def fit_none(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """No scaling: offset 0 and scale 1 for each of the ``d`` columns, shape (d,) each."""
    d = X_train.shape[1]
    return np.zeros(d), np.ones(d)


#: Scaling name -> ``fit(X_train) -> (offset, scale)``; ``X_scaled = (X - offset) / scale``.
SCALERS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "standard": fit_standard,
    "minmax": fit_minmax,
    "none": fit_none,
}


def min_rows_per_class(val_size: float, test_size: float) -> int:
    """Rows a class needs so that stratified splitting puts it in every split.

    ``max(3, ceil(1 / min(1 - val_size - test_size, val_size, test_size)))``: the class's
    expected share of the smallest split must be at least one row (5 for the default 0.2/0.2).
    """
    smallest = min(1.0 - val_size - test_size, val_size, test_size)
    return max(3, math.ceil(1.0 / smallest - 1e-9))


def check_classes(raw: RawData, val_size: float, test_size: float) -> None:
    """Refuse a single class, or a class too small to appear in every stratified split.

    Raises
    ------
    DataError
        Naming the class, its row count and the minimum.
    """
    counts = np.bincount(raw.y, minlength=len(raw.classes))
    names = [str(c) for c in raw.classes]
    target = raw.options.get("target")
    column = raw.name if target is None else f"target column {target!r}"
    if np.count_nonzero(counts) < 2:
        only = names[int(np.argmax(counts))]
        raise DataError(raw.label, f"{column} has a single class ({only!r}, "
                        f"{plural(counts.max(), 'row')}); classification needs at least 2 "
                        "classes")
    minimum = min_rows_per_class(val_size, test_size)
    small = np.flatnonzero(counts < minimum)
    if small.size:
        j = int(small[0])
        raise DataError(raw.label, f"class {names[j]!r} has only {plural(counts[j], 'row')}; "
                        "stratified "
                        f"splitting with val_size={val_size} and test_size={test_size} needs at "
                        f"least {minimum} rows per class so that every split has one: add rows, "
                        "merge or remove that class, or change the sizes")


def split_sizes(n: int, val_size: float, test_size: float) -> tuple[int, int, int]:
    """Rows in (train, val, test): ``n_val = ceil(val_size * n)``, ``n_test =
    ceil(test_size * n)`` and the rest for training.

    A relative tolerance of 1e-9 keeps float artefacts (``0.1 * 60 = 6.000000000000001``)
    from adding a row.
    """
    n_val = math.ceil(val_size * n * (1 - 1e-9))
    n_test = math.ceil(test_size * n * (1 - 1e-9))
    return n - n_val - n_test, n_val, n_test


def split_indices(raw: RawData, val_size: float, test_size: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded train/validation/test row indices, stratified by class for classification.

    Returns
    -------
    train, val, test : ndarray of int64
        Disjoint row indices covering ``0..n-1``.
    """
    from sklearn.model_selection import train_test_split

    n = len(raw.y)
    n_train, n_val, n_test = sizes = split_sizes(n, val_size, test_size)
    if min(sizes) < 1:
        raise DataError(raw.label, f"{n} rows are too few to split with val_size={val_size} and "
                        f"test_size={test_size} (train/validation/test would get "
                        f"{'/'.join(map(str, sizes))} rows); every split needs at least 1 row")
    stratify = raw.task == "classification"
    rest, test = train_test_split(np.arange(n), test_size=n_test, random_state=seed,
                                  stratify=raw.y if stratify else None)
    train, val = train_test_split(rest, test_size=n_val, random_state=seed,
                                  stratify=raw.y[rest] if stratify else None)
    if stratify:
        _check_every_class_present(raw, {"train": train, "val": val, "test": test})
    return train, val, test


def _check_every_class_present(raw: RawData, indices: dict[str, np.ndarray]) -> None:
    for split, rows in indices.items():
        absent = np.setdiff1d(np.unique(raw.y), raw.y[rows])
        if absent.size:
            name = str(raw.classes[absent[0]])
            count = plural(np.sum(raw.y == absent[0]), "row")
            raise DataError(raw.label, f"class {name!r} ({count}) "
                            f"ended up with no rows in the {split} split; add rows of that "
                            "class or change val_size/test_size")


def impute_mean(parts: list[np.ndarray], feature_names: list[str],
                label: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Fill NaN in every split with the training split's column means.

    ``m_j = mean of the non-missing X_train[:, j]``; ``X[i, j] = m_j`` where it was NaN.

    Parameters
    ----------
    parts : list of ndarray of float64, each (n_split, d)
        Train first, then the other splits.
    feature_names : list of str, length d
    label : str
        Data source for error messages.

    Returns
    -------
    parts : list of ndarray of float64
        New arrays, same shapes, without NaN.
    means : ndarray of float64, shape (d,)
    """
    observed = ~np.isnan(parts[0])
    empty = np.flatnonzero(~observed.any(axis=0))
    if empty.size:
        raise DataError(label, f"column {feature_names[empty[0]]!r} has no values in the "
                        'training split to compute a mean from; fix the column, use missing='
                        '"drop", or leave the column out of features')
    means = np.where(observed, parts[0], 0.0).sum(axis=0) / observed.sum(axis=0)
    return [np.where(np.isnan(X), means, X) for X in parts], means
