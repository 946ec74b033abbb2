"""Every plot of one evaluated run, written to a folder (the trainer's and MLflow's view of a run)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from wsvad.plots.classes import per_class_auc_bars
from wsvad.plots.curves import pr_curve, roc_curve
from wsvad.plots.timeline import label_intervals, score_timeline


def _safe_name(video_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(video_id))[:80] or "video"


def pick_videos(evaluation, most: int = 2, least: int = 1) -> list[int]:
    """Positions of the `most` most and `least` least anomalous videos (by their peak frame score)."""
    n = int(evaluation.frame_video_index.max()) + 1 if evaluation.frame_video_index.size else 0
    peaks = np.full(n, -np.inf)
    np.maximum.at(peaks, evaluation.frame_video_index, np.nan_to_num(evaluation.frame_scores, nan=-np.inf))
    order = np.argsort(-peaks, kind="stable")
    chosen = list(order[:most]) + [i for i in order[::-1][:least] if i not in order[:most]]
    return [int(i) for i in chosen]


def write_run_plots(evaluation, video_ids, out_dir, threshold: float | None = 0.5, most: int = 2,
                    least: int = 1) -> list[Path]:
    """roc.png, pr.png, per_class_auc.png and timelines/<rank>-<video>.png in `out_dir`.

    `video_ids` lists the evaluated videos in the order they were evaluated (the order of
    `evaluation.frame_video_index`).
    """
    out = Path(out_dir)
    m = evaluation.metrics
    labels = np.asarray(evaluation.frame_labels, np.int64)
    scores = np.asarray(evaluation.frame_scores, np.float64)
    written = [
        roc_curve(labels, scores, out / "roc.png", auc=m.get("auc")),
        pr_curve(labels, scores, out / "pr.png", ap=m.get("ap")),
        per_class_auc_bars(m, out / "per_class_auc.png"),
    ]
    chosen = pick_videos(evaluation, most, least)
    for rank, i in enumerate(chosen):
        mask = evaluation.frame_video_index == i
        kind = "most" if rank < most else "least"
        vid = str(video_ids[i])
        written.append(score_timeline(
            scores[mask], out / "timelines" / f"{rank}-{kind}-anomalous-{_safe_name(vid)}.png",
            threshold=threshold, intervals=label_intervals(labels[mask]),
            title=f"{vid} ({kind} anomalous in the test split)"))
    return written
