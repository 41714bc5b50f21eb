"""Optuna storages: the default journal file, or any URL Optuna understands.

- default: ``mlruns/optuna.journal``, a :class:`optuna.storages.JournalStorage` on a
  :class:`~optuna.storages.journal.JournalFileBackend` (safe for several processes on one
  machine; no database server needed);
- ``HPSTUDY_STORAGE`` or ``--storage``: a path ending in ``.journal`` / ``.log``, or a database
  URL (``sqlite:///…``, ``postgresql://…``, ``mysql://…``) for :class:`optuna.storages.RDBStorage`
  with heartbeats, so that the trial of a worker that dies is failed and retried by another.
"""

from __future__ import annotations

import os
from pathlib import Path

import optuna

DEFAULT_STORAGE = "mlruns/optuna.journal"
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 120


class StorageError(RuntimeError):
    """The Optuna storage cannot be opened or read."""


def resolve_storage_url(storage: str | None = None) -> str:
    """``storage``, else ``$HPSTUDY_STORAGE``, else the default journal file."""
    return storage or os.environ.get("HPSTUDY_STORAGE") or DEFAULT_STORAGE


def is_journal(url: str) -> bool:
    """True for a journal file path (anything that is not a ``scheme://`` URL)."""
    return "://" not in url


def open_storage(url: str):
    """Open the storage at ``url`` (see the module docstring); errors name the file or URL."""
    if is_journal(url):
        return _open_journal(Path(url))
    from optuna.storages import RDBStorage, RetryFailedTrialCallback

    try:
        return RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                          failed_trial_callback=RetryFailedTrialCallback(max_retry=3))
    except Exception as err:  # noqa: BLE001 - SQLAlchemy/driver errors of many kinds
        raise StorageError(f"{url}: cannot open the Optuna storage: "
                           f"{(str(err).splitlines() or [''])[0]}") from err


def _open_journal(path: Path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The open-lock (O_EXCL lock file) works on every local filesystem; the default
        # symlink lock does too, but leaves a dangling link when a worker is SIGKILLed.
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return JournalStorage(backend)
    except Exception as err:  # noqa: BLE001 - a corrupt journal raises many kinds of errors
        raise StorageError(f"{path}: cannot read the Optuna journal ({type(err).__name__}: "
                           f"{(str(err).splitlines() or [''])[0]}); the file was left "
                           "untouched") from err


def study_names(url: str) -> list[str]:
    """Names of the studies stored at ``url`` (empty when the journal does not exist yet)."""
    if is_journal(url) and not Path(url).exists():
        return []
    return [s.study_name for s in optuna.get_all_study_summaries(open_storage(url),
                                                                 include_best_trial=False)]
