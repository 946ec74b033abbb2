"""ShanghaiTech, UCSD Ped and Avenue annotations from tiny files in their real formats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from wsvad.annotations_oneclass import (
    FORMATS,
    intervals_from_labels,
    load_oneclass,
    load_oneclass_annotations,
    parse_avenue,
    parse_shanghaitech,
    parse_ucsd_ped,
)
from wsvad.errors import AnnotationError
from wsvad.protocol import Protocol, VideoScores, evaluate, frame_labels


def assert_intervals(actual: np.ndarray, expected: list[list[int]]) -> None:
    assert actual.dtype == np.int64 and actual.shape == (len(expected), 2)
    np.testing.assert_array_equal(actual, np.array(expected, dtype=np.int64).reshape(-1, 2))


# ShanghaiTech Campus ------------------------------------------------------------------------


def shanghaitech(tmp_path: Path) -> Path:
    frame_dir = tmp_path / "test_frame_mask"
    pixel_dir = tmp_path / "test_pixel_mask"
    frame_dir.mkdir()
    pixel_dir.mkdir()
    np.save(frame_dir / "01_0014.npy", np.array([0, 0, 1, 1, 0, 1], dtype=np.int64))
    np.save(frame_dir / "01_0015.npy", np.zeros(4, dtype=np.int64))
    masks = np.zeros((6, 3, 4), dtype=np.uint8)
    masks[2, 0, 1] = masks[3, 2, 3] = masks[5, 1, 1] = 1
    np.save(pixel_dir / "01_0014.npy", masks)
    return tmp_path


def test_shanghaitech_frame_and_pixel_masks(tmp_path: Path) -> None:
    videos = parse_shanghaitech(shanghaitech(tmp_path))
    assert list(videos) == ["01_0014", "01_0015"]
    anomalous, normal = videos["01_0014"], videos["01_0015"]
    assert_intervals(anomalous.intervals, [[2, 3], [5, 5]])
    assert anomalous.num_frames == 6
    np.testing.assert_array_equal(anomalous.frame_labels(), [0, 0, 1, 1, 0, 1])
    masks = anomalous.pixel_masks()
    assert masks.dtype == bool and masks.shape == (6, 3, 4)
    assert masks.sum() == 3 and masks[2, 0, 1] and masks[3, 2, 3] and masks[5, 1, 1]
    assert_intervals(normal.intervals, [])
    assert normal.num_frames == 4 and not normal.has_pixel_masks
    with pytest.raises(AnnotationError, match="has no pixel masks"):
        normal.pixel_masks()
    # The frame-label folder itself is accepted too.
    again = parse_shanghaitech(tmp_path / "test_frame_mask")
    assert_intervals(again["01_0014"].intervals, [[2, 3], [5, 5]])


def test_shanghaitech_malformed_files(tmp_path: Path) -> None:
    root = shanghaitech(tmp_path)
    bad = root / "test_frame_mask" / "02_0001.npy"
    np.save(bad, np.array([0, 2, 1]))
    with pytest.raises(AnnotationError, match=r"02_0001\.npy: frame 1 has label 2"):
        parse_shanghaitech(root)
    np.save(bad, np.zeros((2, 3)))
    with pytest.raises(AnnotationError, match="1-D array"):
        parse_shanghaitech(root)
    np.save(bad, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(AnnotationError, match="not a plain NumPy"):
        parse_shanghaitech(root)
    bad.write_bytes(b"not numpy at all")
    with pytest.raises(AnnotationError, match=r"02_0001\.npy"):
        parse_shanghaitech(root)
    bad.unlink()
    # A pixel mask whose frame count disagrees with the frame labels: refused when loaded.
    np.save(root / "test_pixel_mask" / "01_0014.npy", np.zeros((5, 3, 4), np.uint8))
    with pytest.raises(AnnotationError, match="5 mask frames, but video '01_0014' has 6"):
        parse_shanghaitech(root)["01_0014"].pixel_masks()
    with pytest.raises(AnnotationError, match="not a directory"):
        parse_shanghaitech(tmp_path / "missing")
    empty = tmp_path / "empty" / "test_frame_mask"
    empty.mkdir(parents=True)
    with pytest.raises(AnnotationError, match="no <video>.npy"):
        parse_shanghaitech(empty)


# UCSD Ped -----------------------------------------------------------------------------------

UCSD_M = (
    "% UCSD Ped2 test ground truth\n"
    "TestVideoFile = {};\n"
    "\n"
    "TestVideoFile{end+1}.gt_frame = [61:180];\n"
    "TestVideoFile{end+1}.gt_frame = [5:9, 12:14];  % two events\n"
    "TestVideoFile{end+1}.gt_frame = [];\n"
    "TestVideoFile{end+1}.gt_frame = [1:2:7 8];\n"
)


def write_ucsd(tmp_path: Path, text: str = UCSD_M) -> Path:
    path = tmp_path / "UCSDped2.m"
    path.write_text(text, encoding="utf-8")
    return path


def test_ucsd_gt_frame_ranges_become_zero_based_intervals(tmp_path: Path) -> None:
    videos = parse_ucsd_ped(write_ucsd(tmp_path))
    assert list(videos) == ["Test001", "Test002", "Test003", "Test004"]
    assert_intervals(videos["Test001"].intervals, [[60, 179]])  # MATLAB 61..180
    assert_intervals(videos["Test002"].intervals, [[4, 8], [11, 13]])
    assert_intervals(videos["Test003"].intervals, [])
    # 1:2:7 is 1, 3, 5, 7; with 8: frames 0, 2, 4, 6, 7 (0-based); 6 and 7 touch.
    assert_intervals(videos["Test004"].intervals, [[0, 0], [2, 2], [4, 4], [6, 7]])
    assert all(v.num_frames == -1 and not v.has_pixel_masks for v in videos.values())
    with pytest.raises(AnnotationError, match="frame count unknown"):
        videos["Test001"].frame_labels()


def test_ucsd_frames_and_bmp_masks_beside_the_m_file(tmp_path: Path) -> None:
    path = write_ucsd(tmp_path)
    frames, gt = tmp_path / "Test002", tmp_path / "Test002_gt"
    frames.mkdir()
    gt.mkdir()
    for i in range(1, 16):  # 15 frames: 001.tif ... 015.tif and their masks
        (frames / f"{i:03d}.tif").write_bytes(b"")
        mask = np.zeros((4, 6), dtype=np.uint8)
        if 5 <= i <= 9:
            mask[1, 2] = 255
        Image.fromarray(mask).save(gt / f"{i:03d}.bmp")
    video = parse_ucsd_ped(path)["Test002"]
    assert video.num_frames == 15 and video.has_pixel_masks
    np.testing.assert_array_equal(
        video.frame_labels(), [0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0]
    )
    masks = video.pixel_masks()
    assert masks.shape == (15, 4, 6) and masks.sum() == 5
    np.testing.assert_array_equal(masks[:, 1, 2], [0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    # Masks alone give the frame count too; a count that disagrees with the frames is refused.
    (frames / "015.tif").unlink()
    with pytest.raises(AnnotationError, match="15 .bmp masks, but .* has 14 .tif frames"):
        parse_ucsd_ped(path)


@pytest.mark.parametrize(
    "line, message",
    [
        ("TestVideoFile{end+1}.gt_frame = [61-180];", "frame range '61-180'"),
        ("TestVideoFile{end+1}.gt_frame = [0:10];", "MATLAB frames start at 1"),
        ("TestVideoFile{end+1}.gt_frame = [20:10];", "ends before it starts"),
        ("TestVideoFile{end+1}.gt_frame = [1:0:10];", "step 0"),
        ("TestVideoFile{end+1}.gt_frame = [1:" + "9" * 5000 + "];", "implausibly large"),
        ("TestVideoFile{end+1}.gt_frame = 61:180;", "cannot read"),
        ("TestVideoFile{1}.gt_frame = [1:5];", r"TestVideoFile\{1\} already set on line 1"),
        ("disp('hello');", "unexpected statement"),
    ],
)
def test_ucsd_malformed_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write_ucsd(tmp_path, "TestVideoFile{end+1}.gt_frame = [1:3];\n" + line + "\n")
    with pytest.raises(AnnotationError, match=message) as error:
        parse_ucsd_ped(path)
    assert str(error.value).startswith(f"{path}, line 2: ")
    assert "\n" not in str(error.value)


def test_ucsd_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match=r"TestVideoFile\{2\} has no gt_frame line"):
        parse_ucsd_ped(
            write_ucsd(
                tmp_path, "TestVideoFile{1}.gt_frame = [1:3];\nTestVideoFile{3}.gt_frame = [];\n"
            )
        )
    with pytest.raises(AnnotationError, match="no TestVideoFile"):
        parse_ucsd_ped(write_ucsd(tmp_path, "% nothing\n"))
    with pytest.raises(AnnotationError, match="not UTF-8"):
        (tmp_path / "UCSDped2.m").write_bytes(b"TestVideoFile{end+1}.gt_frame = [\xff];\n")
        parse_ucsd_ped(tmp_path / "UCSDped2.m")
    with pytest.raises(AnnotationError, match="cannot read"):
        parse_ucsd_ped(tmp_path / "missing.m")
    # A range beyond the video's frame count (known from its frames) names the line.
    (tmp_path / "Test001").mkdir()
    for i in range(1, 4):
        (tmp_path / "Test001" / f"{i:03d}.tif").write_bytes(b"")
    path = write_ucsd(tmp_path, "TestVideoFile{end+1}.gt_frame = [2:4];\n")
    with pytest.raises(AnnotationError, match="line 1: frame 4 is beyond Test001's 3 frames"):
        parse_ucsd_ped(path)


# Avenue -------------------------------------------------------------------------------------


def save_vol_label(path: Path, masks: list[np.ndarray]) -> None:
    cell = np.empty((1, len(masks)), dtype=object)
    for i, mask in enumerate(masks):
        cell[0, i] = mask
    scipy.io.savemat(path, {"volLabel": cell})


def avenue(tmp_path: Path) -> Path:
    folder = tmp_path / "testing_label_mask"
    folder.mkdir()
    masks = [np.zeros((3, 5), dtype=np.uint8) for _ in range(4)]
    masks[1][0, 0] = 1
    masks[2][2, 4] = 1
    masks[2][1, 1] = 1
    save_vol_label(folder / "1_label.mat", masks)
    save_vol_label(folder / "2_label.mat", [np.zeros((3, 5)) for _ in range(3)])
    (folder / "README.txt").write_text("ignored")
    return tmp_path


def test_avenue_vol_label_masks(tmp_path: Path) -> None:
    videos = parse_avenue(avenue(tmp_path))
    assert list(videos) == ["01", "02"]
    assert_intervals(videos["01"].intervals, [[1, 2]])
    assert videos["01"].num_frames == 4
    np.testing.assert_array_equal(videos["01"].frame_labels(), [0, 1, 1, 0])
    masks = videos["01"].pixel_masks()
    assert masks.shape == (4, 3, 5) and masks.sum() == 3 and masks[2, 2, 4]
    assert_intervals(videos["02"].intervals, [])
    assert videos["02"].num_frames == 3
    # The folder itself works as well as its parent.
    assert list(parse_avenue(tmp_path / "testing_label_mask")) == ["01", "02"]


def test_avenue_malformed_files(tmp_path: Path) -> None:
    folder = avenue(tmp_path) / "testing_label_mask"
    bad = folder / "3_label.mat"
    scipy.io.savemat(bad, {"other": np.zeros(3)})
    with pytest.raises(
        AnnotationError, match=r"3_label\.mat: no volLabel variable \(has \['other'\]\)"
    ):
        parse_avenue(folder)
    scipy.io.savemat(bad, {"volLabel": np.zeros((3, 5, 2))})
    with pytest.raises(AnnotationError, match="cell array"):
        parse_avenue(folder)
    save_vol_label(bad, [np.zeros((3, 5)), np.zeros((2, 5))])
    with pytest.raises(AnnotationError, match="volLabel frame 1 has shape"):
        parse_avenue(folder)
    bad.write_bytes(b"\x00garbage" * 20)
    with pytest.raises(AnnotationError, match=r"3_label\.mat") as error:
        parse_avenue(folder)
    assert "\n" not in str(error.value)
    bad.unlink()
    save_vol_label(folder / "01_label.mat", [np.zeros((3, 5))])
    with pytest.raises(AnnotationError, match="video '01' again"):
        parse_avenue(folder)


# Dispatch and the protocol ------------------------------------------------------------------


def test_load_oneclass_dispatches_and_feeds_the_protocol(tmp_path: Path) -> None:
    assert FORMATS == ("shanghaitech", "ucsd-ped", "avenue")
    root = shanghaitech(tmp_path)
    intervals = load_oneclass_annotations(root, "shanghaitech")
    assert set(intervals) == {"01_0014", "01_0015"}
    assert_intervals(intervals["01_0014"], [[2, 3], [5, 5]])
    assert set(load_oneclass(root, "shanghaitech")) == set(intervals)
    with pytest.raises(AnnotationError, match="unknown annotation format 'ped3'"):
        load_oneclass(root, "ped3")
    # With one score per frame the protocol rebuilds exactly the file's labels.
    videos = [
        VideoScores(
            "01_0014",
            1,
            "Anomaly",
            np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.7]),
            intervals["01_0014"],
            num_frames=6,
        ),
        VideoScores(
            "01_0015",
            0,
            "Normal",
            np.array([0.1, 0.2, 0.3, 0.4]),
            intervals["01_0015"],
            num_frames=4,
        ),
    ]
    result = evaluate(videos, Protocol(frames_per_snippet=1, gt_length="frames"))
    np.testing.assert_array_equal(result.frame_labels, [0, 0, 1, 1, 0, 1, 0, 0, 0, 0])
    assert result.metrics["auc"] == 1.0


@given(st.lists(st.integers(0, 1), max_size=40))
def test_intervals_round_trip_through_the_protocol_labels(labels: list[int]) -> None:
    intervals = intervals_from_labels(np.array(labels, dtype=np.uint8))
    assert intervals.dtype == np.int64 and intervals.shape[1] == 2
    np.testing.assert_array_equal(frame_labels(intervals, len(labels), "inclusive"), labels)
    # Runs are maximal: the next run starts at least two frames after the previous ends.
    assert (intervals[1:, 0] > intervals[:-1, 1] + 1).all()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 6)), min_size=1, max_size=6))
def test_ucsd_overlapping_ranges_merge_into_the_frames_they_label(tmp_path_factory, ranges) -> None:
    items = ", ".join(f"{a}:{a + n}" for a, n in ranges)
    path = write_ucsd(
        tmp_path_factory.mktemp("ucsd"), f"TestVideoFile{{end+1}}.gt_frame = [{items}];\n"
    )
    intervals = parse_ucsd_ped(path)["Test001"].intervals
    expected = np.zeros(40, dtype=np.uint8)
    for a, n in ranges:
        expected[a - 1 : a + n] = 1  # MATLAB a..a+n, 1-based
    np.testing.assert_array_equal(frame_labels(intervals, 40, "inclusive"), expected)
    np.testing.assert_array_equal(intervals, intervals_from_labels(expected))


def test_importing_the_parsers_stays_light() -> None:
    # The CLI lists FORMATS for --help; that must not pull in sklearn (via wsvad.protocol).
    code = "import sys, wsvad.annotations_oneclass; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
