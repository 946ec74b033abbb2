"""`wsvad toy-videos`: real mp4 files, a manifest, and annotations whose events are visible."""

import csv

import numpy as np

from extraction.decoders import open_video
from wsvad.annotations import load_annotations


def test_toy_clips_manifest_annotations_and_visible_events(toy_clips):
    rows = list(csv.DictReader(open(toy_clips["manifest"])))
    assert len(rows) == 6 and {r["label"] for r in rows} == {"0", "1"}
    assert {(r["split"], r["label"]) for r in rows} >= {("train", "0"), ("train", "1"), ("test", "0"), ("test", "1")}
    annotations = load_annotations(toy_clips["annotations"], "csv")
    for row in rows:
        path = toy_clips["manifest"].parent / row["path"]
        video_id = path.stem
        assert row["class_name"] == ("Normal" if row["label"] == "0" else video_id[: video_id.index("0")])
        video = open_video(path, "pyav")
        frames = np.concatenate(list(video.snippets(16, np.arange(16), 120, 64))).reshape(-1, 120, 160, 3)
        intervals = annotations[video_id]
        if row["label"] == "0":
            assert intervals.shape == (0, 2)
            continue
        (start, end), = intervals                                  # one event, inclusive end, inside the clip
        assert 0 <= start < end < video.decoded_frames
        change = np.abs(frames.astype(np.int16) - frames[0].astype(np.int16)).mean(axis=(1, 2, 3))
        inside = change[start:min(end + 1, len(frames))].mean()
        outside = np.delete(change, np.arange(start, min(end + 1, len(frames)))).mean()
        assert inside > 2 * outside, (video_id, inside, outside)


def test_same_seed_same_pictures(tmp_path):
    from extraction.toy_videos import render_clip

    a, ia = render_clip(np.random.default_rng([3, 1]), 40, "Arson")
    b, ib = render_clip(np.random.default_rng([3, 1]), 40, "Arson")
    assert ia == ib and np.array_equal(a, b)
