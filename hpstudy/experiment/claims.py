"""Exact trial targets across processes and machines: queued trials as claim tokens.

Every worker of a study (a ``--workers`` process, or an ``hpstudy study`` process on another
machine) keeps the study at

    counted + running + queued == target

*counted* trials completed, were pruned or diverged (:func:`counted`); *running* ones are
RUNNING; *queued* ones are Optuna WAITING trials, the claim tokens. A worker runs a trial only
after it claimed a token (:func:`claim`): it turns one WAITING trial RUNNING, which the storage
does once (PostgreSQL, MySQL: under a row lock; a journal file: the first writer wins; SQLite,
which has no row locks: under the study's lock), so no two workers run the same token and no
worker runs a trial without one. A token made by
:func:`queue_token` fixes no parameter: the sampler samples them all.

Three rules keep the equation true:

1. :func:`top_up` queues ``target - counted - running - queued`` tokens when that is positive: at
   the start of a run (a new study, a raised target). It re-reads the study and writes under
   the study's lock (:func:`study_lock`), so workers that start together queue them once.
2. Whoever moves a trial from RUNNING to a state that does not count queues one trial in its
   place (:func:`requeue`): the worker whose trial raised (a fresh token) or was interrupted (the
   same parameters again), and the worker that finds a dead worker's trial (its process gone,
   or its RDB heartbeat silent: ``runner.settle_dead_trials``, with Optuna's heartbeat check
   and :class:`RetryStaleTrial` behind it). The storage accepts that move once, and dead
   trials are settled under the study's lock, so each lost trial is replaced once.
3. A worker stops when no token is left and no trial is running anywhere (a running trial may
   still fail and be replaced); see ``runner.next_claim``.

A study with the grid sampler has no tokens: Optuna's ``GridSampler`` refuses queued trials
that fix no parameter, and stops by itself when the grid is exhausted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import warnings
from dataclasses import dataclass

import optuna
from optuna.exceptions import UpdateFinishedTrialError

from hpstudy.experiment import optuna_internals as internals
from hpstudy.experiment import storage
from hpstudy.experiment.objective import COUNTED, OUTCOME, signals_deferred

State = optuna.trial.TrialState
#: retries of one trial after its worker died; then a fresh trial takes its place
MAX_RETRY = 3


def counted(trial) -> bool:
    """Does a frozen trial count towards the target?"""
    if trial.state in (State.COMPLETE, State.PRUNED):
        return True
    return trial.state == State.FAIL and trial.user_attrs.get(OUTCOME) in COUNTED


def n_counted(study: optuna.Study) -> int:
    return sum(counted(t) for t in study.get_trials(deepcopy=False))


def uses_tokens(study: optuna.Study) -> bool:
    """Every sampler but the grid runs on claim tokens (module docstring)."""
    return not isinstance(study.sampler, optuna.samplers.GridSampler)


@dataclass(frozen=True)
class Tally:
    """The three terms of the study's equation (module docstring), from one read."""

    counted: int
    running: int
    queued: int

    def missing(self, target: int) -> int:
        """Tokens to queue so that ``counted + running + queued == target``."""
        return max(0, target - self.counted - self.running - self.queued)


def tally(study: optuna.Study) -> Tally:
    trials = study.get_trials(deepcopy=False)
    return Tally(sum(counted(t) for t in trials), sum(t.state == State.RUNNING for t in trials),
                 sum(t.state == State.WAITING for t in trials))


def queue_token(study: optuna.Study) -> None:
    """Queue one trial that fixes no parameter."""
    study.enqueue_trial({}, skip_if_exists=False)


def study_lock(study: optuna.Study):
    """The study's lock, shared by every process on its storage (a context manager; see
    :func:`hpstudy.experiment.storage.study_lock`)."""
    return storage.study_lock(internals.storage_url(study), study.study_name)


def top_up(study: optuna.Study, target: int) -> int:
    """Queue the tokens the study misses to reach ``target`` (rule 1); returns how many."""
    if not uses_tokens(study) or not tally(study).missing(target):
        return 0
    with study_lock(study):
        missing = tally(study).missing(target)
        for _ in range(missing):
            queue_token(study)
    return missing


def claim(study: optuna.Study) -> int | None:
    """Claim a queued trial: make it RUNNING, record its first heartbeat (RDB storages) and
    tag it with this host and process.

    Returns its trial id, or None when no trial is queued (or others claimed them all first).
    SQLite cannot lock the trial's row (``SELECT ... FOR UPDATE``), so there the claim is made
    under the study's lock. Ctrl-C and SIGTERM wait until the trial is tagged.
    """
    with signals_deferred():
        if (internals.storage_url(study) or "").startswith("sqlite"):
            with study_lock(study):
                return _claim(study)
        return _claim(study)


def _claim(study: optuna.Study) -> int | None:
    for trial in study.get_trials(deepcopy=False, states=(State.WAITING,)):
        trial_id = internals.trial_id(trial)
        try:
            if not internals.set_state(study, trial_id, State.RUNNING):
                continue
        except UpdateFinishedTrialError:
            continue
        if internals.heartbeat_interval(study) is not None:
            internals.record_heartbeat(study, trial_id)
        internals.set_user_attr(study, trial_id, "host", socket.gethostname())
        internals.set_user_attr(study, trial_id, "pid", os.getpid())
        return trial_id
    return None


def requeue(study: optuna.Study, trial, retry: bool) -> None:
    """Queue one trial in place of ``trial``, which ended without counting (rule 2).

    ``retry``: the same parameters again (an interrupted trial, a dead worker's), with Optuna's
    ``failed_trial`` / ``retry_history`` system attributes, at most :data:`MAX_RETRY` times per
    trial; otherwise (and for a trial that raised) a fresh token.
    """
    if not uses_tokens(study):
        return
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if not retry or len(history) > MAX_RETRY:
        queue_token(study)
        return
    system = {**trial.system_attrs, "failed_trial": history[0], "retry_history": history}
    study.add_trial(optuna.trial.create_trial(
        state=State.WAITING, params=trial.params, distributions=trial.distributions,
        system_attrs=system))


class RetryStaleTrial:
    """``heartbeat_stale_trial_callback`` of an RDB storage: the trial of a worker whose
    heartbeat stopped (a dead process or machine) is queued again for another worker.

    Unlike Optuna's ``RetryHeartbeatStaleTrialCallback`` it does not copy the dead worker's user
    attributes (its host, pid and MLflow run), and it queues a fresh trial once the retries are
    used up, so the study still reaches its target.
    """

    def __call__(self, study: optuna.Study, trial) -> None:
        requeue(study, trial, retry=True)


def fail_stale(study: optuna.Study) -> None:
    """Fail the trials whose heartbeat stopped (RDB storages; a no-op for a journal)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


@contextlib.contextmanager
def heartbeat(study: optuna.Study, trial_id: int):
    """Record the trial's heartbeat every interval of the storage while the block runs."""
    interval = internals.heartbeat_interval(study)
    if interval is None:
        yield
        return
    stop = threading.Event()

    def beat():
        while True:
            internals.record_heartbeat(study, trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"hpstudy-heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_claimed(study: optuna.Study, trial_id: int, objective):
    """Run ``objective`` on a claimed trial, tell Optuna how it ended and return the frozen
    trial. A trial that does not count is replaced (:func:`requeue`); a KeyboardInterrupt is
    raised again after that, so no trial is left RUNNING and no token is lost."""
    try:
        trial = optuna.Trial(study, trial_id)  # the sampler's before_trial / relative sampling
    except BaseException:
        internals.set_state(study, trial_id, State.FAIL)
        queue_token(study)
        raise
    values, state, stop = None, None, None
    with heartbeat(study, trial_id):
        try:
            values = objective(trial)
        except optuna.TrialPruned:
            state = State.PRUNED
        except Exception:  # noqa: BLE001 - the objective recorded the error on the trial
            state = State.FAIL
        except BaseException as err:  # Ctrl-C, SIGTERM: fail the trial, then stop
            state, stop = State.FAIL, err
    with warnings.catch_warnings():  # a non-finite value fails the trial with a warning
        warnings.simplefilter("ignore")
        frozen = study.tell(trial, values, state=state)
    if not counted(frozen):
        requeue(study, frozen, retry=stop is not None)
    if stop is not None:
        raise stop
    return frozen
