"""Parquet feature sets (wsvad/features), fuzzed: a set written from known videos loads back to
exactly those numbers however its rows are split into parts or ordered; any damage to a part, the
ground truth or manifest.json — wrong dtypes, NaN/Inf, duplicate ids, offsets that disagree with
num_snippets, nulls, truncation, a stale hash, missing keys — is a FeatureSetError in one line,
whether it is found when the set is finalised or when it is loaded, never a silent load."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import assert_cli_one_line_error, assert_one_line, fuzz
from wsvad.errors import FeatureSetError
from wsvad.features import FeatureSetWriter, finalize_feature_set, load_feature_set
from wsvad.features.schema import GROUND_TRUTH, MANIFEST, SPLITS


@st.composite
def video_sets(draw) -> list[dict]:
    """2–5 videos sharing D, each (crops, T, D), with a split, label and (test) ground truth."""
    d = draw(st.integers(1, 5))
    videos = []
    for k in range(draw(st.integers(2, 5))):
        crops, t = draw(st.integers(1, 3)), draw(st.integers(1, 6))
        values = draw(st.lists(st.floats(-1e4, 1e4, width=16), min_size=crops * t * d, max_size=crops * t * d))
        label = draw(st.integers(0, 1))
        split = draw(st.sampled_from(SPLITS))
        start = draw(st.integers(0, 100))
        gt = np.array([[start, start + draw(st.integers(0, 50))]] if label else np.zeros((0, 2)), np.int64)
        videos.append(dict(video_id=f"v{k}", split=split, label=label, class_name="Arson" if label else "Normal",
                           features=np.array(values, np.float32).reshape(crops, t, d), gt=gt))
    return videos


def write(out: Path, videos: list[dict], dtype: str = "float32", part_bytes: int = 1 << 30) -> dict:
    with FeatureSetWriter(out, "fuzz", {"backbone": "none"}, dtype=dtype, part_bytes=part_bytes) as writer:
        for v in videos:
            writer.add_video(v["video_id"], v["split"], v["label"], v["class_name"], v["features"])
            if v["split"] == "test":
                writer.set_ground_truth(v["video_id"], v["gt"])
    return writer.manifest


@fuzz(20)
@given(videos=video_sets(), dtype=st.sampled_from(["float32", "float16"]), part_bytes=st.sampled_from([1, 64, 1 << 30]),
       shuffle=st.randoms(use_true_random=False))
def test_a_written_set_loads_back_to_exactly_its_numbers(videos, dtype, part_bytes, shuffle):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fs"
        manifest = write(out, videos, dtype, part_bytes)
        # Rows shuffled inside every part: the same set (same numbers, same hash).
        for part in sorted(out.glob("part-*.parquet")):
            table = pq.read_table(part)
            order = list(range(table.num_rows))
            shuffle.shuffle(order)
            pq.write_table(table.take(order), part)
        fs = load_feature_set(out)
        assert fs.hash == manifest["feature_set_hash"] and fs.features.dtype == np.dtype(dtype)
        assert sorted(fs.video_ids.tolist()) == sorted(v["video_id"] for v in videos)
        for v in videos:
            i = fs.index_of(v["video_id"])
            np.testing.assert_array_equal(fs.video(i), v["features"].astype(dtype))
            assert (fs.splits[i], fs.labels[i], fs.class_names[i]) == (v["split"], v["label"], v["class_name"])
            if v["split"] == "test":
                np.testing.assert_array_equal(fs.ground_truth[v["video_id"]], v["gt"])
        assert fs.offsets[-1] == fs.features.shape[0] == sum(v["features"].shape[0] * v["features"].shape[1]
                                                              for v in videos)


# --- damage to the part files ------------------------------------------------------------------

def _set_column(table: pa.Table, name: str, values) -> pa.Table:
    index = table.column_names.index(name)
    array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
    return table.set_column(index, pa.field(name, array.type), array)


def _poke(table: pa.Table, name: str, row: int, value) -> pa.Table:
    values = table.column(name).to_pylist()
    values[row] = value
    return _set_column(table, name, pa.array(values, table.schema.field(name).type))


def _nonfinite(table, row, draw):
    values = table.column("features").to_pylist()
    values[row][draw(st.integers(0, len(values[row]) - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return _set_column(table, "features", pa.array(values, table.schema.field("features").type))


DAMAGE = {  # name -> (damage(table, row, draw) -> table, what the error says)
    "nan-or-inf": (_nonfinite, "has NaN or Inf features"),
    "duplicate-row": (lambda t, r, d: pa.concat_tables([t, t.slice(r, 1)]), "duplicate (video_id, crop)"),
    "num-snippets": (lambda t, r, d: _poke(t, "num_snippets", r, t.column("num_snippets")[r].as_py() + d(
        st.sampled_from([1, -1, 7]))), ""),
    "dim": (lambda t, r, d: _poke(t, "dim", r, t.column("dim")[r].as_py() + 1), ""),
    "huge-dim": (lambda t, r, d: _set_column(t, "dim", pa.array([2**32] * t.num_rows, pa.int64())), ""),
    "label": (lambda t, r, d: _poke(t, "label", r, d(st.sampled_from([2, -1, 127]))), "has label"),
    "split": (lambda t, r, d: _poke(t, "split", r, d(st.sampled_from(["dev", "", "Test"]))), "has split="),
    "source": (lambda t, r, d: _poke(t, "source", r, "fake"), "has source="),
    "crop-gap": (lambda t, r, d: _poke(t, "crop", r, t.column("crop")[r].as_py() + 5), ""),
    "null": (lambda t, r, d: _poke(t, d(st.sampled_from(["video_id", "label", "crop", "split", "features"])), r, None),
             "null value"),
    "missing-column": (lambda t, r, d: t.drop_columns([d(st.sampled_from(list(t.column_names)))]), "missing column"),
    "features-float64": (lambda t, r, d: _set_column(t, "features", t.column("features").cast(pa.list_(pa.float64()))),
                         "must hold float16 or float32 values"),
    "features-int": (lambda t, r, d: _set_column(t, "features", pc.cast(t.column("features"), pa.list_(pa.int32()),
                                                                        safe=False)),
                     "must hold float16 or float32 values"),
    "features-flat": (lambda t, r, d: _set_column(t, "features", pa.array([1.0] * t.num_rows)), "column 'features'"),
    "label-string": (lambda t, r, d: _set_column(t, "label", pc.cast(t.column("label"), pa.string())), "column 'label'"),
    "id-int": (lambda t, r, d: _set_column(t, "video_id", pa.array(range(t.num_rows))), "column 'video_id'"),
    "crop-float": (lambda t, r, d: _set_column(t, "crop", pc.cast(t.column("crop"), pa.float32())), "column 'crop'"),
    "empty": (lambda t, r, d: t.slice(0, 0), "empty"),
}


def damage_first_part(out: Path, kind: str, draw) -> str:
    part = sorted(out.glob("part-*.parquet"))[0]
    table = pq.read_table(part)
    row = draw(st.integers(0, table.num_rows - 1))
    fn, say = DAMAGE[kind]
    pq.write_table(fn(table, row, draw), part)
    return say


@fuzz(50)
@given(data=st.data(), kind=st.sampled_from(sorted(DAMAGE)), when=st.sampled_from(["finalize", "load"]))
def test_a_damaged_part_is_a_one_line_error_at_finalize_and_at_load(data, kind, when):
    videos = data.draw(video_sets())
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fs"
        write(out, videos)
        say = damage_first_part(out, kind, data.draw)
        with pytest.raises(FeatureSetError) as caught:
            if when == "finalize":  # a producer's parts are checked before a manifest is written
                (out / MANIFEST).unlink()
                finalize_feature_set(out, "fuzz")
            else:
                load_feature_set(out)
        assert_one_line(caught.value, str(out))
        if when == "finalize":
            assert say in str(caught.value)
            assert not (out / MANIFEST).exists()


@fuzz(25)
@given(videos=video_sets(), data=st.data(),
       kind=st.sampled_from(["truncate", "garbage", "empty-file", "foreign-parquet", "extra-part", "missing-part"]))
def test_a_broken_or_foreign_part_file_is_a_one_line_error(videos, data, kind):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fs"
        write(out, videos, part_bytes=1)  # one part per video
        part = sorted(out.glob("part-*.parquet"))[-1]
        raw = part.read_bytes()
        if kind == "truncate":
            part.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
        elif kind == "garbage":
            part.write_bytes(data.draw(st.binary(max_size=200)))
        elif kind == "empty-file":
            part.write_bytes(b"")
        elif kind == "foreign-parquet":
            pq.write_table(pa.table({"video_id": ["x"], "features": [[1.0]]}), part)
        elif kind == "extra-part":
            pq.write_table(pq.read_table(part), out / "part-99999.parquet")
        else:
            part.unlink()
        with pytest.raises(FeatureSetError) as caught:
            load_feature_set(out)
        assert_one_line(caught.value, str(out))


# --- damage to the ground truth and the manifest ----------------------------------------------

GT_DAMAGE = {
    "reversed": (pa.table({"video_id": ["v0"], "start_frame": [[10]], "end_frame": [[5]]}), "ends before it starts"),
    "negative": (pa.table({"video_id": ["v0"], "start_frame": [[-3]], "end_frame": [[5]]}), "negative"),
    "ragged": (pa.table({"video_id": ["v0"], "start_frame": [[1, 2]], "end_frame": [[5]]}), "2 start frames but 1"),
    "twice": (pa.table({"video_id": ["v0", "v0"], "start_frame": [[1], [2]], "end_frame": [[5], [6]]}),
              "two ground-truth rows"),
    "floats": (pa.table({"video_id": ["v0"], "start_frame": [[1.5]], "end_frame": [[5.0]]}), "list of integers"),
    "no-column": (pa.table({"video_id": ["v0"], "start_frame": [[1]]}), "missing column(s) end_frame"),
    "nulls": (pa.table({"video_id": ["v0"], "start_frame": [[None]], "end_frame": [[5]]},
                       schema=pa.schema([("video_id", pa.string()), ("start_frame", pa.list_(pa.int64())),
                                         ("end_frame", pa.list_(pa.int64()))])), "null"),
    "garbage": (b"PAR1 not really", "not a readable Parquet file"),
}


@fuzz(30)
@given(videos=video_sets(), kind=st.sampled_from(sorted(GT_DAMAGE)), when=st.sampled_from(["finalize", "load"]))
def test_damaged_ground_truth_is_a_one_line_error(videos, kind, when):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fs"
        write(out, videos)
        bad, say = GT_DAMAGE[kind]
        if isinstance(bad, bytes):
            (out / GROUND_TRUTH).write_bytes(bad)
        else:
            pq.write_table(bad, out / GROUND_TRUTH)
        with pytest.raises(FeatureSetError) as caught:
            if when == "finalize":
                finalize_feature_set(out, "fuzz")
            else:
                load_feature_set(out)
        assert_one_line(caught.value, str(out / GROUND_TRUTH), say)


def _drop(key):
    def fn(m, d):
        del m[key]
        return m
    return fn


def _flip_hash(m, d):
    i = d(st.integers(0, 63))
    m["feature_set_hash"] = m["feature_set_hash"][:i] + ("0" if m["feature_set_hash"][i] != "0" else "1") + \
        m["feature_set_hash"][i + 1:]
    return m


MANIFEST_DAMAGE = {  # name -> manifest dict -> new manifest (or raw text)
    "not-json": (lambda m, d: d(st.sampled_from(["", "{", "{'a': 1}", "[" * 100_000, "nul\x00l"])), "unreadable manifest"),
    "not-utf8": (lambda m, d: b'{"a": "\xff"}', "unreadable manifest"),
    "not-object": (lambda m, d: d(st.sampled_from([[], 3, "x", None, [m]])), "not an object"),
    "no-hash": (_drop("feature_set_hash"), "no 'feature_set_hash'"),
    "no-parts": (_drop("parts"), "no 'parts'"),
    "no-dataset": (_drop("dataset"), "no 'dataset'"),
    "no-schema": (_drop("schema_version"), "no 'schema_version'"),
    "parts-type": (lambda m, d: {**m, "parts": d(st.sampled_from([5, "part-00000.parquet", None, {"a": 1}]))},
                   "'parts' must be"),
    "parts-items": (lambda m, d: {**m, "parts": [1, None]}, "must list part file names"),
    "parts-differ": (lambda m, d: {**m, "parts": m["parts"] + ["part-99999.parquet"]}, "differ from the manifest"),
    "hash-type": (lambda m, d: {**m, "feature_set_hash": d(st.sampled_from([None, 1, True, ["x"]]))}, "must be a str"),
    "hash-form": (lambda m, d: {**m, "feature_set_hash": d(st.sampled_from(["", "abc", "G" * 64]))},
                  "not a sha256 hex digest"),
    "hash-stale": (_flip_hash, "does not match the manifest's feature_set_hash"),
    "schema-version": (lambda m, d: {**m, "schema_version": d(st.sampled_from([2, 0, True, "1"]))}, "schema_version"),
    "provenance": (lambda m, d: {**m, "provenance": ["backbone"]}, "'provenance' must be an object"),
}


@fuzz(40)
@given(videos=video_sets(), kind=st.sampled_from(sorted(MANIFEST_DAMAGE)), data=st.data())
def test_a_damaged_manifest_is_a_one_line_error(videos, kind, data):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fs"
        manifest = write(out, videos)
        fn, say = MANIFEST_DAMAGE[kind]
        bad = fn(json.loads(json.dumps(manifest)), data.draw)
        if isinstance(bad, bytes):
            (out / MANIFEST).write_bytes(bad)
        elif kind == "not-json":
            (out / MANIFEST).write_text(bad)
        else:
            (out / MANIFEST).write_text(json.dumps(bad))
        with pytest.raises(FeatureSetError) as caught:
            load_feature_set(out)
        assert_one_line(caught.value, str(out), say)


@fuzz(20)
@given(videos=video_sets(), data=st.data())
def test_a_changed_value_after_writing_is_caught_by_the_hash(videos, data):
    """A part rewritten with one value changed (every row invariant still holds) must not load."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fs"
        write(out, videos)
        part = sorted(out.glob("part-*.parquet"))[0]
        table = pq.read_table(part)
        row = data.draw(st.integers(0, table.num_rows - 1))
        values = table.column("features").to_pylist()
        k = data.draw(st.integers(0, len(values[row]) - 1))
        values[row][k] = values[row][k] + data.draw(st.sampled_from([1.0, -0.5, 1e3]))
        pq.write_table(_set_column(table, "features", pa.array(values, table.schema.field("features").type)), part)
        with pytest.raises(FeatureSetError) as caught:
            load_feature_set(out)
        assert_one_line(caught.value, str(out), "does not match the manifest's feature_set_hash")


def test_the_train_cli_reports_a_damaged_set_in_one_line(tmp_path):
    videos = [dict(video_id=f"v{k}", split="train", label=k % 2, class_name="Arson" if k % 2 else "Normal",
                   features=np.ones((1, 4, 3), np.float32) * k, gt=None) for k in range(4)]
    write(tmp_path / "fs", videos)
    manifest = json.loads((tmp_path / "fs" / MANIFEST).read_text())
    (tmp_path / "fs" / MANIFEST).write_text(json.dumps({**manifest, "feature_set_hash": "0" * 64}))
    assert_cli_one_line_error(["train", "--features", str(tmp_path / "fs"), "--method", "mil", "--out",
                               str(tmp_path / "run")], "feature_set_hash")
    assert not (tmp_path / "run").exists()
