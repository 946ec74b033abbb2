"""The reproduction table as Markdown, CSV, HTML or LaTeX.

md/html/latex show formatted cells with footnote marks; csv holds the raw numbers (one column per
fact, percentages unrounded, run ids) for whoever analyses it next.
"""

from __future__ import annotations

import csv
import html
import io

from sweeps.table_references import paper_dataset
from sweeps.table_rows import Row, Table

FORMATS = ("md", "csv", "html", "latex")
DASH = "—"
TEST_MARK = "†"    # selected on the test set (as the papers did), not on validation
TRIAL_MARK = "‡"   # delta from the best trial: no retrain yet
NOTES = {TEST_MARK: "selected on the test set (as the official code does), not on a validation split",
         TRIAL_MARK: "delta of the best sweep trial: the method has no finished retrain yet"}
LONG_NAMES = {"ucf-crime": "UCF-Crime", "xd-violence": "XD-Violence"}


def render(table: Table, fmt: str) -> str:
    if fmt == "csv":
        return _csv(table)
    header, cells, marks = _cells(table)
    caption = _caption(table)
    notes = [f"{m} {NOTES[m]}" for m in (TEST_MARK, TRIAL_MARK) if m in marks]
    return {"md": _markdown, "html": _html, "latex": _latex}[fmt](caption, header, cells, notes)


def _caption(table: Table) -> str:
    what = (f"{table.metric_label} (wsvad metric `{table.metric}`), against the published numbers"
            if table.compared_to else
            f"{table.metric_label} (wsvad metric `{table.metric}`); dataset {table.dataset or '?'} has no published "
            "numbers, so both benchmarks' are shown for orientation and no delta is computed")
    if table.compared_to and paper_dataset(table.dataset) != table.compared_to:
        what += f" (the feature set's dataset is {table.dataset or 'unnamed'}: compared as asked by --paper)"
    return f"{table.title}: {what}. Retrained = mean ± std over seeds, validation-selected."


def _cells(table: Table) -> tuple[list[str], list[list[str]], set[str]]:
    paper_head = (f"Paper ({table.metric_label})" if table.compared_to
                  else "Paper (" + " · ".join(f"{LONG_NAMES[k]}" for k in LONG_NAMES) + ")")
    header = ["Method", paper_head, "Source", "Best trial", "Retrained", "Δ paper", "Trials", "Compute",
              "Feature set"]
    marks: set[str] = set()
    rows = []
    for row in table.rows:
        best = _pct(row.best_trial) + (TEST_MARK if row.best_trial is not None and row.best_trial_selected_on == "test"
                                        else "")
        retrained = DASH
        if row.retrain_mean is not None:
            retrained = _pct(row.retrain_mean) + (f" ± {row.retrain_std:.2f}" if row.retrain_std is not None else "")
            retrained += f" (n={row.retrain_seeds})" + (TEST_MARK if row.retrain_selected_on == "test" else "")
        delta = DASH if row.delta is None else f"{row.delta:+.2f}".replace("-", "−")
        if row.delta is not None and row.delta_from == "trial":
            delta += TRIAL_MARK
        if not table.compared_to:
            delta = "n/a"
        marks |= {m for m in (TEST_MARK, TRIAL_MARK) if m in best + retrained + delta}
        trials = DASH if not row.trials else str(row.trials) + (f" ({row.trials_failed} failed)" if row.trials_failed
                                                                 else "")
        rows.append([row.name, _paper(row, table), _source(row), best, retrained, delta, trials,
                     _duration(row.compute_seconds) if row.trials else DASH, row.feature_set or DASH])
    return header, rows, marks


def _paper(row: Row, table: Table) -> str:
    if not row.paper:
        return DASH
    def one(ref) -> str:
        return f"{ref.value:.2f}" + (" (unconfirmed)" if ref.unconfirmed else "")
    if table.compared_to:
        return one(row.paper[table.compared_to])
    return " · ".join(f"{LONG_NAMES[k]} {one(ref)}" for k, ref in row.paper.items())


def _source(row: Row) -> str:
    texts = {k: ref.source + (f"; {ref.note}" if ref.note else "") for k, ref in row.paper.items()}
    if len(set(texts.values())) <= 1:
        return next(iter(texts.values()), DASH)
    return " · ".join(f"{LONG_NAMES[k]}: {text}" for k, text in texts.items())


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _markdown(caption: str, header: list[str], rows: list[list[str]], notes: list[str]) -> str:
    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    out = [caption, "", line(header), "|" + "|".join("---" for _ in header) + "|", *map(line, rows)]
    return "\n".join(out + ([""] + notes if notes else [])) + "\n"


def _html(caption: str, header: list[str], rows: list[list[str]], notes: list[str]) -> str:
    esc = html.escape
    out = ["<table>", f"  <caption>{esc(caption)}</caption>",
           "  <thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead>", "  <tbody>"]
    out += ["    <tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows]
    out += ["  </tbody>", "</table>"]
    out += [f"<p>{esc(n)}</p>" for n in notes]
    return "\n".join(out) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_UNICODE = {"±": r"$\pm$", "Δ": r"$\Delta$", "—": "---", "−": "$-$", "†": r"\textsuperscript{\dag}",
                  "‡": r"\textsuperscript{\ddag}", "·": r"$\cdot$", "`": ""}


def _tex(text: str) -> str:
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    return "".join(_LATEX_UNICODE.get(ch, ch) for ch in out)


def _latex(caption: str, header: list[str], rows: list[list[str]], notes: list[str]) -> str:
    out = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{llp{4.5cm}rrrrrl}",  # text left, numbers right, sources wrapped
           r"\toprule", " & ".join(_tex(h) for h in header) + r" \\", r"\midrule"]
    out += [" & ".join(_tex(c) for c in r) + r" \\" for r in rows]
    out += [r"\bottomrule", r"\end{tabular}"]
    out += [r"\par\footnotesize " + _tex(n) for n in notes]
    out += [r"\caption{" + _tex(caption) + "}", r"\end{table}"]
    return "\n".join(out) + "\n"


CSV_COLUMNS = ("method", "name", "metric", "compared_to", "paper_ucf_crime", "paper_xd_violence", "paper_source",
               "paper_unconfirmed", "best_trial", "best_trial_selected_on", "best_trial_run_id", "retrain_mean",
               "retrain_std", "retrain_seeds", "retrain_selected_on", "retrain_run_id", "delta", "delta_from",
               "trials", "trials_failed", "compute_seconds", "feature_set")


def _csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in table.rows:
        ucf, xd = row.paper.get("ucf-crime"), row.paper.get("xd-violence")
        writer.writerow([
            row.method, row.name, table.metric, table.compared_to or "", _raw(ucf and ucf.value),
            _raw(xd and xd.value), _source(row) if row.paper else "",
            int(any(r.unconfirmed for r in row.paper.values())), _raw(row.best_trial), row.best_trial_selected_on,
            row.best_trial_run_id, _raw(row.retrain_mean), _raw(row.retrain_std), row.retrain_seeds or "",
            row.retrain_selected_on, row.retrain_run_id, _raw(row.delta), row.delta_from, row.trials,
            row.trials_failed, f"{row.compute_seconds:.3f}", row.feature_set])
    return buf.getvalue()


def _raw(value) -> str:
    return "" if value is None else repr(float(value))
