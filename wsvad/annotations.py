"""Parsers for the official temporal annotation formats of WSVAD test sets.

Every parser returns ``dict[str, np.ndarray]``: video_id -> int64 array ``(K, 2)`` of
``[start_frame, end_frame]`` exactly as written in the file. No end convention is applied here
(inclusive or exclusive is the evaluation protocol's choice, :mod:`wsvad.protocol`). "No event"
pairs (``-1 -1``) are dropped, so a normal video maps to an empty ``(0, 2)`` array.

A video_id is the file name without directory and without a *video* extension
(``Arson011_x264.mp4`` -> ``Arson011_x264``). Only known video extensions are stripped, because
XD-Violence names contain dots (``A.Beautiful.Mind.2001__#00-01-45_00-02-50_label_A``).

Formats
-------
``ucf-crime``
    ``Temporal_Anomaly_Annotation_for_Testing_Videos.txt``: whitespace-separated lines
    ``Arson011_x264.mp4  Arson  150  420  680  1267`` -- name, class, then two start/end pairs,
    ``-1`` meaning "no event" (normal videos: ``-1  -1  -1  -1``).
``xd-violence``
    ``annotations.txt``: ``name s1 e1 [s2 e2 ...]`` -- any even number (>= 2) of frame numbers.
``csv``
    Header ``video_id,start_frame,end_frame``, one row per interval, several rows per video
    allowed; a row with an empty start or start ``-1`` means "video present, no events".

Every malformed input raises :class:`wsvad.errors.AnnotationError` with one line of the form
``<file>, line <n>: <what is wrong>`` -- never another exception type.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np

from wsvad.errors import AnnotationError

FORMATS = ("ucf-crime", "xd-violence", "csv")
VIDEO_EXTENSIONS = (
    ".mp4", ".avi", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv"
)
CSV_HEADER = ["video_id", "start_frame", "end_frame"]
NO_EVENT = -1
MAX_FRAME = 2**62  # far beyond any video; keeps int64 arrays from overflowing
_MAX_DIGITS = len(str(MAX_FRAME))
_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: int() would also take "1_0", "+3", "٣"

Lines = list[tuple[int, str]]  # (1-based line number, text), blank lines removed


def video_id_from_name(name: str) -> str:
    """``dir/Arson011_x264.mp4`` -> ``Arson011_x264``; names without a video extension are kept."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base.lower().endswith(VIDEO_EXTENSIONS):
        base = base.rsplit(".", 1)[0]
    return base


def load_annotations(path: str | Path, fmt: str) -> dict[str, np.ndarray]:
    """Parse ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    from wsvad.annotations_oneclass import FORMATS as ONE_CLASS_FORMATS, load_oneclass_annotations

    if fmt in ONE_CLASS_FORMATS:  # ShanghaiTech Campus, UCSD Ped, Avenue: frame masks → intervals
        return load_oneclass_annotations(path, fmt)
    parsers: dict[str, Callable[[str | Path], dict[str, np.ndarray]]] = {
        "ucf-crime": parse_ucf_crime,
        "xd-violence": parse_xd_violence,
        "csv": parse_csv,
    }
    if fmt not in parsers:
        raise AnnotationError(
            f"{path}: unknown annotation format {fmt!r}, expected one of {FORMATS + ONE_CLASS_FORMATS}"
        )
    return parsers[fmt](path)


def parse_ucf_crime(path: str | Path) -> dict[str, np.ndarray]:
    """UCF-Crime test annotations: ``name class s1 e1 s2 e2`` per line."""
    annotations: dict[str, np.ndarray] = {}
    first_line: dict[str, int] = {}
    for lineno, line in _read_lines(path):
        fields = line.split()
        if len(fields) != 6:
            _fail(path, lineno, f"expected 6 fields (name class s1 e1 s2 e2), got {len(fields)}")
        video_id = _new_video_id(path, lineno, fields[0], first_line)
        frames = _parse_frames(path, lineno, fields[2:])
        annotations[video_id] = _intervals(path, lineno, frames)
    return annotations


def parse_xd_violence(path: str | Path) -> dict[str, np.ndarray]:
    """XD-Violence test annotations: ``name s1 e1 [s2 e2 ...]`` per line."""
    annotations: dict[str, np.ndarray] = {}
    first_line: dict[str, int] = {}
    for lineno, line in _read_lines(path):
        fields = line.split()
        if len(fields) < 3:
            _fail(
                path,
                lineno,
                f"expected a name and at least one start/end pair, got {len(fields)} field(s)",
            )
        if (len(fields) - 1) % 2 != 0:
            count = len(fields) - 1
            _fail(path, lineno, f"odd number of frame numbers ({count}), expected start/end pairs")
        video_id = _new_video_id(path, lineno, fields[0], first_line)
        frames = _parse_frames(path, lineno, fields[1:])
        annotations[video_id] = _intervals(path, lineno, frames)
    return annotations


def parse_csv(path: str | Path) -> dict[str, np.ndarray]:
    """CSV annotations: header ``video_id,start_frame,end_frame``, one row per interval."""
    lines = _read_lines(path)
    header_lineno, header_line = lines[0]
    header = [cell.strip() for cell in _csv_cells(path, header_lineno, header_line)]
    if header != CSV_HEADER:
        expected = ",".join(CSV_HEADER)
        _fail(path, header_lineno, f"expected header {expected!r}, got {header_line.strip()!r}")

    pairs_by_video: dict[str, list[tuple[int, int]]] = {}
    for lineno, line in lines[1:]:
        cells = [cell.strip() for cell in _csv_cells(path, lineno, line)]
        if len(cells) != 3:
            fields = ",".join(CSV_HEADER)
            _fail(path, lineno, f"expected 3 fields ({fields}), got {len(cells)}")
        name, start, end = cells
        video_id = video_id_from_name(name)
        if not video_id:
            # Also for names like "dir/" or ".mp4", which leave nothing once the folder and the
            # extension are taken off (found by fuzzing: they became the video id "").
            _fail(path, lineno, f"empty video_id (from {name!r})" if name else "empty video_id")
        pairs = pairs_by_video.setdefault(video_id, [])
        if start in ("", str(NO_EVENT)):
            # Video present, no events: the end must say so too.
            if end not in ("", str(NO_EVENT)):
                _fail(path, lineno, f"start {start!r} means no event but end is {end!r}")
            continue
        frames = _parse_frames(path, lineno, [start, end])
        _check_pair(path, lineno, frames[0], frames[1])
        pairs.append((frames[0], frames[1]))
    return {video_id: _as_array(pairs) for video_id, pairs in pairs_by_video.items()}


def _fail(path: str | Path, lineno: int, what: str) -> NoReturn:
    raise AnnotationError(f"{path}, line {lineno}: {what}")


def _read_lines(path: str | Path) -> Lines:
    """Non-blank lines with their 1-based numbers; missing, non-UTF-8 or empty files raise."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or error
        raise AnnotationError(f"{path}: cannot read annotation file ({reason})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad_byte = error.start
    else:
        bad_byte = -1
    if bad_byte >= 0:
        # Outside the except block, so the error carries no chained UnicodeDecodeError.
        lineno = data[:bad_byte].count(b"\n") + 1
        _fail(path, lineno, f"not UTF-8 (byte 0x{data[bad_byte]:02x})")
    # A byte-order mark (spreadsheet exports) is not part of the first name.
    text = text.removeprefix("\ufeff")
    # split("\n") rather than splitlines(): line numbers must match what an editor shows.
    lines = [(number, line.rstrip("\r")) for number, line in enumerate(text.split("\n"), start=1)]
    lines = [(number, line) for number, line in lines if line.strip()]
    if not lines:
        _fail(path, 1, "empty file, no annotation lines")
    return lines


def _csv_cells(path: str | Path, lineno: int, line: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except csv.Error as error:
        _fail(path, lineno, f"malformed CSV ({error})")


def _new_video_id(path: str | Path, lineno: int, name: str, first_line: dict[str, int]) -> str:
    """The video_id of ``name``; a second line for the same video is an error."""
    video_id = video_id_from_name(name)
    if not video_id:
        _fail(path, lineno, f"empty video name {name!r}")
    if video_id in first_line:
        _fail(path, lineno, f"duplicate video {video_id!r} (first on line {first_line[video_id]})")
    first_line[video_id] = lineno
    return video_id


def _parse_frames(path: str | Path, lineno: int, tokens: list[str]) -> list[int]:
    """Frame numbers: integers >= 0, or -1 for "no event"."""
    frames = []
    for token in tokens:
        if not _INTEGER.fullmatch(token):
            _fail(path, lineno, f"frame number {token!r} is not an integer")
        if len(token.lstrip("-")) > _MAX_DIGITS:
            # Checked before int(): Python refuses to convert strings of more than 4300 digits
            # (ValueError, found by fuzzing), and the number is too large to quote in full.
            _fail(path, lineno, f"frame number {token[:20]}... ({len(token)} digits) is implausibly large")
        frame = int(token)
        if frame < 0 and frame != NO_EVENT:
            _fail(path, lineno, f"negative frame {frame} (only -1, meaning no event, is allowed)")
        if frame > MAX_FRAME:
            _fail(path, lineno, f"frame number {frame} is implausibly large")
        frames.append(frame)
    return frames


def _check_pair(path: str | Path, lineno: int, start: int, end: int) -> None:
    if start == NO_EVENT or end == NO_EVENT:
        _fail(path, lineno, f"start {start} with end {end}: -1 must be on both or neither")
    if end < start:
        _fail(path, lineno, f"end frame {end} is before start frame {start}")


def _intervals(path: str | Path, lineno: int, frames: list[int]) -> np.ndarray:
    """Pairs of ``frames`` as ``(K, 2)``, validated, with ``-1 -1`` (no event) pairs dropped."""
    pairs = []
    for start, end in zip(frames[0::2], frames[1::2]):
        if start == NO_EVENT and end == NO_EVENT:
            continue
        _check_pair(path, lineno, start, end)
        pairs.append((start, end))
    return _as_array(pairs)


def _as_array(pairs: list[tuple[int, int]]) -> np.ndarray:
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)
