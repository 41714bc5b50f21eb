"""The report's derived tables on hand-made records (no stores, no charts)."""

from __future__ import annotations

import pytest

from hpstudy.report import analysis as an
from hpstudy.report.records import StudyRecord, TrialRecord, gradient_pair, median_trial


def trial(number, value=None, outcome="completed", last_value=None, **params):
    state = {"completed": "COMPLETE", "pruned": "PRUNED"}.get(outcome, "FAIL")
    params = {"activation": "relu", "depth": 1, "learning_rate": 0.01, **params}
    return TrialRecord(number=number, state=state, outcome=outcome,
                       values=None if value is None else [value], params=params,
                       suggested=sorted(params), last_value=last_value)


def study(trials, directions=("maximize",), objectives=("val_accuracy",), pareto=None):
    done = sorted((t for t in trials if t.values), key=lambda t: -t.values[0])
    return StudyRecord(name="s", dataset="d", fingerprint="f", task="classification",
                       objectives=list(objectives), directions=list(directions), sampler="tpe",
                       pruner="median", counts={}, wall_seconds=1.0, trial_seconds=1.0,
                       started=None, trials=trials, ranked=[t.number for t in done],
                       best=done[0].number if done else None, top=[t.number for t in done][:3],
                       pareto=pareto, searched=["activation", "depth", "learning_rate"])


TRIALS = [trial(0, 0.9, activation="relu"), trial(1, 0.7, activation="sigmoid", depth=3),
          trial(2, 0.8, activation="relu"), trial(3, None, "pruned", 0.4, activation="sigmoid"),
          trial(4, None, "diverged", activation="tanh", learning_rate=5.0)]


def test_group_by_counts_outcomes_and_keeps_pruned_values_out():
    groups = {g.key: g for g in an.group_by(study(TRIALS), "activation")}
    assert [g.label for g in an.group_by(study(TRIALS), "activation")] == ["sigmoid", "tanh",
                                                                          "relu"]
    relu, sigmoid, tanh = groups[("relu",)], groups[("sigmoid",)], groups[("tanh",)]
    assert (relu.completed, relu.best, relu.median) == (2, 0.9, pytest.approx(0.85))
    assert (sigmoid.completed, sigmoid.pruned, sigmoid.values) == (1, 1, [0.7])
    assert (tanh.completed, tanh.failed, tanh.median) == (0, 1, None)


def test_group_by_two_parameters_and_minimizing():
    record = study(TRIALS, directions=("minimize",))
    cells = {g.key: g for g in an.group_by(record, "activation", "depth")}
    assert cells[("relu", 1)].best == 0.8 and cells[("sigmoid", 3)].completed == 1


def test_median_trial_and_gradient_pair():
    record = study(TRIALS)
    assert median_trial(record.completed()) == 2
    assert gradient_pair(record.trials, record.ranked) == {"saturating": 1, "relu": 0}


def test_gradient_ratio_is_first_over_output_layer():
    t = trial(0, 0.5)
    t.last = {"layer1_grad_norm": 0.01, "layer2_grad_norm": 0.5, "layer3_grad_norm": 1.0,
              "layer10_grad_norm": 2.0}
    assert an.layer_norms(t) == [0.01, 0.5, 1.0, 2.0]  # numeric, not text, order
    assert an.gradient_ratio(t) == pytest.approx(0.005)


def test_optimization_history_tracks_the_best_so_far():
    rows = an.optimization_history(study(TRIALS))
    assert [r["best"] for r in rows] == [0.9, 0.9, 0.9, 0.9, 0.9]
    assert rows[3]["last_value"] == 0.4 and rows[4]["value"] is None


def test_parallel_coordinates_positions_are_in_the_unit_interval():
    data = an.parallel_coordinates(study(TRIALS))
    assert [a["name"] for a in data["axes"]] == ["learning_rate", "depth", "activation",
                                                 "val_accuracy"]
    assert len(data["lines"]) == 3
    for line in data["lines"]:
        assert all(0.0 <= p <= 1.0 for p in line["positions"] if p is not None)
    best = next(line for line in data["lines"] if line["trial"] == 0)
    assert best["positions"][-1] == 1.0


def test_gain_lift_view_binary_and_one_vs_rest():
    binary = [{"bin": b, "n": 10, "population_share": b / 10, "positives": 3,
               "response_rate": 0.3, "cumulative_gain": min(1, b / 5), "lift": 2.0}
              for b in range(1, 11)]
    header, rows = an.gain_lift_view(binary)
    assert header[0] == "bin" and len(rows) == 10
    ovr = [{**r, "class": c} for c in ("a", "b") for r in binary]
    header, rows = an.gain_lift_view(ovr)
    assert header[0] == "class" and [r[0] for r in rows] == ["a", "b"]
    assert rows[0][1:] == [2.0, 0.2, 0.4, 0.6, 1.0]
    assert an.gain_lift_view(None) is None


def test_pareto_points_and_table():
    trials = [trial(0, 0.9), trial(1, 0.8), trial(2, 0.7)]
    for t, second in zip(trials, (0.3, 0.1, 0.2), strict=True):
        t.values = [t.values[0], second]
    record = study(trials, directions=("maximize", "minimize"),
                   objectives=("val_f1_macro", "stability_noise_sensitivity"), pareto=[0, 1])
    points = an.pareto_points(record)
    assert [p["trial"] for p in points["front"]] == [1, 0] and len(points["points"]) == 3
    header, rows = an.pareto_table(record)
    assert header[:3] == ["trial", "val_f1_macro", "stability_noise_sensitivity"]
    assert [r[0] for r in rows] == ["#0", "#1"]


def test_findings_name_the_best_trial():
    sentences = an.findings(study(TRIALS))
    assert sentences[0].startswith("Best: trial 0, val_accuracy = 0.9")


@pytest.mark.parametrize(("seconds", "text"), [(None, "—"), (12.34, "12.3 s"),
                                               (185, "3 min 05 s"), (3720, "1 h 02 min")])
def test_duration(seconds, text):
    assert an.duration(seconds) == text


def test_unfinished_trials_are_labelled_by_state_and_not_counted_as_failed():
    import optuna

    from hpstudy.report.records import trial_record

    State = optuna.trial.TrialState
    dist = {"activation": optuna.distributions.CategoricalDistribution(["relu", "tanh"])}
    queued, running = (trial_record(optuna.trial.create_trial(
        state=state, params={"activation": "relu"}, distributions=dist), None, None)
        for state in (State.WAITING, State.RUNNING))
    assert (queued.outcome, running.outcome) == ("queued", "running")
    unfinished = [trial(5, None, "queued"), trial(6, None, "running")]
    (relu,) = an.group_by(study([trial(0, 0.9), *unfinished]), "activation")
    assert (relu.completed, relu.pruned, relu.failed) == (1, 0, 0)
