"""MLPClassifier / MLPRegressor: scikit-learn-style fit, predict, predict_proba, score, params."""

from __future__ import annotations

import numpy as np
import pytest

from hpstudy.nn import MLPClassifier, MLPRegressor, Network


def three_blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % 3
    X = np.array([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]])[codes] + rng.normal(size=(n, 2))
    return X, np.array(["cat", "dog", "eel"])[codes]


FAST = dict(hidden_layer_sizes=(8,), epochs=30, batch_size=16, learning_rate=0.01)


def test_classifier_with_string_labels():
    X, y = three_blobs()
    clf = MLPClassifier(**FAST)
    assert clf.fit(X, y) is clf
    assert list(clf.classes_) == ["cat", "dog", "eel"]
    pred = clf.predict(X)
    assert pred.shape == (90,) and set(pred) <= {"cat", "dog", "eel"}
    proba = clf.predict_proba(X)
    assert proba.shape == (90, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) >= 0.95
    assert clf.n_features_in_ == 2
    assert len(clf.loss_curve_) == 30 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert isinstance(clf.network_, Network) and clf.network_.sizes == [2, 8, 3]


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "cross_entropy", "mse"])
def test_binary_classifier_losses(loss):
    X, y = three_blobs()
    keep = y != "eel"
    X, y = X[keep], y[keep]
    clf = MLPClassifier(loss=loss, **FAST).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert clf.score(X, y) >= 0.95
    assert clf.network_.sizes[-1] == (1 if loss == "binary_cross_entropy" else 2)


def test_classifier_with_integer_labels_and_early_stopping():
    X, y = three_blobs()
    codes = np.searchsorted(["cat", "dog", "eel"], y) * 10
    clf = MLPClassifier(early_stopping=3, validation_fraction=0.2, **FAST).fit(X, codes)
    assert list(clf.classes_) == [0, 10, 20]
    assert set(clf.predict(X)) <= {0, 10, 20}
    assert clf.history_.val_loss  # a validation split was held out


def test_regressor_fit_predict_score():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    reg = MLPRegressor(hidden_layer_sizes=(16,), epochs=60, batch_size=16, learning_rate=0.01)
    assert reg.fit(X, y) is reg
    assert reg.predict(X).shape == (200,)
    assert reg.score(X, y) > 0.95
    Y2 = np.column_stack([y, -y])
    reg2 = MLPRegressor(hidden_layer_sizes=(16,), epochs=60, batch_size=16, learning_rate=0.01)
    assert reg2.fit(X, Y2).predict(X).shape == (200, 2)
    assert reg2.score(X, Y2) > 0.95


def test_get_params_lists_constructor_settings_and_set_params_changes_them():
    clf = MLPClassifier(hidden_layer_sizes=(5, 3), learning_rate=0.1)
    params = clf.get_params()
    assert params["hidden_layer_sizes"] == (5, 3) and params["learning_rate"] == 0.1
    for name in ("activation", "initializer", "loss", "optimizer", "batch_size", "epochs", "l1",
                 "l2", "momentum", "nesterov", "schedule", "early_stopping", "seed", "dtype"):
        assert name in params
    assert clf.set_params(learning_rate=0.5, epochs=3) is clf
    assert clf.get_params()["learning_rate"] == 0.5 and clf.epochs == 3
    with pytest.raises(ValueError, match="learning_rat.*valid:.*learning_rate"):
        clf.set_params(learning_rat=0.1)
    # a clone made from get_params behaves the same
    X, y = three_blobs(30)
    a = MLPClassifier(**FAST).fit(X, y)
    b = MLPClassifier(**a.get_params()).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_regressor_params_are_the_same_settings():
    assert set(MLPRegressor().get_params()) == set(MLPClassifier().get_params())


def test_unfitted_estimator_says_so():
    with pytest.raises(ValueError, match="not fitted"):
        MLPClassifier().predict(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        MLPRegressor().predict(np.zeros((2, 2)))


@pytest.mark.parametrize(("estimator", "kwargs", "y", "match"), [
    (MLPClassifier, {}, ["a"] * 6, "at least 2 classes"),
    (MLPClassifier, {"loss": "binary_cross_entropy"}, list("abcabc"), "2 classes"),
    (MLPClassifier, {"loss": "hinge"}, list("ababab"), "loss.*binary_cross_entropy, cross_entropy, mse"),
    (MLPRegressor, {"loss": "cross_entropy"}, [0.0] * 6, "loss.*mse"),
])
def test_estimator_argument_errors(estimator, kwargs, y, match):
    X = np.random.default_rng(0).normal(size=(6, 2))
    with pytest.raises(ValueError, match=match):
        estimator(**kwargs).fit(X, y)


def test_wrong_feature_count_at_predict_is_a_value_error():
    X, y = three_blobs(30)
    clf = MLPClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="X must have shape"):
        clf.predict(np.zeros((3, 5)))
