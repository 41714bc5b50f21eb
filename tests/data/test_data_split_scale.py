"""Splitting, imputation and scaling: stratified, seeded, fitted on the training split only."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from hpstudy.data import SCALERS, load_dataset, min_rows_per_class
from hpstudy.data.prepare import split_sizes


def table(n=60, seed=0, classes=(30, 18, 12)):
    """A numeric table: features a, b, c (c constant) and a string label with given counts."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.array(["ant", "bee", "cat"])[: len(classes)], classes)[:n]
    return pd.DataFrame({"a": rng.normal(5, 2, n), "b": rng.uniform(-3, 9, n),
                         "c": np.full(n, 7.0), "label": rng.permutation(labels),
                         "value": rng.normal(size=n)})


def write(tmp_path, frame, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def raw_split(frame, ds, split, columns=("a", "b", "c")):
    return frame.loc[ds.indices[split], list(columns)].to_numpy(dtype=float)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stratified_class_proportions(tmp_path, seed):
    frame = table(n=100, classes=(50, 30, 20))
    ds = load_dataset(write(tmp_path, frame), target="label", features=["a", "b"], seed=seed)
    whole = np.array([50, 30, 20]) / 100
    for _, y in ds.splits().values():
        counts = np.bincount(y, minlength=3)
        assert np.all(np.abs(counts - whole * len(y)) <= 1.0), counts


def test_split_indices_disjoint_cover_and_seeded(tmp_path):
    path = write(tmp_path, table())
    a = load_dataset(path, target="value", features=["a", "b"], seed=0)
    b = load_dataset(path, target="value", features=["a", "b"], seed=0)
    c = load_dataset(path, target="value", features=["a", "b"], seed=1)
    assert a.task == "regression"
    rows = np.concatenate(list(a.indices.values()))
    np.testing.assert_array_equal(np.sort(rows), np.arange(60))
    assert [len(r) for r in a.indices.values()] == list(split_sizes(60, 0.2, 0.2)) == [36, 12, 12]
    for split in a.indices:
        np.testing.assert_array_equal(a.indices[split], b.indices[split])
    assert not np.array_equal(np.sort(a.indices["test"]), np.sort(c.indices["test"]))
    assert a.fingerprint != c.fingerprint


def test_targets_follow_their_rows(tmp_path):
    frame = table()
    ds = load_dataset(write(tmp_path, frame), target="label", features=["a"], scaling="none")
    for split, (X, y) in ds.splits().items():
        rows = ds.indices[split]
        np.testing.assert_array_equal(ds.decode(y), frame["label"].to_numpy()[rows])
        np.testing.assert_array_equal(X[:, 0], frame["a"].to_numpy()[rows])


@pytest.mark.parametrize(("sizes", "expected"), [
    ((0.2, 0.2), (36, 12, 12)), ((0.1, 0.3), (36, 6, 18)), ((0.25, 0.25), (30, 15, 15)),
    ((0.15, 0.15), (42, 9, 9)),
])
def test_split_sizes(tmp_path, sizes, expected):
    ds = load_dataset(write(tmp_path, table()), target="value", features=["a", "b"],
                      val_size=sizes[0], test_size=sizes[1])
    assert tuple(ds.sizes.values()) == split_sizes(60, *sizes) == expected


def test_standard_scaler_uses_training_statistics(tmp_path):
    frame = table()
    ds = load_dataset(write(tmp_path, frame), target="label", features=["a", "b", "c"])
    train = raw_split(frame, ds, "train")
    np.testing.assert_allclose(ds.scaler_offset, train.mean(axis=0))
    np.testing.assert_allclose(ds.scaler_scale, [train[:, 0].std(), train[:, 1].std(), 1.0])
    assert not np.allclose(ds.scaler_offset[:2], frame[["a", "b"]].mean().to_numpy())
    sk = StandardScaler().fit(train)
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(ds.splits()[split][0], sk.transform(raw_split(frame, ds, split)))
    np.testing.assert_allclose(ds.X_train[:, :2].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train[:, :2].std(axis=0), 1.0)
    np.testing.assert_array_equal(ds.X_train[:, 2], 0.0)  # constant column: no division by 0


def test_minmax_scaler_uses_training_statistics(tmp_path):
    frame = table()
    ds = load_dataset(write(tmp_path, frame), target="label", features=["a", "b", "c"],
                      scaling="minmax")
    train = raw_split(frame, ds, "train")
    np.testing.assert_allclose(ds.scaler_offset, train.min(axis=0))
    np.testing.assert_allclose(ds.scaler_scale[:2], np.ptp(train[:, :2], axis=0))
    assert ds.scaler_scale[2] == 1.0
    sk = MinMaxScaler().fit(train)
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(ds.splits()[split][0], sk.transform(raw_split(frame, ds, split)),
                                   atol=1e-12)
    assert ds.X_train[:, :2].min() == 0.0 and ds.X_train[:, :2].max() == 1.0


def test_no_scaling_keeps_raw_values(tmp_path):
    frame = table()
    ds = load_dataset(write(tmp_path, frame), target="label", scaling="none",
                      features=["a", "b", "c"])
    np.testing.assert_array_equal(ds.X_test, raw_split(frame, ds, "test"))
    assert ds.scaler_offset.tolist() == [0.0] * 3 and ds.scaler_scale.tolist() == [1.0] * 3
    assert set(SCALERS) == {"standard", "minmax", "none"}


@pytest.mark.parametrize("split", ["val", "test"])
@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_changing_a_held_out_row_does_not_change_training(tmp_path, split, scaling):
    frame = table()
    before = load_dataset(write(tmp_path, frame), target="label", scaling=scaling)
    changed = frame.copy()
    row = before.indices[split][0]
    changed.loc[row, "a"] = 1e6
    after = load_dataset(write(tmp_path, changed), target="label", scaling=scaling)
    np.testing.assert_array_equal(after.scaler_offset, before.scaler_offset)
    np.testing.assert_array_equal(after.scaler_scale, before.scaler_scale)
    np.testing.assert_array_equal(after.X_train, before.X_train)
    position = list(before.indices[split]).index(row)
    assert after.splits()[split][0][position, 0] > 1e4
    assert after.fingerprint != before.fingerprint


def test_mean_imputation_uses_training_rows_only(tmp_path):
    frame = table()
    probe = load_dataset(write(tmp_path, frame), target="label")
    train_rows, test_rows = probe.indices["train"], probe.indices["test"]
    frame.loc[train_rows[:3], "a"] = np.nan
    frame.loc[test_rows[:2], "a"] = np.nan
    ds = load_dataset(write(tmp_path, frame), target="label", missing="mean", scaling="none")
    np.testing.assert_array_equal(ds.indices["train"], train_rows)  # the split ignores X
    train_mean = frame.loc[train_rows, "a"].mean()  # pandas skips NaN
    assert ds.impute_values[0] == pytest.approx(train_mean)
    assert ds.options["missing"] == "mean" and np.isfinite(ds.X_test).all()
    np.testing.assert_allclose(ds.X_test[:2, 0], train_mean)
    np.testing.assert_allclose(ds.X_train[:3, 0], train_mean)
    frame.loc[test_rows[5], "a"] = 1e9  # a held-out value never moves the imputed mean
    again = load_dataset(write(tmp_path, frame), target="label", missing="mean", scaling="none")
    np.testing.assert_array_equal(again.impute_values, ds.impute_values)


def test_standard_scaling_after_mean_imputation(tmp_path):
    frame = table()
    frame.loc[[1, 2, 3], "b"] = np.nan
    ds = load_dataset(write(tmp_path, frame), target="label", missing="mean")
    np.testing.assert_allclose(ds.X_train[:, :2].mean(axis=0), 0.0, atol=1e-12)
    raw = frame[["a", "b", "c", "value"]].to_numpy()[ds.indices["test"]]
    np.testing.assert_allclose(ds.transform(raw), ds.X_test)


def test_transform_and_inverse_transform(tmp_path):
    frame = table()
    ds = load_dataset(write(tmp_path, frame), target="label", features=["a", "b", "c"])
    raw = raw_split(frame, ds, "val")
    np.testing.assert_allclose(ds.transform(raw), ds.X_val)
    np.testing.assert_allclose(ds.inverse_transform(ds.X_val), raw)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        ds.transform(raw[:, :2])
    with pytest.raises(ValueError, match="missing='mean'"):
        ds.transform(np.full((1, 3), np.nan))


def test_one_hot_decode_and_splits():
    ds = load_dataset("iris")
    Y = ds.one_hot(ds.y_val)
    assert Y.shape == (30, 3) and Y.dtype == np.float64
    np.testing.assert_array_equal(Y.sum(axis=1), 1.0)
    np.testing.assert_array_equal(Y.argmax(axis=1), ds.y_val)
    assert list(ds.decode([0, 2])) == ["setosa", "virginica"]
    assert set(ds.splits()) == {"train", "val", "test"}
    assert ds.splits()["val"][0] is ds.X_val
    with pytest.raises(ValueError, match=r"0\.\.2"):
        ds.one_hot([0, 3])
    with pytest.raises(TypeError, match="integers"):
        ds.decode([0.5])
    with pytest.raises(ValueError, match="regression"):
        load_dataset("diabetes").one_hot([0])


def test_dataset_is_frozen():
    ds = load_dataset("iris")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"
    with pytest.raises(ValueError, match="read-only"):
        ds.X_train[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        ds.indices["train"][0] = 0
    assert "iris" in repr(ds) and ds.fingerprint in repr(ds)
    assert ds.summary()["n_train"] == 90 and ds.summary()["fingerprint"] == ds.fingerprint


@pytest.mark.parametrize(("val", "test", "expected"), [
    (0.2, 0.2, 5), (0.1, 0.1, 10), (0.3, 0.3, 4), (0.45, 0.45, 10), (0.4, 0.4, 5),
])
def test_min_rows_per_class(val, test, expected):
    assert min_rows_per_class(val, test) == expected


def test_smallest_classes_land_in_every_split(tmp_path):
    frame = table(n=30, classes=(20, 5, 5))
    ds = load_dataset(write(tmp_path, frame), target="label")
    for _, y in ds.splits().values():
        assert set(y) == {0, 1, 2}
