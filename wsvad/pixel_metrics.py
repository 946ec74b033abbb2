"""Pixel- and frame-level AUROC/AP where a test set gives pixel masks or frame labels.

``pixel_metrics``: every pixel of every frame is one sample; ``pixel_auroc`` is
``sklearn.metrics.roc_auc_score`` and ``pixel_ap`` ``average_precision_score`` over all pixels
of all given frames concatenated (computed once, not averaged per frame or video). This is
exact, so it holds all pixels in memory at once: subsample frames (or downscale masks and maps
alike) for full ShanghaiTech-size test sets.

``frame_metrics``: frame scores against frame labels (ShanghaiTech, UCSD, Avenue) through
:func:`wsvad.protocol.evaluate` itself, with one score per frame (``frames_per_snippet=1``,
``gt_length="frames"``), so ``auc``, ``auc_abnormal``, ``ap``, ``pr_auc_trapz`` and ``far`` mean
exactly what the protocol documents; a video is anomalous when any of its frames is.

As in the protocol, an undefined metric (one class only, NaN/Inf scores) is NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_auc_score

from wsvad.annotations_oneclass import intervals_from_labels
from wsvad.errors import ConfigError
from wsvad.protocol import Protocol, VideoScores, evaluate

FRAME_METRICS = ("auc", "auc_abnormal", "ap", "pr_auc_trapz", "far", "n_videos", "n_frames")
NAN = float("nan")


def pixel_metrics(
    masks: ArrayLike | Sequence[ArrayLike], score_maps: ArrayLike | Sequence[ArrayLike]
) -> dict[str, float]:
    """Pixel AUROC and AP of ``score_maps`` against binary ``masks``, both ``(N, H, W)``.

    Either argument may also be a sequence of such arrays (one per video, sizes may differ);
    ``masks[i]`` and ``score_maps[i]`` must have equal shapes.
    """
    mask_list, score_list = _as_list(masks), _as_list(score_maps)
    if len(mask_list) != len(score_list):
        raise ConfigError(f"{len(mask_list)} mask arrays but {len(score_list)} score-map arrays")
    labels, scores = [], []
    for i, (mask, score) in enumerate(zip(mask_list, score_list)):
        mask, score = np.asarray(mask), np.asarray(score, dtype=np.float64)
        if mask.ndim != 3 or mask.shape != score.shape:
            raise ConfigError(
                f"masks and score maps must be (N, H, W) of equal shape, got {mask.shape} and "
                f"{score.shape} (array {i})"
            )
        if mask.dtype.kind not in "biuf" or not np.isin(mask, (0, 1)).all():
            raise ConfigError(f"mask array {i} must hold 0/1 (or bool) values only")
        labels.append(mask.reshape(-1).astype(np.uint8))
        scores.append(score.reshape(-1))
    label = np.concatenate(labels) if labels else np.zeros(0, np.uint8)
    score = np.concatenate(scores) if scores else np.zeros(0)
    defined = label.size > 0 and 0 < int(label.sum()) < label.size and np.isfinite(score).all()
    return {
        "pixel_auroc": float(roc_auc_score(label, score)) if defined else NAN,
        "pixel_ap": float(average_precision_score(label, score)) if defined else NAN,
        "n_pixels": float(label.size),
    }


def frame_metrics(
    frame_scores: Mapping[str, ArrayLike],
    frame_labels: Mapping[str, ArrayLike],
    threshold: float = 0.5,
) -> dict[str, float]:
    """The protocol's frame metrics from per-frame scores and 0/1 labels, keyed by video id."""
    if set(frame_scores) != set(frame_labels):
        missing = sorted(set(frame_labels) ^ set(frame_scores))
        raise ConfigError(f"scores and labels name different videos, e.g. {missing[0]!r}")
    videos = []
    for video_id in frame_labels:
        labels = np.asarray(frame_labels[video_id])
        scores = np.asarray(frame_scores[video_id], dtype=np.float64)
        if labels.ndim != 1 or labels.shape != scores.shape or labels.size == 0:
            raise ConfigError(
                f"video {video_id!r}: frame scores {scores.shape} and labels {labels.shape} must "
                "be non-empty 1-D arrays of equal length"
            )
        if labels.dtype.kind not in "biuf" or not np.isin(labels, (0, 1)).all():
            raise ConfigError(f"video {video_id!r}: frame labels must be 0/1")
        anomalous = bool(labels.any())
        videos.append(
            VideoScores(
                video_id=str(video_id),
                label=int(anomalous),
                class_name="Anomaly" if anomalous else "Normal",
                snippet_scores=scores,
                intervals=intervals_from_labels(labels),
                num_frames=int(labels.size),
            )
        )
    protocol = Protocol(
        frames_per_snippet=1, gt_length="frames", end="inclusive", threshold=threshold
    )
    metrics = evaluate(videos, protocol).metrics
    return {key: metrics[key] for key in FRAME_METRICS}


def _as_list(arrays: ArrayLike | Sequence[ArrayLike]) -> list[ArrayLike]:
    if isinstance(arrays, np.ndarray):
        return [arrays]
    return list(arrays)
