"""Optuna storages: the default journal file, or any URL Optuna understands.

- default: ``mlruns/optuna.journal``, a :class:`optuna.storages.JournalStorage` on a
  :class:`~optuna.storages.journal.JournalFileBackend` (safe for several processes on one
  machine; no database server needed);
- ``HPSTUDY_STORAGE`` or ``--storage``: a path ending in ``.journal`` / ``.log``, or a database
  URL (``sqlite:///…``, ``postgresql://…``, ``mysql://…``) for :class:`optuna.storages.RDBStorage`
  with heartbeats, so that the trial of a worker that dies is failed and retried by another
  (:class:`~hpstudy.experiment.claims.RetryStaleTrial`): a trial whose worker has not been heard
  of for :data:`GRACE_SECONDS` is failed by the next worker that looks.

A journal file is checked before Optuna reads it: one that does not end with a complete record
(a truncated copy, garbage appended) is refused, because Optuna would skip the broken last line
and append after it, breaking the file for good. Nothing is ever written to a journal that
cannot be read. A SIGKILLed worker may leave the journal's lock file ``<journal>.lock``
behind; it is broken after :data:`JOURNAL_LOCK_GRACE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
from pathlib import Path

import optuna

from hpstudy.errors import HpstudyError

DEFAULT_STORAGE = "mlruns/optuna.journal"
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 120
#: seconds a journal lock file may stay unchanged before a waiting worker breaks it (a lock is
#: held for the milliseconds of one append; Optuna's default is 30 s)
JOURNAL_LOCK_GRACE_SECONDS = 5
#: attempts at opening a database storage (workers that create its tables at the same moment
#: may collide once)
RDB_ATTEMPTS = 3


class StorageError(HpstudyError, RuntimeError):
    """The Optuna storage cannot be opened or read."""


def redact(url: str) -> str:
    """``url`` with the password of ``scheme://user:password@host`` replaced by ``***``."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", url)


def resolve_storage_url(storage: str | None = None) -> str:
    """``storage``, else ``$HPSTUDY_STORAGE``, else the default journal file."""
    return storage or os.environ.get("HPSTUDY_STORAGE") or DEFAULT_STORAGE


def is_journal(url: str) -> bool:
    """True for a journal file path (anything that is not a ``scheme://`` URL)."""
    return "://" not in url


def open_storage(url: str, stale_trial_callback=None):
    """Open the storage at ``url`` (see the module docstring); errors name the file or URL.

    Parameters
    ----------
    url : str
        A journal file path or a database URL.
    stale_trial_callback : callable, optional
        ``(study, frozen_trial)``, called for each RUNNING trial of a database storage whose
        heartbeat stopped; the study runner passes
        :class:`hpstudy.experiment.claims.RetryStaleTrial`. Readers (reports) pass nothing.
    """
    if is_journal(url):
        return _open_journal(Path(url))
    check_lockable(url)
    import warnings

    from optuna.storages import RDBStorage

    for attempt in range(RDB_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.8
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS,
                                     grace_period=GRACE_SECONDS,
                                     heartbeat_stale_trial_callback=stale_trial_callback)
            storage.hpstudy_url = url  # where study_lock finds the storage's lock
            return storage
        except Exception as err:  # noqa: BLE001 - SQLAlchemy/driver errors of many kinds
            if attempt == RDB_ATTEMPTS - 1:
                raise StorageError(f"{redact(url)}: cannot open the Optuna storage: "
                                   f"{(str(err).splitlines() or [''])[0]}") from err
            time.sleep(attempt + 1)  # workers creating a new database's tables together
    return None


def _open_journal(path: Path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path.parent.mkdir(parents=True, exist_ok=True)
    check_journal(path)
    try:
        # The open-lock (O_EXCL lock file) works on every local filesystem; the default
        # symlink lock does too, but leaves a dangling link when a worker is SIGKILLed.
        lock = JournalFileOpenLock(str(path), grace_period=JOURNAL_LOCK_GRACE_SECONDS)
        storage = JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
    except Exception as err:  # noqa: BLE001 - a corrupt journal raises many kinds of errors
        raise StorageError(f"{path}: cannot read the Optuna journal ({type(err).__name__}: "
                           f"{(str(err).splitlines() or [''])[0]}); the file was left "
                           "untouched") from err
    storage.hpstudy_url = str(path)  # where study_lock finds the storage's lock
    return storage


def _last_line(path: Path, chunk: int = 1 << 16) -> bytes:
    """The file's last line with its line end, if it has one (read from the end)."""
    with open(path, "rb") as f:
        pos = f.seek(0, os.SEEK_END)
        tail = b""
        while pos > 0 and tail[:-1].rfind(b"\n") < 0:
            start = max(0, pos - chunk)
            f.seek(start)
            tail, pos = f.read(pos - start) + tail, start
        return tail[tail[:-1].rfind(b"\n") + 1:]


def check_journal(path: Path) -> None:
    """Refuse a journal file that is not a regular file or does not end with a complete record
    (a JSON object and a line end); the file is only read.

    Raises
    ------
    StorageError
        Naming the file and what is wrong with it.
    """
    if path.exists() and not path.is_file():
        raise StorageError(f"{path}: not a file; --storage must name an Optuna journal file "
                           "or a database URL")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        last = _last_line(path)
    except OSError as err:
        raise StorageError(f"{path}: cannot read the Optuna journal ({err.strerror})") from err
    try:
        record = json.loads(last) if last.endswith(b"\n") else None
    except ValueError:  # includes UnicodeDecodeError
        record = None
    if not isinstance(record, dict) or "op_code" not in record:
        raise StorageError(f"{path}: cannot read the Optuna journal: it is truncated or corrupt "
                           "(its last line is not a complete record); the file was left untouched: "
                           "restore it from a copy, or pass --storage to start another journal")


def study_names(url: str) -> list[str]:
    """Names of the studies stored at ``url`` (empty when the journal does not exist yet)."""
    if is_journal(url) and not Path(url).exists():
        return []
    return [s.study_name for s in optuna.get_all_study_summaries(open_storage(url),
                                                                 include_best_trial=False)]


#: locks of this process, for storages without a URL (in memory)
_LOCAL_LOCKS: dict[str, threading.Lock] = {}


@contextlib.contextmanager
def study_lock(url: str | None, name: str):
    """Hold the lock of study ``name`` in the storage at ``url``: one holder at a time among all
    the processes (on all the machines) that use the storage.

    - journal file or SQLite database: an ``O_EXCL`` lock file beside it
      (``<file>.<hash of the name>.lock``), broken after :data:`JOURNAL_LOCK_GRACE_SECONDS`
      when a killed process left it;
    - PostgreSQL: a session advisory lock, MySQL: ``GET_LOCK``, on a connection of their own
      (the server releases them when the holder's connection dies);
    - no URL (a study in memory): a lock of this process.

    Held for milliseconds: queueing tokens, creating a study's parent run, registering a model.

    Raises
    ------
    StorageError
        For a database other than SQLite, PostgreSQL and MySQL (:func:`check_lockable`).
    """
    key = f"hpstudy:{name}"
    if url is None:
        with _LOCAL_LOCKS.setdefault(key, threading.Lock()):
            yield
        return
    path = Path(url) if is_journal(url) else _sqlite_path(url)
    if path is not None:
        yield from _file_lock(path, key)
        return
    check_lockable(url)
    yield from _database_lock(url, key)


#: database URL schemes (before any ``+driver``) whose study lock :func:`study_lock` can take
LOCKABLE_DATABASES = ("sqlite", "postgresql", "mysql")


def check_lockable(url: str) -> None:
    """Refuse a database URL on which :func:`study_lock` cannot take a lock shared by every
    process, since the study's exact trial target rests on it.

    Raises
    ------
    StorageError
        Naming the URL (password hidden) and the databases that work.
    """
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in LOCKABLE_DATABASES:
        raise StorageError(
            f"{redact(url)}: hpstudy cannot lock a study in a {scheme} database, and its "
            "workers need that lock to keep the trial count exact; use a journal file or an "
            f"SQLite, PostgreSQL or MySQL URL")


def _sqlite_path(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database \
        else None


def _file_lock(path: Path, key: str):
    from optuna.storages.journal import JournalFileOpenLock

    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    lock = JournalFileOpenLock(f"{path}.{digest}", grace_period=JOURNAL_LOCK_GRACE_SECONDS)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _database_lock(url: str, key: str):
    import sqlalchemy

    postgres = url.startswith("postgresql")
    take = "SELECT pg_advisory_lock(hashtextextended(:k, 0))" if postgres \
        else "SELECT GET_LOCK(:k, -1)"
    give = "SELECT pg_advisory_unlock(hashtextextended(:k, 0))" if postgres \
        else "SELECT RELEASE_LOCK(:k)"
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(take), {"k": key})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text(give), {"k": key})
    finally:
        engine.dispose()
