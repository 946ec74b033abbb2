"""Import existing `.npy` feature dumps as a wsvad feature set.

Formats (one module each, imported lazily)
------------------------------------------
``rtfm`` (:mod:`extraction.importers.rtfm`)
    RTFM/MGFN/UR-DMU-style list files, one `.npy` path per line, each array ``(T, crops, D)``
    (``layout="crops-first"``: ``(crops, T, D)``; a 2-D array is one crop). Labels and classes
    come from the file names (UCF-Crime ``Arson011_x264_i3d.npy``, XD-Violence ``..._label_B2``),
    never from list order: the official train lists put every anomalous video first.
``vadclip`` (:mod:`extraction.importers.vadclip`)
    VadCLIP CSVs ``path,label`` with one row per crop file ``<video>__<k>.npy`` of shape ``(T, D)``.
``npy-dir`` (:mod:`extraction.importers.npy_dir`)
    A folder of ``<video_id>.npy`` plus a CSV ``video_id,label,class_name,split[,source]``.

Every import runs in three steps so that a bad input fails before anything is written:
plan (read the lists, resolve and stat every file, derive ids and labels, find duplicates),
ground truth (parse the annotation file, check it covers every test video), then write,
loading one video at a time into :class:`wsvad.features.FeatureSetWriter`. The set is written
into a hidden directory beside ``out`` and renamed into place only once its manifest is
written, so a failed import leaves nothing that looks like a feature set.

Every bad input raises a :class:`wsvad.errors.WsvadError` subclass with a one-line message
(:class:`extraction.importers.errors.FeatureImportError` for inputs,
:class:`wsvad.errors.AnnotationError` for annotation files, :class:`wsvad.errors.FeatureSetError`
for a set that would break the feature-set contract, e.g. a test video without ground truth).
"""

from __future__ import annotations

import csv
import importlib
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from extraction.importers.errors import FeatureImportError
from wsvad.errors import FeatureSetError

FORMATS = ("rtfm", "vadclip", "npy-dir")
LAYOUTS = ("crops-last", "crops-first")
DTYPES = ("float32", "float16")
_OWN_PROVENANCE = ("importer", "source_lists", "layout", "annotations", "annotation_format",
                   "source_splits", "npy_dir")
_MODULES = {"rtfm": "rtfm", "vadclip": "vadclip", "npy-dir": "npy_dir"}

# Suffixes that name the backbone, not the video: "Arson011_x264_i3d" is video "Arson011_x264",
# the name UCF-Crime's annotation file uses. "_x264" is part of the official video name: kept.
FEATURE_SUFFIXES = (
    "_i3d", "_c3d", "_clip", "_x3d", "_s3d", "_r3d", "_r2plus1d", "_slowfast", "_swin",
    "_videomae", "_vit", "_rgb", "_flow", "_vggish", "_audio", "_feat", "_feats", "_features",
)
_CROP_SUFFIX = re.compile(r"(.+)__([0-9]+)")


@dataclass(frozen=True)
class FeatureFile:
    path: Path
    where: str  # "<list>, line <n>": where the file was named, for error messages


@dataclass
class PlannedVideo:
    """One video to import: its metadata and the file(s) holding its features."""

    video_id: str
    split: str
    label: int
    class_name: str
    files: list[FeatureFile]
    per_crop: bool = False  # files are crops 0..C-1, each (T, D); else one file, (T, D) or 3-D
    source: str = "real"


@dataclass
class CropEntry:
    """One row of a list before grouping: a whole-video file (crop None) or crop `crop`."""

    video_id: str
    crop: int | None
    file: FeatureFile
    split: str
    label: int
    class_name: str
    source: str = "real"


def import_features(
    fmt: str,
    out,
    dataset: str,
    *,
    train_list=None,
    test_list=None,
    layout: str = "crops-last",
    lists: Sequence[tuple[str | os.PathLike, str]] | Mapping | None = None,
    npy_dir=None,
    labels_csv=None,
    annotations=None,
    annotation_format: str | None = None,
    dtype: str = "float32",
    provenance: dict | None = None,
) -> dict:
    """Import a feature dump in format ``fmt`` into a new feature set at ``out``; return its manifest.

    ``rtfm`` takes ``train_list``/``test_list`` (and ``layout``); ``vadclip`` takes ``lists``, a
    sequence of ``(csv_path, split)`` pairs; ``npy-dir`` takes ``npy_dir`` and ``labels_csv`` (and
    ``layout`` for 3-D arrays). ``annotations`` + ``annotation_format`` (``ucf-crime``,
    ``xd-violence``, ``csv``) give every test video its frame ground truth; annotated videos that
    are not in the set are ignored. ``provenance`` adds keys (backbone, weights...) to the
    importer's own provenance. ``out`` must not exist or be an empty directory.
    """
    _check_arguments(fmt, dataset, layout, dtype, annotations, annotation_format,
                     train_list=train_list, test_list=test_list, lists=lists,
                     npy_dir=npy_dir, labels_csv=labels_csv)
    clash = sorted(set(provenance or {}) & set(_OWN_PROVENANCE))
    if clash:
        raise FeatureImportError(f"provenance key(s) {', '.join(clash)} are set by the importer itself")
    out = Path(os.path.abspath(out))
    _check_out(out)

    module = importlib.import_module(f"extraction.importers.{_MODULES[fmt]}")
    if fmt == "rtfm":
        videos = module.plan(train_list, test_list)
        sources = [p for p in (train_list, test_list) if p is not None]
        extra = {}
    elif fmt == "vadclip":
        pairs = _list_pairs(lists)
        videos = module.plan(pairs)
        sources = [p for p, _ in pairs]
        extra = {"source_splits": [s for _, s in pairs]}
    else:
        videos = module.plan(npy_dir, labels_csv)
        sources = [labels_csv]
        extra = {"npy_dir": os.path.abspath(npy_dir)}
    if not videos:
        raise FeatureImportError(f"no videos to import from {', '.join(map(str, sources))}")

    ground_truth = _ground_truth(videos, annotations, annotation_format)
    own = {
        "importer": fmt,
        "source_lists": [os.path.abspath(p) for p in sources],
        "layout": layout,
        "annotations": os.path.abspath(annotations) if annotations is not None else None,
        "annotation_format": annotation_format,
        **extra,
    }
    return _write(out, dataset, {**(provenance or {}), **own}, dtype, layout, videos, ground_truth)


# --- arguments -------------------------------------------------------------------------------


def _check_arguments(fmt, dataset, layout, dtype, annotations, annotation_format, **inputs) -> None:
    if fmt not in FORMATS:
        raise FeatureImportError(f"unknown import format {fmt!r}, expected one of {', '.join(FORMATS)}")
    if not isinstance(dataset, str) or not dataset.strip():
        raise FeatureImportError(f"dataset name must be a non-empty string, got {dataset!r}")
    if layout not in LAYOUTS:
        raise FeatureImportError(f"unknown layout {layout!r}, expected one of {', '.join(LAYOUTS)}")
    if dtype not in DTYPES:
        raise FeatureImportError(f"feature dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if annotations is not None and annotation_format is None:
        raise FeatureImportError(
            f"annotations {annotations} given without an annotation format (ucf-crime, xd-violence or csv)")
    if annotation_format is not None and annotations is None:
        raise FeatureImportError(f"annotation format {annotation_format!r} given without an annotation file")

    wanted = {"rtfm": ("train_list", "test_list"), "vadclip": ("lists",), "npy-dir": ("npy_dir", "labels_csv")}
    stray = [name for name, value in inputs.items() if value is not None and name not in wanted[fmt]]
    if stray:
        raise FeatureImportError(f"format {fmt} does not use {', '.join(stray)} (it reads {', '.join(wanted[fmt])})")
    if fmt == "rtfm" and inputs["train_list"] is None and inputs["test_list"] is None:
        raise FeatureImportError("format rtfm needs a train list and/or a test list")
    if fmt == "vadclip" and not inputs["lists"]:
        raise FeatureImportError("format vadclip needs at least one (csv, split) list")
    if fmt == "npy-dir":
        missing = [name for name in wanted[fmt] if inputs[name] is None]
        if missing:
            raise FeatureImportError(f"format npy-dir needs {' and '.join(missing)}")


def _list_pairs(lists) -> list[tuple[str, str]]:
    items = list(lists.items()) if isinstance(lists, Mapping) else list(lists)
    pairs = []
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise FeatureImportError(f"vadclip lists must be (csv_path, split) pairs, got {item!r}")
        pairs.append((os.fspath(item[0]), str(item[1])))
    return pairs


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise FeatureImportError(f"output {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        raise FeatureImportError(f"output directory {out} is not empty (a feature set is written into a new directory)")


# --- reading lists ---------------------------------------------------------------------------


def fail(where: str, what: str) -> NoReturn:
    """Raise the one-line error ``<where>: <what>`` (without a chained traceback)."""
    raise FeatureImportError(f"{where}: {_one_line(what)}") from None


def _one_line(text) -> str:
    return " ".join(str(text).split())


def read_lines(path, what: str = "list") -> list[tuple[int, str]]:
    """Non-blank, stripped lines of a UTF-8 text file with their 1-based numbers; never empty."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        fail(str(path), f"cannot read {what} ({error.strerror or error})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = error.start
    else:
        bad = -1
    if bad >= 0:  # outside the except block: the error carries no chained UnicodeDecodeError
        line = data[:bad].count(b"\n") + 1
        fail(f"{path}, line {line}", f"not UTF-8 (byte 0x{data[bad]:02x})")
    text = text.removeprefix("\ufeff")
    lines = [(n, line.strip()) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if not lines:
        fail(str(path), f"empty {what}, no entries")
    return lines


def read_csv(path, required: Sequence[str], optional: Sequence[str] = (),
             what: str = "CSV") -> list[tuple[str, dict[str, str]]]:
    """Rows of a CSV with a header naming ``required`` (+ ``optional``) columns, as
    ``(where, {column: stripped cell})``; unknown columns and ragged rows are errors."""
    lines = read_lines(path, what)
    header_no, header_line = lines[0]
    header = [c.strip() for c in _cells(path, header_no, header_line)]
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required and c not in optional]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or duplicated:
        expected = ",".join(list(required) + [f"[{c}]" for c in optional])
        fail(f"{path}, line {header_no}", f"expected header {expected!r}, got {header_line!r}")
    rows = []
    for n, line in lines[1:]:
        cells = [c.strip() for c in _cells(path, n, line)]
        if len(cells) != len(header):
            fail(f"{path}, line {n}", f"expected {len(header)} fields ({','.join(header)}), got {len(cells)}")
        rows.append((f"{path}, line {n}", dict(zip(header, cells))))
    if not rows:
        fail(str(path), f"empty {what}, only a header")
    return rows


def _cells(path, n: int, line: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except csv.Error as error:
        fail(f"{path}, line {n}", f"malformed CSV ({error})")


def resolve_path(text: str, list_dir: Path, where: str) -> Path:
    """A listed path: absolute as is; relative against the list's directory, then the CWD."""
    path = Path(text)
    candidates = [path] if path.is_absolute() else [Path(list_dir) / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.exists():
            if not candidate.is_file():
                fail(where, f"{candidate} is not a file")
            return candidate
    looked = "" if path.is_absolute() else f" (looked in {list_dir} and in the current directory {Path.cwd()})"
    fail(where, f"feature file {text!r} not found{looked}")


def parse_file_name(name: str) -> tuple[str, int | None]:
    """``Arson011_x264_i3d.npy`` -> (``Arson011_x264``, None); ``X__3.npy`` -> (``X``, 3).

    Strips the ``.npy`` extension, one ``__<k>`` crop suffix and any backbone suffixes
    (:data:`FEATURE_SUFFIXES`, case-insensitive), in whichever order they were appended.
    """
    stem = name[:-4] if name.lower().endswith(".npy") else name
    crop = None
    changed = True
    while changed:
        changed = False
        match = _CROP_SUFFIX.fullmatch(stem)
        if crop is None and match:
            stem, crop, changed = match.group(1), int(match.group(2)), True
        for suffix in FEATURE_SUFFIXES:
            if stem.lower().endswith(suffix):
                stem, changed = stem[: -len(suffix)], True
                break
    return stem, crop


def group_entries(entries: list[CropEntry], per_crop: bool) -> list[PlannedVideo]:
    """Group list rows into videos, in first-appearance order.

    A whole-video file must be its video's only row; crop files must be numbered 0..C-1 without
    repeats and agree on split, label, class and source. ``per_crop`` makes a row without a
    crop suffix crop 0 (VadCLIP lists name one file per crop).
    """
    groups: dict[str, list[CropEntry]] = {}
    for entry in entries:
        if not entry.video_id:
            fail(entry.file.where, f"empty video id from {entry.file.path.name!r}")
        if per_crop and entry.crop is None:
            entry.crop = 0
        group = groups.setdefault(entry.video_id, [])
        if group:
            first = group[0]
            if entry.crop is None or first.crop is None or any(e.crop == entry.crop for e in group):
                crop = "" if entry.crop is None else f" crop {entry.crop}"
                fail(entry.file.where, f"duplicate video {entry.video_id!r}{crop} (first at {first.file.where})")
            for name in ("split", "label", "class_name", "source"):
                if getattr(entry, name) != getattr(first, name):
                    fail(entry.file.where, f"crop {entry.crop} of video {entry.video_id!r} has {name} "
                                           f"{getattr(entry, name)!r} but {first.file.where} has "
                                           f"{getattr(first, name)!r}")
        group.append(entry)

    videos = []
    for video_id, group in groups.items():
        first = group[0]
        crops = first.crop is not None
        if crops:
            group.sort(key=lambda e: e.crop)
            numbers = [e.crop for e in group]
            if numbers != list(range(len(group))):
                gap = next(k for k, c in enumerate(numbers + [None]) if c != k)
                fail(first.file.where, f"video {video_id!r} has crop files {numbers} but no crop {gap} "
                                       "(crops must be numbered __0 .. __C-1)")
        videos.append(PlannedVideo(video_id, first.split, first.label, first.class_name,
                                   [e.file for e in group], per_crop=crops, source=first.source))
    return videos


# --- ground truth ----------------------------------------------------------------------------


def _ground_truth(videos: list[PlannedVideo], annotations, annotation_format) -> dict[str, np.ndarray]:
    """Frame intervals for every test video, checked before any feature is read."""
    tests = [v for v in videos if v.split == "test"]
    if not tests:
        return {}

    def no_gt(missing: list[PlannedVideo], why: str) -> NoReturn:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise FeatureSetError(f"test video {missing[0].video_id!r}{more} has no frame ground truth ({why})")

    if annotations is None:
        no_gt(tests, "attach annotations with --annotations FILE --annotation-format ...")
    from wsvad.annotations import load_annotations

    table = load_annotations(annotations, annotation_format)
    ground_truth, missing = {}, []
    for video in tests:
        intervals = table.get(video.video_id)
        if intervals is None and annotation_format == "xd-violence" and video.label == 0:
            # XD-Violence's annotations.txt lists only the violent test videos; the official
            # ground-truth builders give every unlisted (normal) one all-zero frames.
            intervals = np.zeros((0, 2), np.int64)
        if intervals is None:
            missing.append(video)
            continue
        if video.label == 0 and len(intervals):
            raise FeatureImportError(f"{annotations}: test video {video.video_id!r} is labelled normal "
                                     f"({video.class_name}) but has {len(intervals)} anomalous interval(s)")
        if video.label == 1 and not len(intervals):
            raise FeatureImportError(f"{annotations}: test video {video.video_id!r} is labelled anomalous "
                                     f"({video.class_name}) but has no anomalous interval")
        ground_truth[video.video_id] = intervals
    if missing:
        no_gt(missing, f"{annotations} does not name it")
    return ground_truth


# --- loading arrays and writing --------------------------------------------------------------


def load_array(file: FeatureFile, dtype: np.dtype) -> np.ndarray:
    """One `.npy` array as ``dtype``: numeric, non-empty, finite, never unpickled."""
    where = f"{file.where}: {file.path}"
    try:
        with open(file.path, "rb") as f:
            magic = f.read(6)
    except OSError as error:
        fail(where, f"cannot read ({error.strerror or error})")
    # np.load treats anything without the .npy magic as a pickle: say what the file really is.
    if magic.startswith(b"PK"):
        fail(where, "is an .npz archive, expected one array saved with np.save")
    if magic[:1] == b"\x80":
        fail(where, "is a Python pickle, not an .npy array (refused: allow_pickle=False)")
    if magic != b"\x93NUMPY":
        fail(where, "not a .npy file (it lacks the \\x93NUMPY header)")
    try:
        array = np.load(file.path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error).lower():
            fail(where, "holds pickled Python objects, not a plain numeric array (refused: allow_pickle=False)")
        fail(where, f"not a readable .npy array (ValueError: {error})")
    except Exception as error:  # numpy raises OSError, EOFError, UnpicklingError... on garbage
        fail(where, f"not a readable .npy array ({type(error).__name__}: {error})")
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        fail(where, "is an .npz archive, expected one array saved with np.save")
    if array.dtype.kind not in "fiu":
        fail(where, f"has dtype {array.dtype}, expected float (or integer) features")
    if array.size == 0:
        fail(where, f"is empty (shape {array.shape})")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        fail(where, "has NaN or Inf features")
    with np.errstate(over="ignore"):  # overflow is reported below, as an error
        cast = array.astype(dtype, copy=False)
    if cast is not array and not np.isfinite(cast).all():
        fail(where, f"has values beyond the range of {dtype}")
    return cast


def load_video(video: PlannedVideo, layout: str, dtype: np.dtype) -> np.ndarray:
    """The features of ``video`` as ``(crops, T, D)``."""
    if not video.per_crop:
        file = video.files[0]
        array = load_array(file, dtype)
        if array.ndim == 2:
            return array[None]  # (1, T, D)
        if array.ndim == 3:
            return array.transpose(1, 0, 2) if layout == "crops-last" else array  # (crops, T, D)
        expected = "(T, crops, D)" if layout == "crops-last" else "(crops, T, D)"
        fail(f"{file.where}: {file.path}", f"has shape {array.shape}, expected (T, D) or {expected}")

    crops = []
    for k, file in enumerate(video.files):
        array = load_array(file, dtype)
        if array.ndim != 2:
            fail(f"{file.where}: {file.path}", f"has shape {array.shape}, expected one crop as (T, D)")
        if crops and array.shape != crops[0].shape:
            first = video.files[0].path.name
            fail(f"{file.where}: {file.path}",
                 f"crop {k} has shape (T, D) = {array.shape} but crop 0 ({first}) has {crops[0].shape}: "
                 "all crops of a video must have the same number of snippets and dim")
        crops.append(array)
    return np.stack(crops)  # (crops, T, D)


def _write(out: Path, dataset: str, provenance: dict, dtype: str, layout: str,
           videos: list[PlannedVideo], ground_truth: dict[str, np.ndarray]) -> dict:
    from wsvad.features import FeatureSetWriter

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    try:
        writer = FeatureSetWriter(staging, dataset, provenance, dtype=dtype)
        np_dtype = np.dtype(dtype)
        first_dim: tuple[int, Path] | None = None
        for video in videos:
            features = load_video(video, layout, np_dtype)  # (crops, T, D)
            if first_dim is None:
                first_dim = (features.shape[2], video.files[0].path)
            elif features.shape[2] != first_dim[0]:
                file = video.files[0]
                fail(f"{file.where}: {file.path}", f"feature dim D={features.shape[2]} differs from "
                                                   f"D={first_dim[0]} of {first_dim[1]}")
            writer.add_video(video.video_id, video.split, video.label, video.class_name, features,
                             source=video.source)
            del features
        for video_id, intervals in ground_truth.items():
            writer.set_ground_truth(video_id, intervals)
        try:
            manifest = writer.close()
        except FeatureSetError as error:  # name the real output, not the staging directory
            raise FeatureSetError(str(error).replace(str(staging), str(out))) from None
        if out.exists():
            out.rmdir()  # empty (checked before): the staged set takes its place
        os.replace(staging, out)
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


__all__ = ["FORMATS", "LAYOUTS", "FeatureImportError", "import_features", "parse_file_name"]
