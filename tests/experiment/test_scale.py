"""Scaling out for real on one machine: a throwaway PostgreSQL cluster, an MLflow tracking
server on it (started with ``hpstudy server``), and independent ``hpstudy study`` processes
that join one study through ``--storage postgresql://…`` and ``--tracking-uri http://…``.

The cluster lives in a temporary folder on a free loopback port with trust authentication for
127.0.0.1 only, and is torn down (immediate shutdown, folder removed) even when a test fails.
The tests are skipped only when the PostgreSQL server binaries are missing, never in CI, where
``.ci/run`` installs them.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import optuna
import pytest
from procs import (
    KILL_TARGET,
    State,
    check_kills,
    check_study,
    child_env,
    kill_and_rerun,
    running_trial,
    sigkill,
    slow_experiment,
    start_study,
    wait_all,
)

from hpstudy.cli import main
from hpstudy.experiment.runner import n_counted
from hpstudy.experiment.storage import open_storage

pytestmark = pytest.mark.slow


def pg_bindir() -> Path | None:
    """The folder of ``initdb`` and ``postgres``: Debian's newest, else the one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    port: int
    root: Path

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"


def _as_postgres() -> dict:
    """Run a child as the ``postgres`` system user when we are root (initdb refuses root)."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def _initdb(bindir: Path, root: Path) -> Path:
    data = root / "data"
    subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--no-sync", "--no-instructions"], check=True,
                   capture_output=True, timeout=120, **_as_postgres())
    # trust, but only on loopback TCP and the cluster's own socket folder
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    return data


def _wait_ready(cluster: Cluster, proc: subprocess.Popen, log: Path, timeout: float = 60):
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            return psycopg.connect(cluster.url("postgres"), autocommit=True)
        except psycopg.OperationalError:
            time.sleep(0.1)
    pytest.fail(f"PostgreSQL did not start within {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def postgres():
    """A throwaway cluster with the databases ``optuna`` and ``mlflow``."""
    bindir = pg_bindir()
    if bindir is None or not (bindir / "postgres").exists():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries not found; .ci/run installs them")
        pytest.skip("PostgreSQL server binaries (initdb, postgres) not found: install the "
                    "postgresql package to run the scale-out tests")
    root = Path(tempfile.mkdtemp(prefix="hpstudy-pg-"))
    proc = None
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        data, cluster = _initdb(bindir, root), Cluster(free_port(), root)
        log = root / "postgres.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(data), "-k", str(root), "-h", "127.0.0.1",
                 "-p", str(cluster.port), "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=300"],
                stdout=out, stderr=subprocess.STDOUT,
                **_as_postgres())
        with _wait_ready(cluster, proc, log) as conn:
            for db in ("optuna", "mlflow"):
                conn.execute(f"CREATE DATABASE {db}")
        yield cluster
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGQUIT)  # immediate shutdown
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Server:
    uri: str
    artifacts: Path


def _wait_healthy(uri: str, proc: subprocess.Popen, log: Path, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"the MLflow server did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def tracking_server(postgres):
    """``hpstudy server`` on the cluster's ``mlflow`` database, on a free loopback port."""
    port, artifacts = free_port(), postgres.root / "artifacts"
    log = postgres.root / "mlflow-server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hpstudy.cli", "server",
                                 "--backend-store-uri", postgres.url("mlflow"),
                                 "--artifacts-destination", str(artifacts), "--port", str(port),
                                 "--workers", "2"], stdout=out, stderr=subprocess.STDOUT,
                                env=child_env(), start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(uri, proc, log)
        yield Server(uri, artifacts)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group: it and its workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture
def scale(postgres, tracking_server, tmp_path):
    """Store options, a client and study loader for one test (study names are per test)."""
    from mlflow import MlflowClient

    args = ["--storage", postgres.url("optuna"), "--tracking-uri", tracking_server.uri]
    storage = open_storage(postgres.url("optuna"))  # one connection pool for the whole test

    def load(name: str) -> optuna.Study:
        return optuna.load_study(study_name=name, storage=storage)

    def experiment_id(name: str) -> str:
        return client.get_experiment_by_name(name).experiment_id

    client = MlflowClient(tracking_uri=tracking_server.uri)
    return SimpleNamespace(args=args, client=client, load=load, experiment_id=experiment_id,
                           root=tmp_path, uri=tracking_server.uri,
                           artifacts=tracking_server.artifacts)


WORKERS, TRIALS = 3, 9


def test_three_workers_reach_exactly_the_target(scale):
    config = slow_experiment(scale.root, "scale", trials=TRIALS, epochs=2, model_for="improving")
    logs = [scale.root / f"worker-{i}.log" for i in range(WORKERS)]
    procs = [start_study(config, scale.args, scale.root, log) for log in logs]
    assert wait_all(procs, logs) == [0] * WORKERS, [log.read_text()[-2000:] for log in logs]

    study = scale.load("scale")
    assert len(study.trials) == TRIALS and n_counted(study) == TRIALS
    assert all(t.state == State.COMPLETE for t in study.trials)
    runs = check_study(study, scale.client, scale.experiment_id("scale"), TRIALS)
    assert len(runs) == TRIALS
    pids = {t.user_attrs["pid"] for t in study.trials}
    assert pids <= {p.pid for p in procs} and len(pids) >= 2, pids
    # no two workers proposed the same values (each trial is seeded by its number)
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) > 1
    for log in logs:
        assert f"study 'scale': {TRIALS} completed, 0 pruned" in log.read_text()

    check_model_through_the_server(scale, study)
    check_report(scale, "scale", TRIALS)


def check_model_through_the_server(scale, study) -> None:
    """The best model was logged through the server's artifact proxy, registered once, and
    loads with ``mlflow.pyfunc.load_model``."""
    best = study.best_trial
    (version,) = scale.client.search_model_versions("name = 'scale'")
    assert version.run_id == best.user_attrs["mlflow_run_id"]
    assert any(scale.artifacts.rglob("MLmodel"))  # stored by the server, not by the workers
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(scale.uri)
    try:
        model = mlflow.pyfunc.load_model(f"models:/scale/{version.version}")
    finally:
        mlflow.set_tracking_uri(previous)
    proba = np.asarray(model.predict(np.array([[0.0, 0.5], [1.0, -0.5]])))
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def check_report(scale, name: str, trials: int) -> None:
    out = scale.root / "reports"
    code = main(["report", name, "--out", str(out), *scale.args])
    assert code == 0
    (csv,) = out.rglob("trials.csv")
    rows = csv.read_text().strip().splitlines()
    assert len(rows) == trials + 1, rows[:3]
    assert (csv.parent / "report.html").is_file()


def test_a_killed_worker_has_its_trial_run_by_another(scale):
    """Three workers; one is SIGKILLed in the middle of a trial. The two others fail that trial
    (its process is gone), run it again and reach the target without a rerun."""
    config = slow_experiment(scale.root, "survive", trials=6, epochs=3)
    logs = [scale.root / f"worker-{i}.log" for i in range(WORKERS)]
    procs = [start_study(config, scale.args, scale.root, log) for log in logs]
    victim = running_trial(lambda: scale.load("survive"), procs, logs)
    dead = next(p for p in procs if p.pid == victim.user_attrs["pid"])
    sigkill(dead.pid)
    assert dead.wait(timeout=60) == -signal.SIGKILL  # reaped: no zombie keeps its pid alive
    others = [p for p in procs if p is not dead]
    assert wait_all(others, [logs[procs.index(p)] for p in others]) == [0, 0]

    study = scale.load("survive")
    outcome = {"code": 0, "killed": [victim.number], "finished": {}, "log": logs[0]}
    check_kills(outcome, study, scale.client, scale.experiment_id("survive"), 6)


def test_sigkill_three_times_then_rerun_on_postgresql(scale):
    config = slow_experiment(scale.root, "killed", trials=KILL_TARGET)
    outcome = kill_and_rerun(config, scale.args, scale.root, lambda: scale.load("killed"),
                             scale.client)
    study = scale.load("killed")
    check_kills(outcome, study, scale.client, scale.experiment_id("killed"), KILL_TARGET)
    assert len(outcome["killed"]) == 3
