"""Charts are written as real PNGs for binary, multiclass and regression inputs; no figure leaks."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.image as mpimg
import numpy as np
import pytest

from hpstudy.evaluation import charts, confusion, ks_curve

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def no_open_figures():
    backend = matplotlib.get_backend()
    yield
    assert len(plt.get_fignums()) == 0
    assert matplotlib.get_backend() == backend        # the user's backend is left alone


def _check_png(path, written, min_kb=8):
    assert written == Path(path)
    assert Path(path).stat().st_size > min_kb * 1024
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05               # not a blank canvas


def test_loss_curves_with_metric_panel(tmp_path):
    path = tmp_path / "loss.png"
    written = charts.plot_loss_curves(
        [2.3, 1.2, 0.8, 0.6, 0.5], [2.2, 1.3, 0.9, 0.8, 0.85], path, title="digits",
        metric={"name": "accuracy", "train": [0.3, 0.6, 0.8, 0.85, 0.9],
                "val": [0.3, 0.55, 0.75, 0.8, 0.78]})
    _check_png(path, written)


def test_loss_curves_log_scale_divergence_and_no_validation(tmp_path):
    loss = np.r_[1000 * np.exp(-np.arange(30) / 3.0), np.inf, np.nan]   # decades, then diverges
    path = tmp_path / "loss_log.png"
    _check_png(path, charts.plot_loss_curves(loss, None, str(path)))
    with pytest.raises(ValueError, match="train_loss must hold at least one epoch"):
        charts.plot_loss_curves([], None, tmp_path / "c.png")


def test_loss_curve_names_the_penalty_in_the_training_loss(tmp_path):
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    charts._curve_panel(ax, np.array([2.0, 1.5]), np.array([0.4, 0.3]), "cross_entropy", True,
                        train_label="train cross_entropy + L2 penalty (λ = 0.003)")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["train cross_entropy + L2 penalty (λ = 0.003)", "validation cross_entropy"]
    path = tmp_path / "penalty.png"
    _check_png(path, charts.plot_loss_curves([2.0, 1.5, 1.2], [0.4, 0.3, 0.3], path,
                                             loss_name="cross_entropy", penalty="L2 penalty"))


@pytest.mark.parametrize("k, normalize", [(2, True), (10, True), (12, False)])
def test_confusion_matrix(tmp_path, k, normalize):
    r = np.random.default_rng(k)
    y = r.integers(0, k, 500)
    pred = np.where(r.uniform(size=500) < 0.8, y, r.integers(0, k, 500))
    path = tmp_path / f"cm_{k}.png"
    names = [f"class {c}" for c in range(k)]
    _check_png(path, charts.plot_confusion_matrix(confusion(y, pred, k), names, path,
                                                  normalize=normalize))


def test_confusion_matrix_checks_names(tmp_path):
    with pytest.raises(ValueError, match="class_names must have one name per class"):
        charts.plot_confusion_matrix(np.eye(3, dtype=int), ["a", "b"], tmp_path / "x.png")


@pytest.mark.parametrize("plot, shape", [
    (charts.plot_cumulative_gain, "score"), (charts.plot_cumulative_gain, "multiclass"),
    (charts.plot_lift, "proba2"), (charts.plot_lift, "multiclass"),
])
def test_gain_and_lift(tmp_path, binary_data, multiclass_data, plot, shape):
    if shape == "multiclass":
        y, score = multiclass_data
    else:
        y, proba = binary_data
        score = proba[:, 1] if shape == "score" else proba    # (n,) or (n, 2): column 1 used
    path = tmp_path / f"{plot.__name__}_{shape}.png"
    _check_png(path, plot(y, score, path))


def test_ks(tmp_path, binary_data):
    y, proba = binary_data
    path = tmp_path / "nested" / "dir" / "ks.png"           # folders are created
    _check_png(path, charts.plot_ks(ks_curve(y, proba[:, 1]), path))


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_roc(tmp_path, binary_data, multiclass_data, kind):
    y, proba = binary_data if kind == "binary" else multiclass_data
    path = tmp_path / f"roc_{kind}.png"
    names = [f"c{c}" for c in range(proba.shape[1])]
    _check_png(path, charts.plot_roc(y, proba, path, class_names=names))


def test_gradient_norms_with_vanishing_layers_and_zeros(tmp_path):
    epochs = np.arange(1, 21)[:, None]
    norms = 10.0 ** -np.arange(6)[None, :] / np.sqrt(epochs)   # decades apart per layer
    norms[3, 2] = 0.0                                           # not drawable on a log axis
    path = tmp_path / "grads.png"
    _check_png(path, charts.plot_gradient_norms(norms, path))
    with pytest.raises(ValueError, match="layer_names must name each of the 6 layers"):
        charts.plot_gradient_norms(norms, path, layer_names=["a"])


@pytest.mark.parametrize("k", [2, 3])
def test_decision_boundary(tmp_path, fakes, k):
    r = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 2.5]])[:k]
    y = r.integers(0, k, 150)
    X = centres[y] + r.normal(scale=0.7, size=(150, 2))
    W = np.array([[-1.0, 1.0, 0.0], [-1.0, -0.5, 1.5]])[:, :k]
    model = fakes.LinearSoftmax(W)
    fn = model if k == 2 else model.predict_proba                # object or callable
    path = tmp_path / f"boundary_{k}.png"
    _check_png(path, charts.plot_decision_boundary(fn, X, y, path, resolution=60))
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        charts.plot_decision_boundary(fn, np.c_[X, X], y, path)


def test_regression(tmp_path):
    r = np.random.default_rng(0)
    y = r.normal(size=200)
    path = tmp_path / "regression.png"
    _check_png(path, charts.plot_regression(y, y + r.normal(scale=0.3, size=200), path))
    with pytest.raises(ValueError, match="y_pred must have as many values"):
        charts.plot_regression(y, y[:10], path)
