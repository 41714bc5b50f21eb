"""Argument checks shared by the evaluation modules (private).

Every check raises ``ValueError`` naming the argument, the rule it broke and the value seen.
"""

from __future__ import annotations

import numpy as np

# Same tolerance scikit-learn uses when it checks that multiclass scores are probabilities.
_ROW_SUM_RTOL = 1e-5
_ROW_SUM_ATOL = 1e-8
# Rows summing to 1 within this are used as given; others (float32 rounding) are renormalised.
_EXACT_SUM_ATOL = float(np.sqrt(np.finfo(np.float64).eps))


def _describe(a: np.ndarray) -> str:
    """Short description of an array for error messages: shape, dtype and a few values."""
    flat = a.ravel()
    head = ", ".join(repr(v) for v in flat[:4].tolist())
    more = ", ..." if flat.size > 4 else ""
    return f"array of shape {a.shape} and dtype {a.dtype} ([{head}{more}])"


def as_labels(y, name: str = "y_true") -> np.ndarray:
    """Return `y` as a 1-D int64 array of class indices; integral floats and bools are accepted."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of class indices; "
                         f"got {_describe(arr)}")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must hold integer class indices 0..k-1; got {_describe(arr)}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer class indices 0..k-1; "
                             f"got non-integer values in {_describe(arr)}")
    out = arr.astype(np.int64)
    if out.min() < 0:
        raise ValueError(f"{name} must hold class indices >= 0; got minimum {out.min()}")
    return out


def as_binary_labels(y, name: str = "y_true") -> np.ndarray:
    """Return `y` as a 1-D int64 array of 0/1 labels."""
    out = as_labels(y, name)
    if out.max() > 1:
        raise ValueError(f"{name} must hold binary labels in {{0, 1}}; "
                         f"got values {np.unique(out)[:10].tolist()}")
    return out


def as_scores(score, n: int, name: str = "score") -> np.ndarray:
    """Return `score` as a finite 1-D float64 array of length `n`."""
    arr = np.asarray(score, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a 1-D array with one score per row ({n} rows); "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {int(np.sum(~np.isfinite(arr)))} "
                         f"non-finite values")
    return arr


def as_proba(proba, n: int, name: str = "proba") -> np.ndarray:
    """Return class probabilities as an (n, k) float64 array, k >= 2, rows summing to 1.

    A 1-D array is read as P(class 1) of a binary problem and becomes ``[1 - p, p]``. Rows that
    sum to 1 only within float32 rounding are divided by their sum.
    """
    arr = np.asarray(proba, dtype=np.float64)
    if arr.ndim == 1:
        arr = np.column_stack([1.0 - arr, arr])
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n, k) with n = {n} rows and k >= 2 classes; "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1]; "
                         f"got values in [{np.nanmin(arr)}, {np.nanmax(arr)}]")
    sums = arr.sum(axis=1)
    if not np.allclose(1.0, sums, rtol=_ROW_SUM_RTOL, atol=_ROW_SUM_ATOL):
        worst = float(sums[np.argmax(np.abs(sums - 1.0))])
        raise ValueError(f"{name} rows must sum to 1 (class probabilities); "
                         f"found a row summing to {worst!r}")
    if not np.allclose(sums, 1.0, rtol=0.0, atol=_EXACT_SUM_ATOL):
        # e.g. float32 network output: renormalise, or scikit-learn's log_loss warns
        arr = arr / sums[:, None]
    return arr


def check_labels_fit(y: np.ndarray, k: int, name: str = "y_true") -> None:
    """Raise unless every label in `y` is a valid index into `k` classes."""
    if y.max() >= k:
        raise ValueError(f"{name} must hold class indices 0..{k - 1} (k = {k} classes); "
                         f"got label {int(y.max())}")
