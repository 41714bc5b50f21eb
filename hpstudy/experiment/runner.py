"""Run a study: open the stores, recover from earlier crashes, run trials in one or more
processes until the target is reached, then finish (retraining stability, model registry,
the parent run's summary and Optuna's plots).

The trial target is a total. A trial counts towards it when it completed, was pruned or
diverged; trials interrupted by Ctrl-C, SIGTERM or a dead worker, and trials that raised an
unexpected error, do not, so running the same command again tops the study up.

Exact targets, on one machine or many
-------------------------------------
Workers never decide on their own that one more trial is needed: they claim queued (WAITING)
trials, which the process that starts a study queues once for the whole target and every
failure replaces once (:mod:`hpstudy.experiment.claims`). So ``--workers N`` processes, and
``hpstudy study`` processes on several machines sharing an RDB storage, reach exactly the
target. A worker with no token left waits while trials still run elsewhere (one may fail and be
queued again), then finishes the study; so every process that joined ends with the whole study
logged. Each claimed trial re-seeds the sampler with ``seed + trial number``: workers started
at the same moment on several machines do not propose the same values. Studies with the grid
sampler keep the older loop (run until the target is counted or the grid is exhausted; with
``--workers`` each process gets an even share).

Crashes: a trial left RUNNING by a dead worker (a process of this machine that is gone, or on
an RDB storage a heartbeat silent for :data:`~hpstudy.experiment.storage.GRACE_SECONDS`) is
settled at start and by waiting workers: failed as ``interrupted`` and queued again with the
same parameters, or completed when its objective had already finished and only Optuna had not
been told. MLflow runs left RUNNING are ended the way their trial ended (KILLED when
interrupted). Queued trials left by an interrupted run are run first by the next one.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import optuna
from optuna.exceptions import UpdateFinishedTrialError

from hpstudy.errors import HpstudyError
from hpstudy.experiment import optuna_internals as internals
from hpstudy.experiment.claims import (
    RetryStaleTrial,
    claim,
    counted,
    fail_stale,
    n_counted,
    requeue,
    run_claimed,
    study_lock,
    tally,
    top_up,
    uses_tokens,
)
from hpstudy.experiment.config import load_config
from hpstudy.experiment.errors import ConfigError
from hpstudy.experiment.objective import OUTCOME, VALUES, Objective
from hpstudy.experiment.space import make_pruner, make_sampler
from hpstudy.experiment.storage import (
    check_lockable,
    is_journal,
    open_storage,
    resolve_storage_url,
)

__all__ = ["RunOptions", "StudyError", "counted", "n_counted", "recover_stale", "run_study", "work"]

State = optuna.trial.TrialState
#: consecutive unexpected trial errors after which a worker gives up
MAX_CONSECUTIVE_ERRORS = 3
#: seconds between two looks at the study of a worker waiting for other workers' trials: the
#: first wait, doubled after each look up to the longest. Most waits are the end of a study,
#: where one worker waits for the last trial of another (a fraction of a second on digits);
#: a fixed second there cost every study with 2 workers about 0.9 s more than with 1
POLL_FIRST_SECONDS, POLL_SECONDS = 0.05, 1.0
#: a journal trial RUNNING this long without the host/pid tags of its worker is stale (its
#: worker died between claiming it and tagging it, a few milliseconds)
UNTAGGED_GRACE_SECONDS = 60.0


class StudyError(HpstudyError, RuntimeError):
    """The study cannot run as asked (conflicting settings, a worker that keeps failing)."""


@dataclass
class RunOptions:
    """Everything a worker needs to rebuild its context in a fresh process (all picklable)."""

    config_path: str
    overrides: dict = field(default_factory=dict)
    name: str | None = None
    storage: str | None = None
    tracking_uri: str | None = None
    trials: int | None = None
    timeout: float | None = None
    workers: int = 1
    progress: bool = True


@dataclass
class WorkerContext:
    cfg: object
    dataset: object
    tracker: object
    study: optuna.Study
    experiment_id: str
    parent_id: str
    #: ``reseed(trial_number)`` gives the study a sampler seeded for that trial (or None)
    reseed: Callable[[int], None] | None = None


def load_settings(options: RunOptions):
    """Validated config and dataset; nothing is stored before this succeeds.

    When the config does not say the task (a CSV file without ``data.task``), it is checked
    again with the task the data showed, so that a metric, loss or chart of the other task is
    refused here rather than failing every trial.
    """
    from hpstudy.data import load_dataset

    cfg = load_config(options.config_path, options.overrides or None)
    url = resolve_storage_url(options.storage)
    if not is_journal(url):
        check_lockable(url)  # a database without a study lock is refused before anything runs
    dataset = load_dataset(cfg.data.dataset, **cfg.data.options)
    if cfg.data.task is None:
        try:
            cfg = load_config(options.config_path,
                              {**(options.overrides or {}), "data.task": dataset.task})
        except ConfigError as err:
            raise ConfigError(err.source, err.key, f"{err.problem} (the data in "
                              f"{cfg.data.dataset} is a {dataset.task} task; set data.task "
                              "if it is not)", *([err.value] if err.has_value else [])) from err
    return cfg, dataset


def open_study(cfg, options: RunOptions, worker: int = 0) -> optuna.Study:
    """Create or load the study; its sampler is seeded by the config seed, the worker index
    and the number of trials so far, so resumed and parallel workers do not repeat proposals
    (studies on claim tokens re-seed it for each claimed trial: see the module docstring)."""
    storage = open_storage(resolve_storage_url(options.storage), RetryStaleTrial())
    name = options.name or cfg.study.name
    existing = [s.study_name for s in optuna.get_all_study_summaries(storage, False)]
    n_before = len(optuna.load_study(study_name=name, storage=storage).trials) \
        if name in existing else 0
    seed = cfg.study.seed + 7919 * worker + n_before
    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                sampler=make_sampler(cfg.study, cfg.search, seed=seed),
                                pruner=make_pruner(cfg.study), directions=cfg.directions)
    stored = [d.name.lower() for d in study.directions]
    if stored != list(cfg.directions):
        raise StudyError(f"study {name!r} exists with directions {stored}, but "
                         f"{options.config_path} asks for {list(cfg.directions)}; use --name "
                         "to start a new study")
    return study


def _pid_alive(pid: int) -> bool:
    """Does process ``pid`` of this machine still run? A zombie (dead, not yet reaped by its
    parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): os.kill said it exists


def _is_dead(trial, host: str, now: datetime, stale: set[int]) -> bool:
    """Was this RUNNING trial left by a dead worker?

    Yes when its heartbeat stopped (``stale``: RDB storages), when it is tagged with this host
    and a pid that no longer exists, or when it is still untagged after
    :data:`UNTAGGED_GRACE_SECONDS` (its worker died between claiming and tagging it).
    """
    if internals.trial_id(trial) in stale:
        return True
    pid = trial.user_attrs.get("pid")
    if pid is not None:
        return trial.user_attrs.get("host") == host and not _pid_alive(int(pid))
    started = trial.datetime_start
    return started is not None and (now - started).total_seconds() > UNTAGGED_GRACE_SECONDS


def _settled(trial) -> tuple[State, list | None]:
    """The state (and values) a dead worker's RUNNING trial ends in: what its objective had
    decided when it got that far (the outcome is recorded before the MLflow run ends), else
    FAIL as ``interrupted``."""
    outcome = trial.user_attrs.get(OUTCOME)
    if outcome == "completed" and trial.user_attrs.get(VALUES) is not None:
        return State.COMPLETE, trial.user_attrs[VALUES]
    if outcome == "pruned":
        return State.PRUNED, None
    return State.FAIL, None


def settle_dead_trials(study: optuna.Study) -> int:
    """End the RUNNING trials of dead workers (:func:`_is_dead`); returns how many.

    A trial whose objective had finished (only Optuna had not been told) ends as it decided;
    any other is failed as ``interrupted`` and queued again with the same parameters for
    another worker (an ``error`` gets a fresh trial). Trials are ended under the study's lock,
    after a second look, so that two workers never settle (and replace) the same one.
    """
    host, now, stale = socket.gethostname(), datetime.now(), internals.stale_trial_ids(study)
    dead = [internals.trial_id(t)
            for t in study.get_trials(deepcopy=False, states=(State.RUNNING,))
            if _is_dead(t, host, now, stale)]
    if not dead:
        return 0
    with study_lock(study):
        running = {internals.trial_id(t): t
                   for t in study.get_trials(deepcopy=False, states=(State.RUNNING,))}
        return sum(_settle(study, running[i]) for i in dead if i in running)


def _settle(study: optuna.Study, t) -> bool:
    """End one dead worker's trial (see :func:`settle_dead_trials`); False if another
    process (Optuna's heartbeat check) ended it first."""
    state, values = _settled(t)
    outcome = t.user_attrs.get(OUTCOME)
    try:
        if state == State.FAIL and outcome not in ("diverged", "error", "interrupted"):
            outcome = "interrupted"
            internals.set_user_attr(study, internals.trial_id(t), OUTCOME, outcome)
            internals.set_user_attr(study, internals.trial_id(t), "reason",
                                    "interrupted: the worker process died during the trial")
        internals.set_state(study, internals.trial_id(t), state, values)
    except UpdateFinishedTrialError:
        return False
    if state == State.FAIL and outcome != "diverged":
        requeue(study, t, retry=outcome == "interrupted")
    return True


def _run_end(trial) -> tuple[str, str, str]:
    """``(MLflow status, Optuna state, reason)`` for the run of a finished trial (objective.py's
    table of outcomes); a run without a finished trial was interrupted."""
    reason = "interrupted: the worker process died during the trial"
    if trial is None or not trial.state.is_finished():
        return "KILLED", "FAIL", reason
    if trial.state == State.COMPLETE:
        return "FINISHED", "COMPLETE", ""
    if trial.state == State.PRUNED:
        return "KILLED", "PRUNED", trial.user_attrs.get("reason", "pruned")
    outcome = trial.user_attrs.get(OUTCOME)
    status = "FAILED" if outcome in ("diverged", "error") else "KILLED"
    return status, "FAIL", trial.user_attrs.get("reason", reason)


def kill_orphan_runs(study: optuna.Study, tracker, experiment_id: str) -> int:
    """End the trial runs still RUNNING whose trial is not (its worker died), as the trial
    ended (KILLED when it was interrupted). Returns how many runs were ended.

    Runs are read before trials: a live worker creates a trial's run after claiming the trial,
    and ends it before telling Optuna the trial is over. A run is re-read before it is ended,
    so one that its worker ended in between is left alone.
    """
    runs = tracker.search(experiment_id, "attributes.status = 'RUNNING'")
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    ended = 0
    for run in runs:
        number = run.data.tags.get("hpstudy.trial")
        trial = None if number is None else trials.get(int(number))
        if number is None or (trial is not None and trial.state == State.RUNNING):
            continue
        if tracker.get_run(run.info.run_id).info.status != "RUNNING":
            continue
        tracker.end_run(run.info.run_id, *_run_end(trial))
        ended += 1
    return ended


def recover_stale(study: optuna.Study, tracker, experiment_id: str) -> int:
    """End the trials left RUNNING by dead processes of this machine (:func:`settle_dead_trials`)
    and the MLflow runs left RUNNING (:func:`kill_orphan_runs`); returns the trials ended.

    Only this study's trials and this study's experiment are looked at.
    """
    stale = settle_dead_trials(study)
    kill_orphan_runs(study, tracker, experiment_id)
    return stale


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight (``gc.freeze``).

    A study process holds the modules of Optuna, MLflow (with SQLAlchemy and Alembic),
    scikit-learn, SciPy, pandas and matplotlib: a million or so objects that live until the
    process ends. Each full collection walks all of them, and the allocations of the trials
    (SQLAlchemy rows, Optuna's trial copies, matplotlib artists) trigger many: measured on the
    default digits study with 1 worker, 3 alternating runs, 22.6 s without freezing against
    19.5 s with it (CPU 23.8 against 21.1 s). Called once the imports are done and the
    stores are open, and right before the workers are forked, as the ``gc.freeze``
    documentation advises (their pages stay shared). Objects made later are collected as
    usual; :func:`run_study` unfreezes at its end.
    """
    gc.freeze()


def _threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _say(line: str) -> None:
    """One line on stderr that does not tear the progress bar."""
    from tqdm.auto import tqdm

    tqdm.write(line.splitlines()[0] if line else line, file=sys.stderr)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def reap(ctx: WorkerContext) -> None:
    """End (and queue again) the trials of dead workers: stopped RDB heartbeats, dead local
    processes (:func:`settle_dead_trials`; Optuna's ``fail_stale_trials`` as a fallback)."""
    settle_dead_trials(ctx.study)
    fail_stale(ctx.study)


def next_claim(ctx: WorkerContext, target: int, deadline: float | None) -> int | None:
    """Claim a queued trial; while none is queued but trials still run, wait for them (one may
    fail and be queued again). Returns the claimed trial's id, or None when the study has
    nothing left to run for ``target`` or ``deadline`` passed.

    Queued trials beyond the target (left by an earlier run with a larger one) are not claimed.
    """
    wait = POLL_FIRST_SECONDS
    while not _past(deadline):
        reap(ctx)
        now = tally(ctx.study)
        if now.queued and now.counted + now.running < target:
            trial_id = claim(ctx.study)
            if trial_id is not None:
                return trial_id
            continue  # other workers were faster; look again
        if not now.running:
            return None
        time.sleep(wait)
        wait = min(2 * wait, POLL_SECONDS)
    return None


def _token_trial(ctx: WorkerContext, objective, target: int, deadline: float | None):
    """Claim and run one trial; None when there is none to run (see :func:`next_claim`)."""
    trial_id = next_claim(ctx, target, deadline)
    if trial_id is None:
        return None
    if ctx.reseed is not None:
        ctx.reseed(internals.trial_number(ctx.study, trial_id))
    return run_claimed(ctx.study, trial_id, objective)


def _grid_trial(ctx: WorkerContext, objective, target: int, deadline: float | None):
    """One trial of a grid study through ``Study.optimize``; None once the target is counted."""
    if n_counted(ctx.study) >= target:
        return None
    ran: list = []  # the trial just run, as Optuna hands it to callbacks (any state)
    ctx.study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=False,
                       callbacks=[lambda _study, trial: ran.append(trial)])
    return ran[-1]


def work(ctx: WorkerContext, target: int, deadline: float | None = None, on_trial=None,
         quota: int | None = None) -> int:
    """Run trials until the study has nothing left to run for ``target`` (module docstring),
    this worker finished ``quota`` counted ones (when given), or ``deadline``
    (``time.monotonic()``) passed. Returns the counted trials this worker ran."""
    objective = Objective(ctx.cfg, ctx.dataset, ctx.tracker, ctx.experiment_id, ctx.parent_id)
    step = _token_trial if uses_tokens(ctx.study) else _grid_trial
    top_up(ctx.study, target)
    done = errors = 0
    while (quota is None or done < quota) and not _past(deadline):
        last = step(ctx, objective, target, deadline)
        if last is None:
            break
        if last.state == State.FAIL:
            _say(f"trial {last.number}: {last.user_attrs.get(OUTCOME, 'failed')}: "
                 f"{last.user_attrs.get('reason', last.system_attrs.get('fail_reason', ''))}")
        if counted(last):
            done, errors = done + 1, 0
        else:
            errors += 1
            if errors >= MAX_CONSECUTIVE_ERRORS:
                raise StudyError(f"{errors} trials in a row failed; last: "
                                 f"{last.user_attrs.get('reason', 'unknown error')}")
        if on_trial is not None:
            on_trial(last)
    return done


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _open_context(options: RunOptions, worker: int, settings=None) -> WorkerContext:
    """Open the stores of a worker; ``settings`` = ``load_settings(options)`` when known."""
    from hpstudy.experiment.tracking import Tracker

    # The progress bar and one line per failed trial (see ``work``) say it all; Optuna's own
    # warning for a caught trial failure carries a whole traceback.
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    cfg, dataset = settings or load_settings(options)
    tracker = Tracker(options.tracking_uri)
    study = open_study(cfg, options, worker)
    exp_id = tracker.experiment_id(cfg.study.name)
    with study_lock(study):  # processes that start a new study together make one parent run
        parent = tracker.study_run(exp_id, cfg.study.name)

    def reseed(number: int) -> None:
        study.sampler = make_sampler(cfg.study, cfg.search, seed=cfg.study.seed + number)

    freeze_heap()  # mlflow and the stores are loaded now
    return WorkerContext(cfg, dataset, tracker, study, exp_id, parent, reseed)


class Workers:
    """The worker processes of ``--workers N`` besides this one, started before the stores are
    open and told their share once this process has planned the run.

    They are forked right after the config and data were checked: a fork shares this process's
    imports and loaded data, so a worker is ready to open its stores in a fraction of a second
    (a spawned interpreter spends 5 to 10 s importing optuna, mlflow, scikit-learn and
    matplotlib first, and the parent waited for it). Nothing is inherited that could break in
    a child: no store connection, file lock, progress bar or signal handler exists yet, and a
    fork is only made while this process runs a single thread; otherwise the workers are
    spawned (they load the settings again themselves).

    Each worker opens its stores, then waits for a message on its pipe: ``("go", quota,
    target, seconds left)`` or ``("stop",)``.
    """

    def __init__(self, options: RunOptions, count: int, settings):
        fork = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
        mp = multiprocessing.get_context("fork" if fork else "spawn")
        self.threads = _threads_per_worker(count + 1)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(self.threads)  # spawned workers read them at start-up
        self.procs, self.pipes, self.told = [], [], 0
        for i in range(1, count + 1):
            mine, theirs = mp.Pipe()
            proc = mp.Process(target=_worker_main, name=f"hpstudy-worker-{i}", args=(
                options, i, theirs, self.threads, settings if fork else None))
            proc.start()
            theirs.close()
            self.procs.append(proc)
            self.pipes.append(mine)

    def go(self, quotas: list[int | None], target: int, seconds: float | None) -> None:
        """Start the first ``len(quotas)`` workers with these quotas; the others stop."""
        for pipe, quota in zip(self.pipes, quotas, strict=False):
            pipe.send(("go", quota, target, seconds))
        self.told = len(quotas)
        self.stop()

    def stop(self) -> None:
        """Tell the workers not started yet to stop (a no-op for those told already)."""
        for pipe in self.pipes[self.told:]:
            with contextlib.suppress(OSError):
                pipe.send(("stop",))
        self.told = len(self.pipes)

    def join(self) -> list[str]:
        """Wait for every worker; returns the names of those that ended with an error."""
        self.stop()
        for p in self.procs:
            p.join()
        return [p.name for p in self.procs if p.exitcode not in (0, None)]

    def terminate(self) -> None:
        """SIGTERM to the live workers (each marks its trial failed, its run KILLED); wait."""
        self.stop()
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(timeout=60)


def _worker_main(options: RunOptions, worker: int, pipe, threads: int, settings) -> None:
    """Entry point of a worker process (see :class:`Workers`): open the stores, wait for the
    go, run trials (claimed one at a time: a worker that starts late only finds fewer)."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        message = pipe.recv() if pipe.poll() else None  # a run with nothing to do says stop
        if message is not None and message[0] != "go":
            return
        try:
            ctx, failure = _open_context(options, worker, settings), None
        except Exception as err:  # noqa: BLE001 - reported below, unless the run is off anyway
            ctx, failure = None, err
        if message is None:
            try:
                message = pipe.recv()
            except EOFError:  # the parent is gone
                message = ("stop",)
        if message[0] != "go":
            return
        if failure is not None:  # this process cannot open what the parent opened
            _say(f"hpstudy worker {worker}: error: {failure}")
            sys.exit(2)
        _, quota, target, seconds = message
        deadline = None if seconds is None else time.monotonic() + seconds
        with threadpool_limits(limits=threads, user_api="blas"):
            work(ctx, target, deadline, quota=quota)
    except KeyboardInterrupt:
        sys.exit(130)
    except StudyError as err:
        _say(f"hpstudy worker {worker}: error: {err}")
        sys.exit(2)


def _quotas(remaining: int, workers: int) -> list[int]:
    """Split ``remaining`` trials over ``workers`` as evenly as possible (no worker idles);
    used for grid studies, which have no queue to share."""
    workers = max(1, min(workers, remaining))
    return [remaining // workers + (i < remaining % workers) for i in range(workers)]


def _progress(total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    # no monitor thread (it only corrects bars that stall): a process running one thread can
    # fork its workers (see Workers), also for a study run after this one in the same process
    tqdm.monitor_interval = 0
    return tqdm(total=total, initial=initial, unit="trial", disable=not enabled,
                dynamic_ncols=True, file=sys.stderr, desc="trials")


def _plan(study: optuna.Study, target: int, workers: int) -> list[int | None]:
    """The quotas of the worker processes to start; empty when there is nothing to run.

    Token studies: queue what the target misses, then one worker per queued trial up to
    ``workers``, without quotas (they share the queue). Grid studies: an even split.
    """
    if not uses_tokens(study):
        remaining = max(0, target - n_counted(study))
        return _quotas(remaining, workers) if remaining else []
    top_up(study, target)
    now = tally(study)
    if not now.running and (not now.queued or now.counted >= target):
        return []
    return [None] * max(1, min(workers, now.queued))


def run_in_processes(ctx: WorkerContext, options: RunOptions, workers: Workers,
                     quotas: list[int | None], target: int, deadline_in: float | None) -> None:
    """Run the study on ``len(quotas)`` workers: this process (worker 0, with the progress
    bar) and the first ``len(quotas) - 1`` of ``workers``, all on the shared stores.

    A worker that died (killed, out of memory) is an error only if the study fell short of its
    target: the others ran its trial again.
    """
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    workers.go(quotas[1:], target, deadline_in)
    try:
        with threadpool_limits(limits=workers.threads, user_api="blas"):
            run_here(ctx, options, quotas[0], target, deadline_in)
        failed = workers.join()  # their last trials; the study is settled when they are done
    except BaseException:
        workers.terminate()
        raise
    if failed and n_counted(ctx.study) < target:
        raise StudyError(f"worker(s) {', '.join(failed)} stopped with an error; see above")
    if failed:
        _say(f"note: worker(s) {', '.join(failed)} stopped early; the others finished the study")


def run_here(ctx: WorkerContext, options: RunOptions, quota: int | None, target: int,
             deadline_in: float | None) -> None:
    """Run the trials in this process with a progress bar."""
    bar = _progress(target, n_counted(ctx.study), options.progress)
    deadline = None if deadline_in is None else time.monotonic() + deadline_in

    def tick(trial):
        bar.n = min(target, n_counted(ctx.study))
        bar.set_postfix_str(_best_text(ctx.study), refresh=False)
        bar.refresh()

    try:
        work(ctx, target, deadline, on_trial=tick, quota=quota)
    finally:
        bar.close()


def _best_text(study: optuna.Study) -> str:
    try:
        if len(study.directions) == 1:
            return f"best {study.best_value:.4g} (trial {study.best_trial.number})"
        return f"{len(study.best_trials)} on the Pareto front"
    except ValueError:
        return ""


@dataclass
class StudyOutcome:
    """What :func:`run_study` reports back."""

    study: optuna.Study
    cfg: object
    tracking_uri: str
    storage: str
    experiment_id: str
    parent_run_id: str
    seconds: float
    ran: int
    finish: dict


def run_study(options: RunOptions) -> StudyOutcome:
    """Run (or resume) the study described by ``options``; see the module docstring."""
    start = time.perf_counter()
    if options.name:
        options.overrides = {**options.overrides, "study.name": options.name}
    settings = load_settings(options)  # a bad config or data file stops here, nothing stored
    freeze_heap()  # before the fork (see freeze_heap)
    try:
        return _run_study(options, settings, start)
    finally:
        # a caller that goes on (a notebook, a test, the next study) gets its collector back,
        # and the garbage of this study collected: MLflow's artifact thread pools end only
        # then, and a process running threads spawns its workers instead of forking them
        gc.unfreeze()
        gc.collect()


def _run_study(options: RunOptions, settings, start: float) -> StudyOutcome:
    workers = Workers(options, options.workers - 1, settings) if options.workers > 1 else None
    try:
        ctx = _open_context(options, 0, settings)
    except BaseException:
        if workers is not None:
            workers.join()  # told to stop: they leave without a word
        raise
    cfg = ctx.cfg
    target = options.trials or cfg.study.trials
    timeout = options.timeout if options.timeout is not None else (cfg.study.timeout or None)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        recover_stale(ctx.study, ctx.tracker, ctx.experiment_id)
        ctx.tracker.reopen(ctx.parent_id)
        before = n_counted(ctx.study)
        plan = _plan(ctx.study, target, options.workers)
        if len(plan) > 1:
            run_in_processes(ctx, options, workers, plan, target, timeout)
        else:
            if workers is not None:
                workers.join()
            if plan:
                run_here(ctx, options, plan[0], target, timeout)
        kill_orphan_runs(ctx.study, ctx.tracker, ctx.experiment_id)
        from hpstudy.experiment.finish import finish_study

        finish = finish_study(ctx, target, time.perf_counter() - start)
    except BaseException as err:
        if workers is not None:
            workers.terminate()  # told to stop, or ended as run_in_processes left them
        status = "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
        ctx.tracker.end_run(ctx.parent_id, status, "INTERRUPTED" if status == "KILLED" else "ERROR",
                            f"{type(err).__name__}: {err}".splitlines()[0])
        raise
    ctx.tracker.end_run(ctx.parent_id, "FINISHED", "COMPLETE")
    return StudyOutcome(ctx.study, cfg, ctx.tracker.uri, resolve_storage_url(options.storage),
                        ctx.experiment_id, ctx.parent_id, time.perf_counter() - start,
                        n_counted(ctx.study) - before, finish)


