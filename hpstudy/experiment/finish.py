"""The end of a study: retraining stability of the top trials, the best model in the Model
Registry, and the parent run's summary (metrics, params, JSON) and Optuna's study plots.

Every step is idempotent, so a resumed study finishes again without logging twice.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna

from hpstudy.evaluation.stability import retraining_stability
from hpstudy.experiment.claims import study_lock
from hpstudy.experiment.objective import (
    build_network,
    fit_options,
    network_kwargs,
    network_spec,
    predictions,
    targets,
)
from hpstudy.experiment.outcomes import best_trial, counts, ranked
from hpstudy.experiment.retraining import fitting


def _as_model(net, dataset, spec: dict):
    """The model retraining stability measures: the network (classification), or one
    predicting in the target's own units (regression)."""
    if dataset.task == "classification":
        return net
    return SimpleNamespace(predict=lambda X_: predictions(net, X_, dataset.task, spec))


def _train_fn(cfg, dataset, params, trained=None):
    """``train_fn(X, y, seed)`` retraining the trial's network (for retraining stability).

    A regression network learns standardised targets; the model handed back predicts in the
    target's own units (like the trial's metrics), so its test R² and the disagreement between
    retrained models are comparable with them. With ``trained`` (an iterator over parameter
    lists of networks trained elsewhere, in call order) each call builds the network and loads
    the next parameters instead of training it.
    """

    def train(X, y, seed):
        net, spec = build_network(params, dataset, cfg.train, seed)
        if trained is None:
            options = fit_options(params, cfg.train, spec, seed)
            net.fit(X, targets(y, dataset, spec), diagnostics=False, **options)
        else:
            for live, value in zip(net.parameters(), next(trained), strict=True):
                live[...] = value
        return _as_model(net, dataset, spec)

    return train


def _retraining(train_fn, cfg, ds) -> dict:
    return retraining_stability(train_fn, ds.X_train, ds.y_train, ds.X_test, ds.y_test,
                                k=cfg.stability.retrain_k, method=cfg.stability.retrain_method,
                                seed=cfg.study.seed, task=ds.task)


class _Placeholder:
    """Constant model of the recording pass (see :func:`_jobs`); its scores are discarded."""

    def __init__(self, k: int):
        self.k = k

    def predict_proba(self, X):
        return np.full((len(X), self.k), 1.0 / self.k)

    def predict(self, X):
        return np.zeros(len(X))


def _jobs(cfg, ds, params) -> list[tuple]:
    """The trainings retraining stability asks for, as :mod:`.retraining` jobs.

    A pass with placeholder models records them: the perturbations come from a seeded
    generator, so the pass with the trained networks asks for the same ones in the same order.
    """
    spec, jobs = network_spec(params, ds, cfg.train), []

    def record(X, y, seed):
        fit = {**fit_options(params, cfg.train, spec, seed), "diagnostics": False}
        jobs.append((network_kwargs(params, spec, cfg.train, seed), X, targets(y, ds, spec), fit))
        return _Placeholder(max(2, ds.n_classes or 2))

    _retraining(record, cfg, ds)
    return jobs


@contextlib.contextmanager
def retraining(ctx, top: int):
    """Start the retraining of the ``top`` best trials; yields a function that waits for it,
    logs the retraining-stability scores to the trials' runs and returns them by trial number.

    The trainings of all the trials run side by side in worker processes
    (:func:`~hpstudy.experiment.retraining.fitting`), the slowest trial's first, while the
    caller goes on; the scores are those of training one after the other (same perturbations,
    seeds and networks). Trials whose run has the scores already are not retrained.
    """
    scores, cfg, ds, todo = {}, ctx.cfg, ctx.dataset, []
    order = [t.number for t in ranked(ctx.study)[:top]]
    for trial in ranked(ctx.study)[:top]:
        run_id = trial.user_attrs.get("mlflow_run_id")
        run = ctx.tracker.get_run(run_id)
        if "stability_retrain_disagreement" in run.data.metrics:
            scores[trial.number] = {k: v for k, v in run.data.metrics.items()
                                    if k.startswith("stability_retrain_")}
            continue
        todo.append((trial, run_id, _jobs(cfg, ds, trial.user_attrs["hparams"])))
    todo.sort(key=lambda item: -(item[0].duration.total_seconds() if item[0].duration else 0))

    with fitting([job for *_, jobs in todo for job in jobs]) as results:
        def collect() -> dict:
            trained = iter(results())
            for trial, run_id, _ in todo:
                result = _retraining(_train_fn(cfg, ds, trial.user_attrs["hparams"], trained),
                                     cfg, ds)
                metrics = {f"stability_{k}": float(v) for k, v in result.items()}
                ctx.tracker.log_metrics(run_id, [(metrics, 0)])
                scores[trial.number] = metrics
            return {number: scores[number] for number in order}

        yield collect


def retrain_top(ctx, top: int) -> dict:
    """Retraining-stability scores for the ``top`` best trials, logged to their runs (see
    :func:`retraining`)."""
    with retraining(ctx, top) as collect:
        return collect()


def register_best(ctx) -> dict | None:
    """Register the best trial's model under the study's name (once per run; processes that
    finish the same study together take turns under the study's lock)."""
    best = best_trial(ctx.study)
    if best is None or not best.user_attrs.get("has_model"):
        return None
    run_id, name = best.user_attrs["mlflow_run_id"], ctx.cfg.study.name
    with study_lock(ctx.study):
        versions = ctx.tracker.client.search_model_versions(f"name = '{name}'")
        for v in versions:
            if v.run_id == run_id:
                return {"name": name, "version": v.version, "run_id": run_id}
        mv = ctx.tracker.register_model(run_id, name)
    return {"name": name, "version": mv.version, "run_id": run_id}


def _plot_functions(study: optuna.Study) -> dict:
    """Optuna's matplotlib study plots that apply to this study, by file name."""
    from optuna.visualization import matplotlib as ovm

    multi = len(study.directions) > 1
    target = {"target": lambda t: t.values[0], "target_name": "objective 1"} if multi else {}
    plots = {
        "optimization_history.png": lambda: ovm.plot_optimization_history(study, **target),
        "param_importances.png": lambda: ovm.plot_param_importances(study, **target),
        "parallel_coordinate.png": lambda: ovm.plot_parallel_coordinate(study, **target),
    }
    if multi:
        plots["pareto_front.png"] = lambda: ovm.plot_pareto_front(study)
    elif any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        plots["intermediate_values.png"] = lambda: ovm.plot_intermediate_values(study)
    return plots


def study_plots(study: optuna.Study, directory: Path) -> dict:
    """Draw the study plots into ``directory``; returns {file: None or why it was skipped}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    notes = {}
    for name, draw in _plot_functions(study).items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = draw()
            fig = (ax.flat[0] if isinstance(ax, np.ndarray) else ax).get_figure()
            fig.set_size_inches(9, 5.5)
            fig.tight_layout()
            fig.savefig(directory / name, dpi=110)
            notes[name] = None
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            notes[name] = f"skipped: {err}"
        finally:
            plt.close("all")
    return notes


def summary(ctx, target: int, seconds: float, retrain: dict, registered) -> dict:
    """The study's summary record (also written as ``summary.json`` on the parent run)."""
    best = best_trial(ctx.study)
    return {
        "study": ctx.cfg.study.name, "objectives": list(ctx.cfg.objectives),
        "directions": list(ctx.cfg.directions), "target": target, "counts": counts(ctx.study),
        "seconds": seconds, "dataset": ctx.dataset.name,
        "dataset_fingerprint": ctx.dataset.fingerprint,
        "best": None if best is None else {
            "number": best.number, "values": best.values, "params": best.user_attrs["hparams"],
            "run_id": best.user_attrs.get("mlflow_run_id"),
            "metrics": best.user_attrs.get("metrics", {})},
        "pareto_front": [t.number for t in ctx.study.best_trials]
        if len(ctx.cfg.directions) > 1 else None,
        "retraining_stability": {str(k): v for k, v in retrain.items()},
        "registered_model": registered,
    }


def log_summary(ctx, record: dict, folder: Path | None = None) -> None:
    """Summary metrics, best params, ``summary.json``, ``config.json`` and plots on the parent
    (the plots drawn here, or already in ``folder/plots`` with their notes in the record)."""
    metrics = {f"n_{k}": v for k, v in record["counts"].items()}
    metrics["study_seconds"] = record["seconds"]
    best = record["best"]
    if best is not None:
        for name, value in zip(record["objectives"], best["values"], strict=True):
            metrics[f"best_{name}"] = value
        # Tags, not params: MLflow params are immutable and the best changes when resumed.
        tags = {f"best.{k}": v for k, v in best["params"].items()}
        ctx.tracker.set_tags(ctx.parent_id, {**tags, "hpstudy.best_trial": best["number"],
                                              "hpstudy.best_run_id": best["run_id"]})
    ctx.tracker.log_metrics(ctx.parent_id, [(metrics, 0)])
    with contextlib.ExitStack() as stack:
        tmp = Path(folder or stack.enter_context(tempfile.TemporaryDirectory(
            prefix="hpstudy-study-")))
        if folder is None:
            (tmp / "plots").mkdir()
            record["plots"] = study_plots(ctx.study, tmp / "plots")
        (tmp / "summary.json").write_text(json.dumps(record, indent=1, default=str))
        (tmp / "config.json").write_text(json.dumps(ctx.cfg.to_dict(), indent=1, default=str))
        ctx.tracker.log_artifacts(ctx.parent_id, tmp)


def finish_study(ctx, target: int, seconds: float) -> dict:
    """Run the end-of-study steps (module docstring) and return the summary record."""
    params = {"dataset": ctx.dataset.name, "dataset_fingerprint": ctx.dataset.fingerprint,
              "objectives": ",".join(ctx.cfg.objectives), "sampler": ctx.cfg.study.sampler,
              "pruner": ctx.cfg.study.pruner, "target_trials": target}
    with study_lock(ctx.study):  # workers that finish together: each param is logged once
        existing = ctx.tracker.get_run(ctx.parent_id).data.params
        ctx.tracker.log_params(ctx.parent_id, {k: v for k, v in params.items()
                                                if k not in existing})
    with retraining(ctx, ctx.cfg.stability.retrain_top) as collect, \
            tempfile.TemporaryDirectory(prefix="hpstudy-study-") as tmp:
        (Path(tmp) / "plots").mkdir()
        notes = study_plots(ctx.study, Path(tmp) / "plots")  # while the retraining runs
        retrain = collect()
        registered = register_best(ctx)
        record = {**summary(ctx, target, seconds, retrain, registered), "plots": notes}
        log_summary(ctx, record, Path(tmp))
    return record
