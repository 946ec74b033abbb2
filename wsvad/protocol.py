"""The evaluation protocol of wsvad-sweeps: one place, every convention named.

Weakly-supervised video anomaly detection (WSVAD) models score *snippets* (by default 16
consecutive frames each); the official ground truth labels *frames*. Papers differ silently in
how the two are matched, and those differences move AUC by tenths of a point. This module makes
each choice an explicit field of :class:`Protocol`, with the official PyTorch repositories'
choice as the default.

Conventions
-----------
Snippet -> frame scores (``frames_per_snippet``, default 16)
    Each snippet's score is repeated over its frames (``np.repeat``). This is what Sultani,
    RTFM, MGFN, UR-DMU, S3R, BN-WVAD, CLIP-TSA and VadCLIP all do.

Ground-truth length (``gt_length``, default ``"snippets"``)
    ``"snippets"``: a video's ground truth has length ``T * frames_per_snippet``, like the
    ``gt-*.npy`` files of every official PyTorch repo. Annotated frames beyond that length are
    cut; frames the annotation does not reach are normal (label 0).
    ``"frames"``: the ground truth has the video's real frame count ``num_frames`` (Sultani's
    evaluation). The repeated snippet scores are cut to ``num_frames``, or padded with the last
    snippet's score when the snippets end before the video does. Needs ``num_frames > 0``.

Interval ends (``end``, default ``"inclusive"``)
    Annotation files give ``[start_frame, end_frame]`` pairs. ``"inclusive"`` labels frames
    ``start..end`` (both ends anomalous, ``[s, e]``); ``"exclusive"`` labels ``start..end-1``
    (``[s, e)``). The official ``gt-ucf.npy`` files disagree on this (RTFM, UR-DMU and VadCLIP
    differ), so it is an option. Intervals whose start is ``-1`` mean "no event" and are
    ignored. Intervals are clipped to the ground-truth length.

Threshold (``threshold``, default 0.5)
    Used only by threshold metrics: the false-alarm rate and video-level
    accuracy/precision/recall/F1. A score ``>= threshold`` is a positive prediction. Methods
    with unbounded scores (BN-WVAD) need their own threshold.

Metrics (keys of :attr:`Evaluation.metrics`)
--------------------------------------------
``auc``
    Frame ROC-AUC over the concatenation of *all* test videos' frames (computed once, not
    averaged per video), as every official repo does.
``auc_abnormal``
    Frame ROC-AUC over the frames of anomalous videos only. Normal frames dominate the test
    set, so ``auc`` rewards scoring normal videos low; this one measures localisation.
``ap``
    Step-wise average precision, ``sklearn.metrics.average_precision_score``, over all frames
    (what several later papers report for XD-Violence).
``pr_auc_trapz``
    Trapezoidal area under the precision-recall curve,
    ``auc(recall, precision)`` after ``precision_recall_curve`` -- exactly XD-Violence's
    official code. It differs from ``ap``; both are reported, named distinctly.
``far``
    False-alarm rate: the fraction of frames of *normal* test videos whose score is
    ``>= threshold``.
``auc_class/<ClassName>``
    For each anomaly class: frame ROC-AUC over the frames of that class's videos plus the frames
    of *all* normal videos (the normal videos are shared by every class, as in the per-class
    tables of the UCF-Crime literature). Normal videos are those with ``label == 0``, whatever
    their class name.
``video_auc``, ``video_ap``
    ROC-AUC and average precision of each video's score (its maximum snippet score) against its
    video label.
``video_accuracy``, ``video_precision``, ``video_recall``, ``video_f1``
    A video is predicted anomalous when its maximum snippet score is ``>= threshold``.
    Precision/recall/F1 use sklearn's ``zero_division=0`` (0.0 rather than a warning when no
    video is predicted, or is, anomalous).
``n_videos``, ``n_frames``
    Counts (as floats, so the dict has one value type).

Undefined metrics are ``float('nan')``, never an exception: a ranking metric (AUC, AP) on a set
that holds one class only, ``far`` without normal videos, and every score metric when some
score is NaN or infinite (a diverged model; sklearn would refuse such scores). Metrics are
computed on float64 scores; :attr:`Evaluation.frame_scores` stores them as float32.

Model selection uses :func:`evaluate_video_level` on a validation split carved from the
training videos, where only video labels are known (weak supervision), so it needs no frame
ground truth and never peeks at the test set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    auc,
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from wsvad.errors import ConfigError

GT_LENGTHS = ("snippets", "frames")
ENDS = ("inclusive", "exclusive")
NAN = float("nan")
# Metrics a model can be selected on (higher is better; `far` is not: lower is).
# `neg_loss` is the validation loss negated, what one-class methods select on.
SELECTABLE_METRICS = ("auc", "auc_abnormal", "ap", "pr_auc_trapz", "video_auc", "video_ap", "video_accuracy",
                      "video_precision", "video_recall", "video_f1", "neg_loss")


def check_select_metric(metric: str) -> None:
    """A model is selected on the maximum of its metric: refuse names that are not computed, or lower-is-better."""
    if metric not in SELECTABLE_METRICS and not metric.startswith("neg_loss/"):  # neg_loss/<term> too
        raise ConfigError(f"--select-metric {metric!r}: choose one of {', '.join(SELECTABLE_METRICS)} "
                          "(higher is better)")


VIDEO_METRICS = (
    "video_auc",
    "video_ap",
    "video_accuracy",
    "video_precision",
    "video_recall",
    "video_f1",
)


@dataclass(frozen=True)
class Protocol:
    """How snippet scores meet frame ground truth; see the module docstring for each field."""

    frames_per_snippet: int = 16
    gt_length: str = "snippets"
    end: str = "inclusive"
    threshold: float = 0.5

    def __post_init__(self) -> None:
        # bool is an int subclass; True frames per snippet is a typo, not a setting.
        fps = self.frames_per_snippet
        if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)) or fps < 1:
            raise ConfigError(f"frames_per_snippet must be a positive integer, got {fps!r}")
        if self.gt_length not in GT_LENGTHS:
            raise ConfigError(f"gt_length must be one of {GT_LENGTHS}, got {self.gt_length!r}")
        if self.end not in ENDS:
            raise ConfigError(f"end must be one of {ENDS}, got {self.end!r}")
        threshold = self.threshold
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float, np.integer, np.floating))
            or not math.isfinite(threshold)
        ):
            raise ConfigError(f"threshold must be a finite number, got {threshold!r}")


def snippet_to_frame(
    snippet_scores: np.ndarray, protocol: Protocol, num_frames: int | None = None
) -> np.ndarray:
    """Frame scores of one video: each snippet score repeated over its frames.

    With ``gt_length="snippets"`` the result has ``T * frames_per_snippet`` frames; with
    ``"frames"`` it has ``num_frames`` frames (cut, or padded with the last snippet's score).
    """
    scores = np.asarray(snippet_scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ConfigError(f"snippet_scores must be a non-empty 1-D array, got shape {scores.shape}")
    frame_scores = np.repeat(scores, protocol.frames_per_snippet)
    if protocol.gt_length == "snippets":
        return frame_scores
    if num_frames is None or num_frames <= 0:
        raise ConfigError(f'gt_length="frames" needs the video\'s frame count, got {num_frames!r}')
    if frame_scores.size >= num_frames:
        return frame_scores[:num_frames]
    # The last snippet did not reach the end of the video (trailing frames too few for a
    # snippet): Sultani's evaluation lets its score cover them.
    padding = np.full(num_frames - frame_scores.size, scores[-1])
    return np.concatenate([frame_scores, padding])


def frame_labels(intervals: np.ndarray, length: int, end: str) -> np.ndarray:
    """Binary frame ground truth (uint8, ``(length,)``) from ``[start, end]`` frame intervals.

    ``end`` is ``"inclusive"`` (``[s, e]``) or ``"exclusive"`` (``[s, e)``). Intervals whose
    start is -1 are ignored; the rest are clipped to ``[0, length)``.
    """
    if end not in ENDS:
        raise ConfigError(f"end must be one of {ENDS}, got {end!r}")
    if length < 0:
        raise ConfigError(f"ground-truth length must be >= 0, got {length}")
    pairs = np.asarray(intervals, dtype=np.int64)
    if pairs.size == 0:
        return np.zeros(length, dtype=np.uint8)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ConfigError(f"intervals must have shape (K, 2), got {pairs.shape}")
    pairs = pairs[pairs[:, 0] != -1]
    # Half-open [start, stop) for every interval, then clipped to the ground truth.
    starts = np.clip(pairs[:, 0], 0, length)
    stops = np.clip(pairs[:, 1] + (1 if end == "inclusive" else 0), 0, length)
    keep = stops > starts
    # Difference array: +1 where an interval opens, -1 where it closes; a running sum > 0 marks
    # frames covered by at least one interval (overlaps are fine).
    delta = np.zeros(length + 1, dtype=np.int64)
    np.add.at(delta, starts[keep], 1)
    np.add.at(delta, stops[keep], -1)
    return (np.cumsum(delta[:length]) > 0).astype(np.uint8)


@dataclass
class VideoScores:
    """One test (or validation) video: its labels and the model's snippet scores."""

    video_id: str
    label: int  # 0 normal, 1 anomalous
    class_name: str
    snippet_scores: np.ndarray  # (T,)
    intervals: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    num_frames: int = -1  # -1: unknown


@dataclass
class Evaluation:
    """Metrics plus the per-frame arrays they were computed from (concatenated, input order)."""

    metrics: dict[str, float]
    frame_video_index: np.ndarray  # int64: position of the frame's video in the input list
    frame_index: np.ndarray  # int64: frame number inside its video
    frame_scores: np.ndarray  # float32
    frame_labels: np.ndarray  # uint8


def evaluate(videos: list[VideoScores], protocol: Protocol = Protocol()) -> Evaluation:
    """Frame-, class- and video-level metrics of a test set under ``protocol``."""
    _check_videos(videos)
    per_video_scores: list[np.ndarray] = []
    per_video_labels: list[np.ndarray] = []
    for video in videos:
        num_frames = video.num_frames if protocol.gt_length == "frames" else None
        if num_frames is not None and num_frames <= 0:
            raise ConfigError(
                f'gt_length="frames" needs num_frames of video {video.video_id!r}, '
                f"got {video.num_frames}"
            )
        scores = snippet_to_frame(video.snippet_scores, protocol, num_frames)
        per_video_scores.append(scores)
        per_video_labels.append(frame_labels(video.intervals, scores.size, protocol.end))

    lengths = np.array([s.size for s in per_video_scores], dtype=np.int64)
    scores = np.concatenate(per_video_scores)
    labels = np.concatenate(per_video_labels)
    video_index = np.repeat(np.arange(len(videos), dtype=np.int64), lengths)
    # Frame number inside its video: global position minus the video's first position.
    first_frame = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    frame_index = np.arange(scores.size, dtype=np.int64) - np.repeat(first_frame, lengths)

    video_labels = np.array([v.label for v in videos], dtype=np.int64)
    frame_is_abnormal_video = video_labels[video_index] == 1
    finite = bool(np.isfinite(scores).all())

    metrics: dict[str, float] = {
        "auc": _roc_auc(labels, scores, finite),
        "auc_abnormal": _roc_auc(
            labels[frame_is_abnormal_video], scores[frame_is_abnormal_video], finite
        ),
        "ap": _average_precision(labels, scores, finite),
        "pr_auc_trapz": _pr_auc_trapz(labels, scores, finite),
        "far": _false_alarm_rate(scores[~frame_is_abnormal_video], protocol.threshold, finite),
    }
    metrics.update(
        _per_class_auc(videos, video_index, frame_is_abnormal_video, labels, scores, finite)
    )
    metrics.update(evaluate_video_level(videos, protocol))
    metrics["n_videos"] = float(len(videos))
    metrics["n_frames"] = float(scores.size)
    return Evaluation(
        metrics=metrics,
        frame_video_index=video_index,
        frame_index=frame_index,
        frame_scores=scores.astype(np.float32),
        frame_labels=labels,
    )


def evaluate_video_level(
    videos: list[VideoScores], protocol: Protocol = Protocol()
) -> dict[str, float]:
    """Video-level metrics from video labels only (no frame ground truth needed).

    A video's score is its maximum snippet score. This is what honest model selection uses on a
    validation split carved from the (weakly labelled) training videos.
    """
    _check_videos(videos)
    labels = np.array([v.label for v in videos], dtype=np.int64)
    video_scores = np.array([np.max(np.asarray(v.snippet_scores, np.float64)) for v in videos])
    finite = bool(np.isfinite(video_scores).all())
    if not finite:
        return dict.fromkeys(VIDEO_METRICS, NAN)
    predictions = (video_scores >= protocol.threshold).astype(np.int64)
    return {
        "video_auc": _roc_auc(labels, video_scores, finite),
        "video_ap": _average_precision(labels, video_scores, finite),
        "video_accuracy": float(accuracy_score(labels, predictions)),
        "video_precision": float(precision_score(labels, predictions, zero_division=0)),
        "video_recall": float(recall_score(labels, predictions, zero_division=0)),
        "video_f1": float(f1_score(labels, predictions, zero_division=0)),
    }


def _check_videos(videos: list[VideoScores]) -> None:
    """Reject inputs no metric can be computed on (an empty list, non-binary labels, no scores)."""
    if len(videos) == 0:
        raise ConfigError("cannot evaluate an empty list of videos")
    for video in videos:
        if video.label not in (0, 1):
            raise ConfigError(
                f"video {video.video_id!r} has label {video.label!r}, expected 0 or 1"
            )
        shape = np.shape(video.snippet_scores)
        if len(shape) != 1 or shape[0] == 0:
            raise ConfigError(
                f"video {video.video_id!r} needs a non-empty 1-D snippet_scores, got shape {shape}"
            )


def _has_both_classes(labels: np.ndarray) -> bool:
    return labels.size > 0 and 0 < int(labels.sum()) < labels.size


def _roc_auc(labels: np.ndarray, scores: np.ndarray, finite: bool) -> float:
    if not finite or not _has_both_classes(labels):
        return NAN
    return float(roc_auc_score(labels, scores))


def _average_precision(labels: np.ndarray, scores: np.ndarray, finite: bool) -> float:
    if not finite or not _has_both_classes(labels):
        return NAN
    return float(average_precision_score(labels, scores))


def _pr_auc_trapz(labels: np.ndarray, scores: np.ndarray, finite: bool) -> float:
    """XD-Violence's official "AP": trapezoidal area under the precision-recall curve."""
    if not finite or not _has_both_classes(labels):
        return NAN
    precision, recall, _ = precision_recall_curve(labels, scores)
    return float(auc(recall, precision))


def _false_alarm_rate(normal_scores: np.ndarray, threshold: float, finite: bool) -> float:
    if not finite or normal_scores.size == 0:
        return NAN
    return float(np.mean(normal_scores >= threshold))


def _per_class_auc(
    videos: list[VideoScores],
    video_index: np.ndarray,
    frame_is_abnormal_video: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    finite: bool,
) -> dict[str, float]:
    """``auc_class/<ClassName>``: one anomaly class's frames plus all normal videos' frames."""
    video_classes = np.array([v.class_name for v in videos], dtype=object)
    abnormal_classes = sorted({v.class_name for v in videos if v.label == 1})
    frame_classes = video_classes[video_index]
    result: dict[str, float] = {}
    for class_name in abnormal_classes:
        mask = ~frame_is_abnormal_video | (frame_classes == class_name)
        result[f"auc_class/{class_name}"] = _roc_auc(labels[mask], scores[mask], finite)
    return result
