"""RBDC/TBDC, IoU and pixel/frame metrics on cases small enough to compute by hand.

The object-level cases use ``box_convention="continuous"`` where that keeps the IoUs round;
one test checks the default ``"pixels"`` convention (inclusive pixel coordinates, +1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wsvad.errors import ConfigError
from wsvad.object_metrics import Regions, box_iou, object_level_metrics, paired_iou
from wsvad.pixel_metrics import frame_metrics, pixel_metrics

CONTINUOUS = {"box_convention": "continuous"}
G0 = [0.0, 0.0, 10.0, 10.0]  # area 100
G1 = [20.0, 20.0, 30.0, 30.0]  # area 100


def predictions(rows: list[tuple[str, int, list[float], float]]) -> Regions:
    """Rows (video, frame, box, score)."""
    if not rows:
        return Regions.predictions([], [], np.zeros((0, 4)), [])
    video, frame, boxes, scores = zip(*rows)
    return Regions.predictions(video, frame, boxes, scores)


def ground_truth(rows: list[tuple[str, int, list[float], int]]) -> Regions:
    """Rows (video, frame, box, track)."""
    video, frame, boxes, track = zip(*rows)
    return Regions.ground_truth(video, frame, boxes, track)


# IoU ----------------------------------------------------------------------------------------


def test_iou_by_hand_in_both_conventions() -> None:
    # Continuous: [0,0,2,2] and [1,1,3,3] overlap in a 1x1 square; union 4 + 4 - 1 = 7.
    assert box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]], "continuous")[0, 0] == pytest.approx(1 / 7)
    # Pixels (inclusive): [0,0,1,1] is 2x2 pixels, [1,1,2,2] too; they share pixel (1,1).
    assert box_iou([[0, 0, 1, 1]], [[1, 1, 2, 2]], "pixels")[0, 0] == pytest.approx(1 / 7)
    # Touching edges: no overlap in the continuous convention, one shared column of pixels.
    assert box_iou([[0, 0, 2, 2]], [[2, 0, 4, 2]], "continuous")[0, 0] == 0.0
    assert box_iou([[0, 0, 2, 2]], [[2, 0, 4, 2]], "pixels")[0, 0] == pytest.approx(3 / 15)


def test_box_iou_is_all_pairs_and_paired_iou_is_elementwise() -> None:
    a = np.array([G0, G1])
    b = np.array([G1, G0, [0, 0, 10, 5]])
    iou = box_iou(a, b, "continuous")
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou, [[0, 1, 0.5], [1, 0, 0]])
    np.testing.assert_allclose(paired_iou(a, b[:2], "continuous"), [0, 0])


boxes = st.tuples(
    st.integers(0, 20), st.integers(0, 20), st.integers(0, 10), st.integers(0, 10)
).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(boxes, min_size=1, max_size=6),
    st.lists(boxes, min_size=1, max_size=6),
    st.sampled_from(["pixels", "continuous"]),
)
def test_iou_is_symmetric_and_in_unit_interval(a, b, convention) -> None:
    iou = box_iou(a, b, convention)
    np.testing.assert_allclose(iou, box_iou(b, a, convention).T)
    assert ((iou >= 0) & (iou <= 1)).all()
    # A box with itself: 1, unless it has no area (continuous convention, degenerate box).
    self_iou = np.diag(box_iou(a, a, convention))
    area = np.array([(x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in a])
    expected = np.where(area > 0, 1.0, 0.0) if convention == "continuous" else np.ones(len(a))
    np.testing.assert_allclose(self_iou, expected)


def test_bad_boxes_are_refused() -> None:
    with pytest.raises(ConfigError, match="x2 < x1"):
        box_iou([[5, 0, 1, 1]], [[0, 0, 1, 1]])
    with pytest.raises(ConfigError, match=r"\(N, 4\)"):
        box_iou([[0, 0, 1]], [[0, 0, 1, 1]])


# RBDC / TBDC --------------------------------------------------------------------------------


def hand_case() -> tuple[Regions, Regions]:
    # One video, 3 frames, 2 ground-truth regions (one track each), 4 predictions:
    #   p0 frame 0, 0.9: equals G0                        IoU 1.00 -> detects G0
    #   p1 frame 1, 0.8: [20,20,30,21] inside G1          IoU 0.10 -> false positive (< 0.2)
    #   p2 frame 1, 0.7: [20,20,30,22.5] inside G1        IoU 0.25 -> detects G1
    #   p3 frame 2, 0.6: no ground truth in frame 2               -> false positive
    preds = predictions(
        [
            ("v", 0, G0, 0.9),
            ("v", 1, [20, 20, 30, 21], 0.8),
            ("v", 1, [20, 20, 30, 22.5], 0.7),
            ("v", 2, [0, 0, 5, 5], 0.6),
        ]
    )
    truth = ground_truth([("v", 0, G0, 0), ("v", 1, G1, 1)])
    return preds, truth


def test_rbdc_tbdc_by_hand() -> None:
    preds, truth = hand_case()
    result = object_level_metrics(preds, truth, num_frames=3, **CONTINUOUS)
    # Thresholds 0.9, 0.8, 0.7, 0.6 -> (FP per frame, RBDR):
    #   (0, 1/2), (1/3, 1/2), (1/3, 1), (2/3, 1); then extended flat to FPR 1.
    np.testing.assert_allclose(result.thresholds, [np.inf, 0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(result.fpr, [0, 0, 1 / 3, 1 / 3, 2 / 3])
    np.testing.assert_allclose(result.rbdr, [0, 0.5, 0.5, 1, 1])
    # Area: 1/3 * 1/2 (FPR 0..1/3 at 1/2) + 2/3 * 1 (FPR 1/3..1 at 1) = 5/6.
    assert result.rbdc == pytest.approx(5 / 6)
    # Each track is one region: TBDR = RBDR under both rules.
    np.testing.assert_allclose(result.tbdr, result.rbdr)
    assert result.tbdc == pytest.approx(5 / 6)
    fraction = object_level_metrics(preds, truth, 3, track_rule="fraction", **CONTINUOUS)
    assert fraction.tbdc == pytest.approx(5 / 6)
    assert result.at(0.75) == pytest.approx({"fpr": 1 / 3, "rbdr": 0.5, "tbdr": 0.5})
    assert result.at(0.95) == {"fpr": 0.0, "rbdr": 0.0, "tbdr": 0.0}


def test_iou_threshold_beta_decides_detection() -> None:
    preds, truth = hand_case()
    # beta 0.1: p1 (IoU 0.1) now detects G1 at 0.8 and p2 only re-detects it (neither TP
    # nor FP): points (0, 1/2), (0, 1), (0, 1), (1/3, 1) -> RBDC 1/2 * 0 + 1 * 1 = 1.
    loose = object_level_metrics(preds, truth, 3, beta=0.1, **CONTINUOUS)
    np.testing.assert_allclose(loose.fpr, [0, 0, 0, 0, 1 / 3])
    np.testing.assert_allclose(loose.rbdr, [0, 0.5, 1, 1, 1])
    assert loose.rbdc == pytest.approx(1.0)
    # beta 0.3: G1 is never detected: RBDR 1/2 from the start, area 1/2.
    strict = object_level_metrics(preds, truth, 3, beta=0.3, **CONTINUOUS)
    assert strict.rbdc == pytest.approx(0.5)


def test_default_pixel_convention_changes_iou() -> None:
    # Ground truth [0,0,9,9] is 10x10 pixels; the prediction [0,0,9,1] covers 10x2 of them:
    # IoU 0.2 with inclusive pixels (detected at beta 0.2); 9*1/81 = 0.11 as continuous boxes.
    truth = ground_truth([("v", 0, [0, 0, 9, 9], 0)])
    preds = predictions([("v", 0, [0, 0, 9, 1], 0.5)])
    assert object_level_metrics(preds, truth, 1).rbdc == pytest.approx(1.0)
    assert object_level_metrics(preds, truth, 1, **CONTINUOUS).rbdc == pytest.approx(0.0)


def test_same_frame_index_in_another_video_does_not_match() -> None:
    truth = ground_truth([("a", 0, G0, 0)])
    preds = predictions([("b", 0, G0, 0.9)])
    result = object_level_metrics(preds, truth, {"a": 2, "b": 2}, **CONTINUOUS)
    assert result.at(0.9) == {"fpr": 0.25, "rbdr": 0.0, "tbdr": 0.0}
    assert result.rbdc == 0.0


def six_frame_track(detected_frames: dict[int, float]) -> tuple[Regions, Regions]:
    truth = ground_truth([("v", f, G0, 7) for f in range(6)])
    preds = predictions([("v", f, G0, score) for f, score in detected_frames.items()])
    return preds, truth


@pytest.mark.parametrize(
    "frames, detected",
    [
        ({0: 0.9, 2: 0.9, 4: 0.9}, True),  # 3 matches inside the window of frames 0..4
        ({1: 0.9, 3: 0.9, 5: 0.9}, True),  # 3 matches inside frames 1..5
        ({0: 0.9, 4: 0.9}, False),  # 2 matches only
        ({0: 0.9, 2: 0.9, 5: 0.9}, False),  # 3 matches, but no 5-frame window holds all 3
    ],
)
def test_tbdc_window_rule_k5_m3(frames: dict[int, float], detected: bool) -> None:
    preds, truth = six_frame_track(frames)
    result = object_level_metrics(preds, truth, 6, **CONTINUOUS)
    assert result.at(0.9)["tbdr"] == (1.0 if detected else 0.0)
    assert result.at(0.9)["rbdr"] == pytest.approx(len(frames) / 6)
    # Street Scene's rule: 1 region of 6 is >= 10%, so any match detects the track.
    fraction = object_level_metrics(preds, truth, 6, track_rule="fraction", **CONTINUOUS)
    assert fraction.at(0.9)["tbdr"] == 1.0


def test_track_is_detected_from_its_third_best_score_in_the_window() -> None:
    preds, truth = six_frame_track({0: 0.9, 2: 0.5, 4: 0.7})
    result = object_level_metrics(preds, truth, 6, **CONTINUOUS)
    np.testing.assert_allclose(result.track_scores, [0.5])
    assert result.at(0.6)["tbdr"] == 0.0 and result.at(0.5)["tbdr"] == 1.0
    # TBDR is 0 until the threshold reaches 0.5, with no false positive: the curve is
    # (0, 0) -> (0, 1) and TBDC is 1.
    assert result.tbdc == pytest.approx(1.0)


def test_window_and_min_matches_are_options() -> None:
    preds, truth = six_frame_track({0: 0.9, 2: 0.9, 5: 0.9})
    wide = object_level_metrics(preds, truth, 6, window=6, **CONTINUOUS)
    assert wide.at(0.9)["tbdr"] == 1.0
    fewer = object_level_metrics(preds, truth, 6, min_matches=2, **CONTINUOUS)
    assert fewer.at(0.9)["tbdr"] == 1.0


def test_short_and_sparse_tracks_need_all_regions_of_their_fullest_window() -> None:
    # A 2-region track (frames 0, 1): fewer than m=3 regions, so both are needed.
    truth = ground_truth([("v", 0, G0, 0), ("v", 1, G0, 0)])
    one = object_level_metrics(predictions([("v", 0, G0, 0.9)]), truth, 2, **CONTINUOUS)
    assert one.at(0.9)["tbdr"] == 0.0
    both = object_level_metrics(
        predictions([("v", 0, G0, 0.9), ("v", 1, G0, 0.8)]), truth, 2, **CONTINUOUS
    )
    assert both.at(0.8)["tbdr"] == 1.0
    # A sparse 3-region track (frames 0, 10, 20): no 5-frame window holds more than one region,
    # so any one detected region detects it.
    sparse = ground_truth([("v", f, G0, 0) for f in (0, 10, 20)])
    result = object_level_metrics(predictions([("v", 10, G0, 0.9)]), sparse, 21, **CONTINUOUS)
    assert result.at(0.9)["tbdr"] == 1.0
    # Frames 0, 2, 5: windows are frames f..f+4, so none holds more than 2 regions (0 and 5
    # are 6 frames apart): two detected regions in one window suffice, one does not.
    gappy = ground_truth([("v", f, G0, 0) for f in (0, 2, 5)])
    for detected, expected in (((2, 5), 1.0), ((0, 2), 1.0), ((0, 5), 0.0), ((5,), 0.0)):
        preds = predictions([("v", f, G0, 0.9) for f in detected])
        result = object_level_metrics(preds, gappy, 6, **CONTINUOUS)
        assert result.at(0.9)["tbdr"] == expected, detected


def test_fraction_rule_compares_like_the_reference_script() -> None:
    # 100 regions, alpha 0.07: 7 detected regions are exactly 7% (7/100 >= 0.07 in floats),
    # although ceil(0.07 * 100) is 8 (0.07 * 100 = 7.000000000000001).
    truth = ground_truth([("v", f, G0, 0) for f in range(100)])
    rule = {"track_rule": "fraction", "alpha": 0.07, **CONTINUOUS}
    seven = predictions([("v", f, G0, 0.9) for f in range(7)])
    assert object_level_metrics(seven, truth, 100, **rule).at(0.9)["tbdr"] == 1.0
    six = predictions([("v", f, G0, 0.9) for f in range(6)])
    assert object_level_metrics(six, truth, 100, **rule).at(0.9)["tbdr"] == 0.0


def test_fpr_past_max_is_cut_by_interpolation() -> None:
    # Three tied predictions at 0.5 in a 1-frame test set: one detects the only region, two
    # are false positives, so the tie group moves the curve diagonally from (0, 0) to (2, 1).
    truth = ground_truth([("v", 0, G0, 0)])
    preds = predictions([("v", 0, G0, 0.5), ("v", 0, G1, 0.5), ("v", 0, [40, 40, 50, 50], 0.5)])
    result = object_level_metrics(preds, truth, 1, **CONTINUOUS)
    np.testing.assert_allclose(result.fpr, [0, 2])
    np.testing.assert_allclose(result.rbdr, [0, 1])
    # The diagonal (0,0) -> (2,1) cut at FPR 1 reaches 1/2: area 1/2 * 1 * 1/2 = 1/4.
    assert result.rbdc == pytest.approx(0.25)
    assert object_level_metrics(preds, truth, 1, max_fpr=2.0, **CONTINUOUS).rbdc == pytest.approx(
        1.0
    )


def test_undefined_cases_are_nan_not_errors() -> None:
    preds, truth = hand_case()
    nan_scores = Regions.predictions(preds.video, preds.frame, preds.boxes, [0.9, np.nan, 0.7, 0.6])
    result = object_level_metrics(nan_scores, truth, 3)
    assert math.isnan(result.rbdc) and math.isnan(result.tbdc)
    no_truth = Regions.ground_truth([], [], np.zeros((0, 4)), [])
    result = object_level_metrics(preds, no_truth, 3)
    assert math.isnan(result.rbdc) and math.isnan(result.tbdc)
    np.testing.assert_allclose(result.fpr, [0, 1 / 3, 2 / 3, 1, 4 / 3])
    # No predictions: the curve stays at 0.
    assert object_level_metrics(predictions([]), truth, 3).rbdc == 0.0


def test_malformed_inputs_raise_config_errors() -> None:
    preds, truth = hand_case()
    twice = ground_truth([("v", 0, G0, 0), ("v", 0, G1, 0)])
    with pytest.raises(ConfigError, match="track 0 has 2 regions in frame 0"):
        object_level_metrics(preds, twice, 3)
    with pytest.raises(ConfigError, match="beyond its 2 frames"):
        object_level_metrics(preds, truth, {"v": 2})
    with pytest.raises(ConfigError, match="no frame count"):
        object_level_metrics(preds, truth, {"w": 5})
    with pytest.raises(ConfigError, match="positive integer"):
        object_level_metrics(preds, truth, 0)
    with pytest.raises(ConfigError, match="track_rule"):
        object_level_metrics(preds, truth, 3, track_rule="tube")
    with pytest.raises(ConfigError, match="beta"):
        object_level_metrics(preds, truth, 3, beta=0.0)
    with pytest.raises(ConfigError, match="track ids must be >= 0"):
        ground_truth([("v", 0, G0, -1)])


def test_from_frames_builds_the_same_regions() -> None:
    # The per-frame form of hand_case().
    per_frame_preds = {
        "v": [
            [G0 + [0.9]],
            [[20, 20, 30, 21, 0.8], [20, 20, 30, 22.5, 0.7]],
            [[0, 0, 5, 5, 0.6]],
        ]
    }
    per_frame_truth = {"v": [[G0 + [0]], [G1 + [1]], []]}
    built = object_level_metrics(
        Regions.from_frames(per_frame_preds, "predictions"),
        Regions.from_frames(per_frame_truth, "ground_truth"),
        3,
        **CONTINUOUS,
    )
    assert built.rbdc == pytest.approx(5 / 6) and built.tbdc == pytest.approx(5 / 6)
    with pytest.raises(ConfigError, match="frame 0: expected"):
        Regions.from_frames({"v": [[[0, 0, 1, 1]]]}, "predictions")


# Against a straightforward replay of the reference script's loop ----------------------------


def replay_reference(
    preds: Regions, truth: Regions, num_frames: int, alpha: float, beta: float, convention: str
) -> tuple[float, float]:
    """The Georgescu et al. procedure, one prediction at a time (scores must be distinct)."""
    key = lambda video, frame: (str(video), int(frame))
    regions: dict[tuple[str, int], list[int]] = {}
    for g in range(len(truth)):
        regions.setdefault(key(truth.video[g], truth.frame[g]), []).append(g)
    track_of = {g: (str(truth.video[g]), int(truth.track[g])) for g in range(len(truth))}
    tracks = sorted(set(track_of.values()))
    sizes = {t: sum(1 for g in track_of if track_of[g] == t) for t in tracks}
    found = np.zeros(len(truth), dtype=bool)
    matched_per_track = dict.fromkeys(tracks, 0)
    fpr, rbdr, tbdr = [0.0], [0.0], [0.0]
    false_positives = true_positives = 0
    for p in np.argsort(-preds.scores, kind="stable"):
        candidates = regions.get(key(preds.video[p], preds.frame[p]), [])
        hits = [
            g
            for g in candidates
            if box_iou(preds.boxes[p : p + 1], truth.boxes[g : g + 1], convention)[0, 0] >= beta
        ]
        if not hits:
            false_positives += 1
        for g in hits:
            if not found[g]:
                found[g] = True
                true_positives += 1
                matched_per_track[track_of[g]] += 1
        fpr.append(false_positives / num_frames)
        rbdr.append(true_positives / len(truth))
        tbdr.append(np.mean([matched_per_track[t] / sizes[t] >= alpha for t in tracks]))
    fpr_a, rbdr_a, tbdr_a = np.array(fpr), np.array(rbdr), np.array(tbdr)
    last = np.flatnonzero(fpr_a <= 1)[-1] + 1
    x, r, t = fpr_a[:last], rbdr_a[:last], tbdr_a[:last]
    if x[-1] != 1:
        x, r, t = np.append(x, 1.0), np.append(r, r[-1]), np.append(t, t[-1])
    return float(np.trapezoid(r, x)), float(np.trapezoid(t, x))


@st.composite
def scenes(draw):
    n_videos = draw(st.integers(1, 2))
    n_frames = draw(st.integers(1, 4))
    truth_rows, pred_rows = [], []
    for v in range(n_videos):
        for f in range(n_frames):
            for track in range(draw(st.integers(0, 2))):  # track j is the j-th box of a frame
                truth_rows.append((f"v{v}", f, draw(boxes), track))
            for _ in range(draw(st.integers(0, 3))):
                pred_rows.append((f"v{v}", f, draw(boxes)))
    scores = draw(st.permutations(list(range(len(pred_rows)))))
    preds = [(v, f, b, (s + 1) / (len(pred_rows) + 1)) for (v, f, b), s in zip(pred_rows, scores)]
    return preds, truth_rows, n_videos * n_frames


@settings(max_examples=80, deadline=None)
@given(
    scenes(),
    st.sampled_from([0.1, 0.2, 0.5]),
    st.sampled_from([0.1, 0.5]),
    st.sampled_from(["pixels", "continuous"]),
)
def test_matches_the_reference_replay_with_distinct_scores(scene, beta, alpha, convention) -> None:
    pred_rows, truth_rows, num_frames = scene
    if not truth_rows:
        return
    preds, truth = predictions(pred_rows), ground_truth(truth_rows)
    result = object_level_metrics(
        preds,
        truth,
        num_frames,
        beta=beta,
        track_rule="fraction",
        alpha=alpha,
        box_convention=convention,
    )
    rbdc, tbdc = replay_reference(preds, truth, num_frames, alpha, beta, convention)
    assert result.rbdc == pytest.approx(rbdc, abs=1e-12)
    assert result.tbdc == pytest.approx(tbdc, abs=1e-12)


@st.composite
def gappy_tracks(draw):
    """1-3 disjoint tracks with gaps in their frames; some regions hit exactly, others not."""
    n_frames = draw(st.integers(1, 9))
    truth_rows, pred_rows = [], []
    for track in range(draw(st.integers(1, 3))):
        box = [30.0 * track, 0.0, 30.0 * track + 10, 10.0]  # tracks never overlap
        frames = draw(st.sets(st.integers(0, n_frames - 1), min_size=1))
        for frame in sorted(frames):
            truth_rows.append(("v", frame, box, track))
            if draw(st.booleans()):
                pred_rows.append(("v", frame, box))
    scores = draw(st.permutations(list(range(len(pred_rows)))))
    preds = [(v, f, b, (s + 1) / (len(pred_rows) + 1)) for (v, f, b), s in zip(pred_rows, scores)]
    return preds, truth_rows, n_frames


@settings(max_examples=100, deadline=None)
@given(st.one_of(scenes(), gappy_tracks()), st.integers(1, 4), st.integers(1, 4))
@example(([("v", 0, G0, 0.5)], [("v", 0, G0, 0), ("v", 2, G0, 0)], 3), 2, 2)  # gap of k frames
def test_window_rule_matches_brute_force(scene, window, min_matches) -> None:
    pred_rows, truth_rows, num_frames = scene
    if not truth_rows:
        return
    preds, truth = predictions(pred_rows), ground_truth(truth_rows)
    result = object_level_metrics(preds, truth, num_frames, window=window, min_matches=min_matches)
    iou = box_iou(preds.boxes, truth.boxes)
    same_frame = (preds.video[:, None] == truth.video[None, :]) & (
        preds.frame[:, None] == truth.frame[None, :]
    )
    tracks = sorted({(str(v), int(t)) for v, t in zip(truth.video, truth.track)})
    for threshold, tbdr in zip(result.thresholds[1:], result.tbdr[1:]):
        live = preds.scores >= threshold
        detected = ((iou >= 0.2) & same_frame & live[:, None]).any(axis=0)
        count = 0
        for video, track in tracks:
            mine = (truth.video == video) & (truth.track == track)
            frames, hits = truth.frame[mine], truth.frame[mine & detected]
            starts = range(int(frames.min()), int(frames.max()) + 1)
            fullest = max(np.sum((frames >= s) & (frames < s + window)) for s in starts)
            need = min(min_matches, fullest)
            count += any(np.sum((hits >= s) & (hits < s + window)) >= need for s in starts)
        assert tbdr == pytest.approx(count / len(tracks))


@settings(max_examples=60, deadline=None)
@given(scenes(), st.randoms(use_true_random=False), st.booleans())
def test_metrics_do_not_depend_on_box_order(scene, random, tie_scores) -> None:
    pred_rows, truth_rows, num_frames = scene
    if tie_scores:  # ties too: tied predictions enter the curve together
        pred_rows = [(v, f, b, round(s, 1)) for v, f, b, s in pred_rows]
    shuffled_preds, shuffled_truth = list(pred_rows), list(truth_rows)
    random.shuffle(shuffled_preds)
    random.shuffle(shuffled_truth)
    if not truth_rows:
        return
    a = object_level_metrics(predictions(pred_rows), ground_truth(truth_rows), num_frames)
    b = object_level_metrics(predictions(shuffled_preds), ground_truth(shuffled_truth), num_frames)
    assert a.rbdc == pytest.approx(b.rbdc, abs=1e-12)
    assert a.tbdc == pytest.approx(b.tbdc, abs=1e-12)
    np.testing.assert_allclose(a.fpr, b.fpr)
    # Perfect detections with nothing else detect every region and every track at once.
    perfect = predictions([(v, f, box, 1.0) for v, f, box, _ in truth_rows])
    result = object_level_metrics(perfect, ground_truth(truth_rows), num_frames)
    assert result.rbdc == pytest.approx(1.0) and result.tbdc == pytest.approx(1.0)


# Pixel and frame metrics --------------------------------------------------------------------


def test_pixel_auroc_and_ap_by_hand() -> None:
    masks = np.array([[[1, 0], [0, 0]]], dtype=bool)  # (1, 2, 2): one anomalous pixel
    scores = np.array([[[0.9, 0.1], [0.5, 0.95]]])
    # Positive 0.9 beats negatives 0.1 and 0.5, loses to 0.95: AUROC 2/3. Ranked: 0.95 (neg),
    # 0.9 (pos): precision 1/2 at recall 1, so AP 1/2.
    result = pixel_metrics(masks, scores)
    assert result == pytest.approx({"pixel_auroc": 2 / 3, "pixel_ap": 0.5, "n_pixels": 4.0})
    # Per-video lists of different frame sizes are concatenated.
    split = pixel_metrics([masks, np.zeros((2, 1, 3), bool)], [scores, np.full((2, 1, 3), 0.2)])
    # Six more negatives at 0.2, all below the positive: AUROC (2 + 6) / 9, AP unchanged.
    assert split["pixel_auroc"] == pytest.approx(8 / 9) and split["pixel_ap"] == pytest.approx(0.5)
    assert math.isnan(pixel_metrics(np.zeros((1, 2, 2)), scores)["pixel_auroc"])
    with pytest.raises(ConfigError, match="equal shape"):
        pixel_metrics(masks, scores[:, :1])
    with pytest.raises(ConfigError, match="0/1"):
        pixel_metrics(masks.astype(int) * 2, scores)


def test_frame_metrics_go_through_the_protocol() -> None:
    labels = {"A": [0, 1, 1], "B": [0, 0]}
    scores = {"A": [0.1, 0.8, 0.4], "B": [0.5, 0.2]}
    result = frame_metrics(scores, labels, threshold=0.45)
    # Positives {0.8, 0.4}, negatives {0.1, 0.5, 0.2}: 5 of 6 pairs ordered -> AUC 5/6.
    assert result["auc"] == pytest.approx(5 / 6)
    assert result["auc_abnormal"] == pytest.approx(1.0)  # video A alone: 0.8, 0.4 > 0.1
    assert result["far"] == pytest.approx(0.5)  # normal video B: 0.5 >= 0.45, 0.2 not
    assert result["n_frames"] == 5.0 and result["n_videos"] == 2.0
    with pytest.raises(ConfigError, match="equal length"):
        frame_metrics({"A": [0.1]}, {"A": [0, 1]})
