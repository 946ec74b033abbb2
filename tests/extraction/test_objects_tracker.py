"""ByteTrack through our wrapper, on hand-made boxes; blob proposals on hand-drawn frames."""

import numpy as np

from extraction.objects.proposals import BlobProposals, BlobSpec, EvenSample
from extraction.objects.tracker import ByteTracker, TrackerSpec


def box(x, y, w=20, h=40):
    return [x, y, x + w, y + h]


def test_a_moving_blob_keeps_its_id_and_two_objects_keep_theirs():
    tracker = ByteTracker(TrackerSpec(), frame_rate=30)
    ids = []
    for t in range(30):
        # a walker moving right 3 px a frame, a second one moving left, both fully confident;
        # the order of the detections changes every frame, the ids must not
        boxes = np.array([box(10 + 3 * t, 50), box(200 - 2 * t, 120)], np.float32)
        order = [1, 0] if t % 2 else [0, 1]
        index, track_ids = tracker.update(boxes[order], np.array([0.9, 0.8])[order])
        by_detection = dict(zip(np.array(order)[index].tolist(), track_ids.tolist()))
        ids.append((by_detection[0], by_detection[1]))
    assert len(set(ids)) == 1                      # the same two ids on all 30 frames
    first, second = ids[0]
    assert first != second and {first, second} == {1, 2}


def test_a_track_survives_a_short_gap_and_a_low_score_frame():
    tracker = ByteTracker(TrackerSpec(lost_track_buffer=30), frame_rate=30)
    seen = {}
    for t in range(40):
        if 15 <= t < 20:                            # occluded: no detection for 5 frames
            boxes, scores = np.zeros((0, 4)), np.zeros(0)
        else:
            boxes = np.array([box(10 + 2 * t, 60)], np.float32)
            scores = np.array([0.3 if t == 25 else 0.9])   # a weak detection: ByteTrack's second stage
        _, track_ids = tracker.update(boxes, scores)
        seen[t] = track_ids.tolist()
    assert all(seen[t] == [1] for t in range(40) if not 15 <= t < 20)
    assert all(seen[t] == [] for t in range(15, 20))


def test_a_track_born_later_is_confirmed_on_its_second_frame():
    tracker = ByteTracker(TrackerSpec(), frame_rate=30)
    tracker.update(np.array([box(10, 10)], np.float32), np.array([0.9]))
    index, ids = tracker.update(np.array([box(12, 10), box(100, 100)], np.float32), np.array([0.9, 0.9]))
    assert index.tolist() == [0] and ids.tolist() == [1]           # the newcomer is not yet confirmed
    index, ids = tracker.update(np.array([box(14, 10), box(102, 100)], np.float32), np.array([0.9, 0.9]))
    assert sorted(zip(index.tolist(), ids.tolist())) == [(0, 1), (1, 2)]


def test_no_detection_gives_nothing():
    index, ids = ByteTracker().update(np.zeros((0, 4)), np.zeros(0))
    assert index.shape == ids.shape == (0,)


def test_blobs_are_the_boxes_of_what_differs_from_the_background():
    background = np.full((60, 80, 3), 100, np.uint8)
    frame = background.copy()
    frame[10:30, 5:13] = (20, 200, 20)             # an 8x20 walker
    frame[40:50, 50:76] = (200, 30, 30)            # a 26x10 car
    frame[0, 79] = 255                             # one noisy pixel: removed by the opening
    boxes, scores, categories = BlobProposals(background, BlobSpec(threshold=30, min_area=12))(frame)
    assert sorted(boxes.tolist()) == [[5, 10, 13, 30], [50, 40, 76, 50]]
    assert scores.tolist() == [1, 1] and categories.tolist() == [-1, -1]


def test_even_sample_keeps_at_most_size_frames_spread_over_the_stream():
    sample = EvenSample(size=8)
    for i in range(100):
        sample.add(np.full((2, 2, 3), i, np.uint8))
    kept = [int(f[0, 0, 0]) for f in sample.frames]
    assert len(kept) <= 8 and kept[0] == 0 and kept[-1] >= 80       # the start and the end are both sampled
    assert len(set(np.diff(kept))) == 1                              # evenly spaced
    # the median of a stream whose pixels are mostly background is the background
    sample = EvenSample(size=16)
    for i in range(50):
        frame = np.full((4, 4, 3), 100, np.uint8)
        frame[i // 13, 0] = 250                                      # an object covers each pixel for 13 frames
        sample.add(frame)
    assert (sample.median() == 100).all()
