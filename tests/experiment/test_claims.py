"""Claim tokens (hpstudy.experiment.claims): exact top-ups, exclusive claims, replacements,
the heartbeat callback and the study lock, on every kind of storage hpstudy opens."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import optuna
import pytest

from hpstudy.experiment import claims
from hpstudy.experiment.claims import (
    MAX_RETRY,
    RetryStaleTrial,
    claim,
    queue_token,
    requeue,
    run_claimed,
    tally,
    top_up,
)
from hpstudy.experiment.objective import OUTCOME
from hpstudy.experiment.storage import open_storage, study_lock

State = optuna.trial.TrialState


def add(study, state, outcome=None, **params):
    attrs = {} if outcome is None else {OUTCOME: outcome}
    dists = {k: optuna.distributions.FloatDistribution(0, 1) for k in params}
    study.add_trial(optuna.trial.create_trial(
        state=state, value=0.5 if state == State.COMPLETE else None, params=params,
        distributions=dists, user_attrs=attrs))


def test_top_up_queues_what_the_target_misses():
    study = optuna.create_study()
    add(study, State.COMPLETE)
    add(study, State.FAIL, "diverged")  # counts
    add(study, State.FAIL, "interrupted")  # does not
    add(study, State.RUNNING)
    queue_token(study)
    assert tally(study) == claims.Tally(counted=2, running=1, queued=1)
    assert top_up(study, 7) == 3
    assert tally(study).queued == 4 and tally(study).missing(7) == 0
    assert top_up(study, 7) == 0 and top_up(study, 5) == 0  # never takes tokens back


def test_grid_studies_have_no_tokens():
    study = optuna.create_study(sampler=optuna.samplers.GridSampler({"x": [0.0, 1.0]}))
    assert top_up(study, 5) == 0 and not study.trials
    requeue(study, optuna.trial.create_trial(state=State.FAIL), retry=False)
    assert not study.trials


def _race(path: str, target: int, barrier, out) -> None:
    """One process of the race: wait for the others, top the study up, claim until none left."""
    study = optuna.load_study(study_name="s", storage=open_storage(path))
    barrier.wait(timeout=120)
    top_up(study, target)
    got = []
    while (trial_id := claim(study)) is not None:
        got.append(trial_id)
    out.put(got)


@pytest.fixture(params=["journal", "sqlite"])
def storage_url(request, tmp_path) -> str:
    return str(tmp_path / "optuna.journal") if request.param == "journal" \
        else f"sqlite:///{tmp_path / 'optuna.db'}"


@pytest.mark.slow
def test_racing_processes_queue_the_target_once_and_claim_each_token_once(storage_url):
    """Three processes top the same new study up to 12 at the same moment (under the study's
    lock), then claim tokens as fast as they can: 12 trials, each claimed by one of them."""
    study = optuna.create_study(study_name="s", storage=open_storage(storage_url))
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(storage_url, 12, barrier, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    got = [i for _ in procs for i in queue.get(timeout=180)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert tally(study) == claims.Tally(counted=0, running=12, queued=0)
    assert sorted(got) == sorted(t._trial_id for t in study.trials)  # each token once
    assert all({"host", "pid"} <= set(t.user_attrs) for t in study.trials)


def failed_trial(study, **params):
    add(study, State.FAIL, "interrupted", **params)
    return study.trials[-1]


def test_requeue_retries_the_same_parameters_then_a_fresh_trial():
    study = optuna.create_study()
    trial = failed_trial(study, x=0.25)
    for _ in range(MAX_RETRY):
        requeue(study, trial, retry=True)
        retry = study.trials[-1]
        assert retry.state == State.WAITING and retry.params == {"x": 0.25}
        assert retry.system_attrs["failed_trial"] == 0
        study._storage.set_trial_state_values(retry._trial_id, State.RUNNING)
        study._storage.set_trial_state_values(retry._trial_id, State.FAIL)
        trial = study.trials[-1]
    assert trial.system_attrs["retry_history"] == list(range(MAX_RETRY))
    requeue(study, trial, retry=True)  # retries used up: a fresh token
    assert study.trials[-1].state == State.WAITING and study.trials[-1].params == {}
    requeue(study, failed_trial(study, x=0.5), retry=False)  # an error: a fresh token
    assert study.trials[-1].params == {} and "failed_trial" not in study.trials[-1].system_attrs


def test_run_claimed_replaces_an_interrupted_trial_and_raises_again():
    study = optuna.create_study()
    queue_token(study)
    trial_id = claim(study)

    def objective(trial):
        trial.suggest_float("x", 0, 1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_claimed(study, trial_id, objective)
    first, retry = study.trials
    assert first.state == State.FAIL
    assert retry.state == State.WAITING and retry.params == first.params


def test_run_claimed_replaces_an_error_with_a_fresh_trial():
    study = optuna.create_study()
    queue_token(study)

    def objective(trial):
        trial.suggest_float("x", 0, 1)
        raise RuntimeError("boom")

    frozen = run_claimed(study, claim(study), objective)
    assert frozen.state == State.FAIL
    assert study.trials[-1].state == State.WAITING and study.trials[-1].params == {}


def test_heartbeat_of_a_dead_worker_queues_its_trial_again(tmp_path):
    """An RDB storage whose heartbeat stopped: Optuna fails the trial, and RetryStaleTrial
    queues it again without the dead worker's tags."""
    from optuna.storages import RDBStorage

    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        storage = RDBStorage(f"sqlite:///{tmp_path / 'hb.db'}", heartbeat_interval=1,
                             grace_period=1, heartbeat_stale_trial_callback=RetryStaleTrial())
    study = optuna.create_study(storage=storage)
    queue_token(study)
    trial_id = claim(study)  # records the first heartbeat, tags host and pid
    optuna.Trial(study, trial_id).suggest_float("x", 0, 1)
    time.sleep(2.5)  # the worker "died": no heartbeat for longer than the grace period
    claims.fail_stale(study)
    dead, retry = study.trials
    assert dead.state == State.FAIL
    assert retry.state == State.WAITING and retry.params == dead.params
    assert "pid" in dead.user_attrs and "pid" not in retry.user_attrs
    assert retry.system_attrs["failed_trial"] == dead.number


def test_stale_journal_lock_is_broken(tmp_path):
    """A lock file left by a SIGKILLed holder is broken after the grace period."""
    from hpstudy.experiment import storage as storage_module

    journal = tmp_path / "optuna.journal"
    with study_lock(str(journal), "s"):
        (lock_file,) = tmp_path.glob("optuna.journal.*.lock")
    lock_file.touch()  # as a killed holder leaves it
    with study_lock(str(journal), "s"):
        pass  # acquired after the grace period
    assert storage_module.JOURNAL_LOCK_GRACE_SECONDS <= 10
    assert not lock_file.exists()


def test_lock_of_another_study_does_not_wait(tmp_path):
    journal = str(tmp_path / "optuna.journal")
    with study_lock(journal, "a"), study_lock(journal, "b"):
        assert len(list(Path(tmp_path).glob("*.lock"))) == 2


def test_study_lock_refuses_a_database_it_cannot_lock():
    """It used to hold no lock at all there, silently; the exact target rests on it."""
    from hpstudy.experiment import storage

    with pytest.raises(storage.StorageError, match=r"oracle://u:\*\*\*@h/db: hpstudy cannot lock"):
        with storage.study_lock("oracle://u:pw@h/db", "s"):
            pass
    for url in ("sqlite:///x.db", "postgresql+psycopg://h/db", "mysql://h/db"):
        storage.check_lockable(url)  # no error
