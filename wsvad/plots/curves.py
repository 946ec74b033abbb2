"""Frame-level ROC and precision-recall curves, titled with the protocol's own numbers."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve as _roc

from wsvad.plots.canvas import new_figure, save_png


def _both_classes(labels: np.ndarray) -> bool:
    return labels.size > 0 and 0 < int(labels.sum()) < labels.size


def roc_curve(labels: np.ndarray, scores: np.ndarray, path, auc: float | None = None, title: str = "") -> object:
    """ROC over all frames (what `auc` measures), with the chance diagonal."""
    fig = new_figure(4.6, 4.2)
    ax = fig.add_subplot()
    if _both_classes(labels) and np.isfinite(scores).all():
        fpr, tpr, _ = _roc(labels, scores)
        ax.plot(fpr, tpr, lw=1.8, color="tab:red", label=f"frame AUC {auc:.4f}" if auc is not None else "ROC")
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, "undefined: one class only\nor non-finite scores", ha="center", va="center")
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color="grey")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate",
           title=title or "frame-level ROC")
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def pr_curve(labels: np.ndarray, scores: np.ndarray, path, ap: float | None = None, title: str = "") -> object:
    """Precision-recall over all frames, with the anomalous-frame rate as the chance level."""
    fig = new_figure(4.6, 4.2)
    ax = fig.add_subplot()
    if _both_classes(labels) and np.isfinite(scores).all():
        precision, recall, _ = precision_recall_curve(labels, scores)
        ax.step(recall, precision, where="post", lw=1.8, color="tab:blue",
                label=f"AP {ap:.4f}" if ap is not None else "PR")
        ax.axhline(float(labels.mean()), ls="--", lw=1, color="grey", label=f"chance {labels.mean():.3f}")
        ax.legend(loc="upper right")
    else:
        ax.text(0.5, 0.5, "undefined: one class only\nor non-finite scores", ha="center", va="center")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision", title=title or "frame-level precision-recall")
    ax.grid(alpha=0.3)
    return save_png(fig, path)
