"""The pure parts of a trial: the network a trial builds, its targets and predictions, the
per-epoch metric, the per-epoch hook, how failures are classified and when a trial improves."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from hpstudy.data import load_dataset
from hpstudy.experiment.config import TrainConfig
from hpstudy.experiment.objective import (
    COUNTED,
    EpochHook,
    build_network,
    classify_failure,
    epoch_value,
    fit_options,
    is_improving,
    network_spec,
    predictions,
    targets,
    trial_summary,
)
from hpstudy.nn import DivergenceError, Network

optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState
TRAIN = TrainConfig()


@pytest.fixture(scope="module")
def iris():
    return load_dataset("iris")


@pytest.fixture(scope="module")
def cancer():
    return load_dataset("breast_cancer")


@pytest.fixture(scope="module")
def diabetes():
    return load_dataset("diabetes")


def hp(**changes) -> dict:
    """A trial's hyperparameters (the keys the objective reads)."""
    return {"width": 5, "depth": 2, "activation": "relu", "initializer": "auto",
            "loss": "auto", "learning_rate": 0.01, "batch_size": 16, "optimizer": "adam",
            "momentum": 0.9, "regularizer": "none", "lambda": 0.0, "epochs": 3,
            "schedule": "constant", **changes}


# ------------------------------------------------------------------------------------------
# network_spec / targets / predictions
# ------------------------------------------------------------------------------------------


def test_spec_classification_softmax_cross_entropy(iris):
    spec = network_spec(hp(), iris, TRAIN)
    assert spec["loss"] == "cross_entropy" and spec["output"] == "softmax"
    assert spec["sizes"] == [4, 5, 5, 3]
    assert spec["activations"] == ["relu", "relu", "softmax"]
    assert "target_offset" not in spec
    Y = targets(iris.y_train, iris, spec)
    assert Y.shape == (len(iris.y_train), 3)
    np.testing.assert_array_equal(Y.argmax(axis=1), iris.y_train)
    np.testing.assert_array_equal(Y.sum(axis=1), 1.0)


def test_spec_classification_with_mse_keeps_softmax_and_one_hot(iris):
    spec = network_spec(hp(loss="mse", depth=1), iris, TRAIN)
    assert (spec["loss"], spec["output"], spec["sizes"]) == ("mse", "softmax", [4, 5, 3])
    assert targets(iris.y_val, iris, spec).shape == (len(iris.y_val), 3)


def test_spec_binary_cross_entropy_is_one_sigmoid_unit(cancer):
    spec = network_spec(hp(loss="binary_cross_entropy", width=7, depth=1), cancer, TRAIN)
    assert (spec["loss"], spec["output"]) == ("binary_cross_entropy", "sigmoid")
    assert spec["sizes"] == [30, 7, 1]
    Y = targets(cancer.y_train, cancer, spec)
    assert Y.shape == (len(cancer.y_train), 1)
    np.testing.assert_array_equal(Y[:, 0], cancer.y_train)
    # probabilities of the single unit come back as two columns
    net, _ = build_network(hp(loss="binary_cross_entropy", width=7, depth=1), cancer, TRAIN, 0)
    proba = predictions(net, cancer.X_test, "classification", spec)
    assert proba.shape == (len(cancer.y_test), 2)


def test_spec_auto_cross_entropy_on_binary_data_is_softmax(cancer):
    spec = network_spec(hp(), cancer, TRAIN)
    assert (spec["loss"], spec["output"], spec["sizes"][-1]) == ("cross_entropy", "softmax", 2)


def test_spec_regression_standardises_targets_and_predictions_undo_it(diabetes):
    spec = network_spec(hp(), diabetes, TRAIN)
    assert (spec["loss"], spec["output"]) == ("mse", "identity")
    assert spec["sizes"] == [10, 5, 5, 1]
    assert spec["target_offset"] == pytest.approx(np.mean(diabetes.y_train))
    assert spec["target_scale"] == pytest.approx(np.std(diabetes.y_train))
    t = targets(diabetes.y_train, diabetes, spec)
    assert t.shape == (len(diabetes.y_train), 1)
    assert t.mean() == pytest.approx(0.0, abs=1e-12) and t.std() == pytest.approx(1.0)

    # a "network" that outputs the standardised test targets is mapped back to the targets
    standardised = targets(diabetes.y_test, diabetes, spec)
    stub = SimpleNamespace(forward=lambda X: standardised)
    np.testing.assert_allclose(predictions(stub, diabetes.X_test, "regression", spec),
                               diabetes.y_test, rtol=1e-12)
    # without the spec the raw outputs are returned
    np.testing.assert_allclose(predictions(stub, diabetes.X_test, "regression"),
                               standardised[:, 0])


def test_spec_regression_constant_target_has_unit_scale():
    ds = SimpleNamespace(task="regression", y_train=np.full(6, 3.5), n_features=2,
                         n_classes=None)
    spec = network_spec(hp(depth=1), ds, TRAIN)
    assert (spec["target_offset"], spec["target_scale"]) == (3.5, 1.0)
    np.testing.assert_array_equal(targets(np.array([3.5, 4.5]), ds, spec)[:, 0], [0.0, 1.0])


def test_spec_explicit_output_is_kept(iris):
    spec = network_spec(hp(loss="mse"), iris, TrainConfig(output="sigmoid"))
    assert spec["output"] == "sigmoid" and spec["activations"][-1] == "sigmoid"


def test_build_network_follows_the_spec(iris):
    net, spec = build_network(hp(activation="tanh", width=6, depth=3), iris, TRAIN, seed=3)
    assert isinstance(net, Network)
    assert net.sizes == spec["sizes"] == [4, 6, 6, 6, 3]
    again, _ = build_network(hp(activation="tanh", width=6, depth=3), iris, TRAIN, seed=3)
    np.testing.assert_array_equal(net.forward(iris.X_val), again.forward(iris.X_val))


def test_classification_predictions_are_float64_rows_summing_to_one(iris):
    net, spec = build_network(hp(), iris, TRAIN, seed=0)  # float32 network
    proba = predictions(net, iris.X_test, "classification", spec)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-15)


@pytest.mark.parametrize(("regularizer", "lam", "l1", "l2"), [
    ("none", 0.0, 0.0, 0.0), ("l2", 0.01, 0.0, 0.01), ("l1", 0.02, 0.02, 0.0),
])
def test_fit_options(iris, regularizer, lam, l1, l2):
    params = hp(regularizer=regularizer, **{"lambda": lam}, batch_size="full", epochs=4)
    spec = network_spec(params, iris, TRAIN)
    options = fit_options(params, TRAIN, spec, seed=7)
    assert (options["l1"], options["l2"]) == (l1, l2)
    assert options["loss"] == "cross_entropy" and options["epochs"] == 4
    assert options["batch_size"] == "full" and options["seed"] == 7
    assert options["early_stopping"] is None  # early_stopping = 0 means off


# ------------------------------------------------------------------------------------------
# epoch_value
# ------------------------------------------------------------------------------------------


def random_proba(rng, n: int, k: int, never: tuple = ()) -> np.ndarray:
    """Random probability rows whose argmax is never one of the classes in ``never``."""
    p = rng.random((n, k))
    for c in never:
        p[:, c] = 0.0
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(5))
def test_epoch_f1_macro_equals_sklearn_with_a_class_never_predicted(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=60)
    y[:4] = [0, 1, 2, 3]  # every class present in y
    proba = random_proba(rng, 60, 4, never=(2,))
    labels = proba.argmax(axis=1)
    assert 2 not in labels
    expected = f1_score(y, labels, average="macro", zero_division=0)
    assert epoch_value("f1_macro", y, proba, "classification") == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(3))
def test_epoch_f1_macro_ignores_a_class_absent_from_labels_and_predictions(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=40)  # class 3 never occurs ...
    proba = random_proba(rng, 40, 4, never=(3,))  # ... and is never predicted
    expected = f1_score(y, proba.argmax(axis=1), average="macro", zero_division=0)
    assert epoch_value("f1_macro", y, proba, "classification") == pytest.approx(expected)


def test_epoch_accuracy_and_roc_auc_equal_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=80)
    proba = random_proba(rng, 80, 2)
    assert epoch_value("accuracy", y, proba, "classification") == \
        pytest.approx(accuracy_score(y, proba.argmax(axis=1)))
    assert epoch_value("roc_auc", y, proba, "classification") == \
        pytest.approx(roc_auc_score(y, proba[:, 1]))


def test_epoch_regression_values_equal_sklearn():
    rng = np.random.default_rng(1)
    y, pred = rng.normal(size=50), rng.normal(size=50)
    mse = mean_squared_error(y, pred)
    assert epoch_value("mse", y, pred, "regression") == pytest.approx(mse)
    assert epoch_value("rmse", y, pred, "regression") == pytest.approx(np.sqrt(mse))
    assert epoch_value("mae", y, pred, "regression") == pytest.approx(mean_absolute_error(y, pred))
    assert epoch_value("r2", y, pred, "regression") == pytest.approx(r2_score(y, pred))


# ------------------------------------------------------------------------------------------
# EpochHook
# ------------------------------------------------------------------------------------------


class RecordingTracker:
    def __init__(self):
        self.batches = []

    def log_metrics(self, run_id, rows):
        self.batches.append((run_id, [(dict(r), step) for r, step in rows]))


def epoch_logs(epoch: int) -> dict:
    return {"epoch": epoch, "train_loss": 1.0 / epoch, "val_loss": 1.1 / epoch,
            "train_metric": 0.5, "val_metric": 0.5, "seconds": 0.01, "learning_rate": 0.01,
            "layer1_grad_norm": 0.3}


def test_epoch_hook_buffers_reports_and_flushes(iris):
    net, spec = build_network(hp(), iris, TRAIN, seed=0)
    study = optuna.create_study(direction="maximize")
    trial, tracker = study.ask(), RecordingTracker()
    hook = EpochHook(trial, tracker, "run-1", iris, spec, "accuracy", prune=True, flush_every=2)
    for epoch in (1, 2, 3):
        assert hook.on_epoch_end(net, epoch, epoch_logs(epoch)) is False
    assert len(tracker.batches) == 1  # epochs 1 and 2; epoch 3 is still buffered
    hook.flush()
    rows = [row for _, batch in tracker.batches for row in batch]
    assert [step for _, step in rows] == [1, 2, 3]
    first = rows[0][0]
    assert {"train_loss", "val_loss", "val_accuracy", "train_accuracy", "epoch_seconds",
            "layer1_grad_norm"} <= set(first)
    assert not {"epoch", "seconds", "train_metric", "val_metric"} & set(first)
    expected = epoch_value("accuracy", iris.y_val,
                           predictions(net, iris.X_val, "classification", spec), "classification")
    assert first["val_accuracy"] == pytest.approx(expected)
    study.tell(trial, 0.5)
    assert study.trials[0].intermediate_values == {1: expected, 2: expected, 3: expected}


def test_epoch_hook_raises_pruned_with_the_reason(iris):
    net, spec = build_network(hp(), iris, TRAIN, seed=0)
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(lower=1.5))
    hook = EpochHook(study.ask(), None, None, iris, spec, "accuracy", prune=True)
    with pytest.raises(optuna.TrialPruned, match=r"^pruned at epoch 1: val_accuracy = "):
        hook.on_epoch_end(net, 1, epoch_logs(1))


def test_epoch_hook_without_pruning_never_prunes(iris):
    net, spec = build_network(hp(), iris, TRAIN, seed=0)
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(lower=1.5))
    trial = study.ask()
    hook = EpochHook(trial, None, None, iris, spec, "accuracy", prune=False)
    hook.on_epoch_end(net, 1, epoch_logs(1))
    study.tell(trial, 0.5)
    assert study.trials[0].intermediate_values == {}


# ------------------------------------------------------------------------------------------
# classify_failure
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("err", "expected"), [
    (optuna.TrialPruned("pruned at epoch 3: val_accuracy = 0.5"),
     ("pruned", "KILLED", "PRUNED", "pruned at epoch 3: val_accuracy = 0.5")),
    (optuna.TrialPruned(), ("pruned", "KILLED", "PRUNED", "pruned")),
    (DivergenceError(2, "training loss is nan"),
     ("diverged", "FAILED", "FAIL", "training diverged in epoch 2: training loss is nan")),
    (KeyboardInterrupt("signal 15"),
     ("interrupted", "KILLED", "FAIL", "interrupted (Ctrl-C or SIGTERM) during the trial")),
    (SystemExit(130),
     ("interrupted", "KILLED", "FAIL", "interrupted (Ctrl-C or SIGTERM) during the trial")),
    (ValueError("bad thing\nmore detail"), ("error", "FAILED", "FAIL", "ValueError: bad thing")),
    (RuntimeError(), ("error", "FAILED", "FAIL", "RuntimeError: ")),
])
def test_classify_failure(err, expected):
    assert classify_failure(err) == expected


def test_only_completed_pruned_and_diverged_count():
    outcomes = {classify_failure(e)[0] for e in (optuna.TrialPruned(), DivergenceError(1, "x"))}
    assert outcomes | {"completed"} == set(COUNTED)
    assert classify_failure(KeyboardInterrupt())[0] not in COUNTED
    assert classify_failure(ValueError())[0] not in COUNTED


# ------------------------------------------------------------------------------------------
# is_improving
# ------------------------------------------------------------------------------------------


def study_with(values: list, directions: list):
    study = optuna.create_study(directions=directions)
    for v in values:
        study.add_trial(optuna.trial.create_trial(values=list(v), params={}, distributions={}))
    study.add_trial(optuna.trial.create_trial(state=State.PRUNED, params={}, distributions={}))
    return study, study.ask()


def test_fixed_trial_always_improves():
    assert is_improving(optuna.trial.FixedTrial({}), [0.0], ["maximize"])


def test_first_trial_improves():
    _, trial = study_with([], ["maximize"])
    assert is_improving(trial, [0.1], ["maximize"])


@pytest.mark.parametrize(("direction", "value", "expected"), [
    ("maximize", 0.9, True), ("maximize", 0.8, True), ("maximize", 0.7, False),
    ("minimize", 0.1, True), ("minimize", 0.2, True), ("minimize", 0.3, False),
])
def test_single_objective_improving_means_at_least_as_good_as_every_completed(
        direction, value, expected):
    best = 0.8 if direction == "maximize" else 0.2
    _, trial = study_with([(0.5,), (best,), (0.45,)], [direction])
    assert is_improving(trial, [value], [direction]) is expected


@pytest.mark.parametrize(("values", "expected"), [
    ([0.95, 0.5], True),    # best on the first objective
    ([0.5, 0.05], True),    # best on the second
    ([0.85, 0.15], True),   # a new trade-off
    ([0.9, 0.2], True),     # equal to a front point: not dominated
    ([0.85, 0.25], False),  # dominated by (0.9, 0.2)
    ([0.5, 0.5], False),
])
def test_multi_objective_improving_means_on_the_pareto_front(values, expected):
    directions = ["maximize", "minimize"]
    _, trial = study_with([(0.9, 0.2), (0.8, 0.1), (0.6, 0.4)], directions)
    assert is_improving(trial, values, directions) is expected


def test_trial_summary_is_json():
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(
        value=0.5, params={"lr": 0.1}, distributions={"lr": optuna.distributions.FloatDistribution(
            0.01, 1.0)}, user_attrs={"hpstudy_outcome": "completed", "mlflow_run_id": "abc",
                                     "metrics": {"val_accuracy": 0.5}}))
    record = trial_summary(study.trials[0])
    assert json.loads(json.dumps(record)) == record
    assert record["state"] == "COMPLETE" and record["values"] == [0.5]
    assert record["params"] == {"lr": 0.1} and record["run_id"] == "abc"
    assert record["outcome"] == "completed" and record["metrics"] == {"val_accuracy": 0.5}


@pytest.mark.parametrize("params, named", [
    ({"regularizer": "l2", "lambda": 0.00302}, "L2 penalty (λ = 0.00302)"),
    ({"regularizer": "elastic", "lambda": 1e-4}, "elastic penalty (λ = 0.0001)"),
    ({"regularizer": "none", "lambda": 0.0}, None),
    ({"learning_rate": 0.1}, None),
])
def test_the_loss_curve_names_the_penalty_its_training_loss_includes(params, named):
    from hpstudy.experiment.artifacts import _penalty

    assert _penalty(params) == named


def test_epoch_hook_names_the_train_metric_as_the_history_does(diabetes):
    # A tanh output is no classifier: training computes R² for it (History.metric_name "r2"),
    # so the hook must log it as train_r2, not as train_accuracy.
    train_cfg = TrainConfig(output="tanh")
    params = hp(epochs=2)
    net, spec = build_network(params, diabetes, train_cfg, seed=0)
    assert spec["output"] == "tanh"
    tracker = RecordingTracker()
    hook = EpochHook(optuna.create_study().ask(), tracker, "run-1", diabetes, spec, None,
                     prune=False)
    history = net.fit(diabetes.X_train, targets(diabetes.y_train, diabetes, spec),
                      callbacks=[hook], **fit_options(params, train_cfg, spec, seed=0))
    hook.flush()
    rows = [row for _, batch in tracker.batches for row, _ in batch]
    assert history.metric_name == "r2" and len(rows) == 2
    for row, value in zip(rows, history.train_metric, strict=True):
        assert row["train_r2"] == value and "train_accuracy" not in row
