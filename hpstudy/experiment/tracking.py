"""Everything hpstudy says to MLflow goes through this module (the only one importing mlflow).

Schema (see DESIGN.md): one experiment per study, named after it; one parent run per study
(tag ``hpstudy.role = study``); one child run per trial named ``trial-0007`` with
``mlflow.parentRunId``, tags ``hpstudy.study``, ``hpstudy.trial`` and ``hpstudy.state`` (the final
Optuna state) and, for runs that did not complete, ``hpstudy.reason``.

All calls go through one :class:`MlflowClient` with explicit run ids: no global active run, so
trials in several processes never serialise on MLflow's fluent state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# With a tracking server MLflow prints a "View run ... at: http://..." line per ended run.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from hpstudy import __version__  # noqa: E402
from hpstudy.errors import HpstudyError  # noqa: E402
from hpstudy.experiment.pyfunc import write_model_data  # noqa: E402

logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEFAULT_ARTIFACT_DIR = "mlruns/artifacts"
ROLE_TAG, STUDY_TAG, TRIAL_TAG = "hpstudy.role", "hpstudy.study", "hpstudy.trial"
STATE_TAG, REASON_TAG, PARENT_TAG = "hpstudy.state", "hpstudy.reason", "mlflow.parentRunId"
_BATCH = {"metrics": 1000, "params": 100, "tags": 100}  # MLflow's log_batch limits
#: words of the errors of two processes creating (migrating) a new database at the same time
_CREATION_RACE = ("migration", "alembic", "already exists", "duplicate", "locked")


class TrackingError(HpstudyError, RuntimeError):
    """The tracking store cannot be used (unreadable database, unreachable server)."""


def resolve_tracking_uri(uri: str | None = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlruns/mlflow.db``.

    For a SQLite URI the database's folder is created, and an existing path that is not an
    SQLite database file is refused at once (:func:`check_sqlite_file`).
    """
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    if uri.startswith("sqlite:///"):
        check_sqlite_file(uri, Path(uri[len("sqlite:///"):]))
        folder = Path(uri[len("sqlite:///"):]).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise TrackingError(f"{uri}: cannot create the folder {folder} for the MLflow "
                                f"database ({err.strerror})") from err
    return uri


def check_sqlite_file(uri: str, path: Path) -> None:
    """Raise :class:`TrackingError` when ``path`` exists but is not an SQLite database file (a
    folder, or a file that does not start with SQLite's header); it is only read. An empty file
    is a new database."""
    if not path.exists():
        return
    if not path.is_file():
        raise TrackingError(f"{uri}: cannot open the MLflow tracking store: {path} is not a "
                            "file")
    try:
        with open(path, "rb") as f:
            header = f.read(16)
    except OSError as err:
        raise TrackingError(f"{uri}: cannot open the MLflow tracking store: cannot read {path} "
                            f"({err.strerror})") from err
    if header and header != b"SQLite format 3\x00":
        raise TrackingError(f"{uri}: cannot open the MLflow tracking store: {path} is not an "
                            "SQLite database; it was left untouched")


# -- new SQLite stores from a template ---------------------------------------------------------
#
# MLflow creates a new database by running its whole chain of Alembic migrations, about 5 s of
# CPU on every new store (a new project folder, each study of a benchmark, each test), which is
# most of a short study's start-up. The result is the same file for one version of MLflow and
# SQLAlchemy, so hpstudy keeps a copy of one freshly migrated, empty database per version in a
# cache folder and starts new stores as copies of it. MLflow still opens the copy itself and
# checks that its schema is the current one. Only the Default experiment's artifact location
# depends on where MLflow was started; it is rewritten the way MLflow would have set it.

def _cache_dir() -> Path:
    """``$HPSTUDY_CACHE_DIR``, else ``$XDG_CACHE_HOME/hpstudy``, else ``~/.cache/hpstudy``."""
    if os.environ.get("HPSTUDY_CACHE_DIR"):
        return Path(os.environ["HPSTUDY_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hpstudy"


def template_path() -> Path:
    """The cached empty database for this MLflow and SQLAlchemy version."""
    import sqlalchemy

    return _cache_dir() / f"mlflow-{mlflow.__version__}-sqlalchemy-{sqlalchemy.__version__}.db"


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores and query strings)."""
    if not uri.startswith("sqlite:///") or "?" in uri or uri.endswith(":memory:"):
        return None
    return Path(uri[len("sqlite:///"):])


def _default_artifact_location() -> str:
    """Where MLflow puts the Default experiment of a new SQLite store opened from here."""
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.utils.uri import append_to_uri_path, resolve_uri_if_local

    return append_to_uri_path(resolve_uri_if_local(DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH), "0")


def copy_template(path: Path) -> bool:
    """Create the new database ``path`` as a copy of the cached template; False when there is
    no template or ``path`` exists (another process was first: it is never overwritten)."""
    import sqlite3

    template = template_path()
    if path.exists() or not template.is_file():
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with sqlite3.connect(template) as src, sqlite3.connect(tmp) as dst:
            src.backup(dst)
            now = int(time.time() * 1000)
            dst.execute("UPDATE experiments SET artifact_location = ?, creation_time = ?, "
                        "last_update_time = ? WHERE experiment_id = 0",
                        (_default_artifact_location(), now, now))
        os.link(tmp, path)  # fails when path exists by now: never replaces a database
        return True
    except (OSError, sqlite3.Error):
        return False
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def save_template(path: Path) -> None:
    """Keep the database ``path``, just created and migrated by MLflow, as the template; only
    while it is still empty (the Default experiment and no run)."""
    import sqlite3

    template = template_path()
    if template.exists():
        return
    tmp = template.with_name(f".{template.name}.{os.getpid()}.tmp")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as src, sqlite3.connect(tmp) as dst:
            src.backup(dst)
            if dst.execute("SELECT (SELECT COUNT(*) FROM experiments) = 1 AND "
                           "(SELECT COUNT(*) FROM runs) = 0").fetchone() != (1,):
                return
        os.replace(tmp, template)
    except (OSError, sqlite3.Error):
        pass  # no cache folder, a read-only home: the next store is migrated again, that is all
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _retry(fn, *args, attempts: int = 6, **kwargs):
    """Call ``fn``; retry with back-off while SQLite reports a lock held by another worker."""
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except MlflowException as err:
            if "locked" not in str(err).lower() or attempt == attempts - 1:
                raise
            time.sleep(0.2 * 2**attempt)
    return None


def _metric_items(rows: list[tuple[dict, int]]) -> list:
    """MLflow metrics of ``[(metrics, step), ...]``, stamped now; non-finite values are left
    out (MLflow stores NaN, but they break charts and sorting)."""
    now = int(time.time() * 1000)
    return [Metric(str(k), float(v), now, int(step)) for metrics, step in rows
            for k, v in metrics.items() if v is not None and float(v) == float(v)
            and abs(float(v)) != float("inf")]


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Tracker:
    """An MLflow tracking store seen through hpstudy's schema.

    Parameters
    ----------
    tracking_uri : str, optional
        See :func:`resolve_tracking_uri`.
    artifact_root : str, optional
        Folder for artifacts of new experiments when the store is local (default
        ``mlruns/artifacts``); a tracking server decides for itself.
    """

    def __init__(self, tracking_uri: str | None = None, artifact_root: str | None = None):
        self.uri = resolve_tracking_uri(tracking_uri)
        local = self.uri.startswith(("sqlite:", "postgresql", "mysql", "mssql"))
        root = artifact_root or (DEFAULT_ARTIFACT_DIR if local else None)
        self.artifact_root = Path(root).resolve().as_uri() if root and "://" not in root else root
        db = _sqlite_path(self.uri)
        new = db is not None and not db.exists()
        copied = new and copy_template(db)  # see "new SQLite stores from a template" above
        self.client = self._connect(attempts=3 if local else 1)
        if new and not copied:
            save_template(db)
        mlflow.set_tracking_uri(self.uri)  # for mlflow.register_model / pyfunc.load_model

    def _connect(self, attempts: int) -> MlflowClient:
        """An MlflowClient on the store, checked with one query. A new database is created and
        migrated right away; processes that start on it together may collide once, hence the
        ``attempts`` (database stores)."""
        for attempt in range(attempts):
            try:
                client = MlflowClient(tracking_uri=self.uri)
                _retry(client.search_experiments, max_results=1)
                return client
            except Exception as err:  # noqa: BLE001 - any failure here means the store is unusable
                racing = any(word in str(err).lower() for word in _CREATION_RACE)
                if attempt == attempts - 1 or not racing:
                    raise TrackingError(f"{self.uri}: cannot open the MLflow tracking store: "
                                        f"{(str(err).splitlines() or [''])[0]}") from err
                time.sleep(1 + attempt)
        return None

    # -- experiments and runs -----------------------------------------------------------------

    def experiment_id(self, study: str, create: bool = True) -> str | None:
        """The id of the study's experiment, created (race-safe) when missing and ``create``."""
        exp = _retry(self.client.get_experiment_by_name, study)
        if exp is not None or not create:
            return exp.experiment_id if exp else None
        location = f"{self.artifact_root}/{study}" if self.artifact_root else None
        try:
            return _retry(self.client.create_experiment, study, artifact_location=location,
                          tags={STUDY_TAG: study})
        except MlflowException:  # another worker created it first
            return _retry(self.client.get_experiment_by_name, study).experiment_id

    def study_run(self, experiment_id: str, study: str, tags: dict | None = None) -> str:
        """The id of the study's parent run, created on first use."""
        runs = self.search(experiment_id, f"tags.`{ROLE_TAG}` = 'study'")
        if runs:
            return runs[0].info.run_id
        run = _retry(self.client.create_run, experiment_id, run_name=study,
                     tags={ROLE_TAG: "study", STUDY_TAG: study, **(tags or {})})
        return run.info.run_id

    def start_trial(self, experiment_id: str, parent_id: str | None, study: str, number: int,
                    params: dict, run_name: str | None = None) -> str:
        """Create the child run ``trial-NNNN`` for trial ``number`` and log its params.

        Without ``parent_id`` it is a single training run (``hpstudy train``), role ``train``.
        """
        tags = {ROLE_TAG: "trial", STUDY_TAG: study, TRIAL_TAG: str(number),
                STATE_TAG: "RUNNING"}
        if parent_id is None:
            tags.update({ROLE_TAG: "train"})
            del tags[TRIAL_TAG]
        else:
            tags[PARENT_TAG] = parent_id
        run = _retry(self.client.create_run, experiment_id,
                     run_name=run_name or f"trial-{number:04d}", tags=tags)
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def search(self, experiment_id: str, filter_string: str = "", max_results: int = 50000):
        """Runs of an experiment matching ``filter_string`` (all pages)."""
        runs, token = [], None
        while True:
            page = _retry(self.client.search_runs, [experiment_id], filter_string,
                          run_view_type=ViewType.ACTIVE_ONLY, max_results=min(max_results, 10000),
                          page_token=token)
            runs.extend(page)
            token = page.token
            if not token or len(runs) >= max_results:
                return runs

    def trial_runs(self, experiment_id: str):
        """Child runs of a study, one per trial (as logged)."""
        return self.search(experiment_id, f"tags.`{ROLE_TAG}` = 'trial'")

    def get_run(self, run_id: str):
        return _retry(self.client.get_run, run_id)

    def end_run(self, run_id: str, status: str, state: str, reason: str | None = None,
                rows: list[tuple[dict, int]] | None = None) -> None:
        """Finish a run: MLflow ``status`` (FINISHED/KILLED/FAILED), Optuna ``state`` and why.

        ``rows``: step metrics still to log (see :meth:`log_metrics`); they go in the same
        call as the state tags when MLflow's batch limits allow, which is one round trip to
        the store fewer for every pruned trial.
        """
        tags = [RunTag(STATE_TAG, state)]
        if reason:
            tags.append(RunTag(REASON_TAG, reason[:4000]))
        metrics = _metric_items(rows or [])
        if len(metrics) + len(tags) <= _BATCH["metrics"]:
            _retry(self.client.log_batch, run_id, metrics=metrics, tags=tags)
        else:  # the metrics first, on their own
            for chunk in _chunks(metrics, _BATCH["metrics"]):
                _retry(self.client.log_batch, run_id, metrics=chunk)
            _retry(self.client.log_batch, run_id, tags=tags)
        _retry(self.client.set_terminated, run_id, status=status)

    def reopen(self, run_id: str) -> None:
        """Mark a finished parent run RUNNING again (a resumed study)."""
        _retry(self.client.update_run, run_id, status="RUNNING")

    # -- logging ------------------------------------------------------------------------------

    def log_params(self, run_id: str, params: dict) -> None:
        items = [Param(str(k), str(v)[:6000]) for k, v in params.items()]
        for chunk in _chunks(items, _BATCH["params"]):
            _retry(self.client.log_batch, run_id, params=chunk)

    def set_tags(self, run_id: str, tags: dict) -> None:
        items = [RunTag(str(k), str(v)) for k, v in tags.items()]
        for chunk in _chunks(items, _BATCH["tags"]):
            _retry(self.client.log_batch, run_id, tags=chunk)

    def log_metrics(self, run_id: str, rows: list[tuple[dict, int]]) -> None:
        """Log ``[(metrics, step), ...]`` in as few batched calls as MLflow allows (non-finite
        values are skipped, see :func:`_metric_items`)."""
        for chunk in _chunks(_metric_items(rows), _BATCH["metrics"]):
            _retry(self.client.log_batch, run_id, metrics=chunk)

    def log_artifacts(self, run_id: str, local_dir, artifact_path: str | None = None) -> None:
        _retry(self.client.log_artifacts, run_id, str(local_dir), artifact_path)

    def log_artifact(self, run_id: str, path, artifact_path: str | None = None) -> None:
        _retry(self.client.log_artifact, run_id, str(path), artifact_path)

    def log_model(self, run_id: str, network, preprocess: dict, name: str = "model") -> str:
        """Log the network as an MLflow pyfunc model (no pickle); returns its ``runs:/`` URI."""
        with tempfile.TemporaryDirectory(prefix="hpstudy-model-") as tmp:
            data = write_model_data(Path(tmp) / "data", network, preprocess)
            model_dir = Path(tmp) / name
            mlflow.pyfunc.save_model(
                str(model_dir), loader_module="hpstudy.experiment.pyfunc", data_path=str(data),
                pip_requirements=[f"hpstudy=={__version__}", "numpy"],
                metadata={"hpstudy_version": __version__},
            )
            self.log_artifacts(run_id, model_dir, name)
        return f"runs:/{run_id}/{name}"

    def register_model(self, run_id: str, name: str, model: str = "model"):
        """Register the run's model under ``name`` in the Model Registry; returns the version."""
        return mlflow.register_model(f"runs:/{run_id}/{model}", name)

    def download_artifacts(self, run_id: str, path: str, dst: str) -> str:
        return _retry(self.client.download_artifacts, run_id, path, dst)

    def metric_history(self, run_id: str, key: str) -> list:
        return _retry(self.client.get_metric_history, run_id, key)


def load_pyfunc(uri: str):
    """``mlflow.pyfunc.load_model(uri)``, for code that must not import mlflow itself."""
    return mlflow.pyfunc.load_model(uri)


# ==============================================================================================
# Reading a study back (used by hpstudy.report). Appended section: everything below only reads
# the store and hands out plain dicts, lists and bytes, never MLflow objects.
# ==============================================================================================

#: Address of the MLflow UI that ``hpstudy ui`` / ``make ui`` serves. Run links of a local
#: store (SQLite or another database) point there; an ``http(s)://`` tracking URI is its own UI.
LOCAL_UI = "http://127.0.0.1:5000"


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """Link to a run in the MLflow UI.

    ``http(s)://host[:port]`` tracking URIs link to that server; any other store (``sqlite:///…``,
    ``postgresql://…``) to :data:`LOCAL_UI`, where ``make ui`` shows it:
    ``http://127.0.0.1:5000/#/experiments/<experiment_id>/runs/<run_id>``.
    """
    base = tracking_uri.rstrip("/") if tracking_uri.startswith(("http://", "https://")) \
        else LOCAL_UI
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}"


def run_record(run) -> dict:
    """A run as a plain dict: ``run_id``, ``name``, ``status``, ``start_time`` and ``end_time``
    (ms since the epoch), ``tags``, ``params`` and ``metrics`` (the latest value of each)."""
    info = run.info
    return {"run_id": info.run_id, "name": info.run_name, "status": info.status,
            "start_time": info.start_time, "end_time": info.end_time,
            "experiment_id": info.experiment_id, "tags": dict(run.data.tags),
            "params": dict(run.data.params), "metrics": dict(run.data.metrics)}


class RunReader(Tracker):
    """A :class:`Tracker` that reads studies back; it never creates a store or an experiment.

    Parameters
    ----------
    tracking_uri : str, optional
        See :func:`resolve_tracking_uri`.

    Raises
    ------
    TrackingError
        If a SQLite store does not exist (nothing has been logged there yet) or cannot be opened.
    """

    def __init__(self, tracking_uri: str | None = None):
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
        if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
            raise TrackingError(f"{uri}: no MLflow database there; run a study first "
                                "(make study) or pass --tracking-uri")
        super().__init__(uri)

    def study_runs(self, study: str) -> dict | None:
        """The study's runs in one search: ``{"experiment_id", "parent", "trials"}``.

        ``parent`` is the parent run's :func:`run_record` (or None), ``trials`` the child runs'
        records. Returns None when the store has no experiment named ``study``.
        """
        experiment_id = self.experiment_id(study, create=False)
        if experiment_id is None:
            return None
        records = [run_record(r) for r in self.search(experiment_id)]
        parents = [r for r in records if r["tags"].get(ROLE_TAG) == "study"]
        trials = [r for r in records if r["tags"].get(ROLE_TAG) == "trial"]
        return {"experiment_id": experiment_id, "parent": parents[0] if parents else None,
                "trials": trials}

    def study_names(self) -> list[str]:
        """Names of the experiments in the store that hold a study (a parent run)."""
        exps = _retry(self.client.search_experiments, view_type=ViewType.ACTIVE_ONLY)
        return sorted(e.name for e in exps if e.tags.get(STUDY_TAG) == e.name)

    def metric_histories(self, run_id: str, keys) -> dict[str, list[tuple[int, float]]]:
        """``{key: [(step, value), ...]}`` sorted by step, for the ``keys`` the run has."""
        out = {}
        for key in keys:
            points = self.metric_history(run_id, key)
            if points:
                out[key] = sorted((int(m.step), float(m.value)) for m in points)
        return out

    def artifact_paths(self, run_id: str, path: str | None = None) -> list[str]:
        """Paths of the files (not folders) directly under ``path`` of the run's artifacts."""
        try:
            items = _retry(self.client.list_artifacts, run_id, path)
        except (MlflowException, OSError):
            return []
        return [a.path for a in items if not a.is_dir]

    def read_artifacts(self, run_id: str, paths) -> dict[str, bytes]:
        """The contents of the run's artifact files ``paths`` (missing ones are left out),
        downloaded through a temporary folder that is removed afterwards."""
        out = {}
        with tempfile.TemporaryDirectory(prefix="hpstudy-read-") as tmp:
            for path in paths:
                try:
                    local = self.download_artifacts(run_id, path, tmp)
                except (MlflowException, OSError):
                    continue
                if Path(local).is_file():
                    out[path] = Path(local).read_bytes()
        return out

    def run_url(self, experiment_id: str, run_id: str) -> str:
        """See :func:`run_url`."""
        return run_url(self.uri, experiment_id, run_id)
