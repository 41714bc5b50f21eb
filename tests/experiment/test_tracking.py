"""The MLflow side of hpstudy (``experiment/tracking.py``) on a temporary SQLite store: the
schema of experiments, parent and trial runs, batched logging, the pyfunc model and the
registry, and a one-line error for an unusable store."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpstudy.experiment.tracking import (
    DEFAULT_TRACKING_URI,
    Tracker,
    TrackingError,
    load_pyfunc,
    resolve_tracking_uri,
)
from hpstudy.nn import Network


@pytest.fixture
def tracker(stores):
    return Tracker(stores.uri)


# ------------------------------------------------------------------------------------------
# The store
# ------------------------------------------------------------------------------------------


def test_resolve_tracking_uri_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == DEFAULT_TRACKING_URI
    assert (tmp_path / "mlruns").is_dir()  # the database's folder, not the database
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/env/m.db")
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path}/env/m.db"
    assert (tmp_path / "env").is_dir()
    assert resolve_tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_unusable_store_is_a_tracking_error_and_is_left_untouched(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"this is not an SQLite database " * 8)
    with pytest.raises(TrackingError, match=r"cannot open the MLflow tracking store"):
        Tracker(f"sqlite:///{db}")
    assert db.read_bytes() == b"this is not an SQLite database " * 8


def test_experiment_per_study_with_local_artifact_root(stores, tracker):
    exp_id = tracker.experiment_id("alpha")
    assert tracker.experiment_id("alpha") == exp_id
    assert tracker.experiment_id("beta", create=False) is None
    exp = stores.client().get_experiment(exp_id)
    assert exp.name == "alpha"
    assert exp.tags["hpstudy.study"] == "alpha"
    assert exp.artifact_location == (stores.root / "mlruns" / "artifacts" / "alpha").as_uri()


def test_study_run_is_created_once(stores, tracker):
    exp_id = tracker.experiment_id("alpha")
    parent = tracker.study_run(exp_id, "alpha")
    assert tracker.study_run(exp_id, "alpha") == parent
    run = stores.client().get_run(parent)
    assert run.info.run_name == "alpha" and run.info.status == "RUNNING"
    assert run.data.tags["hpstudy.role"] == "study"
    assert run.data.tags["hpstudy.study"] == "alpha"


def test_trial_run_schema(stores, tracker):
    exp_id = tracker.experiment_id("alpha")
    parent = tracker.study_run(exp_id, "alpha")
    run_id = tracker.start_trial(exp_id, parent, "alpha", 7, {"learning_rate": 0.01,
                                                                "hidden_sizes": [8, 8]})
    run = stores.client().get_run(run_id)
    assert run.info.run_name == "trial-0007"
    tags = run.data.tags
    assert (tags["hpstudy.role"], tags["hpstudy.study"], tags["hpstudy.trial"]) == \
        ("trial", "alpha", "7")
    assert tags["mlflow.parentRunId"] == parent and tags["hpstudy.state"] == "RUNNING"
    assert run.data.params == {"learning_rate": "0.01", "hidden_sizes": "[8, 8]"}
    assert [r.info.run_id for r in tracker.trial_runs(exp_id)] == [run_id]

    tracker.end_run(run_id, "KILLED", "PRUNED", "pruned at epoch 3: val_accuracy = 0.5")
    run = stores.client().get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["hpstudy.state"] == "PRUNED"
    assert run.data.tags["hpstudy.reason"] == "pruned at epoch 3: val_accuracy = 0.5"


def test_single_training_run_has_role_train_and_no_parent(stores, tracker):
    exp_id = tracker.experiment_id("alpha")
    run_id = tracker.start_trial(exp_id, None, "alpha", 0, {"a": 1}, run_name="train-x")
    run = stores.client().get_run(run_id)
    assert run.info.run_name == "train-x"
    assert run.data.tags["hpstudy.role"] == "train"
    assert "hpstudy.trial" not in run.data.tags and "mlflow.parentRunId" not in run.data.tags
    assert tracker.trial_runs(exp_id) == []


def test_end_run_reason_is_bounded_and_reopen_runs_again(stores, tracker):
    exp_id = tracker.experiment_id("alpha")
    parent = tracker.study_run(exp_id, "alpha")
    tracker.end_run(parent, "FAILED", "ERROR", "x" * 5000)
    run = stores.client().get_run(parent)
    assert run.info.status == "FAILED" and len(run.data.tags["hpstudy.reason"]) == 4000
    tracker.reopen(parent)
    assert stores.client().get_run(parent).info.status == "RUNNING"
    tracker.end_run(parent, "FINISHED", "COMPLETE")
    assert stores.client().get_run(parent).info.status == "FINISHED"


# ------------------------------------------------------------------------------------------
# Batched logging
# ------------------------------------------------------------------------------------------


def test_log_metrics_batches_steps_and_skips_non_finite(stores, tracker):
    exp_id = tracker.experiment_id("alpha")
    run_id = tracker.start_trial(exp_id, None, "alpha", 0, {})
    rows = [({"train_loss": 1.0 / s, "a": float(s), "b": -float(s)}, s) for s in range(1, 601)]
    rows.append(({"bad_nan": math.nan, "bad_inf": math.inf, "bad_ninf": -math.inf,
                  "none": None, "good": 2.5}, 601))
    tracker.log_metrics(run_id, rows)  # 1801 metrics: more than one MLflow batch
    history = tracker.metric_history(run_id, "train_loss")
    assert sorted(m.step for m in history) == list(range(1, 601))
    assert {m.step: m.value for m in history}[4] == pytest.approx(0.25)
    assert len(tracker.metric_history(run_id, "b")) == 600
    metrics = stores.client().get_run(run_id).data.metrics
    assert metrics["good"] == 2.5
    assert not {"bad_nan", "bad_inf", "bad_ninf", "none"} & set(metrics)


def test_log_params_in_chunks_with_long_values_cut(stores, tracker):
    exp_id = tracker.experiment_id("alpha")
    params = {f"p{i:03d}": i for i in range(250)}
    params["long"] = "y" * 7000
    run_id = tracker.start_trial(exp_id, None, "alpha", 0, params)
    logged = stores.client().get_run(run_id).data.params
    assert len(logged) == 251 and logged["p249"] == "249"
    assert logged["long"] == "y" * 6000


def test_set_tags_and_log_artifacts(stores, tracker, tmp_path):
    exp_id = tracker.experiment_id("alpha")
    run_id = tracker.start_trial(exp_id, None, "alpha", 0, {})
    tracker.set_tags(run_id, {"best.width": 8, "hpstudy.best_trial": 3})
    tags = stores.client().get_run(run_id).data.tags
    assert (tags["best.width"], tags["hpstudy.best_trial"]) == ("8", "3")
    folder = tmp_path / "out"
    (folder / "charts").mkdir(parents=True)
    (folder / "trial.json").write_text("{}")
    (folder / "charts" / "x.png").write_bytes(b"png")
    tracker.log_artifacts(run_id, folder)
    tracker.log_artifact(run_id, folder / "trial.json", "extra")
    listed = {a.path for a in stores.client().list_artifacts(run_id)}
    assert listed == {"charts", "trial.json", "extra"}
    local = tracker.download_artifacts(run_id, "charts/x.png", str(tmp_path / "dl"))
    assert Path(local).read_bytes() == b"png"
    assert Path(local).is_relative_to(tmp_path)
    assert (stores.artifacts / "alpha").is_dir()


# ------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------


def preprocess(mean, scale, task, **extra) -> dict:
    return {"feature_names": [f"x{i}" for i in range(len(mean))], "mean": list(mean),
            "scale": list(scale), "task": task, "class_names": None, **extra}


def test_regression_model_round_trip_undoes_both_scalings(tracker):
    exp_id = tracker.experiment_id("alpha")
    run_id = tracker.start_trial(exp_id, None, "alpha", 0, {})
    net = Network.mlp([3, 4, 1], activation="tanh", output="identity", seed=1, dtype="float64")
    mean, scale = np.array([1.0, -2.0, 10.0]), np.array([2.0, 0.5, 4.0])
    uri = tracker.log_model(run_id, net, preprocess(mean, scale, "regression",
                                                    target_offset=150.0, target_scale=75.0))
    assert uri == f"runs:/{run_id}/model"
    model = load_pyfunc(uri)
    raw = np.random.default_rng(0).normal(size=(20, 3)) * scale + mean
    expected = net.forward((raw - mean) / scale)[:, 0] * 75.0 + 150.0
    out = model.predict(raw)
    assert out.shape == (20,)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    frame = pd.DataFrame(raw[:, ::-1], columns=["x2", "x1", "x0"])  # columns found by name
    np.testing.assert_allclose(model.predict(frame), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="3 feature columns"):
        model.predict(raw[:, :2])


def test_classification_model_and_registry_versions(stores, tracker):
    exp_id = tracker.experiment_id("alpha")
    net = Network.mlp([2, 3, 3], activation="relu", output="softmax", seed=0, dtype="float64")
    runs = []
    for number in range(2):
        run_id = tracker.start_trial(exp_id, None, "alpha", number, {})
        tracker.log_model(run_id, net, preprocess([0.5, 0.5], [2.0, 2.0], "classification"))
        runs.append(run_id)
    raw = np.array([[0.0, 1.0], [3.0, -1.0]])
    proba = load_pyfunc(f"runs:/{runs[0]}/model").predict(raw)
    np.testing.assert_allclose(proba, net.predict_proba((raw - 0.5) / 2.0), atol=1e-12)

    assert str(tracker.register_model(runs[0], "alpha").version) == "1"
    assert str(tracker.register_model(runs[1], "alpha").version) == "2"
    versions = {str(v.version): v.run_id
                for v in stores.client().search_model_versions("name = 'alpha'")}
    assert versions == {"1": runs[0], "2": runs[1]}
    model = load_pyfunc("models:/alpha/1")
    np.testing.assert_allclose(model.predict(raw), proba)


# ------------------------------------------------------------------------------------------
# New SQLite stores start as copies of a cached, migrated empty database
# ------------------------------------------------------------------------------------------


def test_new_store_saves_the_template_and_the_next_one_is_a_copy(tmp_path, monkeypatch):
    import sqlite3

    from hpstudy.experiment import tracking

    monkeypatch.setenv("HPSTUDY_CACHE_DIR", str(tmp_path / "cache"))
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    Tracker(f"sqlite:///{first / 'mlflow.db'}").experiment_id("a")  # migrated by MLflow
    template = tracking.template_path()
    assert template.is_file() and template.parent == tmp_path / "cache"
    with sqlite3.connect(template) as db:  # saved while still empty
        assert db.execute("SELECT COUNT(*) FROM experiments").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)

    monkeypatch.chdir(second)
    calls = []
    monkeypatch.setattr(tracking, "save_template", calls.append)
    t = Tracker(f"sqlite:///{second / 'mlflow.db'}")
    assert calls == []  # copied, not migrated: nothing to save
    default = t.client.get_experiment("0")
    assert default.name == "Default"
    assert Path(default.artifact_location) == second / "mlruns" / "0"  # as MLflow sets it here
    exp = t.experiment_id("b")
    run = t.client.create_run(exp)
    t.client.log_metric(run.info.run_id, "x", 1.0)
    assert t.client.get_run(run.info.run_id).data.metrics == {"x": 1.0}


def test_template_never_replaces_an_existing_database(tmp_path, monkeypatch):
    from hpstudy.experiment import tracking

    monkeypatch.setenv("HPSTUDY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    Tracker(f"sqlite:///{tmp_path / 'a.db'}")
    db = tmp_path / "b.db"
    db.write_bytes(b"")
    assert tracking.copy_template(db) is False and db.read_bytes() == b""


def test_no_template_when_the_cache_folder_cannot_be_made(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HPSTUDY_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.chdir(tmp_path)
    t = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")  # still works: migrated as usual
    assert t.experiment_id("a")


def test_end_run_sends_buffered_metrics_with_the_state_tags_in_one_call(stores, tracker,
                                                                        monkeypatch):
    """A pruned trial's last step metrics and its state tags are one round trip to the store;
    more metrics than one batch takes still all arrive, before the tags."""
    exp_id = tracker.experiment_id("alpha")
    run_id = tracker.start_trial(exp_id, tracker.study_run(exp_id, "alpha"), "alpha", 0, {})
    calls, real = [], tracker.client.log_batch
    monkeypatch.setattr(tracker.client, "log_batch", lambda run, **kw: calls.append(
        {k: len(v) for k, v in kw.items()}) or real(run, **kw))
    rows = [({"train_loss": 1.0 / e, "val_loss": float("nan")}, e) for e in (1, 2, 3)]
    tracker.end_run(run_id, "KILLED", "PRUNED", "pruned at epoch 3", rows=rows)
    assert calls == [{"metrics": 3, "tags": 2}]
    run = stores.client().get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["hpstudy.state"] == "PRUNED"
    history = stores.client().get_metric_history(run_id, "train_loss")
    assert sorted((m.step, m.value) for m in history) == [(1, 1.0), (2, 0.5), (3, 1.0 / 3)]
    assert "val_loss" not in run.data.metrics  # non-finite values are left out

    calls.clear()
    other = tracker.start_trial(exp_id, None, "alpha", 1, {})
    many = [({f"m{i}": float(i) for i in range(100)}, e) for e in range(12)]  # 1200 metrics
    tracker.end_run(other, "FINISHED", "COMPLETE", rows=many)
    assert calls == [{"metrics": 1000}, {"metrics": 200}, {"tags": 1}]
    assert len(stores.client().get_metric_history(other, "m99")) == 12
