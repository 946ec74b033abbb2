"""Annotation files (wsvad/annotations.py), fuzzed: a file written from a known table parses back to
exactly that table whatever its layout (CRLF, BOM, blank lines, padding, quotes, extensions); one
corrupted line is an AnnotationError naming the file and that line; anything else is either a
valid table or a one-line AnnotationError, never another exception."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies import (
    assert_cli_one_line_error,
    assert_one_line,
    bad_negatives,
    fuzz,
    huge_integers,
    intervals,
    line_ends,
    not_integers,
    separators,
    video_ids,
)
from wsvad.annotations import FORMATS, VIDEO_EXTENSIONS, load_annotations
from wsvad.errors import AnnotationError

CLASSES = st.sampled_from(["Arson", "Abuse", "RoadAccidents", "Normal", "Shooting"])


@dataclass
class Line:
    tokens: list[str]      # fields as written (UCF/XD: whitespace-separated; CSV: cells)
    video_id: str
    pairs: list[tuple[int, int]]  # the real intervals this line contributes (no -1 -1 pairs)


@st.composite
def tables(draw, fmt: str) -> dict[str, list[tuple[int, int]]]:
    ids = draw(st.lists(video_ids, min_size=1, max_size=6, unique=True))
    if fmt == "ucf-crime":
        return {v: draw(intervals(max_events=2)) for v in ids}
    if fmt == "xd-violence":
        return {v: draw(intervals(max_events=4)) for v in ids}
    return {v: draw(intervals(max_events=3)) for v in ids}


@st.composite
def names(draw, video_id: str) -> str:
    """How a file names the video: bare, with a video extension, under a folder."""
    ext = draw(st.sampled_from(("",) + VIDEO_EXTENSIONS + (".MP4",)))
    folder = draw(st.sampled_from(["", "Arson/", "Testing_Normal_Videos_Anomaly/", "a\\b\\"]))
    return f"{folder}{video_id}{ext}"


@st.composite
def render_lines(draw, fmt: str, table: dict[str, list[tuple[int, int]]]) -> list[Line]:
    """Logical lines of a file in ``fmt`` holding ``table`` (CSV: the header first)."""
    lines: list[Line] = []
    if fmt == "csv":
        lines.append(Line(["video_id", "start_frame", "end_frame"], "", []))
        rows = []
        for video_id, pairs in table.items():
            name = draw(names(video_id))
            if not pairs or draw(st.booleans()):
                start, end = draw(st.sampled_from([("", ""), ("-1", "-1"), ("-1", ""), ("", "-1")]))
                rows.append(Line([name, start, end], video_id, []))
            rows.extend(Line([name, str(s), str(e)], video_id, [(s, e)]) for s, e in pairs)
        order = draw(st.permutations(range(len(rows))))
        return lines + [rows[i] for i in order]
    for video_id, pairs in table.items():
        slots = list(pairs)
        if fmt == "ucf-crime":
            slots += [None] * (2 - len(slots))
            slots = draw(st.permutations(slots))  # "-1 -1" may come first
            tokens = [draw(names(video_id)), draw(CLASSES)]
        else:
            slots += [None] * draw(st.integers(0 if slots else 1, 1))
            tokens = [draw(names(video_id))]
        for pair in slots:
            tokens += ["-1", "-1"] if pair is None else [str(pair[0]), str(pair[1])]
        lines.append(Line(tokens, video_id, [p for p in slots if p is not None]))
    return lines


def line_text(fmt: str, line: Line, seps: list[str], pad: str, quote: bool) -> str:
    """UCF/XD: tokens joined by ``seps``, with ``pad`` around the line; CSV: cells padded or quoted."""
    if fmt != "csv":
        return pad + "".join(sep + token for sep, token in zip([""] + seps, line.tokens)) + pad
    return ",".join(f'"{c}"' if quote and c else f"{pad}{c}{pad}" for c in line.tokens)


@st.composite
def files(draw, fmt: str, lines: list[Line], inject: dict[int, bytes] | None = None) -> tuple[bytes, list[int]]:
    """The bytes of a file of ``lines`` with BOM, blank lines and CRLF drawn; returns the bytes and
    the physical (1-based) line number of every logical line. ``inject`` puts raw bytes into lines."""
    end = draw(line_ends)
    bom = draw(st.booleans())
    out, numbers, physical = [], [], 1
    for i, line in enumerate(lines):
        for _ in range(draw(st.integers(0, 2))):  # blank and whitespace-only lines are skipped
            out.append(draw(st.sampled_from(["", " ", "\t", "  "])).encode() + end.encode())
            physical += 1
        seps = [draw(separators) for _ in line.tokens[1:]]
        pad = draw(st.sampled_from(["", " ", "\t"] if fmt != "csv" else ["", " "]))
        text = line_text(fmt, line, seps, pad, draw(st.booleans())).encode()
        if inject and i in inject:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + inject[i] + text[at:]
        out.append(text + end.encode())
        numbers.append(physical)
        physical += 1
    data = b"".join(out)
    if not draw(st.booleans()):
        data = data[: -len(end)]  # no newline at the end of the file
    return (b"\xef\xbb\xbf" if bom else b"") + data, numbers


def parse(data: bytes, fmt: str, name: str = "annotations.txt"):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            return load_annotations(path, fmt), str(path)
        except AnnotationError as error:
            return error, str(path)


def expected(lines: list[Line]) -> dict[str, list[tuple[int, int]]]:
    table: dict[str, list[tuple[int, int]]] = {}
    for line in lines:
        if line.video_id:
            table.setdefault(line.video_id, []).extend(line.pairs)
    return table


@pytest.mark.parametrize("fmt", FORMATS)
@fuzz(60)
@given(data=st.data())
def test_a_written_table_parses_back_exactly(fmt, data):
    table = data.draw(tables(fmt))
    lines = data.draw(render_lines(fmt, table))
    raw, _ = data.draw(files(fmt, lines))
    got, path = parse(raw, fmt)
    assert not isinstance(got, Exception), f"{got} <- {raw!r}"
    assert set(got) == set(table)
    for video_id, pairs in expected(lines).items():
        assert got[video_id].dtype == np.int64 and got[video_id].shape == (len(pairs), 2)
        np.testing.assert_array_equal(got[video_id], np.array(pairs, np.int64).reshape(-1, 2))


CORRUPTIONS = ("not-integer", "negative", "huge", "reversed", "extra-field", "one-sided", "not-utf8", "duplicate")


@st.composite
def corrupted(draw, fmt: str):
    """(file bytes, physical line of the one bad line, what the error must say)."""
    table = draw(tables(fmt))
    lines = draw(render_lines(fmt, table))
    first = 1 if fmt == "csv" else 0
    kind = draw(st.sampled_from([k for k in CORRUPTIONS if not (k == "duplicate" and fmt == "csv")]))
    with_events = [i for i in range(first, len(lines)) if lines[i].pairs]
    if kind in ("reversed", "one-sided") and not with_events:
        kind = "not-integer"
    i = draw(st.sampled_from(with_events if kind in ("reversed", "one-sided") else range(first, len(lines))))
    line = lines[i]
    frame_slots = list(range(1 if fmt != "ucf-crime" else 2, len(line.tokens)))
    inject, copy_of = None, None
    if kind in ("not-integer", "negative", "huge"):
        junk = not_integers.filter(lambda t: "," not in t) if fmt == "csv" else not_integers
        bad = draw({"not-integer": junk, "negative": bad_negatives, "huge": huge_integers}[kind])
        line.tokens[draw(st.sampled_from(frame_slots))] = bad
        say = {"not-integer": "is not an integer", "negative": "negative frame",
               "huge": "implausibly large"}[kind]
        if fmt == "csv" and line.tokens[1] in ("", "-1"):
            say = "means no event but end is"  # the start says "no event": the end is checked against it
    elif kind == "reversed":
        k = draw(st.integers(0, len(line.pairs) - 1))
        start, end = line.pairs[k]
        slot = _pair_slot(fmt, line, k)
        line.tokens[slot], line.tokens[slot + 1] = str(end + 1), str(start)
        say = f"end frame {start} is before start frame {end + 1}"
    elif kind == "one-sided":
        k = draw(st.integers(0, len(line.pairs) - 1))
        slot = _pair_slot(fmt, line, k) + draw(st.integers(0, 1))
        line.tokens[slot] = "-1"
        say = "-1 must be on both or neither"
        if fmt == "csv" and slot == 1:
            say = "means no event but end is"
    elif kind == "extra-field":
        line.tokens.append(str(draw(st.integers(0, 99))))
        say = {"ucf-crime": "expected 6 fields", "xd-violence": "odd number of frame numbers",
               "csv": "expected 3 fields"}[fmt]
    elif kind == "not-utf8":
        inject = {i: draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80abc"]))}
        say = "not UTF-8"
    else:  # duplicate: the same video on a later line
        j = draw(st.integers(i, len(lines) - 1))
        copy_of = j + 1
        lines.insert(copy_of, Line(list(line.tokens), line.video_id, line.pairs))
        say = f"duplicate video {line.video_id!r}"
        i = copy_of
    raw, numbers = draw(files(fmt, lines, inject))
    return raw, numbers[i], say


def _pair_slot(fmt: str, line: Line, k: int) -> int:
    """Token index of the start of the k-th real pair of ``line``."""
    if fmt == "csv":
        return 1
    first = 2 if fmt == "ucf-crime" else 1
    real = -1
    for slot in range(first, len(line.tokens), 2):
        if line.tokens[slot] != "-1" or line.tokens[slot + 1] != "-1":
            real += 1
            if real == k:
                return slot
    raise AssertionError("no such pair")


@pytest.mark.parametrize("fmt", FORMATS)
@fuzz(80)
@given(data=st.data())
def test_one_corrupted_line_is_a_one_line_error_naming_it(fmt, data):
    raw, lineno, say = data.draw(corrupted(fmt))
    got, path = parse(raw, fmt)
    assert isinstance(got, AnnotationError), f"parsed {got!r} from {raw!r}"
    assert_one_line(got, f"{path}, line {lineno}: ", say)


# Tokens that make up real files, plus the things that break parsers.
_TOKENS = st.sampled_from(["Arson011_x264.mp4", "Normal_Videos_003_x264.mp4", "Arson", "Normal", "-1", "0", "150",
                           "420", "7", "video_id", "start_frame", "end_frame", ",", '"', "x,y", "\ufeff", "\x00",
                           "\u2028", "\x85", "1.5", "-3", "9" * 4500, "../../x.mp4", "/", "\\", ".mp4", "é"])


@st.composite
def garbage(draw) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    rows = draw(st.lists(st.lists(_TOKENS, max_size=8), max_size=8))
    seps = draw(st.sampled_from([" ", ",", "\t", ", "]))
    if draw(st.booleans()):  # past the CSV header check, into the rows
        rows.insert(0, ["video_id", "start_frame", "end_frame"])
        seps = ","
    return draw(line_ends).join(seps.join(row) for row in rows).encode()


@pytest.mark.parametrize("fmt", FORMATS)
@fuzz(80)
@given(raw=garbage())
def test_anything_is_a_valid_table_or_a_one_line_error(fmt, raw):
    got, path = parse(raw, fmt)
    if isinstance(got, AnnotationError):
        assert assert_one_line(got).startswith(f"{path}")
        return
    for video_id, pairs in got.items():
        assert video_id and "/" not in video_id
        assert pairs.dtype == np.int64 and pairs.ndim == 2 and pairs.shape[1] == 2
        assert (pairs >= 0).all() and (pairs[:, 1] >= pairs[:, 0]).all()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("raw", [b"", b"\n\n", b"\xef\xbb\xbf", b" \t\r\n\r\n"])
def test_an_empty_file_is_refused(fmt, raw):
    got, path = parse(raw, fmt)
    assert isinstance(got, AnnotationError)
    assert_one_line(got, f"{path}, line 1: empty file")


@fuzz(15)
@given(data=st.data())
def test_the_cli_reports_a_bad_annotation_file_in_one_line_with_exit_2(data):
    raw, lineno, _ = data.draw(corrupted("ucf-crime"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "npy").mkdir()
        np.save(tmp / "npy" / "v1.npy", np.ones((3, 4), np.float32))
        (tmp / "labels.csv").write_text("video_id,label,class_name,split\nv1,1,Arson,test\n")
        (tmp / "gt.txt").write_bytes(raw)
        assert_cli_one_line_error(["import-features", "--format", "npy-dir", "--out", str(tmp / "out"),
                                   "--dataset", "x", "--npy-dir", str(tmp / "npy"), "--labels", str(tmp / "labels.csv"),
                                   "--annotations", str(tmp / "gt.txt"), "--annotation-format", "ucf-crime"],
                                  f"{tmp / 'gt.txt'}, line {lineno}: ")
        assert not (tmp / "out").exists()


AWKWARD_NAMES = st.sampled_from(["/", "\\", ".mp4", "dir/", "dir\\", "../../x.mp4", "/abs/x.avi", "a/..", "..",
                                 "x\x00y.mp4", "é.mp4", "\u2028.mp4", "Arson011_x264.MP4", ".", "a.b.c", "-1"])


@pytest.mark.parametrize("fmt", FORMATS)
@fuzz(40)
@given(data=st.data())
def test_awkward_names_give_their_file_name_as_id_or_a_one_line_error(fmt, data):
    """A name is reduced to its file name without a video extension; a name that leaves nothing
    (``dir/``, ``.mp4``) is an error on its line, never an empty video id."""
    from wsvad.annotations import video_id_from_name

    name = data.draw(AWKWARD_NAMES)
    line = {"ucf-crime": f"{name} Arson 5 9 -1 -1", "xd-violence": f"{name} 5 9",
            "csv": f"video_id,start_frame,end_frame\n{name},5,9"}[fmt]
    lineno = 2 if fmt == "csv" else 1
    got, path = parse(line.encode(), fmt)
    video_id = video_id_from_name(name)
    if isinstance(got, AnnotationError):
        assert not video_id or "\u2028" in name, got  # only an empty id (or a split line) is refused
        assert_one_line(got, f"{path}, line {lineno}: ")
    else:
        assert list(got) == [video_id] and video_id
        np.testing.assert_array_equal(got[video_id], [[5, 9]])
