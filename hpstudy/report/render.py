"""Render study records as one self-contained HTML page, as Markdown and as CSV.

HTML: every image is embedded as a ``data:image/png;base64`` URI and the styles are inline, so
the file needs nothing else (no scripts, no external styles or fonts) and prints as it shows.
Every string that came from a study (names, parameter values, class and column names) goes
through :func:`html.escape`. Markdown escapes the same strings (``<``, ``>``, ``&`` as entities,
``|`` in tables) and links the PNG files beside it. The CSV has one row per trial.
"""

from __future__ import annotations

import base64
import csv
import html
import zlib
from pathlib import Path

from hpstudy import __version__
from hpstudy.report import analysis as an
from hpstudy.report.records import StudyRecord
from hpstudy.report.text import (
    STABILITY_TEXT,
    WINNER_TITLES,
    figure_text,
    fmt,
    fmt_gain,
    label,
    params_text,
    summary_rows,
)

COMPARE = "_compare"

STYLE = """
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #dadce0; --band: #f6f8fa; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: var(--ink); margin: 0 auto; max-width: 1240px; padding: 24px 28px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid
     var(--rule); }
h3 { font-size: 15px; margin: 22px 0 6px; }
p.meta, figcaption, .note { color: var(--muted); font-size: 12.5px; }
nav { background: var(--band); border: 1px solid var(--rule); border-radius: 6px;
      padding: 8px 14px; margin: 14px 0; font-size: 13px; }
nav a { margin-right: 14px; white-space: nowrap; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 9px; text-align: right;
         vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.text, th.text { text-align: left; }
table.kv th { text-align: left; width: 170px; background: none; color: var(--muted);
              font-weight: 500; }
table.kv td { text-align: left; }
tr.best td { background: #fff7d6; font-weight: 600; }
ul.findings { background: #f3f8fd; border-left: 4px solid var(--accent); padding: 10px 14px
              10px 30px; margin: 12px 0; }
ul.findings li { margin: 3px 0; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 14px 18px; align-items: start; }
figure { margin: 10px 0; break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figure.wide { grid-column: 1 / -1; }
figcaption b { color: var(--ink); }
.scroll { overflow-x: auto; }
article + article { margin-top: 48px; border-top: 4px solid var(--rule); }
@page { size: A4 landscape; margin: 10mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav { display: none; }
  .scroll { overflow: visible; }
  figure img { max-height: 88mm; width: auto; }
  table { font-size: 10px; }
  th, td { padding: 2px 6px; }
  h2 { break-after: avoid; }
  table, tr, figure { break-inside: avoid; }
  .grid { gap: 8px 10px; }
  a { color: inherit; }
}
"""


def esc(value) -> str:
    """HTML-escape anything (quotes too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def anchor(record: StudyRecord, section: str) -> str:
    """An id for a section of a study (ids stay valid whatever the study is called)."""
    safe = "".join(c if c.isascii() and c.isalnum() else "-" for c in record.name)
    return f"{section}-{safe}-{zlib.crc32(record.name.encode()):08x}"


# ----------------------------------------------------------------------------------------------
# HTML building blocks
# ----------------------------------------------------------------------------------------------
def link(url: str | None, text: str) -> str:
    if not url or not url.startswith(("http://", "https://")):
        return esc(text)
    return f'<a href="{esc(url)}">{esc(text)}</a>'


def table(header: list[str], rows: list[list], text_cols: int = 1, css: str = "",
          row_css: list[str] | None = None, raw: bool = False) -> str:
    """An HTML table; the first ``text_cols`` columns are left-aligned. Cells are escaped
    unless ``raw`` (then they must be HTML already)."""
    def cell(tag, i, value):
        cls = ' class="text"' if i < text_cols else ""
        return f"<{tag}{cls}>{value if raw else esc(value)}</{tag}>"

    head = "".join(cell("th", i, esc(h) if raw else h) for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        cls = f' class="{row_css[r]}"' if row_css and row_css[r] else ""
        body.append(f"<tr{cls}>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>")
    return (f'<div class="scroll"><table class="{css}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def image(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from a PNG header (the IHDR chunk), (0, 0) if not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return 0, 0
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def is_wide(path: Path) -> bool:
    """Panels side by side (wider than 900 px and twice as wide as high) span both columns."""
    width, height = png_size(path)
    return width > 900 and width > 1.8 * height


def figure(path: Path, title: str, caption: str, wide: bool | None = None) -> str:
    """A figure with its caption; ``wide`` (default: :func:`is_wide`) spans both columns."""
    wide = is_wide(path) if wide is None else wide
    cls = ' class="wide"' if wide else ""
    return (f"<figure{cls}>{image(path, title)}<figcaption><b>{esc(title)}.</b> {esc(caption)}"
            "</figcaption></figure>")


def figures_block(record: StudyRecord, figs: dict[str, Path], names) -> str:
    parts = []
    for name in names:
        if name in figs:
            title, caption = figure_text(record, name)
            parts.append(figure(figs[name], title, caption))
    return f'<div class="grid">{"".join(parts)}</div>' if parts else ""


# ----------------------------------------------------------------------------------------------
# sections of one study
# ----------------------------------------------------------------------------------------------
def summary_html(record: StudyRecord) -> str:
    rows = [[esc(k), esc(v)] for k, v in summary_rows(record)]
    best = record.best_trial
    if best is not None and best.run_url:
        rows.append(["best run", link(best.run_url, f"trial-{best.number:04d} in the MLflow UI")])
    if record.parent_url:
        rows.append(["study run", link(record.parent_url, f"{record.name} (parent run)")])
    rows.append(["stores", esc(f"MLflow {record.tracking_uri} (experiment "
                               f"{record.experiment_id}); Optuna {record.storage}")])
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    found = "".join(f"<li>{esc(s)}</li>" for s in an.findings(record))
    return (f'<h2 id="{anchor(record, "summary")}">Summary</h2><table class="kv">{body}</table>'
            f'<h3>What the study found</h3><ul class="findings">{found}</ul>')


def _trial_cell(row: dict) -> str:
    return link(row["run_url"], f"#{row['trial']}")


def _score_header(record: StudyRecord) -> str:
    """Two header rows: metric names over their validation/test columns."""
    groups, stab = an.metric_groups(record), an.stability_columns(record, short=True)
    objectives = [o for o in an.metric_columns(record) if o in record.objectives]
    top = ['<th class="text" rowspan="2">rank</th><th class="text" rowspan="2">trial</th>']
    top += [f'<th rowspan="2" title="{esc(o)}">{esc(label(o))}<br><small>objective</small></th>'
            for o in objectives]
    top += [f'<th colspan="{len(cols)}">{esc(m)}</th>' for m, cols in groups]
    if stab:
        top.append(f'<th colspan="{len(stab)}">stability (lower is steadier)</th>')
    second = [f"<th>{esc(c.split('_')[0])}</th>" for _, cols in groups for c in cols]
    second += [f'<th title="{esc(s)}">{esc(label(s))}</th>' for s in stab]
    return f"<tr>{''.join(top)}</tr><tr>{''.join(second)}</tr>"


def _score_table(record: StudyRecord, rows: list[dict]) -> str:
    objectives = [o for o in an.metric_columns(record) if o in record.objectives]
    columns = objectives + [c for _, cols in an.metric_groups(record) for c in cols]
    body = []
    for r in rows:
        cells = [f'<td class="text">{esc(r["rank"])}</td>', f'<td class="text">{_trial_cell(r)}</td>']
        cells += [f"<td>{esc(fmt(r['metrics'].get(c)))}</td>" for c in columns]
        cells += [f"<td>{esc(fmt(v, 3))}</td>" for v in r["stability"].values()]
        body.append(f'<tr{" class=best" if r["best"] else ""}>{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table><thead>{_score_header(record)}</thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def leaderboard_html(record: StudyRecord) -> str:
    rows = an.leaderboard(record)
    marks = ["best" if r["best"] else "" for r in rows]
    params = list(rows[0]["params"]) if rows else []
    pcells = [[esc(r["rank"]), _trial_cell(r), *[esc(fmt(r["params"][p], 3)) for p in params]]
              for r in rows]
    return (f'<h2 id="{anchor(record, "leaderboard")}">Leaderboard</h2>'
            f'<p class="note">The top {len(rows)} completed trials by {esc(record.objectives[0])}'
            "; each trial links to its MLflow run (start the UI with <code>make ui</code>).</p>"
            + _score_table(record, rows)
            + "<h3>Their hyperparameters</h3>"
            + table(["rank", "trial", *params], pcells, 2, row_css=marks, raw=True)
            + (UNUSED_NOTE if any(v is None for r in rows for v in r["params"].values()) else ""))


UNUSED_NOTE = ('<p class="note">— : not used by that trial (λ without a regularizer, momentum '
               "without the momentum optimizer).</p>")


MATTERED = ("importances.png", "activation_x_initializer.png", "categories.png",
            "learning_rate.png", "lambda.png", "batch_size.png", "depth_width.png")
LEARNED = ("learning_curves.png", "gradient_pair.png", "gradient_ratios.png", "history.png",
           "parallel.png")


def mattered_html(record: StudyRecord, figs: dict[str, Path]) -> str:
    note = "" if record.importances else \
        f'<p class="note">Parameter importance: {esc(record.importance_note or "—")}.</p>'
    return (f'<h2 id="{anchor(record, "mattered")}">What mattered</h2>{note}'
            + figures_block(record, figs, MATTERED))


def learned_html(record: StudyRecord, figs: dict[str, Path]) -> str:
    return (f'<h2 id="{anchor(record, "learned")}">How they learned</h2>'
            + figures_block(record, figs, LEARNED))


def winner_html(record: StudyRecord, figs: dict[str, Path]) -> str:
    best = record.best_trial
    parts = [f'<h2 id="{anchor(record, "winner")}">The winner up close: trial {best.number}</h2>',
             f'<p class="note">{esc(params_text(record, best))}. Charts and table as logged by '
             f"the trial's run ({link(best.run_url, 'open in MLflow')}); nothing is recomputed."
             "</p>"]
    if "pareto.png" in figs:
        parts += [figures_block(record, figs, ["pareto.png"]), pareto_table_html(record)]
    charts = [figure(figs[f"winner_{c}.png"], t, "") for c, t in WINNER_TITLES.items()
              if f"winner_{c}.png" in figs]
    if charts:
        parts.append(f'<div class="grid">{"".join(charts)}</div>')
    elif record.task == "classification":
        parts.append('<p class="note">The best trial logged no charts (see [tracking] charts '
                     "and charts_for in the experiment file).</p>")
    parts += [gain_lift_html(record), stability_html(record)]
    return "".join(parts)


def pareto_table_html(record: StudyRecord) -> str:
    header, rows = an.pareto_table(record)
    return ("<h3>Trials on the Pareto front</h3>"
            + table(header, [[fmt(v, 4) for v in r] for r in rows], 1)
            + f'<p class="note">The winner below is the front\'s best on {esc(record.objectives[0])}'
              "; the others trade some of it for the second objective.</p>")


def gain_lift_html(record: StudyRecord) -> str:
    view = an.gain_lift_view(record.gain_lift)
    if view is None:
        return ""
    header, rows = view
    rows = [[fmt_gain(h, v) for h, v in zip(header, r, strict=True)] for r in rows]
    note = ("one row per class, that class against the rest; " if "class" in header else "") + \
        "cumulative gain: share of the positives found in the top x % of scores; lift: how many " \
        "times more positives than a random pick."
    return ("<h3>Gain / lift table (test split)</h3>"
            + table(header, rows, 1)
            + f'<p class="note">{esc(note)}</p>')


def stability_html(record: StudyRecord) -> str:
    cols = an.stability_columns(record)
    if not cols:
        return ""
    rows = [[f"#{t.number}" + (" (winner)" if t.number == record.best else ""),
             fmt(t.value), *[fmt(t.metrics.get(c), 3) for c in cols]] for t in record.top_trials()]
    marks = ["best" if t.number == record.best else "" for t in record.top_trials()]
    return ("<h3>Stability of the winner next to the other top trials</h3>"
            + table(["trial", record.objectives[0], *[label(c) for c in cols]], rows, 1,
                    row_css=marks)
            + f'<p class="note">{esc(STABILITY_TEXT)}</p>')


def study_html(record: StudyRecord, figs: dict[str, Path]) -> str:
    return (summary_html(record) + leaderboard_html(record) + mattered_html(record, figs)
            + learned_html(record, figs) + winner_html(record, figs))


# ----------------------------------------------------------------------------------------------
# the page
# ----------------------------------------------------------------------------------------------
def _nav(records: list[StudyRecord]) -> str:
    sections = (("summary", "Summary"), ("leaderboard", "Leaderboard"),
                ("mattered", "What mattered"), ("learned", "How they learned"),
                ("winner", "The winner"))
    lines = ['<div><a href="#compare">Comparison</a></div>'] if len(records) > 1 else []
    for r in records:
        prefix = f"<b>{esc(r.name)}</b>: " if len(records) > 1 else ""
        links = " ".join(f'<a href="#{anchor(r, s)}">{t}</a>' for s, t in sections)
        lines.append(f"<div>{prefix}{links}</div>")
    return f"<nav>{''.join(lines)}</nav>"


def compare_html(records: list[StudyRecord], figs: dict[str, Path]) -> str:
    header, rows = an.comparison(records)
    best_header, best = an.best_params_table(records)
    chart = figure(figs["compare.png"], "Objective distributions",
                   "Every completed trial of each study; box = quartiles, line = median.", True) \
        if "compare.png" in figs else ""
    return ('<h2 id="compare">Comparison</h2>' + table(header, rows, len(header))
            + "<h3>Best trial of each study</h3>" + table(best_header, best, len(best_header))
            + '<p class="note">(fixed): not searched in that study.</p>'
            + f'<div class="grid">{chart}</div>')


def render_html(records: list[StudyRecord], figs: dict[str, dict[str, Path]],
                generated: str) -> str:
    """The whole report page (see the module docstring); ``figs[study name]`` maps figure
    names to PNG files, ``figs[COMPARE]`` holds the comparison chart."""
    names = " + ".join(r.name for r in records)
    body = [f"<h1>{'Comparison' if len(records) > 1 else 'Study'}: {esc(names)}</h1>",
            f'<p class="meta">hpstudy {esc(__version__)} report, generated {esc(generated)} '
            "from the stored runs (nothing retrained).</p>", _nav(records)]
    if len(records) > 1:
        body.append(compare_html(records, figs.get(COMPARE, {})))
    for r in records:
        title = f"<h1>{esc(r.name)}</h1>" if len(records) > 1 else ""
        body.append(f"<article>{title}{study_html(r, figs.get(r.name, {}))}</article>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>hpstudy report: {esc(names)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


# ----------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------
def _safe_cell(value):
    """Defuse spreadsheet formulas in text cells (a leading =, +, -, @ is quoted)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def trial_rows(records: list[StudyRecord]) -> tuple[list[str], list[dict]]:
    """One row per trial of every study: identity, state, values, params, final metrics."""
    params = an.param_order({p for r in records for t in r.trials for p in t.params})
    metrics = sorted({m for r in records for t in r.trials for m in t.metrics})
    n_values = max(len(r.objectives) for r in records)
    values = ["value"] + [f"value_{i + 1}" for i in range(1, n_values)]
    header = ["study", "number", "state", "outcome", "run_id", *values, "duration_seconds",
              *params, *metrics, "reason"]
    rows = []
    for r in records:
        for t in r.trials:
            row = {"study": r.name, "number": t.number, "state": t.state, "outcome": t.outcome,
                   "run_id": t.run_id, "duration_seconds": t.seconds, "reason": t.reason}
            row.update(zip(values, t.values or [], strict=False))
            row.update({p: t.params.get(p) for p in params})
            row.update({m: t.metrics.get(m) for m in metrics})
            rows.append(row)
    return header, rows


def write_csv(records: list[StudyRecord], path: Path) -> Path:
    header, rows = trial_rows(records)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _safe_cell(v) for k, v in row.items()})
    return path
