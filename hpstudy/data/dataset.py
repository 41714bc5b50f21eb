"""The `Dataset` handed to models, and the `RawData` the loaders produce before splitting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Learning tasks a dataset can have.
TASKS = ("classification", "regression")

#: Missing-value policies: refuse, drop the rows, or fill with the training-split mean.
MISSING_POLICIES = ("error", "drop", "mean")


@dataclass
class RawData:
    """One table as loaded, before splitting, imputation and scaling.

    Attributes
    ----------
    name : str
        Dataset name (built-in name, or the CSV file name).
    source : str
        The built-in name, or the resolved absolute path of the CSV file.
    label : str
        How error messages name the data: the built-in name or the path as the user gave it.
    task : {"classification", "regression"}
    X : ndarray of float64, shape (n, d)
        Encoded features; NaN marks a missing value (only left in place for ``missing="mean"``).
    y : ndarray, shape (n,)
        int64 class indices 0..k-1 for classification, float64 targets for regression.
    feature_names : list of str, length d
    classes : ndarray of shape (k,) or None
        Original label of each class index (``classes[y]`` gives the labels back).
    digest : bytes
        SHA-256 digest of the raw data (file bytes, or the generated/bundled arrays).
    options : dict
        Loader-specific resolved options (target, features, n_samples, noise, ...).
    rows : ndarray of int64, shape (n,) or None
        Original row number (0-based data row of the file) of each row; None means
        ``arange(n)`` (no row was dropped).
    """

    name: str
    source: str
    label: str
    task: str
    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    classes: np.ndarray | None
    digest: bytes
    options: dict[str, Any] = field(default_factory=dict)
    rows: np.ndarray | None = None


def _readonly(array: np.ndarray | None) -> np.ndarray | None:
    if array is not None:
        array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Train/validation/test splits of one table, scaled with training statistics only.

    Attributes are read-only (the arrays too): build a new dataset with `load_dataset` to
    change anything.

    Attributes
    ----------
    name : str
        Built-in dataset name, or the CSV file name (e.g. ``"credit.csv"``).
    source : str
        The built-in name, or the resolved absolute path of the CSV file.
    task : {"classification", "regression"}
    X_train, X_val, X_test : ndarray of float64, shape (n_split, n_features)
        Scaled features: ``(X_raw - scaler_offset) / scaler_scale``.
    y_train, y_val, y_test : ndarray, shape (n_split,)
        int64 class indices in ``0..n_classes-1`` (classification) or float64 targets.
    feature_names : list of str, length n_features
        Column names after one-hot encoding (a categorical column ``c`` with level ``v``
        becomes ``"c_v"``).
    class_names : list of str or None
        ``str`` of each class's original label, by class index; None for regression.
    classes : ndarray of shape (n_classes,) or None
        The original labels by class index (strings, ints or bools); None for regression.
    fingerprint : str
        16 hex digits of SHA-256 over the raw data and the options that change the data.
    scaling : {"standard", "minmax", "none"}
    scaler_offset, scaler_scale : ndarray of float64, shape (n_features,)
        Fitted on the training split only: the mean and standard deviation for
        ``"standard"``, the minimum and range for ``"minmax"``, zeros and ones for ``"none"``.
        Constant columns get scale 1.
    impute_values : ndarray of float64, shape (n_features,) or None
        Training-split column means used to fill missing values (``missing="mean"``), else None.
    options : dict
        The resolved loading options, ready to log.
    indices : dict of str to ndarray of int64
        ``{"train": rows, "val": rows, "test": rows}``: for each split row, its 0-based row
        number in the source (the file's data rows, counting rows later dropped).
    """

    name: str
    source: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str] | None
    classes: np.ndarray | None
    fingerprint: str
    scaling: str
    scaler_offset: np.ndarray
    scaler_scale: np.ndarray
    impute_values: np.ndarray | None
    options: dict[str, Any]
    indices: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "classes",
                     "scaler_offset", "scaler_scale", "impute_values"):
            _readonly(getattr(self, name))
        for rows in self.indices.values():
            _readonly(rows)

    @property
    def n_features(self) -> int:
        """Number of feature columns ``d`` (after one-hot encoding)."""
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int | None:
        """Number of classes ``k`` for classification, None for regression."""
        return None if self.class_names is None else len(self.class_names)

    @property
    def sizes(self) -> dict[str, int]:
        """Rows per split: ``{"train": n_train, "val": n_val, "test": n_test}``."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The three splits as ``{"train": (X, y), "val": (X, y), "test": (X, y)}``."""
        return {
            "train": (self.X_train, self.y_train),
            "val": (self.X_val, self.y_val),
            "test": (self.X_test, self.y_test),
        }

    def one_hot(self, y: np.ndarray) -> np.ndarray:
        """One-hot encode class indices: ``Y[i, j] = 1.0 if y[i] == j else 0.0``.

        Parameters
        ----------
        y : array-like of int, shape (n,)
            Class indices in ``0..n_classes-1``.

        Returns
        -------
        ndarray of float64, shape (n, n_classes)
        """
        indices = self._check_indices(y, "one_hot")
        return np.eye(self.n_classes, dtype=np.float64)[indices]

    def decode(self, indices: np.ndarray) -> np.ndarray:
        """Map class indices back to the original labels: ``classes[indices]``.

        Parameters
        ----------
        indices : array-like of int, shape (n,)

        Returns
        -------
        ndarray, shape (n,)
            The labels as they were in the data (strings, ints or bools).
        """
        return self.classes[self._check_indices(indices, "decode")]

    def transform(self, X_raw: np.ndarray) -> np.ndarray:
        """Prepare raw encoded features like the splits: impute, then scale.

        ``X = (X_raw - scaler_offset) / scaler_scale`` after replacing NaN with
        `impute_values` (when ``missing="mean"`` was used).

        Parameters
        ----------
        X_raw : array-like of float, shape (n, n_features)
            Unscaled features in `feature_names` order (categoricals already one-hot encoded).

        Returns
        -------
        ndarray of float64, shape (n, n_features)
        """
        X = np.array(X_raw, dtype=np.float64, ndmin=2)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"transform: X_raw must have shape (n, {self.n_features}), "
                             f"got {X.shape}")
        missing = np.isnan(X)
        if missing.any():
            if self.impute_values is None:
                raise ValueError("transform: X_raw has NaN and this dataset was loaded "
                                 "without missing='mean'; nothing to impute them with")
            X[missing] = np.broadcast_to(self.impute_values, X.shape)[missing]
        return (X - self.scaler_offset) / self.scaler_scale

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """Undo the scaling: ``X_raw = X * scaler_scale + scaler_offset``, shape (n, d)."""
        return np.asarray(X, dtype=np.float64) * self.scaler_scale + self.scaler_offset

    def summary(self) -> dict[str, Any]:
        """Plain values describing the dataset, for logging (name, fingerprint, sizes...)."""
        return {
            "name": self.name, "source": self.source, "task": self.task,
            "fingerprint": self.fingerprint, "n_features": self.n_features,
            "n_classes": self.n_classes, "n_train": self.sizes["train"],
            "n_val": self.sizes["val"], "n_test": self.sizes["test"], "scaling": self.scaling,
        }

    def __repr__(self) -> str:
        sizes = self.sizes
        return (f"Dataset(name={self.name!r}, task={self.task!r}, train={sizes['train']}, "
                f"val={sizes['val']}, test={sizes['test']}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, fingerprint={self.fingerprint!r})")

    def _check_indices(self, y: np.ndarray, method: str) -> np.ndarray:
        if self.class_names is None:
            raise ValueError(f"{method}: dataset {self.name!r} is a regression dataset; "
                             "it has no classes")
        indices = np.asarray(y)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"{method}: class indices must be integers, got dtype {indices.dtype}")
        indices = indices.astype(np.int64)
        bad = (indices < 0) | (indices >= self.n_classes)
        if bad.any():
            raise ValueError(f"{method}: class indices must be in 0..{self.n_classes - 1}, "
                             f"got {indices[bad][0]}")
        return indices
