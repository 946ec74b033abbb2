"""The lists the importers read (extraction/importers), fuzzed: RTFM list files, VadCLIP CSVs and the
npy-dir labels CSV. Hostile ids (``../../x``, absolute paths, NUL, control characters) never make an
importer read outside ``--npy-dir``; duplicates, non-UTF-8 bytes, missing columns and bad labels or
splits are one-line errors naming the file and line; nothing is left behind in ``--out``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from extraction.importers import import_features
from extraction.importers.errors import FeatureImportError
from strategies import assert_cli_one_line_error, assert_one_line, fuzz, line_ends, video_ids
from wsvad.errors import WsvadError
from wsvad.features import load_feature_set
from wsvad.features.schema import SPLITS

HOSTILE_IDS = st.sampled_from([
    "../outside", "../../outside", "/tmp/outside", "sub/../../outside", "..", ".", "a/b", "x\x00y", "x\x1by",
    "x\ty", "\\..\\outside", "C:\\outside", "outside/", "~/outside", " ", "é", "x y", "%2e%2e%2foutside",
])


def write_npy_dir(tmp: Path, ids: list[str], rows: list[str], end: str = "\n") -> None:
    (tmp / "npy").mkdir()
    for video_id in ids:
        np.save(tmp / "npy" / f"{video_id}.npy", np.ones((3, 2), np.float32))
    # What a traversal would read: a valid array outside the feature folder.
    np.save(tmp / "outside.npy", np.full((3, 2), 7.0, np.float32))
    (tmp / "labels.csv").write_bytes(end.join(["video_id,label,class_name,split", *rows]).encode("utf-8",
                                                                                                "surrogateescape"))


@fuzz(60)
@given(ids=st.lists(video_ids, min_size=1, max_size=4, unique=True), hostile=HOSTILE_IDS, data=st.data())
def test_npy_dir_ids_never_read_outside_the_folder(ids, hostile, data):
    position = data.draw(st.integers(0, len(ids)))
    rows = [f"{v},0,Normal,train" for v in ids]
    rows.insert(position, f'"{hostile}",1,Arson,train')
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_npy_dir(tmp, ids, rows, data.draw(line_ends))
        try:
            import_features("npy-dir", tmp / "out", "fuzz", npy_dir=tmp / "npy", labels_csv=tmp / "labels.csv")
        except FeatureImportError as error:
            event("refused")
            assert_one_line(error, f"{tmp / 'labels.csv'}, line {position + 2}: ")
            assert not (tmp / "out").exists()
            return
        event("imported")
        fs = load_feature_set(tmp / "out")
        assert (fs.features != 7.0).all(), f"{hostile!r} read a file outside --npy-dir"
        assert hostile.strip() in fs.video_ids  # a plain name: the file npy/<id>.npy existed
        assert (tmp / "npy" / f"{hostile.strip()}.npy").is_file()


BAD_ROWS = {
    "label": (st.sampled_from(["2", "-1", "yes", "", "1.0"]), "is not 0 (normal) or 1"),
    "split": (st.sampled_from(["dev", "Test", ""]), "is not one of train, val, test"),
    "class": (st.just(""), "empty class_name"),
    "id": (st.just(""), "empty video_id"),
    "missing-file": (st.just("nosuchvideo"), "feature file"),
    "fields": (st.just("x,1,Arson,train,extra"), "fields"),
    "not-utf8": (st.just("caf\udce9,1,Arson,train"), "not UTF-8 (byte 0xe9)"),
    "duplicate": (st.none(), "duplicate video"),
}


@fuzz(60)
@given(ids=st.lists(video_ids, min_size=1, max_size=4, unique=True), kind=st.sampled_from(sorted(BAD_ROWS)),
       data=st.data())
def test_one_bad_labels_row_is_a_one_line_error_naming_its_line(ids, kind, data):
    rows = [f"{v},{k % 2},{'Arson' if k % 2 else 'Normal'},train" for k, v in enumerate(ids)]
    position = data.draw(st.integers(0, len(rows)))
    value, say = BAD_ROWS[kind]
    value = data.draw(value)
    row = {"label": f"{ids[0]},{value},Arson,train", "split": f"{ids[0]},1,Arson,{value}",
           "class": f"{ids[0]},1,{value},train", "id": f"{value},1,Arson,train",
           "missing-file": f"{value},1,Arson,train"}.get(kind, value)
    if kind == "duplicate":
        position = data.draw(st.integers(1, len(rows)))  # after the first row of ids[0]
        row = f"{ids[0]},0,Normal,val"
    rows.insert(position, row)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_npy_dir(tmp, ids, rows)
        with pytest.raises(FeatureImportError) as caught:
            import_features("npy-dir", tmp / "out", "fuzz", npy_dir=tmp / "npy", labels_csv=tmp / "labels.csv")
        assert_one_line(caught.value, f"{tmp / 'labels.csv'}, line {position + 2}: ", say)
        assert not (tmp / "out").exists()


@fuzz(40)
@given(header=st.permutations(["video_id", "label", "class_name", "split"])
       | st.permutations(["video_id", "label", "class_name", "split", "source"])
       | st.lists(st.sampled_from(["video_id", "label", "class_name", "split", "source", "path", "Label", ""]),
                  max_size=6))
def test_a_labels_header_without_its_columns_is_refused_on_line_1(header):
    required = {"video_id", "label", "class_name", "split"}
    valid = required <= set(header) and set(header) <= required | {"source"} and len(set(header)) == len(header)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "npy").mkdir()
        np.save(tmp / "npy" / "v.npy", np.ones((3, 2), np.float32))
        cells = {"video_id": "v", "label": "0", "class_name": "Normal", "split": "train", "source": "real"}
        (tmp / "labels.csv").write_text(",".join(header) + "\n" + ",".join(cells.get(c, "x") for c in header) + "\n")
        try:
            import_features("npy-dir", tmp / "out", "fuzz", npy_dir=tmp / "npy", labels_csv=tmp / "labels.csv")
        except FeatureImportError as error:
            assert not valid
            assert_one_line(error, f"{tmp / 'labels.csv'}")
            return
        assert valid and load_feature_set(tmp / "out").video_ids.tolist() == ["v"]


# RTFM lists and VadCLIP CSVs name files anywhere (the id is the file name): lines are fuzzed for
# everything else.
RTFM_LINES = st.sampled_from([
    "Arson011_x264_i3d.npy", "feats/Normal_Videos_003_x264_i3d.npy", "Abuse001_x264__0.npy", "Abuse001_x264__1.npy",
    "Abuse001_x264__3.npy", "nosuch_i3d.npy", "0001_i3d.npy", "feats/", "..", "/", "x\x00y.npy", "Arson011_x264.npy",
    "A.Movie__#00-01_label_B2-0-0.npy", "A.Movie__#00-02_label_A.npy", "_label_.npy", "Shooting\udcff.npy", "#",
])


@fuzz(60)
@given(lines=st.lists(RTFM_LINES, min_size=1, max_size=5), end=line_ends,
       split=st.sampled_from(["train", "test"]))
def test_rtfm_lists_import_or_fail_in_one_line(lines, end, split):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "feats").mkdir()
        for name in ["Arson011_x264_i3d.npy", "feats/Normal_Videos_003_x264_i3d.npy", "Abuse001_x264__0.npy",
                     "Abuse001_x264__1.npy", "Abuse001_x264__3.npy", "0001_i3d.npy", "Arson011_x264.npy",
                     "A.Movie__#00-01_label_B2-0-0.npy", "A.Movie__#00-02_label_A.npy", "_label_.npy"]:
            np.save(tmp / name, np.ones((3, 2) if "__" in name else (3, 2, 2), np.float32))
        (tmp / "list.txt").write_bytes(end.join(lines).encode("utf-8", "surrogateescape"))
        gt = tmp / "gt.txt"
        gt.write_text("Arson011_x264.mp4 5 9\nA.Movie__#00-01_label_B2-0-0 1 2\n")
        kwargs = {f"{split}_list": tmp / "list.txt"}
        if split == "test":
            kwargs.update(annotations=gt, annotation_format="xd-violence")
        try:
            manifest = import_features("rtfm", tmp / "out", "fuzz", **kwargs)
        except WsvadError as error:
            event(type(error).__name__)
            assert_one_line(error)
            assert not (tmp / "out").exists()
            return
        event("imported")
        fs = load_feature_set(tmp / "out")
        assert manifest["num_videos"] == fs.num_videos == len(set(fs.video_ids))
        assert set(fs.splits) == {split} and all(v and "/" not in v for v in fs.video_ids)


def test_the_cli_reports_a_traversing_npy_dir_id_in_one_line(tmp_path):
    write_npy_dir(tmp_path, ["v"], ["v,0,Normal,train", "../outside,1,Arson,train"])
    assert_cli_one_line_error(["import-features", "--format", "npy-dir", "--out", str(tmp_path / "out"),
                               "--dataset", "x", "--npy-dir", str(tmp_path / "npy"), "--labels",
                               str(tmp_path / "labels.csv")], f"{tmp_path / 'labels.csv'}, line 3: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("split", SPLITS)
def test_npy_dir_plain_ids_import_with_their_values(tmp_path, split):
    """The counterpart of the refusals above: plain ids (dots, spaces, accents) import as named."""
    ids = ["a.b", "x y", "é", "A.Movie__#00-01_label_B2-0-0", "v-1(2)"]
    write_npy_dir(tmp_path, ids, [f"{v},0,Normal,{split}" for v in ids])
    annotations = tmp_path / "gt.csv"
    annotations.write_text("video_id,start_frame,end_frame\n" + "".join(f"{v},-1,-1\n" for v in ids))
    import_features("npy-dir", tmp_path / "out", "fuzz", npy_dir=tmp_path / "npy", labels_csv=tmp_path / "labels.csv",
                    annotations=annotations, annotation_format="csv")
    fs = load_feature_set(tmp_path / "out")
    assert fs.video_ids.tolist() == ids and (fs.features == 1.0).all()
