"""``--format npy-dir``: a folder of ``<video_id>.npy`` plus a labels CSV.

The CSV header is ``video_id,label,class_name,split`` with an optional ``source`` column
(``real``/``synthetic``, default ``real``); every row names a file ``<npy_dir>/<video_id>.npy``
holding ``(T, D)`` or, per ``layout``, ``(T, crops, D)`` / ``(crops, T, D)``. Files in the folder
that the CSV does not name are not imported. This is the format for dumps whose file names
carry no label (ShanghaiTech) or whose labels live elsewhere.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from wsvad.features import SPLITS
from wsvad.features.schema import SOURCES

from extraction.importers import CropEntry, FeatureFile, PlannedVideo, fail, group_entries, read_csv


def _plain_name(video_id: str) -> bool:
    return (video_id not in (".", "..") and not set(video_id) & {"/", "\\"}
            and not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in video_id))


def plan(npy_dir, labels_csv) -> list[PlannedVideo]:
    folder = Path(npy_dir)
    if not folder.is_dir():
        fail(str(folder), "feature folder not found (or not a directory)")
    entries = []
    for where, row in read_csv(labels_csv, ("video_id", "label", "class_name", "split"), ("source",),
                               what="labels CSV"):
        video_id = row["video_id"]
        if not video_id:
            fail(where, "empty video_id")
        if not _plain_name(video_id):
            # Found by fuzzing: the id is joined to the folder as <id>.npy, so "../x" or "/abs/x"
            # read (and imported) a file outside --npy-dir.
            fail(where, f"video_id {video_id!r} is not a plain file name (no '/', '\\', '..' or control "
                        "characters): it names <npy_dir>/<video_id>.npy")
        if row["label"] not in ("0", "1"):
            fail(where, f"label {row['label']!r} is not 0 (normal) or 1 (anomalous)")
        if not row["class_name"]:
            fail(where, "empty class_name")
        if row["split"] not in SPLITS:
            fail(where, f"split {row['split']!r} is not one of {', '.join(SPLITS)}")
        source = row.get("source") or "real"
        if source not in SOURCES:
            fail(where, f"source {source!r} is not one of {', '.join(SOURCES)}")
        path = folder / f"{video_id}.npy"
        if not path.is_file():
            fail(where, f"feature file {path} not found")
        entries.append(CropEntry(video_id, None, FeatureFile(path, where), row["split"], int(row["label"]),
                                 row["class_name"], source))
    return group_entries(entries, per_crop=False)
