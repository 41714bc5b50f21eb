"""Run a study: open the stores, recover from earlier crashes, run trials in one or more
processes until the target is reached, then finish (retraining stability, model registry,
the parent run's summary and Optuna's plots).

The trial target is a total. A trial counts towards it when it completed, was pruned or
diverged; trials interrupted by Ctrl-C, SIGTERM or a dead worker, and trials that raised an
unexpected error, do not, so running the same command again tops the study up.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

import optuna

from hpstudy.experiment.config import load_config
from hpstudy.experiment.objective import COUNTED, OUTCOME, Objective
from hpstudy.experiment.space import make_pruner, make_sampler
from hpstudy.experiment.storage import is_journal, open_storage, resolve_storage_url

#: consecutive unexpected trial errors after which a worker gives up
MAX_CONSECUTIVE_ERRORS = 3


class StudyError(RuntimeError):
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


def counted(trial) -> bool:
    """Does a frozen trial count towards the target?"""
    if trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
        return True
    return trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs.get(OUTCOME) in COUNTED


def n_counted(study: optuna.Study) -> int:
    return sum(counted(t) for t in study.get_trials(deepcopy=False))


def load_settings(options: RunOptions):
    """Validated config and dataset; nothing is stored before this succeeds."""
    from hpstudy.data import load_dataset

    cfg = load_config(options.config_path, options.overrides or None)
    dataset = load_dataset(cfg.data.dataset, **cfg.data.options)
    return cfg, dataset


def open_study(cfg, options: RunOptions, worker: int = 0) -> optuna.Study:
    """Create or load the study; its sampler is seeded by the config seed, the worker index
    and the number of trials so far, so resumed and parallel workers do not repeat proposals."""
    storage = open_storage(resolve_storage_url(options.storage))
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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stale(study: optuna.Study, tracker, experiment_id: str, url: str) -> int:
    """Fail trials left RUNNING by dead processes and kill their MLflow runs; returns the count.

    A RUNNING trial is stale when it was started on this machine by a process that no longer
    exists. Trials of other machines are left to the RDB storage's heartbeat (a journal file is
    only shared on one machine). MLflow trial runs still RUNNING whose trial is no longer running
    are killed too.
    """
    host, stale = socket.gethostname(), 0
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in running:
        mine = t.user_attrs.get("host") == host or (is_journal(url) and "host" not in t.user_attrs)
        pid = t.user_attrs.get("pid")
        if mine and (pid is None or not _pid_alive(int(pid))):
            study._storage.set_trial_user_attr(t._trial_id, OUTCOME, "interrupted")
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
            stale += 1
    still = {t.number for t in study.get_trials(deepcopy=False,
                                                  states=(optuna.trial.TrialState.RUNNING,))}
    for run in tracker.search(experiment_id, "attributes.status = 'RUNNING'"):
        number = run.data.tags.get("hpstudy.trial")
        if number is not None and int(number) not in still:
            tracker.end_run(run.info.run_id, "KILLED", "FAIL",
                            "interrupted: the worker process died during the trial")
    return stale


def _threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _say(line: str) -> None:
    """One line on stderr that does not tear the progress bar."""
    from tqdm.auto import tqdm

    tqdm.write(line.splitlines()[0] if line else line, file=sys.stderr)


def work(ctx: WorkerContext, quota: int, target: int, deadline: float | None,
         on_trial=None) -> int:
    """Run trials until this worker finished ``quota`` counted ones, the study reached
    ``target``, or ``deadline`` (``time.monotonic()``) passed. Returns the counted trials run."""
    objective = Objective(ctx.cfg, ctx.dataset, ctx.tracker, ctx.experiment_id, ctx.parent_id)
    done = errors = 0
    while done < quota and (deadline is None or time.monotonic() < deadline):
        if n_counted(ctx.study) >= target:
            break
        ran: list = []  # the trial just run, as Optuna hands it to callbacks (any state)
        ctx.study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=False,
                           callbacks=[lambda _study, trial, ran=ran: ran.append(trial)])
        last = ran[-1]
        if last.state == optuna.trial.TrialState.FAIL:
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


def _open_context(options: RunOptions, worker: int) -> WorkerContext:
    from hpstudy.experiment.tracking import Tracker

    # The progress bar and one line per failed trial (see ``work``) say it all; Optuna's own
    # warning for a caught trial failure carries a whole traceback.
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    cfg, dataset = load_settings(options)
    tracker = Tracker(options.tracking_uri)
    study = open_study(cfg, options, worker)
    exp_id = tracker.experiment_id(cfg.study.name)
    parent = tracker.study_run(exp_id, cfg.study.name)
    return WorkerContext(cfg, dataset, tracker, study, exp_id, parent)


def _worker_main(options: RunOptions, worker: int, quota: int, target: int,
                 deadline_in: float | None) -> None:
    """Entry point of a worker process (spawned: a fresh interpreter, no inherited state)."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    deadline = None if deadline_in is None else time.monotonic() + deadline_in
    try:
        work(_open_context(options, worker), quota, target, deadline)
    except KeyboardInterrupt:
        sys.exit(130)
    except StudyError as err:
        _say(f"hpstudy worker {worker}: error: {err}")
        sys.exit(2)


def _quotas(remaining: int, workers: int) -> list[int]:
    """Split ``remaining`` trials over ``workers`` as evenly as possible (no worker idles)."""
    workers = max(1, min(workers, remaining))
    return [remaining // workers + (i < remaining % workers) for i in range(workers)]


def _progress(total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="trial", disable=not enabled,
                dynamic_ncols=True, file=sys.stderr, desc="trials")


def run_in_processes(ctx: WorkerContext, options: RunOptions, quotas: list[int], target: int,
                     deadline_in: float | None) -> None:
    """Run one spawned process per quota on the shared stores; the parent shows progress.

    BLAS threads are divided between the workers (``OMP/OPENBLAS/MKL_NUM_THREADS``).
    """
    threads = str(_threads_per_worker(len(quotas)))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = threads
    spawn = multiprocessing.get_context("spawn")
    procs = [spawn.Process(target=_worker_main, args=(options, i, q, target, deadline_in),
                           name=f"hpstudy-worker-{i}") for i, q in enumerate(quotas)]
    for p in procs:
        p.start()
    bar = _progress(target, n_counted(ctx.study), options.progress)
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            bar.n = min(target, n_counted(ctx.study))
            bar.refresh()
    except KeyboardInterrupt:
        for p in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: each worker marks its trial failed / its run KILLED
        for p in procs:
            p.join(timeout=60)
        raise
    finally:
        bar.n = min(target, n_counted(ctx.study))
        bar.close()
    failed = [p.name for p in procs if p.exitcode not in (0, None)]
    if failed:
        raise StudyError(f"worker(s) {', '.join(failed)} stopped with an error; see above")


def run_here(ctx: WorkerContext, options: RunOptions, quota: int, target: int,
             deadline_in: float | None) -> None:
    """Run the trials in this process with a progress bar."""
    bar = _progress(target, n_counted(ctx.study), options.progress)
    deadline = None if deadline_in is None else time.monotonic() + deadline_in

    def tick(trial):
        bar.n = min(target, n_counted(ctx.study))
        bar.set_postfix_str(_best_text(ctx.study), refresh=False)
        bar.refresh()

    try:
        work(ctx, quota, target, deadline, on_trial=tick)
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
    ctx = _open_context(options, worker=0)
    cfg = ctx.cfg
    target = options.trials or cfg.study.trials
    timeout = options.timeout if options.timeout is not None else (cfg.study.timeout or None)
    recover_stale(ctx.study, ctx.tracker, ctx.experiment_id, resolve_storage_url(options.storage))
    ctx.tracker.reopen(ctx.parent_id)
    before = n_counted(ctx.study)
    remaining = max(0, target - before)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if remaining and options.workers > 1:
            run_in_processes(ctx, options, _quotas(remaining, options.workers), target, timeout)
        elif remaining:
            run_here(ctx, options, remaining, target, timeout)
        from hpstudy.experiment.finish import finish_study

        finish = finish_study(ctx, target, time.perf_counter() - start)
    except BaseException as err:
        status = "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
        ctx.tracker.end_run(ctx.parent_id, status, "INTERRUPTED" if status == "KILLED" else "ERROR",
                            f"{type(err).__name__}: {err}".splitlines()[0])
        raise
    ctx.tracker.end_run(ctx.parent_id, "FINISHED", "COMPLETE")
    return StudyOutcome(ctx.study, cfg, ctx.tracker.uri, resolve_storage_url(options.storage),
                        ctx.experiment_id, ctx.parent_id, time.perf_counter() - start,
                        n_counted(ctx.study) - before, finish)


