"""Invariants of a feature set, checked on write (finalize) and on load.

Each failure is a `FeatureSetError` whose message names the offending video, so a user can fix
the input instead of reading a traceback.
"""

import numpy as np
import pyarrow as pa

from wsvad.errors import FeatureSetError
from wsvad.features.schema import COLUMNS, SOURCES, SPLITS


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


# Kinds of column, not exact types: parts written by other producers may widen an int or use
# large_string. Found by fuzzing: a string `num_snippets` raised ValueError from numpy, a float
# `crop` compared 1.5 with 1, and nulls became the video id "None".
_KINDS = {"video_id": (_is_text, "a string"), "split": (_is_text, "a string"), "class_name": (_is_text, "a string"),
          "source": (_is_text, "a string"), "label": (pa.types.is_integer, "an integer"),
          "crop": (pa.types.is_integer, "an integer"), "num_snippets": (pa.types.is_integer, "an integer"),
          "dim": (pa.types.is_integer, "an integer"), "num_frames": (pa.types.is_integer, "an integer"),
          "fps": (_is_number, "a number"), "features": (_is_list, "a list of floats")}
MAX_INT32 = 2**31 - 1


def check_columns(table: pa.Table, where: str) -> None:
    """The columns exist, have the right kind of type, hold no nulls, and there is at least one row."""
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise FeatureSetError(f"{where}: missing column(s) {', '.join(missing)}")
    for name, (ok, kind) in _KINDS.items():
        column_type = table.schema.field(name).type
        if not ok(column_type):
            raise FeatureSetError(f"{where}: column {name!r} has type {column_type}, expected {kind}")
        nulls = table.column(name).null_count
        if nulls:
            raise FeatureSetError(f"{where}: column {name!r} has {nulls} null value(s)")
    if table.num_rows == 0:
        raise FeatureSetError(f"{where}: the feature set is empty (no rows)")


def check_rows(table: pa.Table, flat: np.ndarray, where: str) -> None:
    """Row-level invariants; `flat` is the concatenated `features` values of `table`."""
    if table.num_rows == 0:
        raise FeatureSetError(f"{where}: the feature set is empty (no rows)")
    vid = table.column("video_id").to_numpy(zero_copy_only=False).astype(str)
    crop = table.column("crop").to_numpy()
    t = table.column("num_snippets").to_numpy().astype(np.int64)
    dim = table.column("dim").to_numpy().astype(np.int64)
    lengths = _list_lengths(table.column("features"))

    # Beyond int32 (the schema's type), t*dim could wrap around to the list length (fuzzing).
    wrong = (dim <= 0) | (t <= 0) | (dim > MAX_INT32) | (t > MAX_INT32)
    if np.any(wrong):
        bad = int(np.flatnonzero(wrong)[0])
        raise FeatureSetError(f"{where}: video {str(vid[bad])!r} crop {crop[bad]} has num_snippets={t[bad]}, dim={dim[bad]}")
    if np.unique(dim).size != 1:
        d0 = dim[0]
        bad = int(np.flatnonzero(dim != d0)[0])
        raise FeatureSetError(
            f"{where}: dimension mismatch: video {str(vid[bad])!r} has dim {dim[bad]} but {str(vid[0])!r} has {d0}"
        )
    if np.any(lengths != t * dim):
        bad = int(np.flatnonzero(lengths != t * dim)[0])
        raise FeatureSetError(
            f"{where}: video {str(vid[bad])!r} crop {crop[bad]}: features hold {lengths[bad]} values, "
            f"expected num_snippets*dim = {t[bad]}*{dim[bad]}"
        )
    finite = np.isfinite(flat)
    if not finite.all():
        first = int(np.argmin(finite))
        row = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
        raise FeatureSetError(f"{where}: video {str(vid[row])!r} crop {crop[row]} has NaN or Inf features")

    order = np.lexsort((crop, vid))
    same = (vid[order][1:] == vid[order][:-1]) & (crop[order][1:] == crop[order][:-1])
    if same.any():
        bad = order[int(np.flatnonzero(same)[0])]
        raise FeatureSetError(f"{where}: duplicate (video_id, crop) = ({str(vid[bad])!r}, {crop[bad]})")

    _check_values(table, "split", SPLITS, vid, where)
    _check_values(table, "source", SOURCES, vid, where)
    label = table.column("label").to_numpy()
    if not np.isin(label, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(label, (0, 1)))[0])
        raise FeatureSetError(f"{where}: video {str(vid[bad])!r} has label {label[bad]} (expected 0 normal or 1 anomalous)")
    _check_crops_agree(table, vid, crop, t, where)


def check_ground_truth(video_ids: np.ndarray, splits: np.ndarray, ground_truth: dict, where: str) -> None:
    """Every test video needs frame ground truth (an empty interval list for normal ones)."""
    test = video_ids[splits == "test"]
    missing = [v for v in test if v not in ground_truth]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise FeatureSetError(
            f"{where}: test video {str(missing[0])!r}{more} has no frame ground truth "
            "(attach annotations with --annotations FILE --annotation-format ...)"
        )


def _list_lengths(column: pa.ChunkedArray) -> np.ndarray:
    parts = [np.diff(chunk.offsets.to_numpy()) for chunk in column.chunks]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _check_values(table: pa.Table, name: str, allowed, vid, where: str) -> None:
    values = table.column(name).to_numpy(zero_copy_only=False).astype(str)
    ok = np.isin(values, allowed)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise FeatureSetError(
            f"{where}: video {str(vid[bad])!r} has {name}={str(values[bad])!r} (expected one of {', '.join(allowed)})"
        )


def _check_crops_agree(table: pa.Table, vid, crop, t, where: str) -> None:
    """Crops of one video share T, split, label and class, and are numbered 0..C-1."""
    order = np.lexsort((crop, vid))
    v, c, tt = vid[order], crop[order], t[order]
    new_video = np.ones(len(v), bool)
    new_video[1:] = v[1:] != v[:-1]
    start = np.maximum.accumulate(np.where(new_video, np.arange(len(v)), 0))
    expected_crop = np.arange(len(v)) - start
    if np.any(c != expected_crop):
        bad = int(np.flatnonzero(c != expected_crop)[0])
        raise FeatureSetError(f"{where}: video {str(v[bad])!r}: crops must be numbered 0..C-1, found crop {c[bad]}")
    for name in ("num_snippets", "split", "label", "class_name"):
        col = tt if name == "num_snippets" else table.column(name).to_numpy(zero_copy_only=False)[order]
        differs = (col[1:] != col[:-1]) & ~new_video[1:]
        if np.any(differs):
            bad = int(np.flatnonzero(differs)[0]) + 1
            raise FeatureSetError(f"{where}: crops of video {str(v[bad])!r} disagree on {name}")
