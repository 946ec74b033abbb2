"""The reproduction table as a bar chart (PNG): paper vs best trial vs retrained mean ± std, per method."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from sweeps.table_rows import Table

COLOURS = {"paper": "#9e9e9e", "trial": "#4c72b0", "retrain": "#dd8452"}


def write_chart(table: Table, path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display; safe in a driver or a CI box
    import matplotlib.pyplot as plt

    path = Path(path)
    rows = table.rows
    x = np.arange(len(rows))
    paper = [r.paper[table.compared_to].value if table.compared_to and table.compared_to in r.paper else np.nan
             for r in rows]
    trial = [np.nan if r.best_trial is None else r.best_trial for r in rows]
    mean = [np.nan if r.retrain_mean is None else r.retrain_mean for r in rows]
    std = [0.0 if r.retrain_std is None else r.retrain_std for r in rows]

    trial_label = "best trial" + (" (some test-selected, see table)" if any(
        r.best_trial_selected_on == "test" for r in rows) else "")
    series = ([("paper", paper, None, COLOURS["paper"])] if table.compared_to else []) + [
        (trial_label, trial, None, COLOURS["trial"]), ("retrained mean ± std", mean, std, COLOURS["retrain"])]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.05 * len(rows) + 2), 4.8), dpi=110)
    for i, (label, values, errors, colour) in enumerate(series):
        offset = (i - (len(series) - 1) / 2) * width  # each method's bars centred on its tick
        group = ax.bar(x + offset, values, width, yerr=errors, capsize=3 if errors else 0, label=label,
                       color=colour, error_kw={"elinewidth": 1})
        for j, bar in enumerate(group):
            height = bar.get_height()
            if np.isfinite(height):
                top = height + (errors[j] if errors else 0.0)  # above the error bar, not through it
                ax.annotate(f"{height:.1f}", (bar.get_x() + bar.get_width() / 2, top), ha="center", va="bottom",
                            fontsize=6.5, xytext=(0, 2), textcoords="offset points")
    for i, r in enumerate(rows):
        if r.best_trial is None and r.retrain_mean is None:
            ax.annotate("no runs", (x[i], 1), ha="center", va="bottom", fontsize=7, color="#777777", rotation=90)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_xticks(x, [r.name for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(table.metric_label)
    ax.set_ylim(0, 105)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    title = table.title if table.compared_to else f"{table.title} (dataset {table.dataset or '?'}: no published numbers)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", ncols=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path
