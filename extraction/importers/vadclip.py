"""``--format vadclip``: VadCLIP-style CSV lists, one row per crop file.

VadCLIP's ``ucf_CLIP_rgb.csv`` / ``xd_CLIP_rgbtest.csv`` have a header ``path,label`` and one
row per crop: ``.../Abuse001_x264__0.npy,Abuse``, each file ``(T, D)``. Rows are grouped by video
(the name without ``__<k>``) with crops ordered by ``k`` whatever the row order; every crop
of a video must have the same T. Lists may hold different crop counts (VadCLIP tests on crop 0
only). The class comes from the ``label`` column: a UCF-Crime class name or XD-Violence codes
(``B2-0-0`` -> ``B2``); label 0 iff the class is ``Normal`` or ``A`` (stored as ``Normal``).
"""

from __future__ import annotations

from pathlib import Path

from wsvad.features import SPLITS

from extraction.importers import (
    CropEntry,
    FeatureFile,
    PlannedVideo,
    fail,
    group_entries,
    parse_file_name,
    read_csv,
    resolve_path,
)


def plan(lists: list[tuple[str, str]]) -> list[PlannedVideo]:
    """The videos of every ``(csv_path, split)`` list, in row order of first appearance."""
    entries = []
    for csv_path, split in lists:
        if split not in SPLITS:
            fail(str(csv_path), f"split {split!r} is not one of {', '.join(SPLITS)}")
        for where, row in read_csv(csv_path, ("path", "label"), what="VadCLIP list"):
            if not row["path"]:
                fail(where, "empty path")
            path = resolve_path(row["path"], Path(csv_path).parent, where)
            video_id, crop = parse_file_name(path.name)
            label, class_name = label_from_column(row["label"], where)
            entries.append(CropEntry(video_id, crop, FeatureFile(path, where), split, label, class_name))
    return group_entries(entries, per_crop=True)


def label_from_column(cell: str, where: str) -> tuple[int, str]:
    """``Normal``/``A`` -> (0, ``Normal``); ``Abuse`` -> (1, ``Abuse``); ``B2-0-0`` -> (1, ``B2``)."""
    code = cell.split("-")[0].strip()
    if not code:
        fail(where, f"empty class in the label column ({cell!r})")
    if code.lower() in ("normal", "a"):
        return 0, "Normal"
    return 1, code
