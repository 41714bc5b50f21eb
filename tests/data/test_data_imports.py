"""Importing the data layer stays light and respects the layering."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hpstudy.data import DataError
from hpstudy.data.dataset import RawData
from hpstudy.data.prepare import _check_every_class_present

HEAVY = ["optuna", "mlflow", "matplotlib", "sklearn", "pandas", "hpstudy.experiment",
         "hpstudy.report", "hpstudy.evaluation"]


def test_import_and_listing_do_not_pull_heavy_modules():
    code = ("import json, sys; import hpstudy.data as d; d.list_datasets(); "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []


def test_post_split_check_names_a_class_missing_from_a_split():
    y = np.array([0, 0, 0, 1, 1, 1])
    raw = RawData("t.csv", "/t.csv", "t.csv", "classification", np.zeros((6, 1)), y, ["a"],
                  np.array(["no", "yes"]), b"")
    splits = {"train": np.array([0, 3]), "val": np.array([1, 4]), "test": np.array([2, 5])}
    _check_every_class_present(raw, splits)
    splits["val"] = np.array([1, 2])
    with pytest.raises(DataError, match=r"^t\.csv: class 'yes' \(3 rows\) ended up with no rows "
                                        "in the val split"):
        _check_every_class_present(raw, splits)
