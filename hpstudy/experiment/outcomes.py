"""How a trial ended and which trials are best, read from Optuna alone.

The names of the user attributes a trial's outcome is stored under, the count of trials by
outcome and the ranking of completed trials. Shared by the study (objective, finish, claims,
console) and the reports, which must not load the network or chart stacks to read them.
"""

from __future__ import annotations

import optuna

__all__ = ["COUNTED", "OUTCOME", "VALUES", "best_trial", "counts", "ranked"]

State = optuna.trial.TrialState

#: Optuna user attribute holding a trial's outcome (completed, pruned, diverged, error, interrupted)
OUTCOME = "hpstudy_outcome"
#: outcomes that count towards a study's trial target
COUNTED = ("completed", "pruned", "diverged")
#: Optuna user attribute holding a completed trial's objective values
VALUES = "hpstudy_values"


def ranked(study: optuna.Study) -> list:
    """Completed trials, best first by the first objective."""
    done = [t for t in study.get_trials(deepcopy=False, states=(State.COMPLETE,))
            if t.values is not None]
    sign = -1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1
    return sorted(done, key=lambda t: (sign * t.values[0], t.number))


def best_trial(study: optuna.Study):
    """The best trial (single objective) or the Pareto-front trial best on the first objective."""
    front = {t.number for t in study.best_trials} if len(study.directions) > 1 else None
    for t in ranked(study):
        if front is None or t.number in front:
            return t
    return None


def counts(study: optuna.Study) -> dict:
    """Trials by outcome: completed, pruned, diverged, failed (errors), interrupted, running,
    queued (WAITING: claimed by the next worker or run; see :mod:`hpstudy.experiment.claims`)."""
    out = dict.fromkeys(("completed", "pruned", "diverged", "failed", "interrupted",
                         "running", "queued"), 0)
    for t in study.get_trials(deepcopy=False):
        if t.state == State.COMPLETE:
            out["completed"] += 1
        elif t.state == State.PRUNED:
            out["pruned"] += 1
        elif t.state == State.RUNNING:
            out["running"] += 1
        elif t.state == State.WAITING:
            out["queued"] += 1
        elif t.user_attrs.get(OUTCOME) in ("diverged", "interrupted"):
            out[t.user_attrs[OUTCOME]] += 1
        else:
            out["failed"] += 1
    return out
