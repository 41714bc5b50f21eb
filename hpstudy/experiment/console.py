"""What ``hpstudy study`` and ``hpstudy train`` print at the end."""

from __future__ import annotations

from hpstudy.evaluation.metrics import METRICS
from hpstudy.experiment.hyperparameters import console_names
from hpstudy.experiment.outcomes import ranked
from hpstudy.experiment.storage import redact


def shown_metrics() -> tuple[str, ...]:
    """Metrics shown after the objectives (when the trials have them), in registry order."""
    return tuple(prefix + m.name for m in METRICS.values() for prefix in m.console)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def top_table(study, objectives, k: int = 5) -> str:
    """Plain-text table of the ``k`` best completed trials."""
    trials = ranked(study)[:k]
    if not trials:
        return "no completed trial yet"
    metric_cols = list(dict.fromkeys([*objectives, *shown_metrics()]))
    metric_cols = [m for m in metric_cols
                   if any(m in t.user_attrs.get("metrics", {}) for t in trials)]
    params = [p for p in console_names() if any(p in t.user_attrs.get("hparams", {}) for t in trials)]
    header = ["trial", *metric_cols, *params]
    rows = [[str(t.number), *[_fmt(t.user_attrs.get("metrics", {}).get(m, "")) for m in
                              metric_cols],
             *[_fmt(t.user_attrs.get("hparams", {}).get(p, "")) for p in params]]
            for t in trials]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def print_outcome(outcome) -> None:
    """Summary of a finished ``hpstudy study`` run."""
    record, cfg = outcome.finish, outcome.cfg
    c = record["counts"]
    print(f"\nstudy {cfg.study.name!r}: {c['completed']} completed, {c['pruned']} pruned, "
          f"{c['diverged']} diverged, {c['failed']} failed, {c['interrupted']} interrupted"
          + (f", {c['queued']} queued for the next run" if c.get("queued") else "")
          + f" (target {record['target']}); this run: {outcome.ran} trials in "
          f"{outcome.seconds:.1f} s\n")
    print(top_table(outcome.study, cfg.objectives))
    best = record.get("best")
    if best:
        print(f"\nbest: trial {best['number']}, "
              + ", ".join(f"{o} = {v:.4g}" for o, v in zip(cfg.objectives, best["values"],
                                                            strict=True)))
    reg = record.get("registered_model")
    if reg:
        print(f"model registry: {reg['name']} version {reg['version']} (models:/{reg['name']}/"
              f"{reg['version']})")
    print(f"\nresults: MLflow {redact(outcome.tracking_uri)} (experiment {cfg.study.name!r}), "
          f"Optuna {redact(outcome.storage)}")
    if outcome.tracking_uri.startswith(("http://", "https://")):
        print(f"browse:  {outcome.tracking_uri}  (the tracking server's UI)")
    else:
        print("browse:  make ui            (MLflow UI on http://127.0.0.1:5000)")
    print(f"compare: make report STUDY={cfg.study.name}")


def print_single(run) -> None:
    """Summary of ``hpstudy train``."""
    print(f"trained in {run.seconds:.1f} s; MLflow run {run.run_id} in experiment "
          f"{run.experiment!r} ({run.tracking_uri})")
    for key in sorted(run.metrics):
        if key.startswith(("val_", "test_", "stability_")):
            print(f"  {key:<34} {run.metrics[key]:.4g}")
