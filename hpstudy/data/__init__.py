"""hpstudy.data: built-in and CSV datasets, validation, splitting and scaling.

>>> from hpstudy.data import load_dataset
>>> ds = load_dataset("iris", seed=0)
>>> ds.X_train.shape, ds.n_classes
((90, 4), 3)

Imports only NumPy at import time; pandas and scikit-learn are imported when a dataset
is loaded.
"""

from hpstudy.data.builtin import DATASETS, DatasetSpec, list_datasets, make_spirals, make_xor
from hpstudy.data.dataset import MISSING_POLICIES, TASKS, Dataset
from hpstudy.data.errors import DataError
from hpstudy.data.loading import load_dataset
from hpstudy.data.prepare import SCALERS, min_rows_per_class

__all__ = [
    "DATASETS",
    "MISSING_POLICIES",
    "SCALERS",
    "TASKS",
    "DataError",
    "Dataset",
    "DatasetSpec",
    "list_datasets",
    "load_dataset",
    "make_spirals",
    "make_xor",
    "min_rows_per_class",
]
