"""Object-level extraction end to end on real clips: toy videos and OpenCV's vtest.avi.

Blob proposals give an untrained (seeded) detector real boxes to track; the features come from
its FPN maps. Small frames (128–144 px short side) keep each run to seconds on one CPU.
"""

import csv
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from extraction.errors import ExtractionError
from extraction.objects.extract import SOURCE_DIR, extract_objects
from extraction.objects.parts import project_intervals, read_source_video
from extraction.rejects import read_rejects
from wsvad.features.store import load_feature_set
from wsvad.features.writer import read_ground_truth

DETECTOR = "objects:fasterrcnn_mobilenet_v3_large_fpn:random"
SMALL = dict(pooling="hybrid", proposals="blobs", input_size=128, frame_stride=2, min_track_length=4,
             progress_every=-1)


def toy_rows(toy_clips) -> list[dict]:
    with open(toy_clips["manifest"]) as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["path"] = str(Path(toy_clips["manifest"]).parent / row["path"])
    return rows


def write_manifest(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "class_name", "split", "source"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def inputs(toy_clips, tmp_path_factory):
    """Three toy clips (a normal and an anomalous test clip, a normal train clip), a missing file, an empty one."""
    rows = toy_rows(toy_clips)
    pick = [next(r for r in rows if r["split"] == "test" and r["label"] == "1"),
            next(r for r in rows if r["split"] == "test" and r["label"] == "0"),
            next(r for r in rows if r["split"] == "train" and r["label"] == "0")]
    folder = tmp_path_factory.mktemp("object-inputs")
    (folder / "Empty_x264.mp4").write_bytes(b"")
    bad = [dict(path=str(folder / "Missing_x264.mp4"), label="0", class_name="Normal", split="train", source="real"),
           dict(path=str(folder / "Empty_x264.mp4"), label="0", class_name="Normal", split="train", source="real")]
    return {"manifest": write_manifest(folder / "manifest.csv", pick + bad), "picked": pick,
            "annotations": toy_clips["annotations"]}


@pytest.fixture(scope="module")
def extracted(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("objects") / "set"
    summary = extract_objects(out, "toy", DETECTOR, manifest=inputs["manifest"], annotations=inputs["annotations"],
                              annotation_format="csv", local=True, **SMALL)
    return summary, out


def test_the_feature_set_loads_with_track_ids_and_boxes(inputs, extracted):
    summary, out = extracted
    fs = load_feature_set(out)
    tracks = fs.tracks
    assert tracks is not None and fs.dim == 512 and summary.tracks == fs.num_videos > 3
    picked = {Path(r["path"]).stem: r for r in inputs["picked"]}
    assert set(tracks.source_video_ids) <= set(picked)
    for i, video_id in enumerate(fs.video_ids):
        source, track = tracks.source_video_ids[i], tracks.track_ids[i]
        assert video_id == f"{source}#t{track}"
        assert (fs.splits[i], str(fs.labels[i]), fs.class_names[i]) == (
            picked[source]["split"], picked[source]["label"], picked[source]["class_name"])   # the video's weak label
        rows = slice(fs.offsets[i], fs.offsets[i + 1])
        frames, boxes = tracks.frames[rows], tracks.boxes[rows]
        assert len(frames) == fs.num_snippets[i] >= 4 and fs.num_frames[i] == fs.num_snippets[i]
        assert (np.diff(frames) > 0).all() and (frames % 2 == 0).all()        # frame stride 2
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert boxes.min() >= 0 and boxes[:, 2].max() <= 320 and boxes[:, 3].max() <= 240   # source pixels (320x240)
    assert np.isfinite(fs.features).all() and tracks.boxes.shape == (len(fs.features), 4)
    assert (tracks.scores == 1).all() and (tracks.categories == -1).all()               # blobs: no score, no class
    # A walker crossing the street is followed: some track spans most of its clip, and its box moves
    # a few pixels from one tracked frame to the next, never jumps.
    longest = int(np.argmax(fs.num_snippets))
    rows = slice(fs.offsets[longest], fs.offsets[longest + 1])
    assert fs.num_snippets[longest] >= 20
    centres = tracks.boxes[rows].reshape(-1, 2, 2).mean(axis=1)
    assert np.abs(np.diff(centres, axis=0)).max() < 16

    provenance = fs.manifest["provenance"]
    assert (provenance["snippet_unit"], provenance["frames_per_snippet"], provenance["frame_stride"]) == (
        "one tracked frame", 1, 2)
    assert provenance["backbone"] == DETECTOR and provenance["pooling"] == "hybrid" and provenance["dim"] == 512
    assert provenance["proposals"] == "blobs" and "untrained" in provenance["pooling_weights"]
    assert provenance["tracker_implementation"].startswith("ByteTrack: supervision 0.30.9")
    assert fs.manifest["num_source_videos"] == 3
    # plain pyarrow sees the track columns too
    table = pq.read_table(next(out.glob("part-*.parquet")))
    assert {"source_video_id", "track_id", "frame", "box", "score", "category"} <= set(table.column_names)


def test_test_tracks_get_their_video_intervals_projected_onto_their_frames(inputs, extracted):
    _, out = extracted
    fs = load_feature_set(out)
    source_truth = read_ground_truth(out / SOURCE_DIR)
    anomalous = Path(inputs["picked"][0]["path"]).stem
    assert len(source_truth[anomalous]) == 1 and len(source_truth[Path(inputs["picked"][1]["path"]).stem]) == 0
    start, end = source_truth[anomalous][0]
    checked = 0
    for i in fs.select(split="test"):
        frames = fs.tracks.frames[fs.offsets[i]:fs.offsets[i + 1]]
        intervals = fs.ground_truth[fs.video_ids[i]]
        labels = np.zeros(len(frames), bool)
        for a, b in intervals:
            labels[a:b + 1] = True
        expected = (frames >= start) & (frames <= end) if fs.tracks.source_video_ids[i] == anomalous else False
        assert (labels == expected).all()
        checked += 1
    assert checked and not any(v in fs.ground_truth for v in fs.video_ids[fs.splits == "train"])


def test_project_intervals():
    frames = np.array([0, 2, 4, 6, 8, 10, 12])
    assert project_intervals(frames, np.array([[3, 8], [12, 20]])).tolist() == [[2, 4], [6, 6]]
    assert project_intervals(frames, np.array([[-1, -1]])).shape == (0, 2)
    assert project_intervals(frames, np.zeros((0, 2))).shape == (0, 2)


def test_bad_videos_are_in_rejects_not_fatal(extracted):
    summary, out = extracted
    reasons = {r["video_id"]: (r["reason"], r["used"]) for r in read_rejects(out)}
    assert reasons == {"Missing_x264": ("file not found", False), "Empty_x264": ("zero-byte file", False)}
    assert len(summary.rejected) == 2 and summary.extracted == 3


def test_resume_skips_done_videos_and_redoes_only_the_missing_one(inputs, extracted, tmp_path):
    summary, original = extracted
    out = tmp_path / "set"
    shutil.copytree(original, out)
    parts = sorted(out.glob("part-*.parquet"))
    removed = parts[0]
    removed_video = read_source_video(removed)["video_id"]
    kept = {p.name: p.stat().st_mtime_ns for p in parts[1:]}
    removed.unlink()
    again = extract_objects(out, "toy", DETECTOR, manifest=inputs["manifest"], annotations=inputs["annotations"],
                            annotation_format="csv", local=True, **SMALL)
    assert (again.skipped, again.extracted) == (2, 1)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet") if p.name in kept} == kept
    assert read_source_video(removed)["video_id"] == removed_video          # written again
    assert again.manifest["feature_set_hash"] == summary.manifest["feature_set_hash"]   # same numbers
    # Nothing left to do: no video is decoded again, the set is unchanged.
    third = extract_objects(out, "toy", DETECTOR, manifest=inputs["manifest"], annotations=inputs["annotations"],
                            annotation_format="csv", local=True, **SMALL)
    assert (third.skipped, third.extracted, third.tracks) == (3, 0, 0)
    assert third.manifest["feature_set_hash"] == summary.manifest["feature_set_hash"]


def test_a_changed_config_is_refused(inputs, extracted):
    _, out = extracted
    with pytest.raises(ExtractionError, match=r"another config \(dim: 512 -> 256; pooling: 'hybrid' -> 'gap'"):
        extract_objects(out, "toy", DETECTOR, manifest=inputs["manifest"], annotations=inputs["annotations"],
                        annotation_format="csv", local=True, **{**SMALL, "pooling": "gap"})


def test_pedestrians_of_opencv_vtest_are_tracked_in_source_pixels(opencv_videos, tmp_path):
    """vtest.avi: 768x576 real surveillance footage of pedestrians (its first 40 frames, re-encoded)."""
    import av

    from extraction.toy_videos import write_mp4

    with av.open(str(opencv_videos["vtest.avi"])) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(40), container.decode(video=0))]
    (tmp_path / "clips").mkdir()
    write_mp4(tmp_path / "clips" / "vtest.mp4", np.stack(frames), fps=10)
    summary = extract_objects(tmp_path / "set", "opencv", DETECTOR, videos=tmp_path / "clips", split="train",
                              proposals="blobs", input_size=144, min_track_length=8, local=True, progress_every=-1)
    fs = load_feature_set(summary.out)
    assert fs.num_videos >= 2 and fs.num_snippets.max() >= 20           # several walkers, followed for 20+ frames
    boxes = fs.tracks.boxes
    # decoded at 144x192, stored in the video's 768x576 pixels
    assert boxes[:, 2].max() > 300 and boxes[:, 2].max() <= 768 and boxes[:, 3].max() <= 576
    assert (fs.tracks.frames < 40).all() and fs.dim == 256


def test_untrained_detector_boxes_track_nothing_and_say_what_to_do(inputs, tmp_path):
    with open(inputs["manifest"]) as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "train" and "Normal_" in r["path"]]
    manifest = write_manifest(tmp_path / "one.csv", rows[:1])
    with pytest.raises(ExtractionError, match="nothing was tracked .* use --proposals blobs"):
        extract_objects(tmp_path / "set", "toy", DETECTOR, manifest=manifest, local=True,
                        **{**SMALL, "proposals": "detector", "frame_stride": 8})
