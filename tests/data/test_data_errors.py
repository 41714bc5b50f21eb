"""Bad data and bad options: one-line `DataError`s that start with the file or dataset name."""

import pickle

import pytest

from hpstudy.data import DataError, load_dataset

GOOD = "a,b,label\n" + "".join(f"{i},{i * 2 % 7},{'xy'[i % 2]}\n" for i in range(20))


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def raises(source, *fragments, **kwargs):
    """Load ``source`` and check the DataError: one line, starting with ``source``."""
    with pytest.raises(DataError) as info:
        load_dataset(source, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{source}: "), message
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, ValueError)
    return message


def with_cell(row, column, value):
    """GOOD with one cell replaced (row counts data rows from 0)."""
    lines = GOOD.splitlines()
    cells = lines[row + 1].split(",")
    cells[["a", "b", "label"].index(column)] = value
    lines[row + 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


CSV_CASES = {
    "empty file": ("", {}, ["file is empty", "header row"]),
    "blank lines only": ("\n\n\n", {}, ["file is empty"]),
    "header only": ("a,b,label\n", {}, ["no data rows", "a, b, label"]),
    "ragged rows": ("a,b,label\n1,2,x\n3,4,y,5,6\n", {}, ["cannot parse as CSV",
                                                          "Expected 3 fields"]),
    "not utf-8": (b"a,b,label\n\xff\xfe\xfa,1,x\n", {}, ["cannot parse as CSV"]),
    "no target": (GOOD, {"target": None}, ["no target column given", "columns are: a, b, label"]),
    "target not a name": (GOOD, {"target": 2}, ["target must be a column name"]),
    "target missing": (GOOD, {"target": "labels"}, [
        "target column 'labels' not found (did you mean 'label'?); columns are: a, b, label"]),
    "feature missing": (GOOD, {"features": ["a", "z"]}, ["feature column 'z' not found",
                                                         "columns are: a, b, label"]),
    "features not a list": (GOOD, {"features": 3}, ["features must be a list of column names"]),
    "feature twice": (GOOD, {"features": ["a", "a"]}, ["lists column 'a' more than once"]),
    "target in features": (GOOD, {"features": ["a", "label"]}, ["also listed in features"]),
    "categorical missing": (GOOD, {"categorical": ["c"]}, ["categorical column 'c' not found"]),
    "categorical not a feature": (GOOD, {"features": ["a"], "categorical": ["b"]},
                                  ["categorical column 'b' is not among the features"]),
    "categorical target": (GOOD, {"categorical": ["label"]}, ["listed in categorical"]),
    "only the target": ("label\nx\ny\n", {}, ["no feature columns"]),
    "text feature": (with_cell(3, "b", "high"), {}, [
        "column 'b' is not numeric (e.g. 'high' in data row 4)", "add it to categorical"]),
    "missing feature": (with_cell(2, "a", ""), {}, [
        "column 'a' (1 missing)", 'missing="drop"', 'missing="mean"']),
    "infinite feature": (with_cell(2, "b", "inf"), {}, ["column 'b' (1 infinite)"]),
    "missing in two columns": (with_cell(2, "b", "-inf").replace("\n5,", "\n,"), {},
                               ["column 'a' (1 missing), column 'b' (1 infinite); use"]),
    "missing target": (with_cell(4, "label", ""), {}, [
        "target column 'label' has 1 missing or infinite value (first in data row 5)", 'missing="drop"']),
    "missing target under mean": (with_cell(4, "label", ""), {"missing": "mean"},
                                  ["targets cannot be imputed"]),
    "infinite regression target": ("a,y\n1,0.5\n2,inf\n3,1.5\n4,2.5\n5,3.5\n", {"target": "y"},
                                   ["target column 'y' has 1 missing or infinite value"]),
    "single class": (GOOD.replace(",y\n", ",x\n"), {}, [
        "target column 'label' has a single class ('x', 20 rows)", "at least 2 classes"]),
    "rare class": (GOOD.replace(",y\n", ",x\n", 8), {}, [
        "class 'y' has only 2 rows;", "at least 5 rows per class"]),
    "rare class with larger sizes": (GOOD.replace(",y\n", ",x\n", 6),
                                     {"val_size": 0.1, "test_size": 0.1},
                                     ["class 'y' has only 4 rows", "at least 10 rows"]),
    "regression on text": (GOOD, {"task": "regression"}, [
        "target column 'label' is not numeric (e.g. 'x')", 'task="classification"']),
    "everything dropped": ("a,label\n,x\n,y\n", {"missing": "drop"}, ["no rows left"]),
    "nothing to impute from": ("a,b,label\n" + "".join(f",{i},{'xy'[i % 2]}\n"
                                                       for i in range(20)),
                               {"missing": "mean"}, ["column 'a' has no values in the "
                                                     "training split"]),
    "too few rows": ("a,y\n1,0.5\n2,1.5\n", {"target": "y"}, ["2 rows are too few to split"]),
    "n_samples for a file": (GOOD, {"n_samples": 100}, [
        "n_samples only applies to generated datasets (moons, circles, spirals, xor); this is "
        "a CSV file: leave it unset"]),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_bad_csv(tmp_path, case):
    text, kwargs, fragments = CSV_CASES[case]
    path = write(tmp_path, text)
    raises(path, *fragments, **{"target": "label", **kwargs})


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    raises(path, "file not found", str(path.resolve()), target="label")
    raises("does/not/exist.csv", "file not found", target="label")


def test_directory(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    raises(folder, "is a directory", target="label")


OPTION_CASES = {
    "scaling": ({"scaling": "zscore"},
                "scaling='zscore' is unknown; valid values are: standard, minmax, none"),
    "missing": ({"missing": "ignore"}, "missing='ignore' is unknown; valid values are: error, "
                                       "drop, mean"),
    "task": ({"task": "ranking"}, "task='ranking' is unknown; valid values are: classification, "
                                  "regression"),
    "val_size zero": ({"val_size": 0}, "val_size must be a fraction strictly between 0 and 1"),
    "test_size one": ({"test_size": 1.0}, "test_size must be a fraction strictly between"),
    "val_size text": ({"val_size": "0.2"}, "val_size must be a fraction"),
    "sizes sum": ({"val_size": 0.5, "test_size": 0.5}, "val_size + test_size must be below 1"),
    "seed negative": ({"seed": -1}, "seed must be an integer in 0..2**32-1, got -1"),
    "seed float": ({"seed": 1.5}, "seed must be an integer"),
}


@pytest.mark.parametrize("case", list(OPTION_CASES))
@pytest.mark.parametrize("source", ["iris", "csv"])
def test_bad_options(tmp_path, case, source):
    kwargs, fragment = OPTION_CASES[case]
    if source == "csv":
        raises(write(tmp_path, GOOD), fragment, target="label", **kwargs)
    else:
        raises("iris", fragment, **kwargs)


BUILTIN_CASES = {
    "unknown name": ("irsi", {}, ["unknown dataset (did you mean 'iris'?)",
                                  "built-in datasets are: digits, breast_cancer, iris"]),
    "unknown, no close name": ("cifar10", {}, ["unknown dataset;", "path of a CSV file"]),
    "n_samples for fixed": ("digits", {"n_samples": 10}, [
        "n_samples only applies to generated datasets", "leave it unset"]),
    "noise for fixed": ("wine", {"noise": 0.1}, ["noise only applies to generated"]),
    "both for fixed": ("iris", {"noise": 0.1, "n_samples": 5}, ["n_samples and noise only "
                                                                "apply", "leave them unset"]),
    "target for builtin": ("iris", {"target": "species"}, ["target only applies to CSV files"]),
    "categorical for builtin": ("moons", {"categorical": ["x1"]}, ["categorical only applies"]),
    "task for builtin": ("diabetes", {"task": "classification"}, [
        "diabetes is a regression dataset"]),
    "unknown feature": ("iris", {"features": ["petal"]}, [
        "feature 'petal' not found; features are: sepal length (cm)"]),
    "n_samples zero": ("moons", {"n_samples": 0}, ["n_samples must be a positive integer"]),
    "n_samples float": ("moons", {"n_samples": 100.0}, ["n_samples must be a positive integer"]),
    "n_samples bool": ("spirals", {"n_samples": True}, ["n_samples must be a positive"]),
    "noise negative": ("circles", {"noise": -0.1}, ["noise must be a finite number >= 0"]),
    "noise nan": ("xor", {"noise": float("nan")}, ["noise must be a finite number"]),
    "too few generated": ("spirals", {"n_samples": 12}, [
        "class '0' has only 4 rows", "at least 5 rows per class"]),
    "one generated row": ("moons", {"n_samples": 1}, ["moons has a single class ('1', 1 row)"]),
}


@pytest.mark.parametrize("case", list(BUILTIN_CASES))
def test_bad_builtin(case):
    name, kwargs, fragments = BUILTIN_CASES[case]
    raises(name, *fragments, **kwargs)


def test_not_a_name_or_path():
    with pytest.raises(DataError, match="expected a built-in dataset name or a CSV file path"):
        load_dataset(42)


def test_data_error_fields_and_pickling():
    error = DataError("data/x.csv", "target column 'label' not found;\n  columns are: a, b")
    assert str(error) == "data/x.csv: target column 'label' not found; columns are: a, b"
    assert (error.source, error.problem) == ("data/x.csv", str(error)[len("data/x.csv: "):])
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error) and isinstance(clone, DataError)


def test_errors_come_before_any_work(tmp_path, monkeypatch):
    """Option errors are raised before the file is read."""
    import hpstudy.data.tabular as tabular

    monkeypatch.setattr(tabular, "read_frame", lambda *a: pytest.fail("file was read"))
    with pytest.raises(DataError, match="scaling='robust' is unknown"):
        load_dataset(write(tmp_path, GOOD), target="label", scaling="robust")
