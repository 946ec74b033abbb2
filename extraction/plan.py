"""Which videos to extract, with their video id, split, label and class — before any decoding.

Two sources:

``--manifest CSV``
    Header ``path,label,class_name,split[,source]``; a relative path is relative to the CSV's
    folder. A listed file that does not exist is not an error here: it becomes a reject
    ("file not found") like any other bad video, so one missing file does not stop the job.
``--videos DIR``
    Every video file under DIR (recursive; extensions of :data:`wsvad.annotations.VIDEO_EXTENSIONS`).
    Labels and classes come from UCF-Crime-style names (``Normal_Videos_003_x264.mp4`` →
    0/Normal, ``Arson011_x264.mp4`` → 1/Arson; XD-Violence ``_label_B2`` names also work), as the
    feature importers read them. A folder carries no split, so it must be named:
    ``--train-list``/``--test-list`` (UCF-Crime's official ``Anomaly_Train.txt`` /
    ``Anomaly_Test.txt``: one video path per line, matched by file name), and/or ``--split``
    for every video the lists do not name. A video that gets no split is an error that names
    it; a listed video that is not under DIR becomes a reject ("file not found").

Video ids are file names without their video extension (the annotation files' names), and
must be unique: two files with one id would overwrite each other's features.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from extraction.errors import ExtractionError
from extraction.importers import read_csv, read_lines
from extraction.importers.errors import FeatureImportError
from extraction.importers.rtfm import label_from_name
from wsvad.annotations import VIDEO_EXTENSIONS, video_id_from_name
from wsvad.features.schema import SOURCES, SPLITS


@dataclass(frozen=True)
class VideoEntry:
    path: str          # absolute path (may not exist: it then becomes a reject)
    video_id: str
    split: str
    label: int
    class_name: str
    source: str = "real"
    where: str = ""    # where the video was named (manifest line, list line, folder)

    @property
    def key(self) -> str:
        """Stable part-file key: a hash of the video id (paths may move; ids may not)."""
        return part_key(self.video_id)


def part_key(video_id: str) -> str:
    return hashlib.sha1(video_id.encode()).hexdigest()[:16]


def plan_videos(videos=None, manifest=None, split: str | None = None, train_list=None, test_list=None,
                ) -> list[VideoEntry]:
    """The videos of a folder or a manifest CSV, in a stable order, checked for duplicate ids."""
    if (videos is None) == (manifest is None):
        raise ExtractionError("give exactly one of --videos DIR or --manifest CSV")
    if split is not None and split not in SPLITS:
        raise ExtractionError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if manifest is not None:
        if split is not None or train_list is not None or test_list is not None:
            raise ExtractionError("--split/--train-list/--test-list apply to --videos DIR; "
                                  "a manifest CSV gives each video's split itself")
        entries = _from_manifest(Path(manifest))
    else:
        entries = _from_folder(Path(videos), split, train_list, test_list)
    _check_unique(entries)
    return entries


def _from_manifest(csv_path: Path) -> list[VideoEntry]:
    rows = _importer_errors(read_csv, csv_path, ("path", "label", "class_name", "split"), ("source",),
                            what="manifest CSV")
    entries = []
    for where, row in rows:
        if not row["path"]:
            raise ExtractionError(f"{where}: empty path")
        if row["label"] not in ("0", "1"):
            raise ExtractionError(f"{where}: label {row['label']!r} is not 0 (normal) or 1 (anomalous)")
        if not row["class_name"]:
            raise ExtractionError(f"{where}: empty class_name")
        if row["split"] not in SPLITS:
            raise ExtractionError(f"{where}: split {row['split']!r} is not one of {', '.join(SPLITS)}")
        source = row.get("source") or "real"
        if source not in SOURCES:
            raise ExtractionError(f"{where}: source {source!r} is not one of {', '.join(SOURCES)}")
        path = _manifest_path(row["path"], csv_path, where)
        video_id = _video_id(path.name, row["path"], where)  # the name as written, not a symlink's target
        entries.append(VideoEntry(str(path.resolve()), video_id, row["split"], int(row["label"]),
                                  row["class_name"], source, where))
    return entries


def _manifest_path(text: str, csv_path: Path, where: str) -> Path:
    """The absolute path a manifest row names. Found by fuzzing: a NUL byte or ``~unknownuser``
    raised ValueError/RuntimeError from pathlib instead of an error naming the row."""
    _check_no_control(text, where)
    try:
        path = Path(text).expanduser()
    except RuntimeError:
        raise ExtractionError(f"{where}: cannot expand the '~' of {text!r} (no such user or no home directory)") from None
    return path if path.is_absolute() else csv_path.parent / path


def _video_id(name: str, text: str, where: str) -> str:
    """The id of the video file ``name``; refuses names that leave no id. Found by fuzzing: paths
    like ``dir/``, ``clips/..``, ``.mp4`` or ``a\\`` gave the ids "", ".." — one part file and one
    row for videos that are not there (an id must be a plain file name)."""
    video_id = video_id_from_name(name)
    if not video_id or video_id in (".", ".."):
        raise ExtractionError(f"{where}: {text!r} names no video file (its file name gives no video id)")
    return video_id


def _check_no_control(text: str, where: str) -> None:
    """Found by fuzzing: NUL made pathlib raise ValueError; a newline in a file name split error
    messages over lines and made ids that no line-based annotation file can name."""
    bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise ExtractionError(f"{where}: the path {text!r} contains the control character {bad!r}; rename it")


def _from_folder(folder: Path, split, train_list, test_list) -> list[VideoEntry]:
    if not folder.is_dir():
        raise ExtractionError(f"--videos {folder}: not a directory")
    files = sorted(p for p in folder.rglob("*")
                   if p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".") and p.is_file())
    listed = _split_lists(train_list, test_list)
    if split is None and not listed:
        raise ExtractionError(
            "a folder of videos carries no split: give --split train|test|val for all of them, "
            "--train-list/--test-list (e.g. UCF-Crime's Anomaly_Train.txt/Anomaly_Test.txt), or a --manifest CSV")
    entries, unsplit, found = [], [], set()
    for path in files:
        _check_file_name(folder, path)
        video_id = video_id_from_name(path.name)
        found.add(video_id)
        video_split, where, _ = listed.get(video_id, (split, str(folder), ""))
        if video_split is None:
            unsplit.append(path)
            continue
        label, class_name = _label(path, video_id)
        entries.append(VideoEntry(str(path.resolve()), video_id, video_split, label, class_name, "real", where))
    if unsplit:
        more = f" and {len(unsplit) - 1} more" if len(unsplit) > 1 else ""
        raise ExtractionError(f"{unsplit[0]}{more}: not named by --train-list/--test-list; "
                              "add --split to give the unlisted videos a split")
    for video_id, (video_split, where, text) in listed.items():
        if video_id not in found:  # listed but absent: a reject, like a missing manifest row
            label, class_name = _label(Path(text), video_id)
            path = (folder.resolve() / text).resolve()
            if not path.is_relative_to(folder.resolve()):
                # Found by fuzzing: "../../x.mp4" or "/abs/x.mp4" made a path outside --videos, which
                # would then be decoded, though a listed video not under DIR is meant to be a reject.
                raise ExtractionError(f"{where}: {text!r} is not under --videos {folder} and no file of that "
                                      "name is there; list paths are relative to the videos folder")
            entries.append(VideoEntry(str(path), video_id, video_split, label, class_name, "real", where))
    if not entries:
        raise ExtractionError(f"--videos {folder}: no video files ({', '.join(VIDEO_EXTENSIONS)})")
    return entries


def _split_lists(train_list, test_list) -> dict[str, tuple[str, str, str]]:
    """video_id -> (split, "<list>, line <n>", the line as written) from official split lists."""
    listed: dict[str, tuple[str, str, str]] = {}
    for list_path, split in ((train_list, "train"), (test_list, "test")):
        if list_path is None:
            continue
        for lineno, text in _importer_errors(read_lines, list_path, "split list"):
            where = f"{list_path}, line {lineno}"
            _check_no_control(text, where)
            video_id = _video_id(text, text, where)
            if video_id in listed:
                raise ExtractionError(f"{where}: video {video_id!r} is listed twice (first at {listed[video_id][1]})")
            listed[video_id] = (split, where, text)
    return listed


def _check_file_name(folder: Path, path: Path) -> None:
    """Found by fuzzing: a file name that is not UTF-8 (Python keeps its bytes as surrogates)
    reached the part key (``str.encode``) and Parquet as an UnicodeEncodeError traceback."""
    relative = str(path.relative_to(folder))
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        raise ExtractionError(f"--videos {folder}: the file name {os.fsencode(relative)!r} is not UTF-8; rename "
                              "it (video ids and paths are stored as UTF-8 text)") from None
    _check_no_control(relative, f"--videos {folder}")


def _label(path: Path, video_id: str) -> tuple[int, str]:
    try:
        return label_from_name(path.name, video_id, str(path))
    except FeatureImportError:
        raise ExtractionError(f"{path}: cannot tell the label and class from the file name (expected UCF-Crime "
                              "names like Arson011_x264.mp4 / Normal_Videos_003_x264.mp4, or XD-Violence "
                              "_label_<code> names); give a --manifest CSV path,label,class_name,split") from None


def _check_unique(entries: list[VideoEntry]) -> None:
    seen: dict[str, VideoEntry] = {}
    for entry in entries:
        if entry.video_id in seen:
            first = seen[entry.video_id]
            raise ExtractionError(f"{entry.where}: video id {entry.video_id!r} ({entry.path}) is also "
                                  f"{first.path} ({first.where}); video ids (file names) must be unique")
        seen[entry.video_id] = entry


def _importer_errors(fn, *args, **kwargs):
    """The importers' list readers raise FeatureImportError; here they are extraction inputs."""
    try:
        return fn(*args, **kwargs)
    except FeatureImportError as error:
        raise ExtractionError(str(error)) from None
