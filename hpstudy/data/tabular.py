"""CSV files: read, check, apply the missing-value policy, infer the task, encode.

Every problem becomes a one-line `DataError` that starts with the path as the user gave it.
Splitting, mean imputation and scaling happen later (`hpstudy.data.prepare`), so that
nothing learnt from validation or test rows reaches the training data.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from hpstudy.data.dataset import RawData
from hpstudy.data.errors import DataError, plural

#: A numeric target with integer values and at most this many distinct values is inferred
#: to be a classification target.
MAX_INFERRED_CLASSES = 20

_MISSING_HINT = ('use missing="drop" to drop those rows or missing="mean" to fill them with '
                 "the training-split mean")


def load_csv(path: Path, label: str, *, target: str | None, features: list[str] | None,
             categorical: list[str] | None, missing: str, task: str | None) -> RawData:
    """Read one CSV file into `RawData` (encoded, not yet split).

    Parameters
    ----------
    path : Path
        The file (``.tsv`` files are read tab-separated, compressed files by suffix).
    label : str
        The path as the user gave it, used to start error messages.
    target : str
        The target column (required).
    features : list of str or None
        Feature columns in order; None means every column but the target.
    categorical : list of str or None
        Feature columns to one-hot encode (column ``c``, level ``v`` -> feature ``"c_v"``).
    missing : {"error", "drop", "mean"}
        Missing/infinite feature values: refuse, drop the row, or keep them as NaN for
        training-mean imputation after splitting. A missing target is refused unless "drop".
    task : {"classification", "regression"} or None
        None infers it with `infer_task`.

    Raises
    ------
    DataError
        For every problem with the file or the options that refer to its columns.
    """
    frame = read_frame(path, label)
    target, features, categorical = resolve_columns(frame, label, target, features, categorical)
    numeric = {c: _numeric_column(frame, label, c) for c in features if c not in categorical}
    keep = _rows_to_keep(frame, label, target, features, numeric, missing)
    frame = frame.loc[keep].reset_index(drop=True)
    numeric = {c: values[keep] for c, values in numeric.items()}
    task = resolve_task(frame[target], label, target, task)
    y, classes = encode_target(frame[target], task)
    X, names = encode_features(frame, features, categorical, numeric)
    options = {"target": target, "features": features, "categorical": categorical,
               "rows_dropped": int((~keep).sum())}
    return RawData(name=path.name, source=str(path.resolve()), label=label, task=task, X=X, y=y,
                   feature_names=names, classes=classes,
                   digest=hashlib.sha256(path.read_bytes()).digest(), options=options,
                   rows=np.flatnonzero(keep))


def read_frame(path: Path, label: str) -> pd.DataFrame:
    """Read the file with pandas, turning every failure into a `DataError`.

    Returns
    -------
    DataFrame
        At least one column and one row.
    """
    if not path.exists():
        raise DataError(label, f"file not found (looked for {path.resolve()}); give the path "
                        "of an existing CSV file or the name of a built-in dataset")
    if path.is_dir():
        raise DataError(label, "is a directory; give the path of a CSV file")
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        frame = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise DataError(label, "file is empty; a CSV file needs a header row naming the "
                        "columns and at least one data row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(label, f"cannot parse as CSV ({str(exc).strip()}); expected comma-separated "
                        "UTF-8 text with a header row and the same number of fields per row") \
            from None
    except OSError as exc:
        raise DataError(label, f"cannot read the file: {exc.strerror or exc}") from None
    if len(frame) == 0:
        raise DataError(label, f"no data rows, only a header ({', '.join(map(str, frame))}); "
                        "add at least one data row")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def resolve_columns(frame: pd.DataFrame, label: str, target: str | None,
                    features: list[str] | None,
                    categorical: list[str] | None) -> tuple[str, list[str], list[str]]:
    """Check the target/features/categorical options against the file's columns.

    Returns
    -------
    target : str
    features : list of str
        The feature columns in order (every column but the target when not given).
    categorical : list of str
        A subset of ``features``.
    """
    columns = list(frame.columns)
    if target is None:
        raise DataError(label, "no target column given; CSV files need target=<column>; "
                        f"columns are: {', '.join(columns)}")
    if not isinstance(target, str):
        raise DataError(label, f"target must be a column name (a string), got {target!r}")
    _check_exists(label, "target column", target, columns)
    if features is None:
        features = [c for c in columns if c != target]
    features = _name_list(label, "features", features)
    for column in features:
        _check_exists(label, "feature column", column, columns)
    if target in features:
        raise DataError(label, f"target column {target!r} is also listed in features; "
                        "remove it from features")
    categorical = _name_list(label, "categorical", categorical or [])
    for column in categorical:
        _check_categorical(label, column, target, features, columns)
    if not features:
        raise DataError(label, f"no feature columns; the file has only the target column "
                        f"{target!r}")
    return target, features, categorical


def _name_list(label: str, option: str, names: object) -> list[str]:
    """``names`` as a list of distinct strings (a single string is a one-column list)."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise DataError(label, f"{option} must be a list of column names, got {names!r}")
    duplicates = sorted({n for n in names if list(names).count(n) > 1})
    if duplicates:
        raise DataError(label, f"{option} lists column {duplicates[0]!r} more than once")
    return list(names)


def _check_exists(label: str, what: str, name: str, columns: list[str]) -> None:
    if name in columns:
        return
    close = difflib.get_close_matches(name, columns, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(label, f"{what} {name!r} not found{hint}; columns are: {', '.join(columns)}")


def _check_categorical(label: str, column: str, target: str, features: list[str],
                       columns: list[str]) -> None:
    if column == target:
        raise DataError(label, f"target column {target!r} is listed in categorical; class "
                        "labels are encoded automatically: remove it from categorical")
    _check_exists(label, "categorical column", column, columns)
    if column not in features:
        raise DataError(label, f"categorical column {column!r} is not among the features; "
                        "add it to features or remove it from categorical")


def _numeric_column(frame: pd.DataFrame, label: str, column: str) -> np.ndarray:
    """A non-categorical feature as float64 (NaN where missing, inf kept), shape (n,)."""
    values = _as_float(frame[column])
    if values is None:
        row, value = _first_non_numeric(frame[column])
        raise DataError(label, f"column {column!r} is not numeric (e.g. {value!r} in data row "
                        f"{row + 1}); add it to categorical to one-hot encode it, or fix the "
                        "values")
    return values


def _first_non_numeric(series: pd.Series) -> tuple[int, object]:
    """Position and value of the first present value that does not parse as a number."""
    bad = (series.notna() & pd.to_numeric(series, errors="coerce").isna()).to_numpy()
    row = int(np.argmax(bad))
    return row, series.iloc[row]


def _as_float(series: pd.Series) -> np.ndarray | None:
    """float64 values of a numeric or boolean column (NaN where missing), else None."""
    if pd.api.types.is_bool_dtype(series) or _is_bool_objects(series):
        return series.map({True: 1.0, False: 0.0}).to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(series):  # copy: pandas may hand out a read-only view
        return series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    coerced = pd.to_numeric(series, errors="coerce")
    if (series.notna() & coerced.isna()).any():
        return None
    return coerced.to_numpy(dtype=np.float64, na_value=np.nan)


def _is_bool_objects(series: pd.Series) -> bool:
    """True for an object column holding only booleans and missing values."""
    values = series.dropna()
    return (series.dtype == object and len(values) > 0
            and all(isinstance(v, bool | np.bool_) for v in values))


def _rows_to_keep(frame: pd.DataFrame, label: str, target: str, features: list[str],
                  numeric: dict[str, np.ndarray], missing: str) -> np.ndarray:
    """Apply the missing-value policy: a boolean mask (n,) of the rows to keep.

    ``"error"`` refuses any missing or infinite value, ``"drop"`` drops every row that has
    one (target included), ``"mean"`` keeps them for imputation but refuses a missing target.
    """
    target_bad = _missing_target(frame[target])
    if target_bad.any() and missing != "drop":
        first = int(np.flatnonzero(target_bad)[0]) + 1
        count = plural(target_bad.sum(), "missing or infinite value")
        raise DataError(label, f"target column {target!r} has {count} (first in data row "
                        f"{first}); targets cannot be "
                        'imputed: fix them or use missing="drop" to drop those rows')
    bad = {c: frame[c].isna().to_numpy() for c in features if c not in numeric}
    bad.update({c: ~np.isfinite(values) for c, values in numeric.items()})
    if missing == "error" and any(mask.any() for mask in bad.values()):
        counts = [_describe_missing(c, bad[c], numeric.get(c)) for c in features if bad[c].any()]
        raise DataError(label, f"missing or infinite values in {', '.join(counts)}; "
                        f"{_MISSING_HINT}")
    keep = ~target_bad
    if missing == "drop":
        keep &= ~np.any([bad[c] for c in features], axis=0)
        if not keep.any():
            raise DataError(label, 'no rows left after missing="drop": every row has a '
                            'missing or infinite value; try missing="mean" or fix the file')
    return keep


def _missing_target(series: pd.Series) -> np.ndarray:
    """Boolean mask (n,) of missing (or, for a numeric target, infinite) target values."""
    bad = series.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        bad = bad | np.isinf(series.to_numpy(dtype=np.float64, na_value=np.nan))
    return bad


def _describe_missing(column: str, bad: np.ndarray, values: np.ndarray | None) -> str:
    """``"column 'a' (2 missing, 1 infinite)"``."""
    n_inf = 0 if values is None else int(np.isinf(values).sum())
    parts = [f"{int(bad.sum()) - n_inf} missing", f"{n_inf} infinite"]
    return f"column {column!r} ({', '.join(p for p in parts if not p.startswith('0 '))})"


def infer_task(series: pd.Series) -> str:
    """Guess the task from the (non-missing) target values.

    Classification when the column is non-numeric (text), boolean, or numeric with only
    integer values and at most `MAX_INFERRED_CLASSES` (20) distinct values; regression
    otherwise (any fractional value, or more than 20 distinct integers).

    Parameters
    ----------
    series : Series, shape (n,)

    Returns
    -------
    {"classification", "regression"}
    """
    if _as_float(series) is None or pd.api.types.is_bool_dtype(series) \
            or _is_bool_objects(series):
        return "classification"
    values = series.to_numpy(dtype=np.float64)
    integer_valued = bool(np.all(values == np.round(values)))
    if integer_valued and len(np.unique(values)) <= MAX_INFERRED_CLASSES:
        return "classification"
    return "regression"


def resolve_task(series: pd.Series, label: str, target: str, task: str | None) -> str:
    """The task given, checked against the target, or `infer_task` when None."""
    if task is None:
        return infer_task(series)
    if task == "regression" and _as_float(series) is None:
        example = _first_non_numeric(series)[1]
        raise DataError(label, f"target column {target!r} is not numeric (e.g. {example!r}); "
                        'it cannot be a regression target: use task="classification" or leave '
                        "task unset")
    return task


def encode_target(series: pd.Series, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Targets as arrays: class indices and labels, or float values.

    Classes are the distinct labels sorted (numbers numerically, text alphabetically) and
    numbered ``0..k-1``; integer-valued numeric labels are kept as int64.

    Returns
    -------
    y : ndarray, shape (n,)
        int64 class indices (classification) or float64 targets (regression).
    classes : ndarray of shape (k,) or None
        ``classes[y]`` are the original labels; None for regression.
    """
    if task == "regression":
        return _as_float(series), None
    if pd.api.types.is_bool_dtype(series) or _is_bool_objects(series):
        labels = series.to_numpy(dtype=bool)
    elif pd.api.types.is_numeric_dtype(series):
        labels = series.to_numpy(dtype=np.float64)
        if np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
    else:
        labels = np.asarray(series.astype(str).tolist(), dtype=str)
    classes, y = np.unique(labels, return_inverse=True)
    return y.astype(np.int64).reshape(-1), classes


def encode_features(frame: pd.DataFrame, features: list[str], categorical: list[str],
                    numeric: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Stack the feature columns in order, one-hot encoding the categorical ones.

    Infinite values become NaN (they only remain under ``missing="mean"``, for imputation).

    Returns
    -------
    X : ndarray of float64, shape (n, d)
    feature_names : list of str, length d
    """
    blocks, names = [], []
    for column in features:
        if column in categorical:
            block, block_names = one_hot_column(frame[column], column)
        else:
            block, block_names = numeric[column][:, None], [column]
        blocks.append(block)
        names.extend(block_names)
    X = np.ascontiguousarray(np.hstack(blocks), dtype=np.float64)
    X[np.isinf(X)] = np.nan
    return X, names


def one_hot_column(series: pd.Series, column: str) -> tuple[np.ndarray, list[str]]:
    """One-hot encode a column over its sorted distinct values (levels).

    ``B[i, j] = 1.0 if series[i] == levels[j] else 0.0``; a missing value gives a row of
    NaN, so that ``missing="mean"`` fills it with the training frequency of each level.

    Returns
    -------
    B : ndarray of float64, shape (n, n_levels)
    names : list of str
        ``"<column>_<level>"`` for each level.
    """
    levels = _sorted_levels(series.dropna().unique().tolist())
    codes = pd.Categorical(series, categories=levels).codes
    block = (codes[:, None] == np.arange(len(levels))[None, :]).astype(np.float64)
    block[codes < 0] = np.nan
    return block, [f"{column}_{_level_name(level)}" for level in levels]


def _sorted_levels(levels: list) -> list:
    try:
        return sorted(levels)
    except TypeError:
        return sorted(levels, key=str)


def _level_name(level: object) -> str:
    if isinstance(level, float) and level.is_integer():
        return str(int(level))
    return str(level)
