"""Parsing the official annotation formats, and one-line errors for every malformed input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wsvad.annotations import (
    load_annotations,
    parse_csv,
    parse_ucf_crime,
    parse_xd_violence,
    video_id_from_name,
)
from wsvad.errors import AnnotationError

UCF_LINES = (
    "Arson011_x264.mp4  Arson  150  420  680  1267\n"
    "Arrest001_x264.mp4  Arrest  1260  1380  -1  -1\n"
    "\n"
    "Normal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1\n"
)

XD_LINES = (
    "A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A 0 0\n"
    "Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6 0 84 97 220 300 410\n"
    "v=8cTqh9tMz_I__#1_label_B1-0-0 12 30\n"
)


def write(tmp_path: Path, text: str | bytes, name: str = "annotations.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_ucf_crime_official_lines(tmp_path: Path) -> None:
    annotations = parse_ucf_crime(write(tmp_path, UCF_LINES))
    assert list(annotations) == ["Arson011_x264", "Arrest001_x264", "Normal_Videos_003_x264"]
    np.testing.assert_array_equal(annotations["Arson011_x264"], [[150, 420], [680, 1267]])
    np.testing.assert_array_equal(annotations["Arrest001_x264"], [[1260, 1380]])
    normal = annotations["Normal_Videos_003_x264"]
    assert normal.shape == (0, 2) and normal.dtype == np.int64
    assert annotations["Arson011_x264"].dtype == np.int64


def test_xd_violence_lines_keep_dotted_names(tmp_path: Path) -> None:
    annotations = parse_xd_violence(write(tmp_path, XD_LINES))
    assert list(annotations) == [
        "A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A",
        "Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6",
        "v=8cTqh9tMz_I__#1_label_B1-0-0",
    ]
    np.testing.assert_array_equal(
        annotations["Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6"],
        [[0, 84], [97, 220], [300, 410]],
    )
    np.testing.assert_array_equal(annotations["v=8cTqh9tMz_I__#1_label_B1-0-0"], [[12, 30]])


def test_csv_rows_group_by_video(tmp_path: Path) -> None:
    text = (
        "video_id,start_frame,end_frame\n"
        "clips/Arson011_x264.mp4,150,420\n"
        "Arson011_x264,680,1267\n"
        "Normal_Videos_003_x264,-1,-1\n"
        "Normal_Videos_004_x264,,\n"
    )
    annotations = parse_csv(write(tmp_path, text, "gt.csv"))
    np.testing.assert_array_equal(annotations["Arson011_x264"], [[150, 420], [680, 1267]])
    assert annotations["Normal_Videos_003_x264"].shape == (0, 2)
    assert annotations["Normal_Videos_004_x264"].shape == (0, 2)


def test_load_annotations_dispatches(tmp_path: Path) -> None:
    path = write(tmp_path, UCF_LINES)
    assert load_annotations(path, "ucf-crime").keys() == parse_ucf_crime(path).keys()
    xd = write(tmp_path, XD_LINES, "xd.txt")
    assert len(load_annotations(xd, "xd-violence")) == 3
    with pytest.raises(AnnotationError, match="unknown annotation format"):
        load_annotations(path, "shanghai")


def test_video_id_from_name() -> None:
    assert video_id_from_name("Arson011_x264.mp4") == "Arson011_x264"
    assert video_id_from_name("data/UCF/Arson011_x264.MP4") == "Arson011_x264"
    assert video_id_from_name(r"C:\videos\clip.avi") == "clip"
    # Dots that are not a video extension stay (XD-Violence names).
    xd_name = "A.Beautiful.Mind.2001__#1_label_A"
    assert video_id_from_name(xd_name) == xd_name


UCF_OK = "Arson011_x264.mp4  Arson  150  420  680  1267\n"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (UCF_OK + "Arson012_x264.mp4  Arson  150  420  680\n", 2, "expected 6 fields"),
        (UCF_OK + "Arson012_x264.mp4  Arson  150  4x0  -1  -1\n", 2, "not an integer"),
        (UCF_OK + "Arson012_x264.mp4  Arson  150.5  420  -1  -1\n", 2, "not an integer"),
        (UCF_OK + "\nArson012_x264.mp4  Arson  420  150  -1  -1\n", 3, "before start"),
        (UCF_OK + "Arson012_x264.mp4  Arson  -5  150  -1  -1\n", 2, "negative frame -5"),
        (UCF_OK + "Arson012_x264.mp4  Arson  -1  150  -1  -1\n", 2, "-1 must be on both"),
        (UCF_OK + UCF_OK, 2, "duplicate video 'Arson011_x264' (first on line 1)"),
        (UCF_OK.encode() + b"Arson\xff012_x264.mp4  Arson  1  2  -1  -1\n", 2, "not UTF-8"),
        ("", 1, "empty file"),
        ("\n  \n", 1, "empty file"),
    ],
)
def test_ucf_crime_malformed(tmp_path: Path, text: str | bytes, line: int, what: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(AnnotationError) as raised:
        parse_ucf_crime(path)
    message = str(raised.value)
    assert message.startswith(f"{path}, line {line}: ")
    assert what in message
    assert "\n" not in message


XD_OK = "Bad.Boys.1995__#01-11-55_01-12-40_label_G-B2-B6 0 84\n"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (XD_OK + "name 0 84 97\n", 2, "odd number of frame numbers"),
        (XD_OK + "name\n", 2, "at least one start/end pair"),
        (XD_OK + "name 0\n", 2, "at least one start/end pair"),
        (XD_OK + "name 0 eighty\n", 2, "not an integer"),
        (XD_OK + "name 90 84\n", 2, "before start"),
        (XD_OK + "name -3 84\n", 2, "negative frame -3"),
        (XD_OK + XD_OK, 2, "duplicate video"),
        (b"\xfe\xfe 0 84\n", 1, "not UTF-8"),
        ("", 1, "empty file"),
    ],
)
def test_xd_violence_malformed(tmp_path: Path, text: str | bytes, line: int, what: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(AnnotationError) as raised:
        parse_xd_violence(path)
    message = str(raised.value)
    assert message.startswith(f"{path}, line {line}: ")
    assert what in message
    assert "\n" not in message


CSV_OK = "video_id,start_frame,end_frame\nArson011_x264,150,420\n"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("video,start,end\nA,1,2\n", 1, "expected header"),
        (CSV_OK + "Arson012_x264,150\n", 3, "expected 3 fields"),
        (CSV_OK + "Arson012_x264,150,420,7\n", 3, "expected 3 fields"),
        (CSV_OK + "Arson012_x264,abc,420\n", 3, "not an integer"),
        (CSV_OK + "Arson012_x264,150,\n", 3, "not an integer"),
        (CSV_OK + "Arson012_x264,420,150\n", 3, "before start"),
        (CSV_OK + "Arson012_x264,-2,150\n", 3, "negative frame -2"),
        (CSV_OK + "Arson012_x264,-1,150\n", 3, "means no event"),
        (CSV_OK + ",1,2\n", 3, "empty video_id"),
        (CSV_OK.encode() + b"\xc3\x28,1,2\n", 3, "not UTF-8"),
        ("", 1, "empty file"),
    ],
)
def test_csv_malformed(tmp_path: Path, text: str | bytes, line: int, what: str) -> None:
    path = write(tmp_path, text, "gt.csv")
    with pytest.raises(AnnotationError) as raised:
        parse_csv(path)
    message = str(raised.value)
    assert message.startswith(f"{path}, line {line}: ")
    assert what in message
    assert "\n" not in message


def test_missing_file_is_an_annotation_error(tmp_path: Path) -> None:
    for parse in (parse_ucf_crime, parse_xd_violence, parse_csv):
        with pytest.raises(AnnotationError, match="cannot read"):
            parse(tmp_path / "absent.txt")
        with pytest.raises(AnnotationError, match="cannot read"):
            parse(tmp_path)  # a directory
