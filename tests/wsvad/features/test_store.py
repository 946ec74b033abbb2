"""Feature-set writer and reader: round trip, atomic parts, content hash, every validation error."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wsvad.errors import FeatureSetError
from wsvad.features import FeatureSetWriter, finalize_feature_set, load_feature_set
from wsvad.features.writer import rows_to_table


def write_set(out, videos, part_bytes=1 << 30, dtype="float32", gt=None):
    with FeatureSetWriter(out, "unit", {"backbone": "none"}, dtype=dtype, part_bytes=part_bytes) as w:
        for vid, (split, label, cls, feats) in videos.items():
            w.add_video(vid, split, label, cls, feats, num_frames=feats.shape[-2] * 16, fps=30.0)
            if split == "test":
                w.set_ground_truth(vid, (gt or {}).get(vid, np.zeros((0, 2))))
    return w.manifest


def sample_videos(rng, crops=2, d=8):
    return {
        "Normal_Videos_001_x264": ("train", 0, "Normal", rng.normal(size=(crops, 5, d))),
        "Arson011_x264": ("train", 1, "Arson", rng.normal(size=(crops, 7, d))),
        "Normal_Videos_002_x264": ("test", 0, "Normal", rng.normal(size=(crops, 3, d))),
        "Fighting003_x264": ("test", 1, "Fighting", rng.normal(size=(crops, 9, d))),
    }


def test_round_trip_views_and_offsets(tmp_path):
    rng = np.random.default_rng(0)
    videos = sample_videos(rng)
    manifest = write_set(tmp_path / "fs", videos, gt={"Fighting003_x264": np.array([[16, 47]])})
    fs = load_feature_set(tmp_path / "fs")
    assert list(fs.video_ids) == list(videos)
    # 2 crops × (5 + 7 + 3 + 9) snippets, one contiguous array
    assert fs.features.shape == (2 * 24, 8) and fs.features.flags.c_contiguous
    assert fs.offsets.tolist() == [0, 10, 24, 30, 48]
    for i, (vid, (_, label, cls, feats)) in enumerate(videos.items()):
        np.testing.assert_array_equal(fs.video(i), feats.astype(np.float32))
        assert np.shares_memory(fs.video(i), fs.features)  # a view, not a copy
        assert fs.labels[i] == label and fs.class_names[i] == cls
    assert fs.ground_truth["Fighting003_x264"].tolist() == [[16, 47]]
    assert fs.ground_truth["Normal_Videos_002_x264"].shape == (0, 2)
    assert manifest["counts"] == {"train": {"videos": 2, "anomalous": 1}, "test": {"videos": 2, "anomalous": 1}}
    assert manifest["num_snippets"] == 24 and manifest["crops"] == 2 and manifest["dim"] == 8
    assert json.loads((tmp_path / "fs" / "manifest.json").read_text())["feature_set_hash"] == fs.hash


def test_hash_ignores_part_layout_but_sees_every_value(tmp_path):
    rng = np.random.default_rng(1)
    videos = sample_videos(rng)
    one = write_set(tmp_path / "one", videos)
    many = write_set(tmp_path / "many", videos, part_bytes=1)  # one part per video
    assert len(many["parts"]) == 4 and len(one["parts"]) == 1
    assert one["feature_set_hash"] == many["feature_set_hash"]
    changed = dict(videos)
    split, label, cls, feats = changed["Arson011_x264"]
    feats = feats.copy()
    feats[1, 3, 2] += 1e-3
    changed["Arson011_x264"] = (split, label, cls, feats)
    assert write_set(tmp_path / "changed", changed)["feature_set_hash"] != one["feature_set_hash"]
    gt = write_set(tmp_path / "gt", videos, gt={"Fighting003_x264": np.array([[0, 15]])})
    assert gt["feature_set_hash"] != one["feature_set_hash"]  # ground truth changes metrics, so the hash


def test_rows_out_of_order_are_regrouped(tmp_path):
    """Parts written by other producers (extraction) may interleave videos and crops."""
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 4, 3)).astype(np.float32), rng.normal(size=(2, 6, 3)).astype(np.float32)

    def row(vid, crop, feats, label):
        return dict(video_id=vid, split="train", label=label, class_name="Normal" if label == 0 else "Arson",
                    crop=crop, num_snippets=feats.shape[1], dim=3, num_frames=-1, fps=0.0, source="real",
                    features=feats[crop].reshape(-1))

    out = tmp_path / "fs"
    out.mkdir()
    pq.write_table(rows_to_table([row("b", 1, b, 1), row("a", 1, a, 0)]), out / "part-00000.parquet")
    pq.write_table(rows_to_table([row("a", 0, a, 0), row("b", 0, b, 1)]), out / "part-00001.parquet")
    finalize_feature_set(out, "unit")
    fs = load_feature_set(out)
    assert list(fs.video_ids) == ["b", "a"]  # first appearance
    np.testing.assert_array_equal(fs.video(0), b)
    np.testing.assert_array_equal(fs.video(1), a)


def test_float16_is_kept_in_memory(tmp_path):
    rng = np.random.default_rng(3)
    write_set(tmp_path / "fs", sample_videos(rng), dtype="float16")
    fs = load_feature_set(tmp_path / "fs")
    assert fs.features.dtype == np.float16


def test_no_temporary_files_left(tmp_path):
    write_set(tmp_path / "fs", sample_videos(np.random.default_rng(4)), part_bytes=1)
    assert not [p for p in (tmp_path / "fs").iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda v: v.update({"Arson011_x264": ("train", 1, "Arson", np.full((2, 7, 8), np.nan))}), "NaN or Inf"),
        (lambda v: v.update({"Arson011_x264": ("train", 1, "Arson", np.full((2, 7, 8), np.inf))}), "NaN or Inf"),
        (lambda v: v.update({"Arson011_x264": ("train", 1, "Arson", np.zeros((2, 7, 5)))}), "dimension mismatch"),
        (lambda v: v.update({"Arson011_x264": ("training", 1, "Arson", np.zeros((2, 7, 8)))}), "split='training'"),
        (lambda v: v.update({"Arson011_x264": ("train", 2, "Arson", np.zeros((2, 7, 8)))}), "label 2"),
    ],
)
def test_invalid_rows_are_refused_with_the_video_named(tmp_path, mutate, message):
    videos = sample_videos(np.random.default_rng(5))
    mutate(videos)
    with pytest.raises(FeatureSetError, match=message):
        write_set(tmp_path / "fs", videos)


def test_duplicate_video_crop(tmp_path):
    feats = np.zeros((1, 3, 4))
    with pytest.raises(FeatureSetError, match=r"duplicate \(video_id, crop\) = \('v', 0\)"):
        with FeatureSetWriter(tmp_path / "fs", "unit") as w:
            w.add_video("v", "train", 0, "Normal", feats)
            w.add_video("v", "train", 0, "Normal", feats)


def test_test_video_without_ground_truth(tmp_path):
    with pytest.raises(FeatureSetError, match="test video 'Arson011_x264' has no frame ground truth"):
        with FeatureSetWriter(tmp_path / "fs", "unit") as w:
            w.add_video("Arson011_x264", "test", 1, "Arson", np.zeros((3, 4)))


def test_empty_set_and_not_a_feature_set(tmp_path):
    with pytest.raises(FeatureSetError, match="empty"):
        with FeatureSetWriter(tmp_path / "fs", "unit"):
            pass
    with pytest.raises(FeatureSetError, match="no manifest.json"):
        load_feature_set(tmp_path / "fs")
    with pytest.raises(FeatureSetError, match="not a directory"):
        load_feature_set(tmp_path / "missing")


def test_missing_column(tmp_path):
    out = tmp_path / "fs"
    write_set(out, sample_videos(np.random.default_rng(6)))
    part = out / "part-00000.parquet"
    pq.write_table(pq.read_table(part).drop(["class_name"]), part)
    with pytest.raises(FeatureSetError, match="missing column.*class_name"):
        load_feature_set(out)


def test_corrupt_part_file(tmp_path):
    out = tmp_path / "fs"
    write_set(out, sample_videos(np.random.default_rng(7)))
    (out / "part-00000.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(FeatureSetError, match="not a readable Parquet file"):
        load_feature_set(out)


def test_feature_length_disagrees_with_shape(tmp_path):
    out = tmp_path / "fs"
    write_set(out, sample_videos(np.random.default_rng(8)))
    part = out / "part-00000.parquet"
    table = pq.read_table(part)
    t = table.column("num_snippets").to_numpy().copy()
    t[0] += 1
    table = table.set_column(table.schema.get_field_index("num_snippets"), "num_snippets", pa.array(t, pa.int32()))
    pq.write_table(table, part)
    with pytest.raises(FeatureSetError, match="expected num_snippets\\*dim"):
        load_feature_set(out)
