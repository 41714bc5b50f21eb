"""Network trainings run side by side in worker processes (the retraining-stability scores at
the end of a study: ``retrain_top`` trials × ``retrain_k`` trainings each).

A job is ``(network, X, Y, fit)``: the keyword arguments of :meth:`Network.mlp`, the training
rows and targets, and the keyword arguments of :meth:`Network.fit`. A worker builds the
network, fits it and sends back its parameters ``[W1, b1, ...]``; the caller loads them into
a network it builds the same way (a pickled :class:`Network` would lose the views that tie
its layers to its parameter vector).

Workers are spawned (fresh interpreters, none of the parent's MLflow, Optuna or signal state)
with one BLAS thread each: the networks trained here are small, their products no faster on
two threads, and the workers share the cores. This module imports only the standard library and a
worker only :mod:`hpstudy.nn` (NumPy), so a worker starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

__all__ = ["fit_job", "fit_jobs", "fitting"]

BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def fit_job(job: tuple) -> list:
    """Train one job in this process; returns the trained parameters ``[W1, b1, ...]``."""
    from hpstudy.nn import Network

    network, X, Y, fit = job
    net = Network.mlp(**network)
    net.fit(X, Y, **fit)
    return [p.copy() for p in net.parameters()]


def _fit_or_none(job: tuple) -> list | None:
    """:func:`fit_job` in a worker; None when it raised (the caller repeats the job itself,
    so the error is raised there as it would have been without workers)."""
    try:
        return fit_job(job)
    except Exception:  # noqa: BLE001 - re-raised by the caller's own attempt
        return None


@contextlib.contextmanager
def _one_blas_thread():
    """Spawned children read these before NumPy loads BLAS; restored afterwards."""
    saved = {var: os.environ.get(var) for var in BLAS_VARS}
    os.environ.update(dict.fromkeys(BLAS_VARS, "1"))
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


@contextlib.contextmanager
def fitting(jobs: list[tuple], processes: int | None = None):
    """Start training ``jobs`` on up to ``processes`` (default: see below) worker processes;
    yields a function that waits for them and returns the trained parameters of each job, in
    the order of ``jobs``. The caller is free to do other work in between.

    One process (or one job) trains in this process, when the results are asked for; so does a
    job whose worker failed, and every job when workers cannot be started. Leaving the block
    cancels the jobs not started yet and waits for the running ones.
    """
    # by default one worker per job, up to twice the cores: jobs of about the same size that do
    # not divide evenly among the cores (3 on 2) then finish together, not in an extra round
    processes = min(len(jobs), processes or 2 * (os.cpu_count() or 1))
    pool = futures = None
    if processes > 1:
        try:  # the workers are spawned by submit(), within the one-thread environment
            with _one_blas_thread():
                pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context(
                    "spawn"))
                futures = [pool.submit(_fit_or_none, job) for job in jobs]
        except OSError:  # no processes here (a sandbox, a limit): train in this process
            pool = futures = None

    def results() -> list[list]:
        out = []
        for i, job in enumerate(jobs):
            try:
                trained = futures[i].result() if futures else None
            except BrokenProcessPool:  # a worker was killed: the job is trained here
                trained = None
            out.append(fit_job(job) if trained is None else trained)
        return out

    try:
        yield results
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def fit_jobs(jobs: list[tuple], processes: int | None = None) -> list[list]:
    """Train every job (see :func:`fitting`) and return their trained parameters, in order."""
    with fitting(jobs, processes) as results:
        return results()
