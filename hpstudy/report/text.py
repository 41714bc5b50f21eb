"""The words of a report: figure titles and captions, column labels and value formatting.

Shared by the HTML and Markdown renderers so that both say the same thing. Captions are plain
text built from the records; the renderers escape them.
"""

from __future__ import annotations

import statistics

from hpstudy.evaluation.chart_registry import CHARTS, winner_charts
from hpstudy.evaluation.metrics import METRICS
from hpstudy.report import analysis as an
from hpstudy.report.records import StudyRecord

#: short column labels (the full metric name is the cell's tooltip in HTML)
LABELS = {name: m.label for m in METRICS.values() if m.label for name in m.logged_names}

STABILITY_TEXT = (
    "Lower is steadier for every score. Noise sensitivity: mean change of the predicted "
    "probabilities per unit of Gaussian input noise (an empirical Lipschitz constant); flip rate: "
    "share of test predictions whose class changes under that noise; Jacobian norm: mean "
    "‖∂f/∂x‖ of the output with respect to the input; retrain disagreement and metric std: how "
    "often, and how much, models retrained on bootstrap resamples of the training set disagree "
    "(computed for the top trials at the end of the study). A model that learned nothing is "
    "perfectly 'stable', so compare these among good trials only.")

#: titles of the best trial's charts, in the order the report shows them
WINNER_TITLES = {name: CHARTS[name].title for name in winner_charts()}


def fmt(value, digits: int = 4) -> str:
    """A cell: floats with ``digits`` significant digits, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.{digits}g}"
    return str(value)


def fmt_gain(column: str, value) -> str:
    """A gain/lift table cell: shares and gains as percentages, lift with two decimals."""
    if isinstance(value, float) and ("gain" in column or "share" in column or "rate" in column):
        return f"{value:.1%}"
    if isinstance(value, float) and "lift" in column:
        return f"{value:.2f}"
    return fmt(value, 3)


def label(column: str) -> str:
    return LABELS.get(column, column)


def summary_rows(record: StudyRecord) -> list[tuple[str, str]]:
    """The study's summary as (label, text) pairs."""
    counts = ", ".join(f"{n} {k}" for k, n in record.counts.items() if n)
    best = record.best_trial
    directions = ", ".join(f"{o} ({d})" for o, d in zip(record.objectives, record.directions,
                                                         strict=True))
    rows = [("dataset", f"{record.dataset} (fingerprint {record.fingerprint}), {record.task}"),
            ("objective" + ("s" if len(record.objectives) > 1 else ""), directions),
            ("sampler / pruner", f"{record.sampler} / {record.pruner}"),
            ("trials", f"{len(record.trials)}: {counts}"),
            ("wall time", f"{an.duration(record.wall_seconds)} from the first trial's start to "
                          f"the last one's end (started {record.started or '—'}); "
                          f"{an.duration(record.trial_seconds)} of trial time in all")]
    if best is not None:
        values = ", ".join(fmt(v) for v in best.values)
        rows.append(("best value", f"{values} (trial {best.number})"))
        rows.append(("best parameters", params_text(record, best)))
    fixed = fixed_text(record)
    if fixed:
        rows.append(("fixed settings", fixed))
    return rows


def params_text(record: StudyRecord, trial) -> str:
    shown = [(p, an.shown_value(trial, p)) for p in an.param_order(record.searched)]
    return ", ".join(f"{p} = {fmt(v, 3)}" for p, v in shown if v is not None)


def fixed_text(record: StudyRecord) -> str:
    """Hyperparameters every trial had and the search did not vary (from the best trial)."""
    best = record.best_trial
    if best is None:
        return ""
    fixed = [p for p in an.param_order(best.params) if p not in record.searched]
    return ", ".join(f"{p} = {fmt(best.params[p], 3)}" for p in fixed)


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
def _top_range(record: StudyRecord, param: str) -> str:
    values = [an.shown_value(t, param) for t in record.top_trials()]
    values = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if not values:
        return ""
    k = len(record.top)
    who = f"The top {k} trials" if len(values) == k else \
        f"Of the top {k} trials, the {len(values)} that used it"
    return f" {who} had {param} from {min(values):.3g} to {max(values):.3g}."


def _batch_medians(record: StudyRecord) -> str:
    rows = an.batch_effects(record)
    sizes = sorted({r["batch_size"] for r in rows}, key=lambda v: an.category_key("batch_size", v))
    parts = [f"{'full' if s == 'full' else s}: "
             f"{statistics.median(r['epoch_seconds'] for r in rows if r['batch_size'] == s):.3g} s"
             for s in sizes]
    return " Median seconds per epoch by batch size: " + ", ".join(parts) + "." if parts else ""


def _pair_text(record: StudyRecord) -> str:
    parts = []
    for kind, number in record.gradient_pair.items():
        ratio = an.gradient_ratio(record.trial(number))
        name = "sigmoid/tanh" if kind == "saturating" else "ReLU-family"
        if ratio is not None:
            parts.append(f"best {name} trial {number}: first layer {ratio:.2g}× the output layer")
    return (" At the last epoch: " + "; ".join(parts) + ".") if parts else ""


def figure_text(record: StudyRecord, name: str) -> tuple[str, str]:
    """(title, caption) of a report figure."""
    obj = record.objectives[0]
    top_k = len(record.top)
    texts = {
        "importances.png": ("Parameter importance", f"fANOVA: the share of the variance of {obj} "
                            "across the completed trials that each hyperparameter explains."
                            + (f" {record.importance_note}." if record.importance_note else "")),
        "categories.png": ("The objective by " + " and by ".join(
                               p for p in ("activation", "initializer") if an.categories(record, p)),
                           "Dots: completed trials; black bar and number: their median; open "
                           "circles: pruned trials at the value they were stopped on. "
                           "Initializer auto = He for the ReLU family, Xavier for sigmoid/tanh."),
        "activation_x_initializer.png": ("Activation × initializer",
                                         "Colour: median over the completed trials of each "
                                         "pair; grey cells have no completed trial."),
        "learning_rate.png": ("Learning rate against the objective",
                              "Log axis. Too small a rate learns too slowly (pruned early or "
                              "stuck low), too large a rate oscillates or diverges (red crosses)."
                              + _top_range(record, "learning_rate")),
        "lambda.png": ("λ (regularization strength) against the objective",
                       "Log axis; only trials with a regularizer, coloured by its kind (l1, l2, "
                       "elastic). The dashed line is the best trial without regularization."
                       + _top_range(record, "lambda")),
        "batch_size.png": ("Batch size: time per epoch and final loss",
                           "Each dot a trial (the last epoch it ran); black bars: medians. Batch "
                           "size 1 takes one step per row, full batch one step per epoch."
                           + _batch_medians(record)),
        "depth_width.png": ("Depth and width against the objective",
                            "Depth = hidden layers, width = units in each hidden layer."),
    }
    texts.update(_learning_texts(record, obj, top_k))
    return texts.get(name, (name, ""))


def _learning_texts(record: StudyRecord, obj: str, top_k: int) -> dict:
    median = f" over the median completed trial #{record.median} (dashed)" \
        if record.median is not None and record.median not in record.top else ""
    return {
        "learning_curves.png": (f"Loss curves of the top {top_k} trials{median}",
                                f"Validation loss and {record.step_metric} per epoch, read from "
                                "each run's step metrics."),
        "gradient_pair.png": ("Vanishing gradients: per-layer gradient norms",
                              "The best sigmoid/tanh trial beside the best ReLU-family trial, "
                              "one log scale. σ′(z) ≤ 1/4 and tanh′(z) ≤ 1, so every saturating "
                              "layer shrinks the gradient on its way back to the input; ReLU "
                              "passes it unchanged where it is active." + _pair_text(record)),
        "gradient_ratios.png": ("How much gradient reaches the first layer, every trial",
                                "First hidden layer's gradient norm over the output layer's, "
                                "at each trial's last epoch (1 = nothing lost on the way back). "
                                "Labelled trials kept less than a tenth."),
        "history.png": ("Optimization history", f"{obj} of each trial in the order the "
                        "sampler proposed them; the red line is the best so far."),
        "parallel.png": ("Parallel coordinates", "One line per completed trial across the most "
                         "important hyperparameters (log axes for rates and λ); gaps are "
                         "parameters a trial did not use."),
        "pareto.png": ("Pareto front", "No trial on the front is beaten on both objectives by "
                       "another; moving along it trades one objective for the other."),
    }
