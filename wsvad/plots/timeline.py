"""A video's anomaly score over time: the score, the alarm threshold, ground truth shaded."""

from __future__ import annotations

import numpy as np

from wsvad.plots.canvas import new_figure, save_png


def label_intervals(frame_labels: np.ndarray) -> np.ndarray:
    """(K, 2) inclusive [start, end] frame intervals of the runs of 1s in a 0/1 frame vector."""
    padded = np.concatenate([[0], np.asarray(frame_labels, np.int8) != 0, [0]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return edges.reshape(-1, 2) - np.array([0, 1])


def score_timeline(frame_scores: np.ndarray, path, *, threshold: float | None = None, intervals=None,
                   fps: float | None = None, title: str = ""):
    """Frame scores as a line; `intervals` ((K, 2) inclusive frame ranges) shaded as ground truth.

    With `fps` the x axis is in seconds, else in frames. Frames over the threshold are marked on
    the axis so an operator sees where the alarms would fire.
    """
    scores = np.asarray(frame_scores, np.float64)
    scale = float(fps) if fps and fps > 0 else 1.0
    x = np.arange(scores.size) / scale
    fig = new_figure(8.0, 2.8, {"left": 0.07, "right": 0.98, "bottom": 0.17, "top": 0.86})
    ax = fig.add_subplot()
    shaded = False
    for start, end in np.asarray(intervals if intervals is not None else np.zeros((0, 2)), np.int64).reshape(-1, 2):
        if start < 0:
            continue
        ax.axvspan(start / scale, (end + 1) / scale, color="tab:red", alpha=0.18, lw=0,
                   label=None if shaded else "ground truth")
        shaded = True
    ax.plot(x, scores, color="tab:blue", lw=1.4, label="anomaly score")
    finite = scores[np.isfinite(scores)]
    low, high = (min(0.0, float(finite.min())), max(1.0, float(finite.max()))) if finite.size else (0.0, 1.0)
    pad = 0.05 * (high - low)
    if threshold is not None:
        ax.axhline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:g}")
        runs = label_intervals(scores >= threshold)
        if len(runs):  # one bar per run of alarmed frames (a marker per frame is slow on long videos)
            ax.broken_barh([(s / scale, (e + 1 - s) / scale) for s, e in runs], (low - 0.9 * pad, 0.6 * pad), color="tab:red",
                           label="alarm")
    ax.set(xlabel="seconds" if scale != 1.0 else "frame", ylabel="score", ylim=(low - pad, high + pad),
           xlim=(0, max(x[-1] if x.size else 1.0, 1e-9)))
    ax.set_title(title or "anomaly score", loc="left", fontsize=9)
    ax.grid(alpha=0.3)
    # Above the axes, never over the score it explains.
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, ncols=4, frameon=False)
    return save_png(fig, path)
