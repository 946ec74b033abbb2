"""Per-class frame AUC as horizontal bars (`auc_class/<Class>` metrics of wsvad.protocol)."""

from __future__ import annotations

import math

from wsvad.plots.canvas import new_figure, save_png

PREFIX = "auc_class/"


def per_class_auc_bars(metrics: dict, path, title: str = ""):
    """One bar per anomaly class, the overall AUC as a line; undefined classes are listed as n/a."""
    classes = sorted(k[len(PREFIX):] for k in metrics if k.startswith(PREFIX))
    values = [float(metrics[PREFIX + c]) for c in classes]
    height = max(2.2, 0.32 * len(classes) + 1.2)
    longest = max((len(c) for c in classes), default=4)
    fig = new_figure(6.0, height, {"left": min(0.4, 0.05 + 0.013 * longest), "bottom": 0.6 / height + 0.02,
                                   "top": 1 - 0.35 / height})
    ax = fig.add_subplot()
    if classes:
        shown = [0.0 if math.isnan(v) else v for v in values]
        bars = ax.barh(classes, shown, color=["lightgrey" if math.isnan(v) else "tab:orange" for v in values])
        for bar, v in zip(bars, values):
            ax.text(min(bar.get_width(), 1.0) + 0.01, bar.get_y() + bar.get_height() / 2,
                    "n/a" if math.isnan(v) else f"{v:.3f}", va="center", fontsize=8)
        overall = metrics.get("auc")
        if overall is not None and not math.isnan(float(overall)):
            ax.axvline(float(overall), color="tab:red", ls="--", lw=1, label=f"all frames {float(overall):.3f}")
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        ax.invert_yaxis()
    else:
        ax.text(0.5, 0.5, "no per-class AUC (no anomaly classes in the test split)", ha="center", va="center")
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax.set(xlim=(0, 1.12), xlabel="frame AUC (class videos + all normal videos)", title="")
    ax.set_title(title or "per-class AUC", loc="left", fontsize=10)
    return save_png(fig, path)
