"""Which videos, with which ids, labels, classes and splits (extraction/plan.py)."""

from pathlib import Path

import pytest

from extraction.errors import ExtractionError
from extraction.plan import part_key, plan_videos


def touch(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_folder_labels_come_from_ucf_crime_names(tmp_path):
    touch(tmp_path, "Arson011_x264.mp4", "Normal_Videos_003_x264.mp4", "sub/RoadAccidents002_x264.avi",
          "notes.txt", ".hidden.mp4")
    entries = plan_videos(videos=tmp_path, split="train")
    got = {(e.video_id, e.label, e.class_name, e.split) for e in entries}
    assert got == {("Arson011_x264", 1, "Arson", "train"), ("Normal_Videos_003_x264", 0, "Normal", "train"),
                   ("RoadAccidents002_x264", 1, "RoadAccidents", "train")}
    assert all(Path(e.path).is_absolute() for e in entries)
    assert entries[0].key == part_key(entries[0].video_id) and len(entries[0].key) == 16


def test_official_split_lists_name_the_split_and_missing_listed_videos_become_rejects(tmp_path):
    videos = tmp_path / "videos"
    touch(videos, "Abuse/Abuse001_x264.mp4", "Testing_Normal_Videos_Anomaly/Normal_Videos_003_x264.mp4",
          "Burglary/Burglary005_x264.mp4")
    (tmp_path / "Anomaly_Train.txt").write_text("Abuse/Abuse001_x264.mp4\nArrest/Arrest001_x264.mp4\n")
    (tmp_path / "Anomaly_Test.txt").write_text("Testing_Normal_Videos_Anomaly/Normal_Videos_003_x264.mp4\n")
    with pytest.raises(ExtractionError, match=r"Burglary005_x264.mp4: not named by --train-list/--test-list"):
        plan_videos(videos=videos, train_list=tmp_path / "Anomaly_Train.txt", test_list=tmp_path / "Anomaly_Test.txt")
    entries = plan_videos(videos=videos, train_list=tmp_path / "Anomaly_Train.txt",
                          test_list=tmp_path / "Anomaly_Test.txt", split="val")
    by_id = {e.video_id: e for e in entries}
    assert by_id["Abuse001_x264"].split == "train" and by_id["Normal_Videos_003_x264"].split == "test"
    assert by_id["Burglary005_x264"].split == "val"
    missing = by_id["Arrest001_x264"]                 # listed, not on disk: decoded later as "file not found"
    assert not Path(missing.path).exists() and missing.where.endswith("Anomaly_Train.txt, line 2")


def test_manifest_rows_relative_paths_and_missing_files(tmp_path):
    touch(tmp_path, "clips/a.mp4")
    (tmp_path / "m.csv").write_text("path,label,class_name,split,source\nclips/a.mp4,1,Fighting,test,synthetic\n"
                                    "clips/gone.mp4,0,Normal,train,\n")
    a, gone = plan_videos(manifest=tmp_path / "m.csv")
    assert (a.video_id, a.label, a.class_name, a.split, a.source) == ("a", 1, "Fighting", "test", "synthetic")
    assert a.path == str((tmp_path / "clips/a.mp4").resolve()) and a.where.endswith("m.csv, line 2")
    assert gone.source == "real" and not Path(gone.path).exists()


@pytest.mark.parametrize(("rows", "message"), [
    ("path,label,class_name,split\na.mp4,2,Abuse,train\n", r"line 2: label '2' is not 0"),
    ("path,label,class_name,split\na.mp4,1,Abuse,dev\n", r"line 2: split 'dev' is not one of"),
    ("path,label,class_name,split,source\na.mp4,1,Abuse,train,fake\n", r"line 2: source 'fake'"),
    ("path,label,class_name,split\na.mp4,1,,train\n", r"line 2: empty class_name"),
    ("video,label,class_name,split\na.mp4,1,Abuse,train\n", r"line 1: expected header"),
    ("path,label,class_name,split\na.mp4,1,Abuse,train\nx/a.avi,1,Abuse,train\n",
     r"line 3: video id 'a' .* is also .*line 2\); video ids \(file names\) must be unique"),
])
def test_bad_manifests_name_the_line(tmp_path, rows, message):
    (tmp_path / "m.csv").write_text(rows)
    with pytest.raises(ExtractionError, match=message):
        plan_videos(manifest=tmp_path / "m.csv")


def test_bad_folder_inputs(tmp_path):
    touch(tmp_path, "Arson011_x264.mp4", "x/Arson011_x264.mkv")
    with pytest.raises(ExtractionError, match=r"a folder of videos carries no split: give --split"):
        plan_videos(videos=tmp_path)
    with pytest.raises(ExtractionError, match=r"video id 'Arson011_x264' .* must be unique"):
        plan_videos(videos=tmp_path, split="train")
    with pytest.raises(ExtractionError, match=r"give exactly one of --videos DIR or --manifest CSV"):
        plan_videos()
    with pytest.raises(ExtractionError, match=r"not a directory"):
        plan_videos(videos=tmp_path / "nope", split="train")
    odd = tmp_path / "odd"
    touch(odd, "0001.mp4")
    with pytest.raises(ExtractionError, match=r"0001.mp4: cannot tell the label .* give a --manifest CSV"):
        plan_videos(videos=odd, split="test")
