"""The evaluation protocol on examples small enough to compute by hand.

Most cases use ``frames_per_snippet=1`` so that one snippet is one frame and every AUC is a
count of correctly ordered (positive, negative) pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsvad.errors import ConfigError
from wsvad.protocol import (
    VIDEO_METRICS,
    Protocol,
    VideoScores,
    evaluate,
    evaluate_video_level,
    frame_labels,
    snippet_to_frame,
)

ONE_FRAME = Protocol(frames_per_snippet=1)


def video(
    video_id: str,
    label: int,
    scores: list[float],
    intervals: list[list[int]] | None = None,
    class_name: str | None = None,
    num_frames: int = -1,
) -> VideoScores:
    return VideoScores(
        video_id=video_id,
        label=label,
        class_name=class_name or ("Normal" if label == 0 else "Arson"),
        snippet_scores=np.array(scores, dtype=np.float32),
        intervals=np.array(intervals or [], dtype=np.int64).reshape(-1, 2),
        num_frames=num_frames,
    )


def test_auc_is_over_concatenated_frames_not_a_mean_of_videos() -> None:
    # Video A: scores [0.2, 0.8], labels [0, 1] -> its own AUC is 1 (0.8 > 0.2).
    # Video B: scores [0.6, 0.7], labels [1, 0] -> its own AUC is 0 (0.6 < 0.7).
    # Mean of per-video AUCs = (1 + 0) / 2 = 0.5.
    # Concatenated: positives {0.8, 0.6}, negatives {0.2, 0.7}; pairs
    #   0.8>0.2 yes, 0.8>0.7 yes, 0.6>0.2 yes, 0.6>0.7 no -> 3/4 = 0.75.
    videos = [
        video("A", 1, [0.2, 0.8], [[1, 1]]),
        video("B", 1, [0.6, 0.7], [[0, 0]]),
    ]
    result = evaluate(videos, ONE_FRAME)
    assert result.metrics["auc"] == pytest.approx(0.75)
    assert result.metrics["auc_abnormal"] == pytest.approx(0.75)  # no normal video here
    assert math.isnan(result.metrics["far"])  # no normal video: undefined, not an error
    np.testing.assert_array_equal(result.frame_labels, [0, 1, 1, 0])
    np.testing.assert_array_equal(result.frame_video_index, [0, 0, 1, 1])
    np.testing.assert_array_equal(result.frame_index, [0, 1, 0, 1])
    assert result.frame_scores.dtype == np.float32
    assert result.frame_labels.dtype == np.uint8
    assert result.metrics["n_videos"] == 2.0
    assert result.metrics["n_frames"] == 4.0


def test_step_ap_and_trapezoidal_pr_auc_differ() -> None:
    # Frames sorted by score: 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.6 (neg); 2 positives.
    # Thresholds give (recall, precision): 0.9 -> (1/2, 1), 0.8 -> (1/2, 1/2),
    #   0.7 -> (1, 2/3), 0.6 -> (1, 1/2); sklearn adds (0, 1).
    # ap (step) = sum (R_n - R_{n-1}) P_n = 1/2 * 1 + 1/2 * 2/3 = 5/6 = 0.8333...
    # pr_auc_trapz: trapezoids along recall in curve order
    #   (0, 1) -> (1/2, 1): 1/2 * (1 + 1) / 2 = 1/2
    #   (1/2, 1/2) -> (1, 2/3): 1/2 * (1/2 + 2/3) / 2 = 7/24
    #   vertical steps add 0 -> 1/2 + 7/24 = 19/24 = 0.791666...
    videos = [video("A", 1, [0.9, 0.8, 0.7, 0.6], [[0, 0], [2, 2]])]
    metrics = evaluate(videos, ONE_FRAME).metrics
    assert metrics["ap"] == pytest.approx(5 / 6)
    assert metrics["pr_auc_trapz"] == pytest.approx(19 / 24)


def test_false_alarm_rate_counts_normal_videos_only() -> None:
    # Normal frames: [0.2, 0.6, 0.5, 0.4] and [0.1, 0.1]; threshold 0.5 (>=):
    # 0.6 and 0.5 alarm -> 2 of 6 = 1/3. The anomalous video's high scores do not count.
    videos = [
        video("N1", 0, [0.2, 0.6, 0.5, 0.4]),
        video("N2", 0, [0.1, 0.1]),
        video("A", 1, [0.9, 0.9], [[0, 1]]),
    ]
    assert evaluate(videos, ONE_FRAME).metrics["far"] == pytest.approx(1 / 3)
    # With 16 frames per snippet every score counts 16 times: still 32 of 96 = 1/3.
    assert evaluate(videos).metrics["far"] == pytest.approx(1 / 3)
    # Threshold 0.55: only 0.6 alarms -> 1 of 6.
    stricter = Protocol(frames_per_snippet=1, threshold=0.55)
    assert evaluate(videos, stricter).metrics["far"] == pytest.approx(1 / 6)


def test_per_class_auc_uses_class_frames_plus_all_normal_frames() -> None:
    # Arson frames [0.9 pos, 0.3 neg], Fighting frames [0.4 pos, 0.2 neg], Normal [0.5, 0.1].
    # auc_class/Arson: pos {0.9}, neg {0.3, 0.5, 0.1} -> 3/3 = 1.
    # auc_class/Fighting: pos {0.4}, neg {0.2, 0.5, 0.1} -> 0.4 beats 0.2 and 0.1 -> 2/3.
    # auc: pos {0.9, 0.4}, neg {0.3, 0.2, 0.5, 0.1} -> 4 + 3 = 7 of 8 = 0.875.
    # auc_abnormal: pos {0.9, 0.4}, neg {0.3, 0.2} -> 4/4 = 1.
    # far: normal frames >= 0.5: {0.5} -> 1/2.
    videos = [
        video("Arson001", 1, [0.9, 0.3], [[0, 0]], class_name="Arson"),
        video("Fighting001", 1, [0.4, 0.2], [[0, 0]], class_name="Fighting"),
        video("Normal001", 0, [0.5, 0.1]),
    ]
    metrics = evaluate(videos, ONE_FRAME).metrics
    assert metrics["auc_class/Arson"] == pytest.approx(1.0)
    assert metrics["auc_class/Fighting"] == pytest.approx(2 / 3)
    assert "auc_class/Normal" not in metrics
    assert metrics["auc"] == pytest.approx(0.875)
    assert metrics["auc_abnormal"] == pytest.approx(1.0)
    assert metrics["far"] == pytest.approx(0.5)


def test_video_level_metrics_by_hand() -> None:
    # Video score = max snippet score; threshold 0.5.
    #   v1 label 1 max 0.9 -> TP     v2 label 1 max 0.4 -> FN     v5 label 1 max 0.7 -> TP
    #   v3 label 0 max 0.6 -> FP     v4 label 0 max 0.2 -> TN
    # accuracy 3/5; precision 2/(2+1) = 2/3; recall 2/(2+1) = 2/3; F1 = 2/3.
    # video_auc: pos {0.9, 0.4, 0.7} vs neg {0.6, 0.2}: 2 + 1 + 2 = 5 of 6.
    # video_ap: ranked 0.9+, 0.7+, 0.6-, 0.4+, 0.2-; precision at each positive 1, 1, 3/4;
    #   each adds recall 1/3 -> (1 + 1 + 3/4) / 3 = 11/12.
    videos = [
        video("v1", 1, [0.1, 0.9]),
        video("v2", 1, [0.4, 0.3]),
        video("v3", 0, [0.6, 0.0]),
        video("v4", 0, [0.2, 0.2]),
        video("v5", 1, [0.7, 0.5]),
    ]
    expected = {
        "video_auc": 5 / 6,
        "video_ap": 11 / 12,
        "video_accuracy": 3 / 5,
        "video_precision": 2 / 3,
        "video_recall": 2 / 3,
        "video_f1": 2 / 3,
    }
    # Validation videos carry only video labels (no intervals): video-level needs nothing more.
    validation = evaluate_video_level(videos, ONE_FRAME)
    assert set(validation) == set(VIDEO_METRICS)
    assert validation == pytest.approx(expected)
    full = evaluate(videos, ONE_FRAME).metrics
    assert {key: full[key] for key in expected} == pytest.approx(expected)


def test_inclusive_and_exclusive_ends_differ_by_one_frame_per_interval() -> None:
    intervals = np.array([[3, 6], [10, 12]])
    inclusive = frame_labels(intervals, 20, "inclusive")
    exclusive = frame_labels(intervals, 20, "exclusive")
    assert inclusive.dtype == np.uint8 and inclusive.shape == (20,)
    np.testing.assert_array_equal(np.flatnonzero(inclusive), [3, 4, 5, 6, 10, 11, 12])
    np.testing.assert_array_equal(np.flatnonzero(exclusive), [3, 4, 5, 10, 11])
    # Exactly the end frame of each interval changes: 2 intervals -> 2 frames.
    np.testing.assert_array_equal(np.flatnonzero(inclusive != exclusive), [6, 12])

    # The protocol option reaches the evaluation's frame labels.
    scores = [0.0] * 20
    one = [video("A", 1, scores, intervals.tolist())]
    labels_in = evaluate(one, Protocol(frames_per_snippet=1, end="inclusive")).frame_labels
    labels_ex = evaluate(one, Protocol(frames_per_snippet=1, end="exclusive")).frame_labels
    assert int(labels_in.sum()) - int(labels_ex.sum()) == 2


def test_frame_labels_edges() -> None:
    # start -1 = no event; clipped to the length; overlapping intervals are fine.
    intervals = np.array([[-1, -1], [8, 30], [2, 4], [3, 5]])
    np.testing.assert_array_equal(
        np.flatnonzero(frame_labels(intervals, 10, "inclusive")), [2, 3, 4, 5, 8, 9]
    )
    assert frame_labels(np.zeros((0, 2), dtype=np.int64), 5, "inclusive").tolist() == [0] * 5
    # [4, 4) is empty; [4, 4] is one frame.
    assert frame_labels(np.array([[4, 4]]), 6, "exclusive").sum() == 0
    assert frame_labels(np.array([[4, 4]]), 6, "inclusive").sum() == 1
    with pytest.raises(ConfigError):
        frame_labels(intervals, 10, "both")


def test_gt_length_snippets_versus_frames() -> None:
    # 3 snippets x 16 frames = 48 frames; the video really has 53 (not a multiple of 16).
    scores = np.array([0.1, 0.2, 0.3])
    snippets = snippet_to_frame(scores, Protocol())
    assert snippets.shape == (48,)
    np.testing.assert_allclose(snippets[[0, 15, 16, 31, 32, 47]], [0.1, 0.1, 0.2, 0.2, 0.3, 0.3])

    padded = snippet_to_frame(scores, Protocol(gt_length="frames"), num_frames=53)
    assert padded.shape == (53,)
    np.testing.assert_allclose(padded[48:], [0.3] * 5)  # padded with the last snippet's score
    cut = snippet_to_frame(scores, Protocol(gt_length="frames"), num_frames=40)
    np.testing.assert_allclose(cut, snippets[:40])

    # Event on frames 40..52 (inclusive): "snippets" cuts it to 40..47 (8 frames),
    # "frames" keeps all 13.
    one = [video("A", 1, [0.1, 0.2, 0.3], [[40, 52]], num_frames=53)]
    by_snippets = evaluate(one, Protocol(gt_length="snippets"))
    by_frames = evaluate(one, Protocol(gt_length="frames"))
    assert by_snippets.metrics["n_frames"] == 48
    assert by_frames.metrics["n_frames"] == 53
    assert int(by_snippets.frame_labels.sum()) == 8
    assert int(by_frames.frame_labels.sum()) == 13
    np.testing.assert_array_equal(by_frames.frame_index, np.arange(53))

    with pytest.raises(ConfigError):
        snippet_to_frame(scores, Protocol(gt_length="frames"))
    with pytest.raises(ConfigError, match="num_frames"):
        evaluate([video("B", 0, [0.1], num_frames=-1)], Protocol(gt_length="frames"))


def test_undefined_metrics_are_nan_not_errors() -> None:
    # Normal videos only: every ranking metric has one class.
    metrics = evaluate([video("N1", 0, [0.1, 0.7]), video("N2", 0, [0.2])], ONE_FRAME).metrics
    for key in ("auc", "auc_abnormal", "ap", "pr_auc_trapz", "video_auc", "video_ap"):
        assert math.isnan(metrics[key]), key
    assert metrics["far"] == pytest.approx(1 / 3)
    assert metrics["video_accuracy"] == pytest.approx(0.5)  # N1 (max 0.7) is a false alarm
    assert metrics["video_recall"] == 0.0  # zero_division=0
    # A diverged model (NaN scores) gets NaN metrics, not a crash.
    diverged = evaluate(
        [video("A", 1, [float("nan"), 0.5], [[0, 0]]), video("N", 0, [0.1, 0.2])], ONE_FRAME
    ).metrics
    assert math.isnan(diverged["auc"]) and math.isnan(diverged["video_f1"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"frames_per_snippet": 0},
        {"frames_per_snippet": 1.5},
        {"frames_per_snippet": True},
        {"gt_length": "seconds"},
        {"end": "open"},
        {"threshold": float("nan")},
        {"threshold": "0.5"},
    ],
)
def test_protocol_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ConfigError) as raised:
        Protocol(**kwargs)
    assert "\n" not in str(raised.value)


def test_bad_inputs_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="empty"):
        evaluate([])
    with pytest.raises(ConfigError, match="empty"):
        evaluate_video_level([])
    with pytest.raises(ConfigError, match="label"):
        evaluate([video("A", 2, [0.5])])
    with pytest.raises(ConfigError, match="snippet_scores"):
        evaluate([video("A", 1, [])])
