"""Retraining stability with the trainings in worker processes: the same scores as training one
after the other, for classification and regression, and the fallbacks of the worker pool."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hpstudy.data import load_dataset
from hpstudy.experiment.config import StabilityConfig, TrainConfig
from hpstudy.experiment.finish import _jobs, _retraining, _train_fn
from hpstudy.experiment.retraining import fit_job, fit_jobs, fitting

TRAIN = TrainConfig()


def hp(**changes) -> dict:
    return {"width": 8, "depth": 1, "activation": "tanh", "initializer": "auto",
            "loss": "auto", "learning_rate": 0.05, "batch_size": 16, "optimizer": "adam",
            "momentum": 0.9, "regularizer": "l2", "lambda": 1e-4, "epochs": 3,
            "schedule": "constant", **changes}


def cfg(k: int = 3) -> SimpleNamespace:
    return SimpleNamespace(train=TRAIN, study=SimpleNamespace(seed=0),
                           stability=StabilityConfig(retrain_top=1, retrain_k=k))


@pytest.mark.parametrize("name", ["iris", "diabetes"])
def test_parallel_retraining_scores_equal_sequential_ones(name):
    ds, c = load_dataset(name), cfg()
    sequential = _retraining(_train_fn(c, ds, hp()), c, ds)
    jobs = _jobs(c, ds, hp())
    assert len(jobs) == c.stability.retrain_k
    parallel = _retraining(_train_fn(c, ds, hp(), iter(fit_jobs(jobs, processes=2))), c, ds)
    assert parallel == pytest.approx(sequential, rel=1e-6, abs=1e-9)


def test_jobs_train_the_networks_of_the_trial():
    ds, c = load_dataset("iris"), cfg(k=2)
    job = _jobs(c, ds, hp())[0]
    network, X, Y, fit = job
    assert network["sizes"] == [4, 8, 3] and Y.shape == (len(X), 3)
    assert fit["diagnostics"] is False and fit["epochs"] == 3
    params = fit_job(job)
    assert [p.shape for p in params] == [(4, 8), (8,), (8, 3), (3,)]
    assert all(np.isfinite(p).all() for p in params)


def test_fitting_without_workers_trains_here_and_keeps_the_order():
    ds, c = load_dataset("iris"), cfg(k=3)
    jobs = _jobs(c, ds, hp())
    with fitting(jobs, processes=1) as results:
        here = results()
    assert [np.array_equal(a[0], b[0]) for a, b in zip(here, fit_jobs(jobs, processes=2),
                                                        strict=True)] == [True] * 3
