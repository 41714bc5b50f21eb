"""Built-in datasets: registry, shapes, tasks, classes, and the seeded generators."""

import numpy as np
import pytest

from hpstudy.data import DATASETS, Dataset, list_datasets, load_dataset, make_spirals, make_xor
from hpstudy.data.builtin import DEFAULT_N_SAMPLES
from hpstudy.data.prepare import split_sizes

GENERATED = [name for name, spec in DATASETS.items() if spec.generated]
FIXED = [name for name, spec in DATASETS.items() if not spec.generated]


def test_registry_names():
    assert set(DATASETS) == {"digits", "breast_cancer", "iris", "wine", "diabetes", "moons",
                             "circles", "spirals", "xor"}
    assert set(GENERATED) == {"moons", "circles", "spirals", "xor"}


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_builtin_loads_as_listed(name):
    ds = load_dataset(name)
    entry = {row["name"]: row for row in list_datasets()}[name]
    n = sum(ds.sizes.values())
    assert isinstance(ds, Dataset)
    assert (ds.name, ds.source, ds.task) == (name, name, entry["task"])
    assert n == entry["n_samples"]
    assert ds.n_features == entry["n_features"] == len(ds.feature_names)
    assert ds.n_classes == entry["n_classes"]
    for X, y in ds.splits().values():
        assert X.dtype == np.float64 and X.ndim == 2 and X.shape == (len(y), ds.n_features)
        assert y.ndim == 1 and np.isfinite(X).all()
        if ds.task == "classification":
            assert y.dtype == np.int64
            assert set(np.unique(y)) == set(range(ds.n_classes))  # every class in every split
        else:
            assert y.dtype == np.float64
    assert tuple(ds.sizes.values()) == split_sizes(n, 0.2, 0.2)
    assert abs(ds.sizes["val"] - 0.2 * n) <= 1 and abs(ds.sizes["test"] - 0.2 * n) <= 1


def test_list_datasets_records():
    rows = list_datasets()
    assert [row["name"] for row in rows] == list(DATASETS)
    for row in rows:
        assert set(row) == {"name", "task", "n_samples", "n_features", "n_classes",
                            "description"}
        assert row["description"] and "\n" not in row["description"]
        assert (row["n_classes"] is None) == (row["task"] == "regression")


@pytest.mark.parametrize(("name", "class_names"), [
    ("iris", ["setosa", "versicolor", "virginica"]),
    ("breast_cancer", ["malignant", "benign"]),  # scikit-learn's order: 1 = benign
    ("digits", [str(d) for d in range(10)]),
    ("wine", ["class_0", "class_1", "class_2"]),
    ("spirals", ["0", "1", "2"]),
])
def test_class_names_and_decode(name, class_names):
    ds = load_dataset(name)
    assert ds.class_names == class_names
    assert list(ds.decode(np.arange(ds.n_classes)).astype(str)) == class_names


def test_regression_builtin_has_no_classes():
    ds = load_dataset("diabetes")
    assert ds.class_names is None and ds.classes is None and ds.n_classes is None
    assert ds.feature_names[:3] == ["age", "sex", "bmi"]
    assert np.ptp(ds.y_train) > 100  # unscaled targets (25..346)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_reproducible_per_seed_and_different_across_seeds(name):
    a, b, c = (load_dataset(name, seed=s, n_samples=90) for s in (3, 3, 4))
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(a.splits()[split][0], b.splits()[split][0])
        np.testing.assert_array_equal(a.splits()[split][1], b.splits()[split][1])
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert not np.array_equal(np.sort(a.X_train, axis=0), np.sort(c.X_train, axis=0))


@pytest.mark.parametrize("name", GENERATED)
def test_generated_n_samples_and_noise(name):
    small = load_dataset(name, n_samples=60, noise=0.0, scaling="none")
    assert sum(small.sizes.values()) == 60
    assert small.options["n_samples"] == 60 and small.options["noise"] == 0.0
    default = load_dataset(name)
    explicit = load_dataset(name, n_samples=DEFAULT_N_SAMPLES,
                            noise=DATASETS[name].default_noise)
    assert default.fingerprint == explicit.fingerprint
    noisier = load_dataset(name, noise=0.5)
    assert noisier.fingerprint != default.fingerprint


def test_make_spirals_follows_its_formula():
    X, y = make_spirals(n_samples=301, noise=0.0, n_arms=3, turns=1.0, seed=1)
    assert X.shape == (301, 2) and X.dtype == np.float64
    assert np.bincount(y).tolist() == [101, 100, 100]
    t = np.hypot(X[:, 0], X[:, 1])  # r = t without noise
    theta = np.arctan2(X[:, 1], X[:, 0])
    expected = 2 * np.pi * (y / 3 + t)
    np.testing.assert_allclose(np.cos(theta - expected), 1.0, atol=1e-9)


def test_make_spirals_arms_and_seed():
    X, y = make_spirals(n_samples=40, noise=0.1, n_arms=4, seed=0)
    assert np.bincount(y).tolist() == [10, 10, 10, 10]
    X2, _ = make_spirals(n_samples=40, noise=0.1, n_arms=4, seed=0)
    np.testing.assert_array_equal(X, X2)


def test_make_xor_labels_by_sign_of_product():
    X, y = make_xor(n_samples=401, noise=0.0, seed=2)
    assert np.bincount(y).tolist() == [201, 200]
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(int))
    assert np.abs(X).max() <= 1.0
    quadrants = np.bincount((X[:, 0] > 0) * 2 + (X[:, 1] > 0), minlength=4)
    assert quadrants.min() > 60  # the two quadrants of a class are picked evenly


def test_builtin_feature_subset():
    ds = load_dataset("iris", features=["petal width (cm)", "sepal length (cm)"],
                      scaling="none")
    full = load_dataset("iris", scaling="none")
    assert ds.feature_names == ["petal width (cm)", "sepal length (cm)"]
    np.testing.assert_array_equal(ds.X_train, full.X_train[:, [3, 0]])
    assert ds.fingerprint != full.fingerprint


def test_digits_split_is_stratified():
    ds = load_dataset("digits", seed=5)
    whole = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test])) / 1797
    for _, y in ds.splits().values():
        assert np.all(np.abs(np.bincount(y, minlength=10) - whole * len(y)) <= 1.0)


def test_empty_categorical_is_accepted_for_builtins():
    assert load_dataset("iris", categorical=[]).feature_names == load_dataset("iris").feature_names
