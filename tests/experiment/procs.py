"""Helpers for tests that run ``hpstudy study`` as separate processes and kill them.

Not a test module: ``test_faults.py`` and ``test_scale.py`` import it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

State = optuna.trial.TrialState
#: environment variables that would point a child process at other stores
STORE_ENV = ("MLFLOW_TRACKING_URI", "HPSTUDY_STORAGE")

#: Trials of one to two seconds (one row per step, 900 training rows), so that a kill lands inside
#: one; a faster trainer makes them shorter, and the kill tests race the study to its end.
SLOW = """
[study]
name = "{name}"
objective = "val_accuracy"
trials = {trials}
sampler = "random"
pruner = "none"
seed = 0

[data]
dataset = "moons"
n_samples = 1500
noise = 0.2

[train]
early_stopping = 0

[search]
learning_rate = {{ low = 1e-3, high = 0.05, log = true }}
batch_size = 1
depth = 1
width = [4, 8]
activation = ["relu", "tanh"]
optimizer = "adam"
epochs = {epochs}

[stability]
noise_levels = [0.05]
draws = 1
retrain_top = 0

[tracking]
charts = []
charts_for = "none"
model_for = "{model_for}"
"""


def slow_experiment(directory: Path, name: str, trials: int, epochs: int = 4,
                    model_for: str = "none") -> Path:
    path = Path(directory) / f"{name}.toml"
    path.write_text(SLOW.format(name=name, trials=trials, epochs=epochs, model_for=model_for))
    return path


def child_env() -> dict:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for var in STORE_ENV:
        env.pop(var, None)
    return env


def start_study(config: Path, store_args: list[str], cwd: Path, log: Path,
                *extra: str) -> subprocess.Popen:
    """``python -m hpstudy.cli study CONFIG --no-progress ...`` in the background; its output
    goes to ``log``."""
    with open(log, "w") as out:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "hpstudy.cli", "study", str(config),
                                 "--no-progress", *store_args, *extra], cwd=cwd,
                                env=child_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a study process of this test and its worker processes (its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


def wait_all(procs: list[subprocess.Popen], logs: list[Path], timeout: float = 400) -> list[int]:
    """Exit codes of ``procs``; kills them all and fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    codes = []
    for proc, log in zip(procs, logs, strict=True):
        try:
            codes.append(proc.wait(timeout=max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            for p in procs:
                kill_group(p)
            pytest.fail(f"study process still running after {timeout} s:\n{log.read_text()}")
    return codes


def running_trial(study_fn, procs, logs, after: int = -1, finished_first: int = 0,
                  timeout: float = 240, not_pid: int | None = None):
    """Poll until a trial numbered above ``after`` is RUNNING with its worker's pid (other than
    ``not_pid``), and at least ``finished_first`` trials numbered above ``after`` are finished;
    returns that trial.

    ``study_fn()`` loads the study (fresh each time).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                for p in procs:
                    kill_group(p)
                pytest.fail(f"a study process ended early:\n{log.read_text()}")
        try:
            trials = study_fn().get_trials(deepcopy=False)
        except KeyError:  # the study does not exist yet
            trials = []
        done = [t for t in trials if t.number > after and t.state.is_finished()]
        live = [t for t in trials if t.number > after and t.state == State.RUNNING
                and "pid" in t.user_attrs and "mlflow_run_id" in t.user_attrs
                and t.user_attrs["pid"] != not_pid]
        if live and len(done) >= finished_first:
            return live[0]
        time.sleep(0.2)
    for proc in procs:
        kill_group(proc)
    pytest.fail(f"no running trial after {timeout} s")


def sigkill(pid: int) -> None:
    """SIGKILL one process of this test by its id."""
    os.kill(pid, signal.SIGKILL)


def snapshot_finished(study: optuna.Study, client) -> dict:
    """{trial number: (state, values, params, run status, run metrics)} of finished trials."""
    out = {}
    for t in study.get_trials(deepcopy=False):
        if t.state in (State.COMPLETE, State.PRUNED):
            run = client.get_run(t.user_attrs["mlflow_run_id"])
            out[t.number] = (t.state, t.values, t.params, run.info.status, run.data.metrics)
    return out


def check_study(study: optuna.Study, client, experiment_id: str, target: int) -> dict:
    """The invariants of a finished study in both stores; returns {number: run}.

    Exactly ``target`` counted trials, nothing RUNNING or queued, one trial run per trial
    (its id recorded on the trial), runs of trials that did not count ended KILLED/FAILED,
    one FINISHED parent run.
    """
    from hpstudy.experiment.runner import counted

    trials = study.get_trials(deepcopy=False)
    assert sum(counted(t) for t in trials) == target
    assert not [t.number for t in trials if not t.state.is_finished()]
    runs = client.search_runs([experiment_id], max_results=10000)
    assert not [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    (parent,) = [r for r in runs if r.data.tags.get("hpstudy.role") == "study"]
    assert parent.info.status == "FINISHED"
    by_number = {}
    for run in (r for r in runs if r.data.tags.get("hpstudy.role") == "trial"):
        number = int(run.data.tags["hpstudy.trial"])
        assert number not in by_number, f"two runs for trial {number}"
        by_number[number] = run
    assert sorted(by_number) == sorted(t.number for t in trials)
    for t in trials:
        run = by_number[t.number]
        assert run.info.run_id == t.user_attrs["mlflow_run_id"]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["hpstudy.state"] == t.state.name
        assert run.info.status == run_status(t), (t.number, t.state, run.info.status)
    return by_number


def run_status(trial) -> str:
    """The MLflow status of a finished trial's run (objective.py's table of outcomes)."""
    from hpstudy.experiment.objective import OUTCOME

    if trial.state == State.COMPLETE:
        return "FINISHED"
    if trial.state == State.PRUNED or trial.user_attrs.get(OUTCOME) == "interrupted":
        return "KILLED"
    return "FAILED"


#: the trial target of the kill-and-rerun tests: three killed rounds of at least one finished trial
#: each (more when the poll is late), and room for the rerun to find work left
KILL_TARGET = 10


def kill_and_rerun(config: Path, store_args: list[str], cwd: Path, study_fn, client,
                   kills: int = 3) -> dict:
    """Start the study, SIGKILL it in the middle of a trial once it finished one, ``kills``
    times in a row, then run it to the end. Returns what the checks need: the killed trial
    numbers, snapshots of the trials finished before each kill, the rerun's exit code.

    A kill that lands between two trials (the trial seen running ended just before), or after
    the objective had decided its trial's outcome, does not count: the round is played again
    (at most three times more).
    """
    from hpstudy.experiment.objective import OUTCOME

    killed, finished, after = [], {}, -1
    for round_ in range(kills + 3):
        if len(killed) == kills:
            break
        log = cwd / f"killed-{round_}.log"
        proc = start_study(config, store_args, cwd, log)
        seen = running_trial(study_fn, [proc], [log], after=after, finished_first=1)
        assert seen.user_attrs["pid"] == proc.pid
        sigkill(proc.pid)
        assert proc.wait(timeout=60) == -signal.SIGKILL
        study = study_fn()
        finished.update(snapshot_finished(study, client))
        left = study.get_trials(deepcopy=False, states=(State.RUNNING,))
        assert len(left) <= 1, [t.number for t in left]  # one worker, one trial at a time
        # a trial whose objective had already decided (its outcome recorded, Optuna not yet
        # told) ends as it decided, not as interrupted: that kill does not count either
        killed += [t.number for t in left if OUTCOME not in t.user_attrs]
        after = max(t.number for t in study.get_trials(deepcopy=False) if t.state != State.WAITING)
    assert len(killed) == kills
    log = cwd / "rerun.log"
    (code,) = wait_all([start_study(config, store_args, cwd, log)], [log])
    return {"killed": killed, "finished": finished, "code": code, "log": log}


def check_kills(outcome: dict, study: optuna.Study, client, experiment_id: str,
                target: int) -> dict:
    """After :func:`kill_and_rerun`: the target reached, one run per trial, nothing running;
    every trial finished before a kill unchanged in both stores; each killed trial FAIL
    (interrupted) with its run KILLED, and retried once with the same parameters."""
    from hpstudy.experiment.objective import OUTCOME

    assert outcome["code"] == 0, outcome["log"].read_text()
    by_number = check_study(study, client, experiment_id, target)
    now = snapshot_finished(study, client)
    for number, before in outcome["finished"].items():
        assert now[number] == before, number
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    for number in outcome["killed"]:
        t, run = trials[number], by_number[number]
        assert t.state == State.FAIL and t.user_attrs[OUTCOME] == "interrupted"
        assert run.info.status == "KILLED"
        assert run.data.tags["hpstudy.reason"].startswith("interrupted")
        # queued again with the same parameters (Optuna's retry_history records the chain)
        (retry,) = [r for r in trials.values() if r.system_attrs.get("retry_history", [None])[-1]
                    == number]
        assert retry.params == t.params
    return by_number
