"""Importing existing `.npy` feature dumps (RTFM lists, VadCLIP CSVs, npy-dir) as feature sets.

Tiny dumps are generated in tmp_path; every import is read back with `load_feature_set` and
compared value for value. Every bad input must end in one clear line.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from extraction.importers import import_features, parse_file_name
from extraction.importers.errors import FeatureImportError
from extraction.importers.rtfm import label_from_name
from wsvad.errors import AnnotationError, FeatureSetError, WsvadError
from wsvad.features import load_feature_set

D = 8
CROPS = 3

# The official UCF-Crime test annotation format (double-space separated, -1 = no event). The
# last line names a video the dumps lack: annotations may cover more than the set.
UCF_ANNOTATIONS = (
    "Arson011_x264.mp4  Arson  150  420  680  1267\n"
    "RoadAccidents002_x264.mp4  RoadAccidents  30  90  -1  -1\n"
    "Normal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1\n"
    "Burglary005_x264.mp4  Burglary  10  20  -1  -1\n"
)
UCF_GT = {
    "Arson011_x264": [[150, 420], [680, 1267]],
    "RoadAccidents002_x264": [[30, 90]],
    "Normal_Videos_003_x264": np.zeros((0, 2), np.int64),
}

# name -> (T, split, label, class); anomalous videos are listed FIRST in each list.
UCF_VIDEOS = {
    "Abuse001_x264": (5, "train", 1, "Abuse"),
    "Normal_Videos308_3_x264": (4, "train", 0, "Normal"),
    "Arson011_x264": (6, "test", 1, "Arson"),
    "RoadAccidents002_x264": (3, "test", 1, "RoadAccidents"),
    "Normal_Videos_003_x264": (7, "test", 0, "Normal"),
}


def features(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def ucf_arrays() -> dict[str, np.ndarray]:
    """video_id -> (crops, T, D) features."""
    return {vid: features(i, CROPS, t, D) for i, (vid, (t, *_)) in enumerate(UCF_VIDEOS.items())}


def write_annotations(tmp_path: Path, text: str = UCF_ANNOTATIONS, name: str = "annotations.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rtfm_dump(tmp_path: Path, layout: str = "crops-last", folder: str = "feats") -> tuple[Path, Path]:
    """RTFM-style lists: train list with relative paths, test list with absolute ones."""
    root = tmp_path / folder
    root.mkdir()
    lists = {"train": [], "test": []}
    for vid, array in ucf_arrays().items():
        name = f"{vid}_i3d.npy"
        np.save(root / name, array.transpose(1, 0, 2) if layout == "crops-last" else array)
        split = UCF_VIDEOS[vid][1]
        lists[split].append(f"{folder}/{name}" if split == "train" else str(root / name))
    train, test = tmp_path / f"{folder}-train.list", tmp_path / f"{folder}-test.list"
    train.write_text("\n".join(lists["train"]) + "\n")
    test.write_text("\n\n".join(lists["test"]))  # blank lines are skipped
    return train, test


def import_rtfm(tmp_path: Path, **kwargs) -> dict:
    train, test = rtfm_dump(tmp_path)
    args = dict(train_list=train, test_list=test, annotations=write_annotations(tmp_path),
                annotation_format="ucf-crime")
    args.update(kwargs)
    return import_features("rtfm", tmp_path / "out", "ucf-crime", **args)


def raises(exc_type, match: str, fn, *args, **kwargs) -> str:
    """Assert `fn` raises `exc_type` whose one-line message matches `match`; return the message."""
    with pytest.raises(exc_type, match=match) as raised:
        fn(*args, **kwargs)
    message = str(raised.value)
    assert "\n" not in message
    assert isinstance(raised.value, WsvadError)
    return message


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "video_id", "crop", "label", "class_name"),
    [
        ("Arson011_x264_i3d.npy", "Arson011_x264", None, 1, "Arson"),
        ("RoadAccidents002_x264_i3d.npy", "RoadAccidents002_x264", None, 1, "RoadAccidents"),
        ("Normal_Videos_003_x264_i3d.npy", "Normal_Videos_003_x264", None, 0, "Normal"),
        ("Abuse001_x264__7.npy", "Abuse001_x264", 7, 1, "Abuse"),
        ("Shooting010_x264_C3D.npy", "Shooting010_x264", None, 1, "Shooting"),
        ("v=abc__#1_label_B2-0-0.npy", "v=abc__#1_label_B2-0-0", None, 1, "B2"),
        ("v=abc__#1_label_B2-0-0__4.npy", "v=abc__#1_label_B2-0-0", 4, 1, "B2"),
        ("Bad.Boys.1995__#01-11-55_label_G-B2-B6_i3d.npy", "Bad.Boys.1995__#01-11-55_label_G-B2-B6", None, 1, "G"),
        ("A.Beautiful.Mind.2001__#00-01-45_label_A.npy", "A.Beautiful.Mind.2001__#00-01-45_label_A", None, 0, "Normal"),
        # XD rule wins over "Normal" in a movie title.
        ("Normal.People__#1_label_B1-0-0.npy", "Normal.People__#1_label_B1-0-0", None, 1, "B1"),
    ],
)
def test_names_give_ids_labels_and_classes(name, video_id, crop, label, class_name) -> None:
    assert parse_file_name(name) == (video_id, crop)
    assert label_from_name(name, video_id) == (label, class_name)


# --- rtfm ------------------------------------------------------------------------------------


def test_rtfm_round_trip(tmp_path: Path) -> None:
    manifest = import_rtfm(tmp_path)
    fs = load_feature_set(tmp_path / "out")
    arrays = ucf_arrays()
    assert list(fs.video_ids) == list(UCF_VIDEOS)  # list order kept, labels from names
    for vid, (t, split, label, class_name) in UCF_VIDEOS.items():
        i = fs.index_of(vid)
        assert (fs.splits[i], fs.labels[i], fs.class_names[i]) == (split, label, class_name)
        assert fs.num_crops[i] == CROPS and fs.num_snippets[i] == t
        assert fs.sources[i] == "real"
        np.testing.assert_array_equal(fs.video(i), arrays[vid])  # exact, (crops, T, D)
    assert fs.dim == D and fs.features.dtype == np.float32
    assert set(fs.ground_truth) == set(UCF_GT)  # test videos only; Burglary005 ignored
    for vid, gt in UCF_GT.items():
        np.testing.assert_array_equal(fs.ground_truth[vid], np.asarray(gt).reshape(-1, 2))
    assert manifest["feature_set_hash"] == fs.hash
    assert manifest["counts"] == {"train": {"videos": 2, "anomalous": 1}, "test": {"videos": 3, "anomalous": 2}}
    prov = manifest["provenance"]
    assert prov["importer"] == "rtfm" and prov["layout"] == "crops-last"
    assert prov["source_lists"] == [str(tmp_path / "feats-train.list"), str(tmp_path / "feats-test.list")]
    assert prov["annotations"] == str(tmp_path / "annotations.txt")
    assert prov["annotation_format"] == "ucf-crime"
    assert not [p for p in tmp_path.iterdir() if ".importing-" in p.name]  # staging removed


def test_rtfm_crops_first_layout_is_the_same_set(tmp_path: Path) -> None:
    last = import_rtfm(tmp_path)
    train, test = rtfm_dump(tmp_path, layout="crops-first", folder="first")
    first = import_features("rtfm", tmp_path / "out-first", "ucf-crime", train_list=train, test_list=test,
                            layout="crops-first", annotations=tmp_path / "annotations.txt",
                            annotation_format="ucf-crime")
    assert first["feature_set_hash"] == last["feature_set_hash"]
    assert first["provenance"]["layout"] == "crops-first"


def test_rtfm_relative_paths_fall_back_to_cwd_and_2d_is_one_crop(tmp_path, monkeypatch) -> None:
    (tmp_path / "dump").mkdir()
    a = features(1, 4, D).astype(np.float64)  # float64 and int are cast to float32
    b = np.arange(3 * D, dtype=np.int32).reshape(3, D)
    np.save(tmp_path / "dump" / "Explosion001_x264_i3d.npy", a)
    np.save(tmp_path / "dump" / "Normal_Videos_010_x264_i3d.npy", b)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train.list").write_text("dump/Explosion001_x264_i3d.npy\ndump/Normal_Videos_010_x264_i3d.npy\n")
    monkeypatch.chdir(tmp_path)  # not beside the list: found through the CWD
    import_features("rtfm", "out", "ucf-crime", train_list=lists / "train.list")
    fs = load_feature_set(tmp_path / "out")
    assert list(fs.num_crops) == [1, 1] and list(fs.labels) == [1, 0]
    np.testing.assert_array_equal(fs.video(0)[0], a.astype(np.float32))
    np.testing.assert_array_equal(fs.video(1)[0], b.astype(np.float32))


def test_rtfm_xd_violence_names_and_crop_files(tmp_path: Path) -> None:
    """XD names carry labels; normal test videos may be absent from XD annotations."""
    violent = "v=abc__#1_label_B2-0-0"
    normal = "A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A"
    crops = [features(k, 5, D) for k in range(2)]
    for k in (1, 0):
        np.save(tmp_path / f"{violent}__{k}.npy", crops[k])
    np.save(tmp_path / f"{normal}.npy", features(9, 4, D))
    test = tmp_path / "test.list"
    test.write_text(f"{violent}__1.npy\n{normal}.npy\n{violent}__0.npy\n")
    annotations = write_annotations(tmp_path, f"{violent} 12 30 40 64\n", "xd.txt")
    import_features("rtfm", tmp_path / "out", "xd-violence", test_list=test,
                    annotations=annotations, annotation_format="xd-violence")
    fs = load_feature_set(tmp_path / "out")
    i, j = fs.index_of(violent), fs.index_of(normal)
    assert (fs.labels[i], fs.class_names[i], fs.num_crops[i]) == (1, "B2", 2)
    assert (fs.labels[j], fs.class_names[j], fs.num_crops[j]) == (0, "Normal", 1)
    np.testing.assert_array_equal(fs.video(i), np.stack(crops))  # crops ordered by k
    np.testing.assert_array_equal(fs.ground_truth[violent], [[12, 30], [40, 64]])
    assert fs.ground_truth[normal].shape == (0, 2)


def test_float16_output(tmp_path: Path) -> None:
    manifest = import_rtfm(tmp_path, dtype="float16")
    fs = load_feature_set(tmp_path / "out")
    assert manifest["dtype"] == "float16" and fs.features.dtype == np.float16
    np.testing.assert_array_equal(fs.video(fs.index_of("Arson011_x264")),
                                  ucf_arrays()["Arson011_x264"].astype(np.float16))


def test_provenance_is_extended_not_overridden(tmp_path: Path) -> None:
    manifest = import_rtfm(tmp_path, provenance={"backbone": "i3d-r50"})
    assert manifest["provenance"]["backbone"] == "i3d-r50"
    (tmp_path / "again").mkdir()
    raises(FeatureImportError, "set by the importer", import_rtfm, tmp_path / "again", provenance={"layout": "x"})


# --- vadclip ---------------------------------------------------------------------------------


def test_vadclip_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "UCFClipFeatures"
    root.mkdir()
    arrays = ucf_arrays()
    test_crops = {"Arson011_x264": 1, "RoadAccidents002_x264": 1, "Normal_Videos_003_x264": 1}
    rows = {"train": [], "test": []}
    for vid, (_, split, label, class_name) in UCF_VIDEOS.items():
        n = test_crops.get(vid, CROPS)  # VadCLIP tests on crop 0 only
        for k in reversed(range(n)):  # rows out of crop order: crops sorted by k
            np.save(root / f"{vid}__{k}.npy", arrays[vid][k])
            rows[split].append(f"UCFClipFeatures/{vid}__{k}.npy,{class_name}")
    train, test = tmp_path / "ucf_CLIP_rgb.csv", tmp_path / "ucf_CLIP_rgbtest.csv"
    train.write_text("path,label\n" + "\n".join(rows["train"]) + "\n")
    test.write_text("path,label\n" + "\n".join(rows["test"]) + "\n")
    manifest = import_features("vadclip", tmp_path / "out", "ucf-crime", lists=[(train, "train"), (test, "test")],
                               annotations=write_annotations(tmp_path), annotation_format="ucf-crime")
    fs = load_feature_set(tmp_path / "out")
    for vid, (t, split, label, class_name) in UCF_VIDEOS.items():
        i = fs.index_of(vid)
        n = test_crops.get(vid, CROPS)
        assert (fs.splits[i], fs.labels[i], fs.class_names[i], fs.num_crops[i]) == (split, label, class_name, n)
        np.testing.assert_array_equal(fs.video(i), arrays[vid][:n])
    np.testing.assert_array_equal(fs.ground_truth["Arson011_x264"], UCF_GT["Arson011_x264"])
    assert manifest["provenance"]["importer"] == "vadclip"
    assert manifest["provenance"]["source_splits"] == ["train", "test"]


def test_vadclip_xd_codes(tmp_path: Path) -> None:
    np.save(tmp_path / "m__#1_label_B4-0-0__0.npy", features(1, 3, D))
    np.save(tmp_path / "n__#1_label_A__0.npy", features(2, 3, D))
    csv_path = tmp_path / "xd_CLIP_rgb.csv"
    csv_path.write_text("path,label\nm__#1_label_B4-0-0__0.npy,B4-0-0\nn__#1_label_A__0.npy,A\n")
    import_features("vadclip", tmp_path / "out", "xd-violence", lists=[(csv_path, "train")])
    fs = load_feature_set(tmp_path / "out")
    assert list(fs.class_names) == ["B4", "Normal"] and list(fs.labels) == [1, 0]


# --- npy-dir ---------------------------------------------------------------------------------


def test_npy_dir_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "npy"
    folder.mkdir()
    a, b, c = features(1, 4, 2, D), features(2, 6, D), features(3, 5, 2, D)
    np.save(folder / "01_0014.npy", a)  # (T, crops, D)
    np.save(folder / "01_001.npy", b)   # (T, D)
    np.save(folder / "gen_007.npy", c)
    np.save(folder / "not_listed.npy", features(4, 2, D))  # ignored
    labels = tmp_path / "labels.csv"
    labels.write_text("video_id,label,class_name,split,source\n"
                      "01_0014,1,Anomaly,test,real\n"
                      "01_001,0,Normal,test,\n"
                      "gen_007,1,Anomaly,train,synthetic\n")
    gt = write_annotations(tmp_path, "video_id,start_frame,end_frame\n01_0014,5,40\n01_001,-1,-1\n", "gt.csv")
    manifest = import_features("npy-dir", tmp_path / "out", "shanghaitech", npy_dir=folder, labels_csv=labels,
                               annotations=gt, annotation_format="csv")
    fs = load_feature_set(tmp_path / "out")
    assert list(fs.video_ids) == ["01_0014", "01_001", "gen_007"]
    assert list(fs.labels) == [1, 0, 1] and list(fs.sources) == ["real", "real", "synthetic"]
    np.testing.assert_array_equal(fs.video(0), a.transpose(1, 0, 2))
    np.testing.assert_array_equal(fs.video(1), b[None])
    np.testing.assert_array_equal(fs.video(2), c.transpose(1, 0, 2))
    np.testing.assert_array_equal(fs.ground_truth["01_0014"], [[5, 40]])
    assert manifest["provenance"]["npy_dir"] == str(folder)
    assert manifest["provenance"]["source_lists"] == [str(labels)]


# --- bad inputs ------------------------------------------------------------------------------


def one_list(tmp_path: Path, arrays: dict[str, object], text: str | None = None) -> Path:
    """A train list naming `arrays` (file name -> array, or raw bytes written as is)."""
    for name, value in arrays.items():
        if isinstance(value, bytes):
            (tmp_path / name).write_bytes(value)
        else:
            np.save(tmp_path / name, value, allow_pickle=True)
    path = tmp_path / "train.list"
    path.write_text(text if text is not None else "\n".join(arrays) + "\n")
    return path


GOOD = {"Arson011_x264_i3d.npy": features(0, 4, CROPS, D)}


def pickled_npy() -> bytes:
    return pickle.dumps({"features": [1.0, 2.0]})


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.array([{"a": 1}, None], dtype=object), r"pickled Python objects"),
        (b"not an npy file at all", r"not a \.npy file \(it lacks the \\x93NUMPY header\)"),
        (b"\x93NUMPY\x01\x00", r"not a readable \.npy array"),  # truncated header
        ("pickle", r"is a Python pickle, not an \.npy array"),
        (np.zeros(5, np.float32), r"has shape \(5,\), expected \(T, D\) or \(T, crops, D\)"),
        (np.zeros((2, 3, 4, D), np.float32), r"has shape \(2, 3, 4, 8\)"),
        (np.zeros((4, D), bool), r"has dtype bool, expected float"),
        (np.zeros((4, D), np.complex64), r"has dtype complex64"),
        (np.array([["a"] * D] * 4), r"has dtype <U1"),
        (np.zeros((0, D), np.float32), r"is empty \(shape \(0, 8\)\)"),
        (np.where(np.eye(4, D) > 0, np.nan, 0).astype(np.float32), r"has NaN or Inf features"),
        (np.full((4, D), np.inf, np.float64), r"has NaN or Inf features"),
        (np.zeros((4, D + 1), np.float32), r"feature dim D=9 differs from D=8"),
    ],
)
def test_bad_npy_files(tmp_path: Path, bad, match: str) -> None:
    name = "Burglary001_x264_i3d.npy"
    arrays = dict(GOOD)
    arrays[name] = pickled_npy() if isinstance(bad, str) else bad
    train = one_list(tmp_path, arrays)
    message = raises(FeatureImportError, match, import_features, "rtfm", tmp_path / "out", "ucf-crime",
                     train_list=train)
    assert "line 2" in message and name in message  # names the list line and the file
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if ".importing-" in p.name]


def test_npz_archive_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "Arson011_x264_i3d.npy", x=features(0, 4, D))  # savez keeps the name + .npz
    (tmp_path / "Arson011_x264_i3d.npy.npz").rename(tmp_path / "Arson011_x264_i3d.npy")
    (tmp_path / "train.list").write_text("Arson011_x264_i3d.npy\n")
    raises(FeatureImportError, r"line 1: .*\.npz archive", import_features, "rtfm", tmp_path / "out", "u",
           train_list=tmp_path / "train.list")


def test_float16_overflow(tmp_path: Path) -> None:
    train = one_list(tmp_path, {"Arson011_x264_i3d.npy": np.full((4, D), 1e6, np.float32)})
    raises(FeatureImportError, "beyond the range of float16", import_features, "rtfm", tmp_path / "out", "u",
           train_list=train, dtype="float16")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Arson011_x264_i3d.npy\nmissing/Arson012_x264_i3d.npy\n",
         r"train\.list, line 2: feature file 'missing/Arson012_x264_i3d.npy' not found \(looked in"),
        ("Arson011_x264_i3d.npy\n/nowhere/Arson012_x264_i3d.npy\n", r"line 2: feature file '/nowhere/.*' not found$"),
        ("\n  \n", r"train\.list: empty feature list"),
        ("Arson011_x264_i3d.npy\n\nArson011_x264_i3d.npy\n",
         r"line 3: duplicate video 'Arson011_x264' \(first at .*train\.list, line 1\)"),
        ("Arson011_x264_i3d.npy\n_i3d.npy\n", r"line 2: empty video id"),
        ("Arson011_x264_i3d.npy\n01_0014_i3d.npy\n", r"line 2: cannot tell the class .* --format npy-dir"),
        ("Arson011_x264_i3d.npy\nv=x__#1_label_.npy\n", r"line 2: no class code after '_label_'"),
        ("Arson011_x264_i3d.npy\nsub\n", r"line 2: .*sub is not a file"),
    ],
)
def test_bad_rtfm_lists(tmp_path: Path, text: str, match: str) -> None:
    arrays = dict(GOOD)
    arrays["_i3d.npy"] = features(1, 4, D)
    arrays["01_0014_i3d.npy"] = features(1, 4, D)
    arrays["v=x__#1_label_.npy"] = features(1, 4, D)
    (tmp_path / "sub").mkdir()
    train = one_list(tmp_path, arrays, text)
    raises(FeatureImportError, match, import_features, "rtfm", tmp_path / "out", "ucf-crime", train_list=train)


def test_list_not_utf8(tmp_path: Path) -> None:
    train = tmp_path / "train.list"
    train.write_bytes(b"Arson011_x264_i3d.npy\nArs\xffon.npy\n")
    raises(FeatureImportError, r"line 2: not UTF-8", import_features, "rtfm", tmp_path / "o", "u", train_list=train)
    raises(FeatureImportError, r"cannot read feature list", import_features, "rtfm", tmp_path / "o", "u",
           train_list=tmp_path / "no.list")


def test_video_in_train_and_test_lists(tmp_path: Path) -> None:
    train = one_list(tmp_path, GOOD)
    test = tmp_path / "test.list"
    test.write_text("Arson011_x264_i3d.npy\n")
    raises(FeatureImportError, r"test\.list, line 1: duplicate video 'Arson011_x264' \(first at .*train\.list",
           import_features, "rtfm", tmp_path / "out", "u", train_list=train, test_list=test)


def test_ground_truth_errors(tmp_path: Path) -> None:
    train, test = rtfm_dump(tmp_path)
    out = tmp_path / "out"
    # No annotations for a set with test videos.
    raises(FeatureSetError, r"test video 'Arson011_x264' and 2 more has no frame ground truth \(attach annotations",
           import_features, "rtfm", out, "u", train_list=train, test_list=test)
    # The annotation file misses a test video: named.
    partial = write_annotations(tmp_path, UCF_ANNOTATIONS.replace("RoadAccidents002", "RoadAccidents009"), "p.txt")
    raises(FeatureSetError, r"test video 'RoadAccidents002_x264' has no frame ground truth \(.*p\.txt does not name",
           import_features, "rtfm", out, "u", train_list=train, test_list=test,
           annotations=partial, annotation_format="ucf-crime")
    # Labels from names contradict the annotation.
    wrong = write_annotations(tmp_path, UCF_ANNOTATIONS.replace("Normal  -1  -1", "Normal  5  9"), "w.txt")
    raises(FeatureImportError, r"'Normal_Videos_003_x264' is labelled normal \(Normal\) but has 1 anomalous",
           import_features, "rtfm", out, "u", train_list=train, test_list=test,
           annotations=wrong, annotation_format="ucf-crime")
    empty = write_annotations(tmp_path, UCF_ANNOTATIONS.replace("150  420  680  1267", "-1  -1  -1  -1"), "e.txt")
    raises(FeatureImportError, r"'Arson011_x264' is labelled anomalous \(Arson\) but has no anomalous interval",
           import_features, "rtfm", out, "u", train_list=train, test_list=test,
           annotations=empty, annotation_format="ucf-crime")
    # A malformed annotation file: the parser's own one-line error.
    bad = write_annotations(tmp_path, "Arson011_x264.mp4  Arson  150\n", "bad.txt")
    raises(AnnotationError, r"bad\.txt, line 1: expected 6 fields", import_features, "rtfm", out, "u",
           train_list=train, test_list=test, annotations=bad, annotation_format="ucf-crime")
    # A train-only set needs no annotations.
    import_features("rtfm", out, "u", train_list=train)
    assert load_feature_set(out).num_videos == 2


def vadclip_csv(tmp_path: Path, rows: str, arrays: dict[str, np.ndarray]) -> Path:
    for name, array in arrays.items():
        np.save(tmp_path / name, array)
    path = tmp_path / "list.csv"
    path.write_text(rows)
    return path


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("path,label\nA1__0.npy,Abuse\nA1__1.npy,Abuse\nA1__2.npy,Abuse\n",
         r"line 4: .*crop 2 has shape \(T, D\) = \(5, 8\) but crop 0 \(A1__0\.npy\) has \(4, 8\)"),
        ("path,label\nA1__0.npy,Abuse\nA1__3.npy,Abuse\n", r"video 'A1' has crop files \[0, 3\] but no crop 1"),
        ("path,label\nA1__0.npy,Abuse\nA1__0.npy,Abuse\n", r"line 3: duplicate video 'A1' crop 0 \(first at"),
        ("path,label\nA1__0.npy,Abuse\nA1__1.npy,Normal\n", r"line 3: crop 1 of video 'A1' has label 0"),
        ("file,label\nA1__0.npy,Abuse\n", r"line 1: expected header 'path,label'"),
        ("path,label\nA1__0.npy\n", r"line 2: expected 2 fields"),
        ("path,label\nA1__0.npy,\n", r"line 2: empty class"),
        ("path,label\n", r"empty VadCLIP list, only a header"),
        ("path,label\nA1__0.npy,Abuse\nA1__1.npy,Abuse\nA2__0.npy,Abuse\nA3__0.npy,Abuse\n",
         r"line 5: .*has shape \(4, 8, 2\), expected one crop as \(T, D\)"),
    ],
)
def test_bad_vadclip_lists(tmp_path: Path, rows: str, match: str) -> None:
    arrays = {"A1__0.npy": features(0, 4, D), "A1__1.npy": features(1, 4, D), "A1__2.npy": features(2, 5, D),
              "A1__3.npy": features(3, 4, D), "A2__0.npy": features(4, 4, D), "A3__0.npy": features(5, 4, D, 2)}
    path = vadclip_csv(tmp_path, rows, arrays)
    raises(FeatureImportError, match, import_features, "vadclip", tmp_path / "out", "u", lists=[(path, "train")])


def test_vadclip_bad_split(tmp_path: Path) -> None:
    path = vadclip_csv(tmp_path, "path,label\nA1__0.npy,Abuse\n", {"A1__0.npy": features(0, 4, D)})
    raises(FeatureImportError, r"split 'testing' is not one of", import_features, "vadclip", tmp_path / "o", "u",
           lists=[(path, "testing")])
    raises(FeatureImportError, r"must be \(csv_path, split\) pairs", import_features, "vadclip", tmp_path / "o",
           "u", lists=[str(path)])


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("video_id,label,class_name,split\nv1,2,Abuse,train\n", r"labels\.csv, line 2: label '2' is not 0"),
        ("video_id,label,class_name,split\nv1,1,Abuse,dev\n", r"line 2: split 'dev' is not one of"),
        ("video_id,label,class_name,split,source\nv1,1,Abuse,train,fake\n", r"line 2: source 'fake'"),
        ("video_id,label,class_name,split\nv1,1,,train\n", r"line 2: empty class_name"),
        ("video_id,label,class_name,split\n,1,Abuse,train\n", r"line 2: empty video_id"),
        ("video_id,label,class_name,split\nv1,1,Abuse,train\nv9,1,Abuse,train\n",
         r"line 3: feature file .*v9\.npy not found"),
        ("video_id,label,class_name,split\nv1,1,Abuse,train\nv1,1,Abuse,train\n", r"line 3: duplicate video 'v1'"),
        ("video_id,label,class,split\nv1,1,Abuse,train\n", r"line 1: expected header"),
    ],
)
def test_bad_npy_dir(tmp_path: Path, rows: str, match: str) -> None:
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "v1.npy", features(0, 4, D))
    labels = tmp_path / "labels.csv"
    labels.write_text(rows)
    raises(FeatureImportError, match, import_features, "npy-dir", tmp_path / "out", "u", npy_dir=folder,
           labels_csv=labels)


@pytest.mark.parametrize(
    ("fmt", "kwargs", "match"),
    [
        ("i3d", {}, r"unknown import format 'i3d', expected one of rtfm, vadclip, npy-dir"),
        ("rtfm", {}, r"format rtfm needs a train list and/or a test list"),
        ("rtfm", {"train_list": "x", "lists": [("a", "train")]}, r"format rtfm does not use lists"),
        ("rtfm", {"train_list": "x", "layout": "tcd"}, r"unknown layout 'tcd'"),
        ("rtfm", {"train_list": "x", "dtype": "float64"}, r"feature dtype must be one of float32, float16"),
        ("rtfm", {"train_list": "x", "annotations": "a.txt"}, r"without an annotation format"),
        ("rtfm", {"train_list": "x", "annotation_format": "ucf-crime"}, r"without an annotation file"),
        ("vadclip", {}, r"format vadclip needs at least one \(csv, split\) list"),
        ("npy-dir", {"npy_dir": "d"}, r"format npy-dir needs labels_csv"),
        ("npy-dir", {"npy_dir": "nowhere", "labels_csv": "l.csv"}, r"nowhere: feature folder not found"),
    ],
)
def test_bad_arguments(tmp_path: Path, fmt: str, kwargs: dict, match: str) -> None:
    raises(FeatureImportError, match, import_features, fmt, tmp_path / "out", "ucf-crime", **kwargs)


def test_output_must_be_new_or_empty(tmp_path: Path) -> None:
    train = one_list(tmp_path, GOOD)
    (tmp_path / "out").mkdir()
    import_features("rtfm", tmp_path / "out", "u", train_list=train)  # an empty directory is fine
    raises(FeatureImportError, r"output directory .*out is not empty", import_features, "rtfm", tmp_path / "out",
           "u", train_list=train)
    raises(FeatureImportError, r"dataset name must be a non-empty string", import_features, "rtfm",
           tmp_path / "o2", " ", train_list=train)


def test_importing_extraction_stays_light() -> None:
    code = ("import sys, extraction, extraction.importers; "
            "heavy = [m for m in ('ray', 'torch', 'mlflow', 'decord', 'open_clip') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
