"""Plots that let a run be read at a glance: ROC and PR curves, per-class AUC bars, score timelines.

Matplotlib's object API (`matplotlib.figure.Figure`) draws straight to PNG through the Agg
canvas: no pyplot global state, no display, safe inside Ray workers and threads.
"""

from wsvad.plots.classes import per_class_auc_bars
from wsvad.plots.curves import pr_curve, roc_curve
from wsvad.plots.run_plots import write_run_plots
from wsvad.plots.timeline import label_intervals, score_timeline

__all__ = ["label_intervals", "per_class_auc_bars", "pr_curve", "roc_curve", "score_timeline", "write_run_plots"]
