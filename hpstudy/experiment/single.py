"""``hpstudy train``: one training run with fixed hyperparameters, logged like a trial."""

from __future__ import annotations

import time
from dataclasses import dataclass

import optuna

from hpstudy.errors import HpstudyError
from hpstudy.experiment.config import load_config
from hpstudy.experiment.objective import Objective
from hpstudy.experiment.space import fixed_params
from hpstudy.nn import DivergenceError


@dataclass
class SingleRun:
    """What :func:`train_once` reports back."""

    params: dict
    metrics: dict
    run_id: str
    experiment: str
    tracking_uri: str
    seconds: float


def train_once(config_path: str, overrides: dict, storage: str | None = None,
               tracking_uri: str | None = None) -> SingleRun:
    """Train the config's network once with every hyperparameter fixed (``--set`` fixes the
    open ones) and log it as a run named ``train-YYYYmmdd-HHMMSS`` in the study's experiment.

    ``storage`` is accepted for symmetry with ``hpstudy study``; a single run has no Optuna
    trial to store.

    Raises
    ------
    HpstudyError
        For a bad config or data file, and when training diverges (the run stays logged).
    """
    from hpstudy.data import load_dataset
    from hpstudy.experiment.tracking import Tracker

    start = time.perf_counter()
    cfg = load_config(config_path, overrides or None)
    params = fixed_params(cfg.search)
    dataset = load_dataset(cfg.data.dataset, **cfg.data.options)
    tracker = Tracker(tracking_uri)
    exp_id = tracker.experiment_id(cfg.study.name)
    name = time.strftime("train-%Y%m%d-%H%M%S")
    trial = optuna.trial.FixedTrial(params)
    try:
        Objective(cfg, dataset, tracker, exp_id, parent_id=None, run_name=name)(trial)
    except DivergenceError as err:  # the run is logged as FAILED with this reason
        raise HpstudyError(f"{config_path}: {err}; the run {name} is logged as FAILED; try a "
                           "smaller learning_rate, another initializer or scaled data") from err
    attrs = trial.user_attrs
    return SingleRun(attrs["hparams"], attrs.get("metrics", {}), attrs["mlflow_run_id"],
                     cfg.study.name, tracker.uri, time.perf_counter() - start)
