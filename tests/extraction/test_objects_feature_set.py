"""The optional track columns of a feature set: written, loaded in set order, validated, hashed.

Sets without them (every set before object-level features) load exactly as before.
"""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wsvad.errors import FeatureSetError
from wsvad.features import FeatureSetWriter, finalize_feature_set, load_feature_set
from wsvad.features.atomic import write_parquet_atomic
from wsvad.features.schema import COLUMNS, TRACK_COLUMNS
from wsvad.features.writer import rows_to_table

D = 4


def track_row(source: str, track_id: int, frames, x0: float = 0.0) -> dict:
    t = len(frames)
    boxes = np.stack([np.array([x0 + f, 10, x0 + f + 8, 30], np.float32) for f in frames])
    return dict(video_id=f"{source}#t{track_id}", split="train", label=0, class_name="Normal", crop=0, num_snippets=t,
                dim=D, num_frames=t, fps=30.0, source="real",
                features=np.arange(t * D, dtype=np.float32) + 100 * track_id,
                source_video_id=source, track_id=track_id, frame=np.asarray(frames, np.int64),
                box=boxes.reshape(-1), score=np.full(t, 0.9, np.float32), category=np.full(t, 1, np.int32))


def write_set(folder, parts: list[list[dict]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, rows in enumerate(parts):
        write_parquet_atomic(rows_to_table(rows), folder / f"part-{i:05d}.parquet")
    finalize_feature_set(folder, "toy")


def test_track_columns_load_aligned_with_the_features_in_set_order(tmp_path):
    # Parts in an order that differs from first appearance; one part without tracks (a video where
    # nothing was tracked) — it holds no row and changes nothing.
    write_set(tmp_path / "set", [[track_row("b", 2, [4, 6, 9], x0=50), track_row("b", 1, [0, 1])],
                                 [], [track_row("a", 1, [3, 5, 7, 8])]])
    fs = load_feature_set(tmp_path / "set")
    assert fs.manifest["num_source_videos"] == 2 and fs.num_videos == 3
    for i, video_id in enumerate(fs.video_ids):
        source, _, track = video_id.partition("#t")
        assert (fs.tracks.source_video_ids[i], fs.tracks.track_ids[i]) == (source, int(track))
        rows = slice(fs.offsets[i], fs.offsets[i + 1])
        np.testing.assert_array_equal(fs.features[rows].reshape(-1), np.arange(fs.num_snippets[i] * D) + 100 * int(track))
        frames = fs.tracks.frames[rows]
        assert len(frames) == fs.num_snippets[i]
        x0 = 50 if video_id == "b#t2" else 0
        np.testing.assert_array_equal(fs.tracks.boxes[rows][:, 0], x0 + frames)      # each box with its own frame
    assert fs.tracks.scores.shape == fs.tracks.categories.shape == (len(fs.features),)


def test_sets_without_track_columns_are_unchanged(tmp_path):
    with FeatureSetWriter(tmp_path / "plain", "toy") as writer:
        writer.add_video("v1", "train", 0, "Normal", np.ones((3, D)))
    fs = load_feature_set(tmp_path / "plain")
    assert fs.tracks is None and "num_source_videos" not in fs.manifest
    part = next((tmp_path / "plain").glob("part-*.parquet"))
    assert tuple(pq.read_schema(part).names) == COLUMNS                  # no new column in a plain part


def test_track_columns_enter_the_hash(tmp_path):
    write_set(tmp_path / "a", [[track_row("a", 1, [0, 1, 2])]])
    moved = track_row("a", 1, [0, 1, 2])
    moved["box"] = moved["box"] + 1                                       # same features, other boxes
    write_set(tmp_path / "b", [[moved]])
    assert load_feature_set(tmp_path / "a").hash != load_feature_set(tmp_path / "b").hash


def broken(name: str):
    row = track_row("a", 1, [0, 2, 4])
    if name == "frames not increasing":
        row["frame"] = np.array([0, 4, 2])
    elif name == "three boxes short":
        row["box"] = row["box"][:-3]
    elif name == "inverted box":
        row["box"] = row["box"].copy()
        row["box"][2] = -5
    elif name == "scores short":
        row["score"] = row["score"][:2]
    return [row]


@pytest.mark.parametrize(("name", "message"), [
    ("frames not increasing", r"track 'a#t1': frames must be >= 0 and increasing, got \[0, 4, 2\]"),
    ("three boxes short", r"track 'a#t1': column 'box' holds 9 values, expected 4 per snippet \(4\*3\)"),
    ("inverted box", r"track 'a#t1': boxes must be finite \(x1, y1, x2, y2\) with x2 >= x1"),
    ("scores short", r"track 'a#t1': column 'score' holds 2 values, expected 1 per snippet"),
])
def test_bad_track_columns_are_refused_in_one_line(tmp_path, name, message):
    with pytest.raises(FeatureSetError, match=message):
        write_set(tmp_path / "set", [broken(name)])


def test_all_track_columns_or_none_and_one_row_per_track(tmp_path):
    table = rows_to_table([track_row("a", 1, [0, 1])]).drop_columns(["score"])
    (tmp_path / "partial").mkdir()
    pq.write_table(table, tmp_path / "partial" / "part-00000.parquet")
    with pytest.raises(FeatureSetError, match="object-level column.* without score"):
        finalize_feature_set(tmp_path / "partial", "toy")
    twice = track_row("a", 1, [0, 1])
    renamed = {**twice, "video_id": "a#t1-again"}
    with pytest.raises(FeatureSetError, match="two rows for track 1 .crop 0. of source video 'a'"):
        write_set(tmp_path / "twice", [[twice, renamed]])
    # a plain part next to an object-level one leaves the track columns null for its rows
    plain = rows_to_table([{k: v for k, v in track_row("p", 1, [0]).items() if k not in TRACK_COLUMNS}])
    (tmp_path / "mixed").mkdir()
    pq.write_table(plain, tmp_path / "mixed" / "part-00000.parquet")
    pq.write_table(rows_to_table([track_row("a", 1, [0])]), tmp_path / "mixed" / "part-00001.parquet")
    with pytest.raises(FeatureSetError, match="column 'source_video_id' has null values"):
        finalize_feature_set(tmp_path / "mixed", "toy")
    assert pa.types.is_list(rows_to_table([track_row("a", 1, [0])]).schema.field("box").type)
