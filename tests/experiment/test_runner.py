"""End-to-end studies on temporary stores: what a study logs (DESIGN.md, "What a study logs"),
trial outcomes, the pyfunc model and the registry, resuming, parallel workers and signals.

Every study runs in its own temporary folder (see ``tests/conftest.py``). The MLflow side is
read back with ``mlflow.MlflowClient`` and the Optuna side with ``optuna.load_study``.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import optuna
import pytest
import yaml
from conftest import (
    EXPERIMENTS,
    STORE_ENV,
    make_stores,
    tiny_experiment,
    write_experiment,
)
from procs import slow_experiment

import hpstudy
from hpstudy.cli import main
from hpstudy.data import load_dataset
from hpstudy.experiment.config import SEARCH_DEFAULTS, load_config
from hpstudy.experiment.objective import OUTCOME
from hpstudy.experiment.runner import _quotas, counted, n_counted
from hpstudy.nn import Network

State = optuna.trial.TrialState
COUNTS = ("completed", "pruned", "diverged", "failed", "interrupted", "running", "queued")


def study(stores, config, *extra: str) -> int:
    """``hpstudy study CONFIG --no-progress`` on the test's stores; returns the exit code."""
    return main(["study", str(config), "--no-progress", *stores.args(), *extra])


def ran_this_time(stdout: str) -> int:
    """The ``this run: N trials`` count printed by ``hpstudy study``."""
    found = re.findall(r"this run: (\d+) trials", stdout)
    assert found, stdout
    return int(found[-1])


def assert_nothing_running(stores, name: str) -> None:
    running = stores.runs(name, "attributes.status = 'RUNNING'")
    assert not running, [(r.info.run_name, r.data.tags.get("hpstudy.trial")) for r in running]
    left = stores.load_study(name).get_trials(states=(State.RUNNING, State.WAITING))
    assert not left, [t.number for t in left]


def assert_runs_match_trials(stores, name: str) -> None:
    """One child run per trial, each pointing at its trial and the one parent run."""
    trials = stores.load_study(name).trials
    runs = stores.trial_runs(name)
    (parent,) = stores.parent_runs(name)
    by_trial = {}
    for run in runs:
        number = int(run.data.tags["hpstudy.trial"])
        assert number not in by_trial, f"two runs for trial {number}"
        by_trial[number] = run
    assert sorted(by_trial) == [t.number for t in trials]
    for t in trials:
        run = by_trial[t.number]
        assert run.info.run_id == t.user_attrs["mlflow_run_id"]
        assert run.info.run_name == f"trial-{t.number:04d}"
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["hpstudy.study"] == name
        assert run.data.tags["hpstudy.state"] == t.state.name


# ------------------------------------------------------------------------------------------
# One study of experiments/quick.toml, read by several tests
# ------------------------------------------------------------------------------------------

QUICK_TRIALS = 4


@pytest.fixture(scope="module")
def quick(tmp_path_factory, mlflow_template):
    """``hpstudy study experiments/quick.toml --trials 4`` in a temporary folder."""
    stores = make_stores(tmp_path_factory.mktemp("quick"), mlflow_template)
    handler = signal.getsignal(signal.SIGTERM)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for var in STORE_ENV:
            mp.delenv(var, raising=False)
        mp.chdir(stores.root)
        try:
            with redirect_stdout(out):
                code = study(stores, EXPERIMENTS / "quick.toml", "--trials", str(QUICK_TRIALS))
        finally:
            signal.signal(signal.SIGTERM, handler)
    assert code == 0, out.getvalue()
    cfg = load_config(EXPERIMENTS / "quick.toml")
    return SimpleNamespace(stores=stores, stdout=out.getvalue(), cfg=cfg,
                           study=stores.load_study("quick"),
                           dataset=load_dataset(cfg.data.dataset, **cfg.data.options))


@pytest.mark.slow
def test_quick_study_stays_in_its_temporary_folder(quick):
    root = quick.stores.root
    assert quick.stores.db.exists() and quick.stores.journal.exists()
    assert (root / "mlruns" / "artifacts" / "quick").is_dir()
    exp = quick.stores.client().get_experiment_by_name("quick")
    assert exp.artifact_location.startswith(root.as_uri())


@pytest.mark.slow
def test_one_child_run_per_trial_under_one_parent(quick):
    trials = quick.study.trials
    assert len(trials) == QUICK_TRIALS
    assert all(t.state == State.COMPLETE for t in trials)
    assert n_counted(quick.study) == QUICK_TRIALS
    assert len(quick.stores.trial_runs("quick")) == QUICK_TRIALS
    assert len(quick.stores.parent_runs("quick")) == 1
    assert_runs_match_trials(quick.stores, "quick")
    assert all(r.info.status == "FINISHED" for r in quick.stores.runs("quick"))
    assert "hpstudy.reason" not in quick.stores.trial_runs("quick")[0].data.tags


@pytest.mark.slow
def test_parent_run_has_summary_metrics_and_artifacts(quick):
    client = quick.stores.client()
    (parent,) = quick.stores.parent_runs("quick")
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "quick"
    m = parent.data.metrics
    assert m["n_completed"] == QUICK_TRIALS
    assert all(m[f"n_{k}"] == 0 for k in COUNTS if k != "completed")
    assert m["best_val_accuracy"] == pytest.approx(quick.study.best_value)
    assert m["study_seconds"] > 0
    assert parent.data.params["target_trials"] == str(QUICK_TRIALS)
    assert parent.data.params["dataset"] == "moons"
    assert parent.data.tags["hpstudy.best_trial"] == str(quick.study.best_trial.number)

    top = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"summary.json", "config.json", "plots"} <= top
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert {"plots/optimization_history.png", "plots/parallel_coordinate.png"} <= plots

    dst = quick.stores.root / "download"
    summary = json.loads(Path(client.download_artifacts(parent.info.run_id, "summary.json",
                                                        str(dst))).read_text())
    assert summary["study"] == "quick" and summary["target"] == QUICK_TRIALS
    assert summary["counts"] == {**dict.fromkeys(COUNTS, 0), "completed": QUICK_TRIALS}
    assert summary["best"]["number"] == quick.study.best_trial.number
    assert summary["registered_model"]["version"] in ("1", 1)
    config = json.loads(Path(client.download_artifacts(parent.info.run_id, "config.json",
                                                       str(dst))).read_text())
    assert config == json.loads(json.dumps(quick.cfg.to_dict(), default=str))


@pytest.mark.slow
def test_step_metrics_for_every_epoch(quick):
    client = quick.stores.client()
    for t in quick.study.trials:
        run_id = t.user_attrs["mlflow_run_id"]
        epochs = list(range(1, t.params.get("epochs", 5) + 1))
        for key in ("train_loss", "val_loss", "val_accuracy", "layer1_grad_norm",
                    "layer2_grad_norm", "learning_rate", "epoch_seconds"):
            steps = sorted({m.step for m in client.get_metric_history(run_id, key)})
            assert steps == epochs, (t.number, key, steps)
        # the step values of the objective metric are what Optuna saw
        history = {m.step: m.value for m in client.get_metric_history(run_id, "val_accuracy")}
        for step, value in t.intermediate_values.items():
            assert history[step] == pytest.approx(value)
        names = client.get_run(run_id).data.metrics
        kind = "dead_fraction" if t.params["activation"] == "relu" else "saturated_fraction"
        assert f"layer1_{kind}" in names


@pytest.mark.slow
def test_final_metrics_and_params(quick):
    client = quick.stores.client()
    finals = [f"{split}_{m}" for split in ("val", "test") for m in
              ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc",
               "log_loss", "ks")]
    for t in quick.study.trials:
        run = client.get_run(t.user_attrs["mlflow_run_id"])
        metrics, params = run.data.metrics, run.data.params
        assert set(finals) <= set(metrics), set(finals) - set(metrics)
        assert {"stability_noise_sensitivity", "stability_flip_rate",
                "stability_jacobian_norm"} <= set(metrics)
        assert metrics["val_accuracy"] == pytest.approx(t.value)
        assert set(SEARCH_DEFAULTS) <= set(params)
        for name, value in t.params.items():  # every searched value, as Optuna chose it
            assert params[name] == str(value)
        assert params["dataset"] == "moons"
        assert params["dataset_fingerprint"] == quick.dataset.fingerprint
        assert params["hpstudy_version"] == hpstudy.__version__
        assert params["seed"] == str(t.number)  # train.seed 0 + trial number


@pytest.mark.slow
def test_trial_artifacts_follow_the_improving_policy(quick):
    client = quick.stores.client()
    for t in quick.study.trials:
        run_id = t.user_attrs["mlflow_run_id"]
        top = {a.path for a in client.list_artifacts(run_id)}
        assert "trial.json" in top
        assert ("model" in top) == bool(t.user_attrs.get("has_model")), (t.number, top)
        assert ("charts" in top) == ("model" in top)  # both follow charts_for = "improving"
    first = quick.study.trials[0].user_attrs["mlflow_run_id"]  # the first trial improves
    charts = {a.path for a in client.list_artifacts(first, "charts")}
    assert charts == {"charts/loss_curve.png", "charts/decision_boundary.png"}
    assert "gain_lift.csv" in {a.path for a in client.list_artifacts(first)}


@pytest.mark.slow
def test_pyfunc_model_of_best_trial_predicts_like_the_network(quick):
    best = quick.study.best_trial
    run_id = best.user_attrs["mlflow_run_id"]
    ds = quick.dataset
    dst = quick.stores.root / "model-download"
    model_dir = Path(quick.stores.client().download_artifacts(run_id, "model", str(dst)))
    # the pyfunc flavour names the folder holding hpstudy's files (MLflow nests data_path)
    data = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["python_function"]
    assert data["loader_module"] == "hpstudy.experiment.pyfunc"
    net = Network.load(model_dir / data["data"] / "network.npz")
    expected = net.predict_proba(ds.X_test)

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(quick.stores.uri)
    try:
        model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    finally:
        mlflow.set_tracking_uri(previous)
    raw = ds.inverse_transform(ds.X_test)
    proba = np.asarray(model.predict(raw))
    assert proba.shape == (len(ds.y_test), 2)
    np.testing.assert_allclose(proba, expected, atol=1e-6)
    import pandas as pd

    frame = pd.DataFrame(raw, columns=ds.feature_names)
    np.testing.assert_allclose(np.asarray(model.predict(frame)), expected, atol=1e-6)
    # the logged model is the trial's final network: it reproduces the logged test accuracy
    accuracy = np.mean(proba.argmax(axis=1) == ds.y_test)
    assert accuracy == pytest.approx(best.user_attrs["metrics"]["test_accuracy"])


@pytest.mark.slow
def test_best_model_registered_as_version_1(quick):
    client = quick.stores.client()
    versions = client.search_model_versions("name = 'quick'")
    assert [str(v.version) for v in versions] == ["1"]
    assert versions[0].run_id == quick.study.best_trial.user_attrs["mlflow_run_id"]
    assert "model registry: quick version 1" in quick.stdout


# ------------------------------------------------------------------------------------------
# Regression and multi-objective studies
# ------------------------------------------------------------------------------------------

REGRESSION = """
[study]
name = "regression"
objective = "val_rmse"
trials = 2
sampler = "random"
pruner = "none"
seed = 0

[data]
dataset = "diabetes"

[search]
learning_rate = { low = 0.005, high = 0.02, log = true }
batch_size = 32
depth = 1
width = [8, 16]
activation = "tanh"
optimizer = "adam"
epochs = 15

[stability]
noise_levels = [0.05]
draws = 1
retrain_top = 1
retrain_k = 3

[tracking]
charts = ["loss_curve"]
charts_for = "all"
model_for = "all"
"""


@pytest.mark.slow
def test_regression_study_reports_in_target_units(stores):
    config = write_experiment(stores.root, REGRESSION)
    assert study(stores, config) == 0
    s = stores.load_study("regression")
    client = stores.client()
    ds = load_dataset("diabetes")
    for t in s.trials:
        run = client.get_run(t.user_attrs["mlflow_run_id"])
        metrics = run.data.metrics
        assert {"val_mse", "val_rmse", "val_mae", "val_r2", "test_mse", "test_rmse",
                "test_mae", "test_r2", "stability_noise_sensitivity"} <= set(metrics)
        assert metrics["val_rmse"] == pytest.approx(t.value)
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "val_rmse"))
        assert steps[:15] == list(range(1, 16))
        charts = {a.path for a in client.list_artifacts(run.info.run_id, "charts")}
        assert {"charts/loss_curve.png", "charts/regression.png"} <= charts

        # the pyfunc model takes raw features and answers in the target's units
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(stores.uri)
        try:
            model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
        finally:
            mlflow.set_tracking_uri(previous)
        pred = np.asarray(model.predict(ds.inverse_transform(ds.X_test)))
        assert pred.shape == ds.y_test.shape
        rmse = float(np.sqrt(np.mean((pred - ds.y_test) ** 2)))
        assert rmse == pytest.approx(metrics["test_rmse"], rel=1e-5)

    # retraining stability of the best trial is measured in the target's units too: its mean
    # test R² is a retrained copy of the trial's own test R², not R² of standardised outputs
    best = client.get_run(s.best_trial.user_attrs["mlflow_run_id"]).data.metrics
    assert best["stability_retrain_k"] == 3
    assert best["stability_retrain_metric_mean"] == pytest.approx(best["test_r2"], abs=0.25)
    assert 0 < best["stability_retrain_disagreement"] < ds.y_test.std()


PARETO = """
[study]
name = "pareto"
objectives = ["val_f1_macro", "stability_noise_sensitivity"]
trials = 4
sampler = "nsga2"
seed = 0

[data]
dataset = "iris"

[search]
learning_rate = { low = 1e-3, high = 0.1, log = true }
batch_size = 16
depth = 1
width = [4, 8]
activation = ["relu", "tanh"]
epochs = 3

[stability]
noise_levels = [0.05]
draws = 1
retrain_top = 0

[tracking]
charts = ["confusion_matrix"]
charts_for = "improving"
model_for = "improving"
"""


@pytest.mark.slow
def test_multi_objective_study_logs_its_pareto_front(stores):
    config = write_experiment(stores.root, PARETO)
    assert study(stores, config) == 0
    s = stores.load_study("pareto")
    assert [d.name for d in s.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert len(s.trials) == 4 and all(t.state == State.COMPLETE for t in s.trials)
    assert_runs_match_trials(stores, "pareto")
    front = sorted(t.number for t in s.best_trials)
    client = stores.client()
    (parent,) = stores.parent_runs("pareto")
    assert parent.info.status == "FINISHED"
    assert {"best_val_f1_macro", "best_stability_noise_sensitivity"} <= set(parent.data.metrics)
    summary = json.loads(Path(client.download_artifacts(
        parent.info.run_id, "summary.json", str(stores.root / "dl"))).read_text())
    assert summary["pareto_front"] == front
    assert summary["best"]["number"] in front
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/pareto_front.png" in plots
    (version,) = client.search_model_versions("name = 'pareto'")
    assert version.run_id == summary["best"]["run_id"]
    for t in s.trials:  # every Pareto-front trial was improving when it ran
        if t.number in front:
            assert t.user_attrs.get("has_model")


# ------------------------------------------------------------------------------------------
# Outcomes: completed, pruned and diverged trials
# ------------------------------------------------------------------------------------------

OUTCOMES = """
[study]
name = "outcomes"
objective = "val_accuracy"
trials = 7
sampler = "random"
pruner = "median"
seed = 0

[data]
dataset = "moons"
n_samples = 200
noise = 0.1

[train]
early_stopping = 0

[search]
learning_rate = { low = 1e-7, high = 1e8, log = true }
batch_size = 16
depth = 1
width = 8
activation = "relu"
optimizer = ["adam", "sgd"]
epochs = 6

[stability]
noise_levels = [0.05]
draws = 1
retrain_top = 0

[tracking]
charts = []
charts_for = "none"
model_for = "none"
"""
GOOD = {"optimizer": "adam", "learning_rate": 0.05}
#: sgd with η = 1e8 on cross-entropy makes the loss NaN in the first epoch
DIVERGES = {"optimizer": "sgd", "learning_rate": 1e8}
#: η = 1e-7 does not move the network: chance accuracy, far below the median at epoch 2
STALLS = {"optimizer": "sgd", "learning_rate": 1e-7}


@pytest.mark.slow
def test_completed_pruned_and_diverged_trials(stores, capsys):
    config = write_experiment(stores.root, OUTCOMES)
    # The trials' hyperparameters are queued up front, so the outcomes do not depend on the
    # sampler: 5 completed trials (the median pruner's startup) around a diverging one, then one
    # that learns nothing and is pruned once the warm-up epochs are over.
    queued = optuna.create_study(study_name="outcomes", storage=stores.optuna_storage(),
                                 direction="maximize")
    for params in (GOOD, GOOD, GOOD, DIVERGES, GOOD, GOOD, STALLS):
        queued.enqueue_trial(params)

    assert study(stores, config) == 0
    assert "5 completed, 1 pruned, 1 diverged, 0 failed" in capsys.readouterr().out

    trials = stores.load_study("outcomes").trials
    assert [t.state for t in trials] == [State.COMPLETE] * 3 + [State.FAIL] + \
        [State.COMPLETE] * 2 + [State.PRUNED]
    assert n_counted(stores.load_study("outcomes")) == 7  # diverged and pruned trials count
    assert_runs_match_trials(stores, "outcomes")
    assert_nothing_running(stores, "outcomes")
    runs = {int(r.data.tags["hpstudy.trial"]): r for r in stores.trial_runs("outcomes")}

    diverged = trials[3]
    assert diverged.params == DIVERGES
    assert diverged.user_attrs[OUTCOME] == "diverged"
    run = runs[3]
    assert run.info.status == "FAILED"
    assert run.data.tags["hpstudy.state"] == "FAIL"
    assert run.data.tags["hpstudy.reason"].startswith("training diverged in epoch 1")
    assert diverged.user_attrs["reason"] == run.data.tags["hpstudy.reason"]

    pruned = trials[6]
    assert pruned.params == STALLS
    assert pruned.user_attrs[OUTCOME] == "pruned"
    run = runs[6]
    assert run.info.status == "KILLED"
    assert run.data.tags["hpstudy.state"] == "PRUNED"
    assert run.data.tags["hpstudy.reason"].startswith("pruned at epoch 2")
    # the step metrics of the epochs it ran were flushed before the run ended
    history = stores.client().get_metric_history(run.info.run_id, "val_accuracy")
    assert sorted(m.step for m in history) == [1, 2]

    for number in (0, 1, 2, 4, 5):
        assert runs[number].info.status == "FINISHED"
        assert "hpstudy.reason" not in runs[number].data.tags

    (parent,) = stores.parent_runs("outcomes")
    assert parent.info.status == "FINISHED"
    m = parent.data.metrics
    assert (m["n_completed"], m["n_pruned"], m["n_diverged"], m["n_failed"]) == (5, 1, 1, 0)


GRID = OUTCOMES.replace('name = "outcomes"', 'name = "grid"').replace(
    "trials = 7", "trials = 2").replace('sampler = "random"', 'sampler = "grid"').replace(
    'pruner = "median"', 'pruner = "none"').replace(
    "learning_rate = { low = 1e-7, high = 1e8, log = true }", "learning_rate = [0.01, 1e8]").replace(
    'optimizer = ["adam", "sgd"]', 'optimizer = "sgd"')


@pytest.mark.slow
def test_grid_with_a_diverging_point_fails_only_that_trial(stores, capsys):
    config = write_experiment(stores.root, GRID)
    assert study(stores, config) == 0
    assert "1 completed, 0 pruned, 1 diverged" in capsys.readouterr().out
    s = stores.load_study("grid")
    by_lr = {t.params["learning_rate"]: t for t in s.trials}
    assert sorted(by_lr) == [0.01, 1e8] and n_counted(s) == 2
    assert by_lr[0.01].state == State.COMPLETE
    diverged = by_lr[1e8]
    assert diverged.state == State.FAIL and diverged.user_attrs[OUTCOME] == "diverged"
    run = stores.client().get_run(diverged.user_attrs["mlflow_run_id"])
    assert run.info.status == "FAILED"
    assert run.data.tags["hpstudy.reason"].startswith("training diverged")
    assert_runs_match_trials(stores, "grid")
    assert_nothing_running(stores, "grid")
    (parent,) = stores.parent_runs("grid")
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_diverged"] == 1


# ------------------------------------------------------------------------------------------
# Resuming and parallel workers
# ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_resume_tops_up_to_the_target(stores, capsys):
    config = tiny_experiment(stores.root, "resume", trials=3, epochs=2)
    assert study(stores, config, "--trials", "3") == 0
    assert ran_this_time(capsys.readouterr().out) == 3
    assert study(stores, config, "--trials", "5") == 0
    assert ran_this_time(capsys.readouterr().out) == 2

    s = stores.load_study("resume")
    assert [t.number for t in s.trials] == [0, 1, 2, 3, 4]
    assert n_counted(s) == 5
    assert len(stores.trial_runs("resume")) == 5
    assert_runs_match_trials(stores, "resume")

    assert study(stores, config, "--trials", "5") == 0  # the target is already reached
    assert ran_this_time(capsys.readouterr().out) == 0
    assert len(stores.load_study("resume").trials) == 5
    assert len(stores.trial_runs("resume")) == 5
    (parent,) = stores.parent_runs("resume")
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["n_completed"] == 5
    assert_nothing_running(stores, "resume")


@pytest.mark.slow
def test_two_workers_reach_exactly_the_target(stores, monkeypatch):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))  # the runner sets them; undo after
    # this process starts at once, the spawned worker once it is up (imports, stores: 5 to 10 s)
    config = slow_experiment(stores.root, "parallel", trials=12, epochs=3)
    assert study(stores, config, "--workers", "2") == 0

    s = stores.load_study("parallel")
    assert len(s.trials) == 12
    assert all(t.state == State.COMPLETE for t in s.trials)
    pids = {t.user_attrs["pid"] for t in s.trials}
    assert os.getpid() in pids and len(pids) <= 2  # this process (and the spawned worker)
    assert len(stores.trial_runs("parallel")) == 12
    assert_runs_match_trials(stores, "parallel")
    assert_nothing_running(stores, "parallel")
    (parent,) = stores.parent_runs("parallel")
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["n_completed"] == 12


@pytest.mark.slow
@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_two_workers_share_a_grid_study(stores, monkeypatch, start):
    """A grid study has no queue: each worker runs its share of the grid, so the other worker
    runs half of it however late it starts (test_faults kills one in a token study). Workers
    are forked, or spawned while this process runs another thread."""
    import threading

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    from hpstudy.experiment import runner

    used, real = [], runner.multiprocessing.get_context
    monkeypatch.setattr(runner.multiprocessing, "get_context",
                        lambda method=None: used.append(method) or real(method))
    done = threading.Event()
    if start == "spawn":
        threading.Thread(target=done.wait, daemon=True).start()
    text = slow_experiment(stores.root, "grid2", trials=8, epochs=2).read_text()
    text = text.replace('sampler = "random"', 'sampler = "grid"').replace(
        "learning_rate = { low = 1e-3, high = 0.05, log = true }", "learning_rate = [0.01, 0.03]")
    config = write_experiment(stores.root, text, "grid2.toml")
    try:
        assert study(stores, config, "--workers", "2") == 0
    finally:
        done.set()
    assert used[:1] == [start]

    s = stores.load_study("grid2")
    assert len(s.trials) == 8 and all(t.state == State.COMPLETE for t in s.trials)
    by_pid = {}
    for t in s.trials:
        by_pid[t.user_attrs["pid"]] = by_pid.get(t.user_attrs["pid"], 0) + 1
    assert os.getpid() in by_pid and sorted(by_pid.values()) == [4, 4]
    assert_runs_match_trials(stores, "grid2")
    assert_nothing_running(stores, "grid2")


# ------------------------------------------------------------------------------------------
# Interrupted studies: SIGTERM and SIGKILL during a trial, then a rerun
# ------------------------------------------------------------------------------------------

#: trials of a few seconds (one row per step, 80 epochs: ~2 s on a fast machine), so a signal
#: lands inside one
SLOW = """
[study]
name = "{name}"
objective = "val_accuracy"
trials = 2
sampler = "random"
pruner = "none"
seed = 0

[data]
dataset = "moons"
n_samples = 1000
noise = 0.2

[train]
early_stopping = 0

[search]
learning_rate = 0.01
batch_size = 1
depth = 1
width = 8
activation = "tanh"
optimizer = "adam"
epochs = 80

[stability]
noise_levels = [0.05]
draws = 1
retrain_top = 0

[tracking]
charts = []
charts_for = "none"
model_for = "none"
"""


def start_study_process(stores, config: Path) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    for var in STORE_ENV:
        env.pop(var, None)
    with open(stores.root / "process.out", "w") as out:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "hpstudy.cli", "study", str(config),
                                 "--no-progress", *stores.args()], cwd=stores.root, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def wait_for_running_trial(stores, proc: subprocess.Popen, name: str, timeout: float = 180):
    """Poll MLflow until a trial run exists with its params logged (training has begun)."""
    client, deadline = stores.client(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, (stores.root / "process.out").read_text()
        exp = client.get_experiment_by_name(name) if stores.db.exists() else None
        if exp is not None:
            runs = client.search_runs([exp.experiment_id], "tags.`hpstudy.role` = 'trial'")
            if runs and "hpstudy_version" in runs[0].data.params:
                return runs[0]
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"no trial run appeared within {timeout} s")


@pytest.mark.slow
def test_sigterm_during_a_trial_then_rerun(stores, capsys):
    config = write_experiment(stores.root, SLOW.format(name="sigterm"), "sigterm.toml")
    proc = start_study_process(stores, config)
    run = wait_for_running_trial(stores, proc, "sigterm")
    time.sleep(0.25)  # past the few journal writes before training; a trial takes seconds
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130, (stores.root / "process.out").read_text()
    assert "interrupted" in (stores.root / "process.out").read_text()

    assert not stores.runs("sigterm", "attributes.status = 'RUNNING'")
    run = stores.client().get_run(run.info.run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["hpstudy.state"] == "FAIL"
    assert run.data.tags["hpstudy.reason"].startswith("interrupted")
    # the interrupted trial, then two queued for the rerun: the one never started, and the
    # interrupted one's replacement (hpstudy.experiment.claims)
    trial, *queued = stores.load_study("sigterm").trials
    assert [t.state for t in queued] == [State.WAITING] * 2
    assert trial.state == State.FAIL
    assert trial.user_attrs[OUTCOME] == "interrupted"
    assert not counted(trial)
    (parent,) = stores.parent_runs("sigterm")
    assert parent.info.status == "KILLED"

    assert study(stores, config) == 0  # the rerun tops up to the target
    assert ran_this_time(capsys.readouterr().out) == 2
    s = stores.load_study("sigterm")
    assert n_counted(s) == 2 and len(s.trials) == 3
    assert [t.state for t in s.trials] == [State.FAIL, State.COMPLETE, State.COMPLETE]
    assert len(stores.trial_runs("sigterm")) == 3
    assert_runs_match_trials(stores, "sigterm")
    assert_nothing_running(stores, "sigterm")
    (parent,) = stores.parent_runs("sigterm")
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["n_interrupted"] == 1


@pytest.mark.slow
def test_sigkill_during_a_trial_is_recovered_by_the_rerun(stores, capsys):
    config = write_experiment(stores.root, SLOW.format(name="sigkill"), "sigkill.toml")
    proc = start_study_process(stores, config)
    run = wait_for_running_trial(stores, proc, "sigkill")
    time.sleep(0.25)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    # nobody was left to clean up
    assert stores.client().get_run(run.info.run_id).info.status == "RUNNING"
    assert stores.load_study("sigkill").trials[0].state == State.RUNNING

    assert study(stores, config) == 0
    assert ran_this_time(capsys.readouterr().out) == 2
    s = stores.load_study("sigkill")
    stale = s.trials[0]
    assert stale.state == State.FAIL and stale.user_attrs[OUTCOME] == "interrupted"
    run = stores.client().get_run(run.info.run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["hpstudy.state"] == "FAIL"
    assert run.data.tags["hpstudy.reason"].startswith("interrupted")
    assert n_counted(s) == 2 and len(s.trials) == 3
    assert len(stores.trial_runs("sigkill")) == 3
    assert_runs_match_trials(stores, "sigkill")
    assert_nothing_running(stores, "sigkill")
    (parent,) = stores.parent_runs("sigkill")
    assert parent.info.status == "FINISHED"


# ------------------------------------------------------------------------------------------
# Pure helpers of the runner
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("remaining", "workers", "expected"), [
    (5, 2, [3, 2]), (4, 2, [2, 2]), (1, 4, [1]), (3, 3, [1, 1, 1]), (7, 3, [3, 2, 2]),
    (6, 1, [6]), (2, 0, [2]),
])
def test_quotas(remaining, workers, expected):
    assert _quotas(remaining, workers) == expected


@pytest.mark.parametrize("remaining", range(1, 12))
@pytest.mark.parametrize("workers", range(1, 6))
def test_quotas_split_evenly_without_idle_workers(remaining, workers):
    quotas = _quotas(remaining, workers)
    assert sum(quotas) == remaining
    assert len(quotas) == min(remaining, workers)
    assert min(quotas) >= 1 and max(quotas) - min(quotas) <= 1


def frozen(state, outcome=None):
    attrs = {} if outcome is None else {OUTCOME: outcome}
    value = 0.5 if state == State.COMPLETE else None
    return optuna.trial.create_trial(state=state, value=value, user_attrs=attrs,
                                     params={}, distributions={})


@pytest.mark.parametrize(("state", "outcome", "expected"), [
    (State.COMPLETE, "completed", True),
    (State.COMPLETE, None, True),
    (State.PRUNED, "pruned", True),
    (State.FAIL, "diverged", True),
    (State.FAIL, "interrupted", False),
    (State.FAIL, "error", False),
    (State.FAIL, None, False),
    (State.RUNNING, None, False),
    (State.WAITING, None, False),
])
def test_counted(state, outcome, expected):
    assert counted(frozen(state, outcome)) is expected


def test_n_counted():
    s = optuna.create_study()
    for state, outcome in ((State.COMPLETE, None), (State.PRUNED, "pruned"),
                           (State.FAIL, "diverged"), (State.FAIL, "interrupted"),
                           (State.FAIL, "error")):
        s.add_trial(frozen(state, outcome))
    assert n_counted(s) == 3


class ScriptedObjective:
    """Stands in for :class:`Objective` in :func:`work`: each call plays the next step of a
    script. ``"ok"`` completes (tagging the trial with this process's pid like the real one);
    ``"early"`` raises before the trial is tagged (e.g. the tracking store refused the run)."""

    def __init__(self, script):
        self.script = list(script)

    def __call__(self, trial):
        step = self.script.pop(0)
        if step == "early":
            raise RuntimeError("could not start the trial's run")
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr(OUTCOME, "completed")
        return 0.5


def scripted_context(monkeypatch, script):
    from hpstudy.experiment import runner

    objective = ScriptedObjective(script)
    monkeypatch.setattr(runner, "Objective", lambda *args, **kwargs: objective)
    study = optuna.create_study(direction="maximize")
    ctx = runner.WorkerContext(cfg=None, dataset=None, tracker=None, study=study,
                               experiment_id="0", parent_id="p")
    return ctx, objective


def test_work_does_not_count_a_trial_that_failed_before_it_was_tagged(monkeypatch):
    from hpstudy.experiment.runner import work

    ctx, objective = scripted_context(monkeypatch, ["ok", "early", "ok", "ok"])
    seen = []
    assert work(ctx, quota=3, target=3, deadline=None, on_trial=seen.append) == 3
    assert n_counted(ctx.study) == 3
    assert [t.state for t in ctx.study.trials] == [State.COMPLETE, State.FAIL] + \
        [State.COMPLETE] * 2
    assert [t.number for t in seen] == [0, 1, 2, 3]  # on_trial sees each trial once
    assert objective.script == []


def test_work_gives_up_after_consecutive_errors(monkeypatch):
    from hpstudy.experiment.runner import MAX_CONSECUTIVE_ERRORS, StudyError, work

    ctx, _ = scripted_context(monkeypatch, ["ok"] + ["early"] * MAX_CONSECUTIVE_ERRORS)
    with pytest.raises(StudyError, match=f"{MAX_CONSECUTIVE_ERRORS} trials in a row failed"):
        work(ctx, quota=5, target=5, deadline=None)
    assert n_counted(ctx.study) == 1


def test_work_stops_at_the_target(monkeypatch):
    from hpstudy.experiment.runner import work

    ctx, objective = scripted_context(monkeypatch, ["ok"] * 5)
    ctx.study.add_trial(frozen(State.COMPLETE))
    ctx.study.add_trial(frozen(State.FAIL, "diverged"))
    assert work(ctx, quota=5, target=4, deadline=None) == 2
    assert n_counted(ctx.study) == 4 and len(objective.script) == 3


def test_the_heap_is_frozen_while_trials_run_and_given_back_after(stores, monkeypatch, capsys):
    """runner.freeze_heap: the trials run with the import-time heap out of the collector's
    sight; the study hands the collector back whole, also when it fails."""
    import gc

    from hpstudy.experiment import runner

    seen, real = [], runner.work
    monkeypatch.setattr(runner, "work", lambda ctx, *a, **kw: seen.append(
        gc.get_freeze_count()) or real(ctx, *a, **kw))
    config = tiny_experiment(stores.root, "frozen", trials=2, epochs=2)
    assert study(stores, config) == 0
    assert seen and seen[0] > 10_000  # optuna, mlflow, numpy, ... are frozen
    assert gc.get_freeze_count() == 0 and gc.isenabled()

    monkeypatch.setattr(runner, "work", lambda *a, **kw: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        study(stores, config, "--trials", "3")
    assert gc.get_freeze_count() == 0
    capsys.readouterr()


def test_a_waiting_worker_looks_again_soon_then_less_often(monkeypatch):
    """next_claim waits for other workers' trials with doubling pauses (0.05 s up to 1 s): the
    last trial of a study usually ends within a fraction of a second."""
    from hpstudy.experiment import runner
    from hpstudy.experiment.claims import Tally

    looks = iter([Tally(0, 1, 0)] * 7 + [Tally(1, 0, 0)])
    waits = []
    monkeypatch.setattr(runner, "reap", lambda ctx: None)
    monkeypatch.setattr(runner, "tally", lambda study: next(looks))
    monkeypatch.setattr(runner.time, "sleep", waits.append)
    assert runner.next_claim(SimpleNamespace(study=None), target=1, deadline=None) is None
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
