"""Stability scores: zero for constant models, larger for steeper ones, exact where computable."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hpstudy.evaluation import (
    finite_difference_jacobian,
    jacobian_norm,
    noise_sensitivity,
    retraining_stability,
    stability_scores,
)

MLFLOW_NAME = re.compile(r"^[A-Za-z0-9_\-./ ]+$")


def _frobenius_mean(J):
    return float(np.mean(np.sqrt(np.sum(J**2, axis=(1, 2)))))


# ----------------------------------------------------------------------------------------------
# noise sensitivity and Jacobian norm
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_constant_model_scores_zero_everywhere(fakes, features, task):
    model = fakes.Constant([0.2, 0.5, 0.3])
    scores = stability_scores(model, features, task=task)
    assert scores and all(v == 0.0 for v in scores.values())
    assert jacobian_norm(fakes.NoJacobian(model), features) == 0.0


def test_keys_are_per_level_plus_means_and_valid_mlflow_names(softmax_model, features):
    scores = stability_scores(softmax_model, features, levels=(0.01, 0.05, 0.1))
    assert set(scores) == {
        "noise_sensitivity", "noise_sensitivity_0.01", "noise_sensitivity_0.05",
        "noise_sensitivity_0.1", "flip_rate", "flip_rate_0.01", "flip_rate_0.05",
        "flip_rate_0.1", "jacobian_norm",
    }
    assert all(MLFLOW_NAME.match(k) for k in scores)
    assert all(isinstance(v, float) for v in scores.values())
    per_level = [scores[f"noise_sensitivity_{e}"] for e in ("0.01", "0.05", "0.1")]
    assert scores["noise_sensitivity"] == pytest.approx(np.mean(per_level))
    flips = [scores[f"flip_rate_{e}"] for e in ("0.01", "0.05", "0.1")]
    assert scores["flip_rate"] == pytest.approx(np.mean(flips))
    assert flips[0] <= flips[1] <= flips[2]          # same draws, larger noise: more flips


def test_regression_has_no_flip_rate(fakes, features):
    model = fakes.LinearRegressor(np.ones((5, 2)))
    scores = stability_scores(model, features, task="regression", levels=(0.05,))
    assert set(scores) == {"noise_sensitivity", "noise_sensitivity_0.05", "jacobian_norm"}


def test_steeper_classifier_scores_higher(fakes, softmax_model, features):
    steep = fakes.LinearSoftmax(3 * softmax_model.W, 3 * softmax_model.b)
    base = stability_scores(softmax_model, features, draws=3)
    steeper = stability_scores(steep, features, draws=3)
    for key in ("noise_sensitivity_0.01", "noise_sensitivity_0.1", "noise_sensitivity",
                "jacobian_norm"):
        assert steeper[key] > 1.3 * base[key], key
    # argmax(3z) = argmax(z): a linear model's decisions, hence flips, do not change with scale
    assert steeper["flip_rate"] == base["flip_rate"]


def test_steeper_regressor_scores_exactly_three_times_higher(fakes, features):
    W = np.random.default_rng(0).normal(size=(5, 2))
    base = stability_scores(fakes.LinearRegressor(W), features, task="regression")
    steep = stability_scores(fakes.LinearRegressor(3 * W), features, task="regression")
    for key, value in base.items():
        assert steep[key] == pytest.approx(3 * value, rel=1e-9), key


def test_isotropic_linear_map_has_sensitivity_equal_to_its_scale(fakes, features):
    # f(x) = 2x: ‖f(x') − f(x)‖ / ‖x' − x‖ = 2 for every perturbation
    scores = noise_sensitivity(fakes.LinearRegressor(2 * np.eye(5)), features,
                               task="regression", levels=(0.01, 1.0))
    assert scores["noise_sensitivity_0.01"] == pytest.approx(2.0, rel=1e-9)
    assert scores["noise_sensitivity_1"] == pytest.approx(2.0, rel=1e-12)


def test_fake_softmax_jacobian_matches_finite_differences(softmax_model, features):
    J = softmax_model.jacobian(features)
    J_fd = finite_difference_jacobian(softmax_model.predict_proba, features)
    assert J.shape == J_fd.shape == (200, 3, 5)
    np.testing.assert_allclose(J, J_fd, atol=1e-9)


def test_jacobian_norm_matches_finite_differences(fakes, softmax_model, features):
    want = _frobenius_mean(finite_difference_jacobian(softmax_model.predict_proba, features))
    assert jacobian_norm(softmax_model, features) == pytest.approx(want, rel=1e-7)
    # a model without jacobian() falls back to central differences of predict_proba
    assert jacobian_norm(fakes.NoJacobian(softmax_model), features) == pytest.approx(want, rel=1e-9)


def test_noise_sensitivity_is_reproducible_and_seeded(softmax_model, features):
    a = noise_sensitivity(softmax_model, features, seed=1)
    assert a == noise_sensitivity(softmax_model, features, seed=1)
    assert a != noise_sensitivity(softmax_model, features, seed=2)


def test_small_noise_sensitivity_approaches_the_jacobian(softmax_model, features):
    # for small ε the ratio is ‖J u‖ with u a random unit direction, E‖J u‖² = ‖J‖_F² / d
    s = noise_sensitivity(softmax_model, features, levels=(1e-4,), draws=20)["noise_sensitivity"]
    J = softmax_model.jacobian(features)
    rms = np.sqrt(np.mean(np.sum(J**2, axis=(1, 2))) / features.shape[1])
    assert 0.6 * rms < s <= rms * 1.01


@pytest.mark.parametrize("kwargs, error, match", [
    ({"task": "ranking"}, ValueError, "task must be one of classification, regression"),
    ({"levels": ()}, ValueError, "levels must be a non-empty"),
    ({"levels": (0.1, -0.1)}, ValueError, "positive noise levels"),
    ({"levels": (0.1, 0.1)}, ValueError, "levels must be distinct"),
    ({"draws": 0}, ValueError, "draws must be an integer >= 1"),
])
def test_noise_sensitivity_argument_errors(softmax_model, features, kwargs, error, match):
    with pytest.raises(error, match=match):
        noise_sensitivity(softmax_model, features, **kwargs)


def test_missing_methods_and_bad_shapes_are_reported(fakes, features):
    with pytest.raises(TypeError, match=r"model must have predict_proba\(X\)"):
        noise_sensitivity(object(), features)
    with pytest.raises(ValueError, match=r"X must be a 2-D array"):
        noise_sensitivity(fakes.Constant([1.0]), features[0])


# ----------------------------------------------------------------------------------------------
# with a real hpstudy.nn.Network
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def network():
    nn = pytest.importorskip("hpstudy.nn")
    return nn.Network.mlp([5, 8, 3], activation="tanh", output="softmax", seed=0,
                          dtype="float64")


def test_network_jacobian_norm_matches_finite_differences(network, features):
    want = _frobenius_mean(finite_difference_jacobian(network.forward, features))
    assert jacobian_norm(network, features) == pytest.approx(want, rel=1e-6)


def test_network_with_steeper_logits_scores_higher(network, features):
    base = stability_scores(network, features, draws=2)
    W, b = network.parameters()[-2:]
    W *= 3.0
    b *= 3.0
    steeper = stability_scores(network, features, draws=2)
    assert steeper["noise_sensitivity"] > base["noise_sensitivity"]
    assert steeper["jacobian_norm"] > base["jacobian_norm"]


def test_single_sigmoid_network_is_measured_through_its_class_probabilities(features):
    nn = pytest.importorskip("hpstudy.nn")
    net = nn.Network.mlp([5, 8, 1], activation="tanh", output="sigmoid", seed=0,
                         dtype="float64")
    want = _frobenius_mean(finite_difference_jacobian(net.predict_proba, features))
    assert jacobian_norm(net, features, task="classification") == pytest.approx(want, rel=1e-6)
    raw = _frobenius_mean(finite_difference_jacobian(net.forward, features))
    assert jacobian_norm(net, features) == pytest.approx(raw, rel=1e-6)


def test_float32_network_is_scored(features):
    nn = pytest.importorskip("hpstudy.nn")
    net = nn.Network.mlp([5, 8, 1], activation="relu", output="sigmoid", seed=0)
    scores = stability_scores(net, features.astype(np.float32), draws=2)
    assert all(np.isfinite(v) and v >= 0 for v in scores.values())


# ----------------------------------------------------------------------------------------------
# retraining
# ----------------------------------------------------------------------------------------------
class Centroids:
    """Nearest-centroid classifier, probabilities softmax(−squared distance): deterministic."""

    def __init__(self, X, y, k=3):
        self.centres = np.stack([X[y == c].mean(axis=0) for c in range(k)])

    def predict_proba(self, X):
        d2 = ((X[:, None, :] - self.centres[None]) ** 2).sum(axis=2)
        e = np.exp(-(d2 - d2.min(axis=1, keepdims=True)))
        return e / e.sum(axis=1, keepdims=True)


class OneNearestNeighbour:
    """1-NN: the textbook unstable learner."""

    def __init__(self, X, y, k=3):
        self.X, self.Y = X, np.eye(k)[y]

    def predict_proba(self, X):
        d2 = ((X[:, None, :] - self.X[None]) ** 2).sum(axis=2)
        return self.Y[d2.argmin(axis=1)]


class LeastSquares:
    def __init__(self, X, y):
        self.w, *_ = np.linalg.lstsq(X, y, rcond=None)

    def forward(self, X):
        return X @ self.w


@pytest.fixture
def blobs():
    r = np.random.default_rng(0)
    y = r.integers(0, 3, 240)
    X = r.normal(size=(240, 2)) + 1.2 * np.array([[0, 0], [2, 0], [1, 2]])[y]
    return X[:160], y[:160], X[160:], y[160:]


def test_identical_data_and_deterministic_training_give_zero_disagreement(blobs):
    res = retraining_stability(lambda X, y, seed: Centroids(X, y), *blobs, k=4,
                               method="replace", replace_fraction=0.0)
    assert res == {"retrain_disagreement": 0.0, "retrain_metric_mean": res["retrain_metric_mean"],
                   "retrain_metric_std": 0.0, "retrain_k": 4}
    X_test, y_test = blobs[2], blobs[3]
    want = np.mean(Centroids(*blobs[:2]).predict_proba(X_test).argmax(axis=1) == y_test)
    assert res["retrain_metric_mean"] == pytest.approx(want)


def test_a_model_that_ignores_its_data_never_disagrees(fakes, blobs):
    fixed = fakes.Constant([0.1, 0.7, 0.2])
    res = retraining_stability(lambda X, y, seed: fixed, *blobs, k=3, method="bootstrap")
    assert res["retrain_disagreement"] == 0.0 and res["retrain_metric_std"] == 0.0


def test_unstable_learner_disagrees_more_than_a_stable_one(blobs):
    stable = retraining_stability(lambda X, y, s: Centroids(X, y), *blobs, k=4)
    unstable = retraining_stability(lambda X, y, s: OneNearestNeighbour(X, y), *blobs, k=4)
    assert 0 <= stable["retrain_disagreement"] < unstable["retrain_disagreement"] <= 1
    assert unstable["retrain_metric_std"] > 0


def test_replace_method_swaps_the_requested_share_of_rows(blobs):
    X = np.arange(200.0)[:, None]                     # every row distinct
    seen = []

    def train_fn(X_pert, y_pert, seed):
        seen.append((X_pert[:, 0].copy(), seed))
        return Centroids(np.c_[X_pert, X_pert], np.arange(200) % 3)

    retraining_stability(train_fn, X, np.zeros(200, int), np.zeros((5, 2)), np.zeros(5, int),
                         k=3, method="replace", replace_fraction=0.1, seed=4)
    for rows, seed in seen:
        changed = rows != np.arange(200.0)
        assert changed.sum() == 20                    # 10 % of the rows replaced ...
        assert not np.isin(rows[changed], np.flatnonzero(changed)).any()   # ... by kept rows
        assert seed == 4                              # the training seed is held fixed
    assert not np.array_equal(seen[0][0], seen[1][0])


def test_vary_seed_passes_distinct_training_seeds(blobs):
    seeds = []
    retraining_stability(lambda X, y, s: seeds.append(s) or Centroids(X, y), *blobs, k=3,
                         seed=10, vary_seed=True)
    assert seeds == [10, 11, 12]


def test_regression_retraining(blobs):
    r = np.random.default_rng(1)
    X = r.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + r.normal(scale=0.1, size=120)
    args = (X[:80], y[:80], X[80:], y[80:])
    same = retraining_stability(lambda X, y, s: LeastSquares(X, y), *args, task="regression",
                                method="replace", replace_fraction=0.0)
    assert same["retrain_disagreement"] == 0.0 and same["retrain_metric_mean"] > 0.99
    boot = retraining_stability(lambda X, y, s: LeastSquares(X, y), *args, task="regression")
    assert 0 < boot["retrain_disagreement"] < 0.1


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 1}, "k must be an integer >= 2"),
    ({"method": "jackknife"}, "method must be one of bootstrap, replace"),
    ({"replace_fraction": 1.0}, r"replace_fraction must be in \[0, 1\)"),
    ({"task": "ranking"}, "task must be one of"),
])
def test_retraining_argument_errors(blobs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        retraining_stability(lambda X, y, s: Centroids(X, y), *blobs, **kwargs)
