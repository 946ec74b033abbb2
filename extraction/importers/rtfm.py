"""``--format rtfm``: RTFM-style list files, one `.npy` path per line.

The lists of RTFM, MGFN, S3R and UR-DMU (``ucf-i3d.list``, ``ucf-i3d-test.list``) name one file
per video holding ``(T, crops, D)`` ten-crop I3D features (``layout="crops-first"`` for dumps
saved as ``(crops, T, D)``; a 2-D ``(T, D)`` array is one crop). XD-Violence lists may instead
name one ``(T, D)`` file per crop (``<video>__<k>.npy``); those are grouped into one video.

Labels and classes come from the file name, never from the line order (the official train
lists put every anomalous video first and the loaders slice by position):

- XD-Violence (``..._label_<codes>``): label 0 iff the first code is ``A``; class ``Normal`` for
  ``A``, else the first code (``_label_B2-0-0`` -> ``B2``, ``_label_G-B2-B6`` -> ``G``).
- UCF-Crime: ``Normal`` anywhere in the file name -> label 0, class ``Normal``; otherwise
  label 1 and the class is the name's leading letters (``RoadAccidents002_x264_i3d.npy`` ->
  ``RoadAccidents``).

ShanghaiTech names (``01_0014_i3d.npy``) carry no label: import those with ``npy-dir``.
"""

from __future__ import annotations

import re
from pathlib import Path

from extraction.importers import (
    CropEntry,
    FeatureFile,
    PlannedVideo,
    fail,
    group_entries,
    parse_file_name,
    read_lines,
    resolve_path,
)

_LEADING_LETTERS = re.compile(r"[A-Za-z]+")


def plan(train_list, test_list) -> list[PlannedVideo]:
    """The videos named by the train and test lists (either may be None), in list order."""
    entries = []
    for list_path, split in ((train_list, "train"), (test_list, "test")):
        if list_path is None:
            continue
        for lineno, text in read_lines(list_path, "feature list"):
            where = f"{list_path}, line {lineno}"
            path = resolve_path(text, Path(list_path).parent, where)
            video_id, crop = parse_file_name(path.name)
            if not video_id:
                fail(where, f"empty video id from file name {path.name!r}")
            label, class_name = label_from_name(path.name, video_id, where)
            entries.append(CropEntry(video_id, crop, FeatureFile(path, where), split, label, class_name))
    return group_entries(entries, per_crop=False)


def label_from_name(file_name: str, video_id: str, where: str = "") -> tuple[int, str]:
    """(label, class_name) of a UCF-Crime or XD-Violence feature file name."""
    if "_label_" in video_id:
        code = video_id.rsplit("_label_", 1)[1].split("-")[0].strip()
        if not code:
            fail(where or file_name, f"no class code after '_label_' in {file_name!r}")
        return (0, "Normal") if code == "A" else (1, code)
    if "Normal" in file_name:
        return 0, "Normal"
    match = _LEADING_LETTERS.match(video_id)
    if not match:
        fail(where or file_name,
             f"cannot tell the class from file name {file_name!r} (expected UCF-Crime names like "
             "Arson011_x264_i3d.npy or XD-Violence names with _label_<code>); "
             "import such dumps with --format npy-dir and a labels CSV")
    return 1, match.group(0)

