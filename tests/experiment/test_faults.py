"""Faults on one machine, with the default stores (an Optuna journal file and an MLflow SQLite
database): workers killed with SIGKILL, two studies sharing the stores, corrupted or truncated
store files, a lock file left by a killed process. No fault may lose a finished trial, leave
anything RUNNING, log a trial twice, or overwrite a store it cannot read.

The same kill-and-rerun cycle runs on PostgreSQL in ``test_scale.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import optuna
import pytest
from conftest import tiny_experiment
from procs import (
    KILL_TARGET,
    State,
    check_kills,
    check_study,
    kill_and_rerun,
    running_trial,
    sigkill,
    slow_experiment,
    start_study,
    wait_all,
)

from hpstudy.cli import main
from hpstudy.experiment.claims import claim, queue_token
from hpstudy.experiment.runner import recover_stale
from hpstudy.experiment.tracking import Tracker

# ------------------------------------------------------------------------------------------
# SIGKILL
# ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_three_times_then_rerun_on_the_journal(stores):
    config = slow_experiment(stores.root, "killed", trials=KILL_TARGET)
    outcome = kill_and_rerun(config, stores.args(), stores.root,
                             lambda: stores.load_study("killed"), stores.client())
    check_kills(outcome, stores.load_study("killed"), stores.client(),
                stores.experiment_id("killed"), KILL_TARGET)
    assert len(outcome["killed"]) == 3
    assert "3 interrupted" in outcome["log"].read_text()


@pytest.mark.slow
def test_a_killed_worker_process_is_replaced_by_its_sibling(stores):
    """``--workers 2``: one worker process is SIGKILLed in the middle of a trial; the other
    fails and reruns that trial, and the study ends with its target and exit code 0."""
    config = slow_experiment(stores.root, "sibling", trials=30, epochs=3)
    log = stores.root / "parent.log"
    parent = start_study(config, stores.args(), stores.root, log, "--workers", "2")
    # the parent process is a worker too; kill the spawned one
    victim = running_trial(lambda: stores.load_study("sibling"), [parent], [log],
                           not_pid=parent.pid)
    sigkill(victim.user_attrs["pid"])
    assert wait_all([parent], [log]) == [0], log.read_text()
    assert "stopped early; the others finished the study" in log.read_text()
    outcome = {"code": 0, "killed": [victim.number], "finished": {}, "log": log}
    check_kills(outcome, stores.load_study("sibling"), stores.client(),
                stores.experiment_id("sibling"), 30)


@pytest.mark.slow
def test_trials_left_queued_by_a_timeout_are_run_by_the_next_run(stores, capsys):
    """A run that stops early (here a timeout of a millisecond) leaves the trials it did not
    start queued; the next run runs exactly those."""
    config = tiny_experiment(stores.root, "later", trials=3, epochs=2)
    assert main(["study", str(config), "--no-progress", "--timeout", "0.001",
                 *stores.args()]) == 0
    states = [t.state for t in stores.load_study("later").trials]
    queued = states.count(State.WAITING)
    assert queued >= 1 and states.count(State.COMPLETE) == 3 - queued
    assert f"{queued} queued for the next run" in capsys.readouterr().out
    (parent,) = stores.parent_runs("later")
    assert parent.data.metrics["n_queued"] == queued
    assert main(["study", str(config), "--no-progress", *stores.args()]) == 0
    study = stores.load_study("later")
    assert [t.state for t in study.trials] == [State.COMPLETE] * 3
    check_study(study, stores.client(), stores.experiment_id("later"), 3)


# ------------------------------------------------------------------------------------------
# Two studies in the same stores
# ------------------------------------------------------------------------------------------


def own_runs(stores, name: str) -> list:
    runs = stores.trial_runs(name)
    assert {r.data.tags["hpstudy.study"] for r in runs} <= {name}
    return runs


@pytest.mark.slow
def test_two_studies_in_the_same_stores_do_not_interfere(stores):
    a = tiny_experiment(stores.root, "alpha", trials=3, epochs=2)
    b = tiny_experiment(stores.root, "beta", trials=2, epochs=2)
    assert main(["study", str(a), "--no-progress", *stores.args()]) == 0
    assert main(["study", str(b), "--no-progress", *stores.args()]) == 0
    # then both at once, each raising its own target
    logs = [stores.root / "alpha.log", stores.root / "beta.log"]
    procs = [start_study(a, stores.args(), stores.root, logs[0], "--trials", "5"),
             start_study(b, stores.args(), stores.root, logs[1], "--trials", "4")]
    assert wait_all(procs, logs) == [0, 0]
    client = stores.client()
    for name, target in (("alpha", 5), ("beta", 4)):
        study = stores.load_study(name)
        assert len(study.trials) == target
        check_study(study, client, stores.experiment_id(name), target)
        assert len(own_runs(stores, name)) == target


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_recovering_one_study_leaves_the_other_alone(stores):
    """A trial of study ``b`` looks stale (its pid is dead): recovering ``a`` touches neither
    it nor its run; recovering ``b`` ends both."""
    tracker = Tracker(stores.uri)
    storage = stores.optuna_storage()
    studies, exp_ids, run_ids = {}, {}, {}
    for name in ("a", "b"):
        studies[name] = optuna.create_study(study_name=name, storage=storage)
        queue_token(studies[name])
        trial_id = claim(studies[name])
        storage.set_trial_user_attr(trial_id, "pid", dead_pid())
        exp_ids[name] = tracker.experiment_id(name)
        parent = tracker.study_run(exp_ids[name], name)
        run_ids[name] = tracker.start_trial(exp_ids[name], parent, name, 0, {})
    assert recover_stale(studies["a"], tracker, exp_ids["a"]) == 1
    assert studies["b"].trials[0].state == State.RUNNING
    assert tracker.get_run(run_ids["b"]).info.status == "RUNNING"
    assert tracker.get_run(run_ids["a"]).info.status == "KILLED"
    assert recover_stale(studies["b"], tracker, exp_ids["b"]) == 1
    assert tracker.get_run(run_ids["b"]).info.status == "KILLED"
    # each stale trial was queued again in its own study
    assert [t.state for t in studies["a"].trials] == [State.FAIL, State.WAITING]
    assert [t.state for t in studies["b"].trials] == [State.FAIL, State.WAITING]


# ------------------------------------------------------------------------------------------
# Corrupted, truncated or unreadable store files
# ------------------------------------------------------------------------------------------


def valid_journal(stores) -> bytes:
    """A journal with a study and a few finished trials, written by Optuna."""
    study = optuna.create_study(study_name="other", storage=stores.optuna_storage())
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    return stores.journal.read_bytes()


def _garbage_in_the_middle(good: bytes) -> bytes:
    lines = good.splitlines(keepends=True)
    return b"".join([*lines[: len(lines) // 2], b"{not json}\n", *lines[len(lines) // 2:]])


JOURNAL_DAMAGE = {
    "truncated in its last record": lambda good: good[:-9],
    "cut in the middle of a record": lambda good: good[: good.index(b"\n", len(good) // 2) - 3],
    "garbage appended as a line": lambda good: good + b"garbage\n",
    "an empty last line": lambda good: good + b"\n",
    "garbage in the middle": _garbage_in_the_middle,
    "binary noise": lambda good: bytes(range(256)) * 4,
}


def assert_refused(capsys, *needles: str) -> None:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hpstudy study: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("damage", sorted(JOURNAL_DAMAGE))
def test_damaged_journal_is_refused_and_left_untouched(stores, capsys, damage):
    bad = JOURNAL_DAMAGE[damage](valid_journal(stores))
    stores.journal.write_bytes(bad)
    os.utime(stores.journal, (1_000_000_000, 1_000_000_000))
    config = tiny_experiment(stores.root, "victim")
    assert main(["study", str(config), "--no-progress", *stores.args()]) == 2
    assert_refused(capsys, str(stores.journal), "cannot read the Optuna journal")
    assert stores.journal.read_bytes() == bad
    assert stores.journal.stat().st_mtime == 1_000_000_000
    assert stores.client().get_experiment_by_name("victim") is None  # nothing half-logged


def test_journal_that_is_a_folder_is_refused(stores, capsys):
    stores.journal.mkdir()
    config = tiny_experiment(stores.root, "victim")
    assert main(["study", str(config), "--no-progress", *stores.args()]) == 2
    assert_refused(capsys, str(stores.journal), "not a file")
    assert stores.client().get_experiment_by_name("victim") is None


DB_DAMAGE = {
    "garbage": lambda good: b"this is not a database " * 50,
    "truncated to its first half": lambda good: good[: len(good) // 2],
    "truncated to its header": lambda good: good[:100],
    "its pages zeroed": lambda good: good[:4096] + bytes(len(good) - 4096),
}


@pytest.mark.parametrize("damage", sorted(DB_DAMAGE))
def test_unreadable_mlflow_database_is_refused_and_left_untouched(stores, capsys, damage):
    bad = DB_DAMAGE[damage](stores.db.read_bytes())
    stores.db.write_bytes(bad)
    os.utime(stores.db, (1_000_000_000, 1_000_000_000))
    config = tiny_experiment(stores.root, "victim")
    assert main(["study", str(config), "--no-progress", *stores.args()]) == 2
    assert_refused(capsys, str(stores.db), "cannot open the MLflow tracking store")
    assert stores.db.read_bytes() == bad and stores.db.stat().st_mtime == 1_000_000_000
    assert not stores.journal.exists()


def test_mlflow_database_that_is_a_folder_is_refused_at_once(stores, capsys):
    stores.db.unlink()
    stores.db.mkdir()
    config = tiny_experiment(stores.root, "victim")
    assert main(["study", str(config), "--no-progress", *stores.args()]) == 2
    assert_refused(capsys, str(stores.db), "is not a file")
    assert not stores.journal.exists()


# ------------------------------------------------------------------------------------------
# A lock file left behind
# ------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_journal_lock_left_by_a_killed_process_is_broken(stores, capsys):
    """A worker SIGKILLed while appending to the journal leaves ``<journal>.lock``; the next
    run breaks it after the grace period (seconds, not Optuna's default 30 s) and finishes."""
    config = tiny_experiment(stores.root, "locked", trials=2, epochs=2)
    lock = stores.root / "optuna.journal.lock"
    lock.touch()
    assert main(["study", str(config), "--no-progress", *stores.args()]) == 0
    assert not lock.exists()
    assert len(stores.load_study("locked").trials) == 2
    assert "2 completed" in capsys.readouterr().out



@pytest.mark.parametrize(("outcome", "state", "status"), [
    ("completed", State.COMPLETE, "FINISHED"),
    ("pruned", State.PRUNED, "KILLED"),
    ("diverged", State.FAIL, "FAILED"),
])
def test_a_trial_whose_objective_had_finished_ends_as_it_decided(stores, outcome, state, status):
    """The worker died after its objective finished (outcome and values recorded, the run
    ended or not) but before Optuna was told: the trial is not lost, nor run again."""
    from hpstudy.experiment.objective import OUTCOME, VALUES

    tracker = Tracker(stores.uri)
    storage = stores.optuna_storage()
    study = optuna.create_study(study_name="late", storage=storage, direction="maximize")
    queue_token(study)
    trial_id = claim(study)
    for key, value in (("pid", dead_pid()), (OUTCOME, outcome), (VALUES, [0.75])):
        storage.set_trial_user_attr(trial_id, key, value)
    exp_id = tracker.experiment_id("late")
    run_id = tracker.start_trial(exp_id, tracker.study_run(exp_id, "late"), "late", 0, {})
    assert recover_stale(study, tracker, exp_id) == 1
    (trial,) = study.trials  # nothing queued again: the trial counts
    assert trial.state == state
    assert trial.values == ([0.75] if state == State.COMPLETE else None)
    run = tracker.get_run(run_id)
    assert run.info.status == status and run.data.tags["hpstudy.state"] == state.name
