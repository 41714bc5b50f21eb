"""Every use hpstudy makes of Optuna's private fields, in one place, with the reason for each.

Optuna's public API runs trials through ``study.optimize`` or ``study.ask``/``tell``. hpstudy
instead keeps a study's trial count exact across processes and machines with claim tokens
(:mod:`hpstudy.experiment.claims`): a worker turns a queued WAITING trial RUNNING in the storage
itself, and settles the trials of dead workers. That needs the storage of a study and the
storage ids of its trials, which the public API does not expose:

- ``Study._storage``: the storage the study was opened on. The storage's *methods* used here
  (``set_trial_state_values``, ``set_trial_user_attr``, ``record_heartbeat``,
  ``get_heartbeat_interval``, ``get_trial_number_from_id``) are public API of
  ``optuna.storages.BaseStorage`` / ``BaseHeartbeat``; only the way to reach the object is not.
- ``Study._study_id`` and ``FrozenTrial._trial_id``: the keys those methods take.
- ``BaseHeartbeat._get_stale_trial_ids``: which RUNNING trials' heartbeats stopped. Optuna's
  own ``fail_stale_trials`` uses it; hpstudy needs the ids *before* failing them, to settle
  each one as its objective had decided (:func:`hpstudy.experiment.runner.settle_dead_trials`).
- ``_CachedStorage._backend``: Optuna wraps an RDB storage in a cache; the URL hpstudy opened
  it with (the key of the study's lock) is kept on the storage underneath.

Nothing else in hpstudy touches an underscored Optuna name (a test checks it), and
``tests/experiment/test_optuna_internals.py`` checks that each of these still exists and means
the same on the installed Optuna, for a journal, an SQLite and an in-memory storage, so that an
upgrade that moves one fails the suite instead of a study.
"""

from __future__ import annotations

import optuna
from optuna.storages import BaseStorage

__all__ = [
    "heartbeat_interval", "record_heartbeat", "set_state", "set_user_attr", "stale_trial_ids",
    "storage_of", "storage_url", "trial_id", "trial_number",
]

State = optuna.trial.TrialState


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage the study reads and writes (``Study._storage``)."""
    return study._storage


def trial_id(trial: optuna.trial.FrozenTrial | optuna.Trial) -> int:
    """The storage id of a trial (``_trial_id``), the key of every storage call on it."""
    return trial._trial_id


def trial_number(study: optuna.Study, trial_id: int) -> int:
    """The study-wide number of the trial with storage id ``trial_id``."""
    return storage_of(study).get_trial_number_from_id(trial_id)


def set_state(study: optuna.Study, trial_id: int, state: State, values=None) -> bool:
    """Move a trial to ``state`` in the storage; False if another process moved it first.

    Raises ``optuna.exceptions.UpdateFinishedTrialError`` if the trial has already finished.
    """
    return storage_of(study).set_trial_state_values(trial_id, state, values)


def set_user_attr(study: optuna.Study, trial_id: int, key: str, value) -> None:
    """Set a user attribute of any trial of the study, not only one this process asked for."""
    storage_of(study).set_trial_user_attr(trial_id, key, value)


def heartbeat_interval(study: optuna.Study) -> int | None:
    """Seconds between the heartbeats of a running trial, None when the storage has none (a
    journal file, memory)."""
    storage = storage_of(study)
    if not isinstance(storage, optuna.storages._heartbeat.BaseHeartbeat):
        return None
    return storage.get_heartbeat_interval()


def record_heartbeat(study: optuna.Study, trial_id: int) -> None:
    """Record that the trial's worker is alive (storages with heartbeats only)."""
    storage_of(study).record_heartbeat(trial_id)


def stale_trial_ids(study: optuna.Study) -> set[int]:
    """Ids of the RUNNING trials whose heartbeat stopped (empty without heartbeats)."""
    if heartbeat_interval(study) is None:
        return set()
    return set(storage_of(study)._get_stale_trial_ids(study._study_id))


def storage_url(study: optuna.Study) -> str | None:
    """The URL or journal path hpstudy opened the study's storage with
    (:func:`hpstudy.experiment.storage.open_storage` keeps it as ``hpstudy_url``), None for a
    storage hpstudy did not open (a study in memory)."""
    storage = storage_of(study)
    if isinstance(storage, optuna.storages._CachedStorage):
        storage = storage._backend
    return getattr(storage, "hpstudy_url", None)
