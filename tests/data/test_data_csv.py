"""CSV files: columns, one-hot encoding, labels, task inference, missing values, fingerprints."""

import re
import shutil

import numpy as np
import pytest

from hpstudy.data import load_dataset
from hpstudy.data.tabular import MAX_INFERRED_CLASSES

PETS = """\
age,color,weight,owner_ok,label
1,red,3.5,True,cat
2,blue,4.0,False,dog
3,red,5.5,True,cat
4,green,6.0,True,dog
5,blue,2.5,False,cat
6,red,7.0,True,dog
7,green,3.0,False,cat
8,blue,8.5,True,dog
9,red,1.5,False,cat
10,green,9.0,True,dog
11,blue,4.5,True,cat
12,red,5.0,False,dog
"""


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def numeric_csv(labels, n_features=2, seed=0):
    """CSV text with features f0.. and the given label column values."""
    rng = np.random.default_rng(seed)
    header = ",".join([f"f{j}" for j in range(n_features)] + ["y"])
    rows = [",".join([f"{v:.6f}" for v in rng.normal(size=n_features)] + [str(label)])
            for label in labels]
    return "\n".join([header, *rows]) + "\n"


def test_default_features_are_every_other_column(tmp_path):
    ds = load_dataset(write(tmp_path, PETS), target="label", categorical=["color"],
                      val_size=0.25, test_size=0.25)
    assert ds.feature_names == ["age", "color_blue", "color_green", "color_red", "weight",
                                "owner_ok"]
    assert ds.n_features == 6 and ds.task == "classification"
    assert ds.options["features"] == ["age", "color", "weight", "owner_ok"]
    assert ds.options["categorical"] == ["color"]


def test_one_hot_values_and_bool_feature(tmp_path):
    path = write(tmp_path, PETS)
    ds = load_dataset(path, target="label", features=["owner_ok", "color"],
                      categorical=["color"], scaling="none", val_size=0.25, test_size=0.25)
    assert ds.feature_names == ["owner_ok", "color_blue", "color_green", "color_red"]
    colors = np.array(["red", "blue", "red", "green", "blue", "red", "green", "blue", "red",
                       "green", "blue", "red"])
    owner = np.array([1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0], dtype=float)
    for split, (X, _) in ds.splits().items():
        rows = ds.indices[split]
        np.testing.assert_array_equal(X[:, 0], owner[rows])
        expected = (colors[rows, None] == np.array(["blue", "green", "red"])).astype(float)
        np.testing.assert_array_equal(X[:, 1:], expected)


def test_numeric_categorical_level_names(tmp_path):
    text = "zone,x,y\n" + "".join(f"{z},{i},{i % 2}\n" for i, z in
                                  enumerate([10, 20, 30.0, 10, 20, 30] * 2))
    ds = load_dataset(write(tmp_path, text), target="y", categorical=["zone"],
                      val_size=0.25, test_size=0.25)
    assert ds.feature_names == ["zone_10", "zone_20", "zone_30", "x"]


def test_string_labels_mapped_and_decoded(tmp_path):
    ds = load_dataset(write(tmp_path, PETS), target="label", categorical=["color"],
                      val_size=0.25, test_size=0.25)
    assert ds.class_names == ["cat", "dog"] and ds.n_classes == 2
    labels = np.array(["cat", "dog"] * 6)
    for split, (_, y) in ds.splits().items():
        assert y.dtype == np.int64
        np.testing.assert_array_equal(ds.decode(y), labels[ds.indices[split]])


def test_integer_labels_keep_their_values(tmp_path):
    labels = [3, 7, 9] * 10
    ds = load_dataset(write(tmp_path, numeric_csv(labels)), target="y")
    assert ds.task == "classification" and ds.class_names == ["3", "7", "9"]
    decoded = ds.decode(ds.y_test)
    assert decoded.dtype == np.int64
    np.testing.assert_array_equal(decoded, np.array(labels)[ds.indices["test"]])


def test_bool_target(tmp_path):
    ds = load_dataset(write(tmp_path, PETS), target="owner_ok", features=["age", "weight"],
                      val_size=0.25, test_size=0.25)
    assert ds.task == "classification" and ds.class_names == ["False", "True"]
    assert ds.decode([1])[0] is np.True_


@pytest.mark.parametrize(("labels", "task"), [
    (["a", "b", "c"] * 10, "classification"),                     # text
    ([0, 1] * 15, "classification"),                              # few integers
    ([1.0, 2.0, 3.0] * 10, "classification"),                     # integer-valued floats
    (list(range(MAX_INFERRED_CLASSES)) * 5, "classification"),    # exactly 20 integers
    (list(range(MAX_INFERRED_CLASSES + 1)) * 5, "regression"),    # 21 integers
    ([0.5, 1.5, 2.25] * 10, "regression"),                        # fractional values
])
def test_task_inference(tmp_path, labels, task):
    ds = load_dataset(write(tmp_path, numeric_csv(labels)), target="y")
    assert ds.task == task and ds.options["task"] == task
    expected_dtype = np.int64 if task == "classification" else np.float64
    assert ds.y_train.dtype == expected_dtype


def test_task_override(tmp_path):
    path = write(tmp_path, numeric_csv([0, 1, 2] * 10))
    reg = load_dataset(path, target="y", task="regression")
    assert reg.task == "regression" and reg.class_names is None
    assert reg.y_train.dtype == np.float64
    inferred = load_dataset(path, target="y")
    assert reg.fingerprint != inferred.fingerprint
    assert load_dataset(path, target="y", task="classification").fingerprint == \
        inferred.fingerprint
    frac = write(tmp_path, numeric_csv([0.5, 1.5] * 10), "frac.csv")
    clf = load_dataset(frac, target="y", task="classification")
    assert clf.class_names == ["0.5", "1.5"]


def test_missing_drop_removes_rows(tmp_path):
    text = numeric_csv([0, 1] * 15)
    lines = text.splitlines()
    lines[3] = "," + lines[3].split(",", 1)[1]         # data row 2: f0 missing
    lines[5] = lines[5].rsplit(",", 1)[0] + ","        # data row 4: target missing
    lines[7] = "inf," + lines[7].split(",", 1)[1]      # data row 6: f0 infinite
    ds = load_dataset(write(tmp_path, "\n".join(lines) + "\n"), target="y", missing="drop")
    assert sum(ds.sizes.values()) == 27 and ds.options["rows_dropped"] == 3
    kept = np.concatenate(list(ds.indices.values()))
    assert not {2, 4, 6} & set(kept.tolist()) and len(set(kept.tolist())) == 27


def test_missing_mean_fills_categorical_with_level_frequencies(tmp_path):
    rows = ["color,x,y"] + [f"{c},{i},{i % 2}" for i, c in enumerate(["a", "a", "b", "c"] * 5)]
    rows[1] = ",0,0"
    ds = load_dataset(write(tmp_path, "\n".join(rows) + "\n"), target="y",
                      categorical=["color"], missing="mean", scaling="none")
    assert ds.feature_names == ["color_a", "color_b", "color_c", "x"]
    assert np.isfinite(ds.X_train).all()
    np.testing.assert_allclose(ds.impute_values[:3].sum(), 1.0)
    split = next(s for s, r in ds.indices.items() if 0 in r)
    X = ds.splits()[split][0]
    np.testing.assert_allclose(X[list(ds.indices[split]).index(0), :3], ds.impute_values[:3])


def test_fingerprint_stable_and_sensitive(tmp_path):
    path = write(tmp_path, PETS)
    kwargs = {"target": "label", "categorical": ["color"], "val_size": 0.25, "test_size": 0.25}
    first = load_dataset(path, **kwargs)
    assert re.fullmatch(r"[0-9a-f]{16}", first.fingerprint), first.fingerprint  # 64-bit hex
    assert load_dataset(str(path), **kwargs).fingerprint == first.fingerprint
    moved = tmp_path / "elsewhere" / "renamed.csv"
    moved.parent.mkdir()
    shutil.copy(path, moved)
    assert load_dataset(moved, **kwargs).fingerprint == first.fingerprint
    changed = write(tmp_path, PETS.replace("5.5", "5.6"), "changed.csv")
    assert load_dataset(changed, **kwargs).fingerprint != first.fingerprint
    variants = [{"seed": 1}, {"scaling": "minmax"}, {"val_size": 0.2},
                {"features": ["age", "color"]}, {"missing": "mean"}]
    prints = {load_dataset(path, **{**kwargs, **v}).fingerprint for v in variants}
    assert first.fingerprint not in prints and len(prints) == len(variants)


def test_name_source_and_options(tmp_path):
    path = write(tmp_path, PETS, "pets.csv")
    ds = load_dataset(path, target="label", features=["age", "weight"], val_size=0.25,
                      test_size=0.25, seed=3)
    assert ds.name == "pets.csv" and ds.source == str(path.resolve())
    assert ds.options == {
        "dataset": "pets.csv", "source": str(path.resolve()), "task": "classification",
        "target": "label", "features": ["age", "weight"], "categorical": [],
        "n_samples": None, "noise": None, "rows_dropped": 0, "missing": "error",
        "val_size": 0.25, "test_size": 0.25, "scaling": "standard", "seed": 3, "n_rows": 12,
    }


def test_tsv_and_existing_path_without_csv_suffix(tmp_path):
    tsv = write(tmp_path, PETS.replace(",", "\t"), "pets.tsv")
    plain = write(tmp_path, PETS, "pets.data")
    kwargs = {"target": "label", "features": ["age", "weight"], "val_size": 0.25,
              "test_size": 0.25}
    a = load_dataset(tsv, **kwargs)
    b = load_dataset(str(plain), **kwargs)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.name == "pets.tsv"
