"""Manifests and split lists of `wsvad extract` (extraction/plan.py), fuzzed: a manifest written from
known rows plans exactly those videos; one bad row is an ExtractionError naming the file and line;
ids that try to climb out (``../../x``, absolute paths, NUL, newlines, non-UTF-8 names) either
give a plain id whose part file lies inside ``--out`` or a one-line error — never a traceback."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from extraction.errors import ExtractionError
from extraction.parts import part_path
from extraction.plan import plan_videos
from strategies import assert_cli_one_line_error, assert_one_line, fuzz, line_ends, video_ids
from wsvad.annotations import VIDEO_EXTENSIONS
from wsvad.features.schema import SOURCES, SPLITS

HEADER = ["path", "label", "class_name", "split", "source"]


@st.composite
def manifest_rows(draw) -> list[dict[str, str]]:
    ids = draw(st.lists(video_ids, min_size=1, max_size=6, unique=True))
    rows = []
    for video_id in ids:
        folder = draw(st.sampled_from(["", "clips/", "a/b/", "../elsewhere/", "./"]))
        ext = draw(st.sampled_from(VIDEO_EXTENSIONS))
        rows.append({"path": f"{folder}{video_id}{ext}", "label": draw(st.sampled_from("01")),
                     "class_name": draw(st.sampled_from(["Normal", "Arson", "Fighting", "B1"])),
                     "split": draw(st.sampled_from(SPLITS)), "source": draw(st.sampled_from(SOURCES + ("",))),
                     "video_id": video_id})
    return rows


@st.composite
def manifest_text(draw, rows: list[dict[str, str]], inject: dict[int, str] | None = None):
    """(text, physical line of each row, columns): a header in any column order, blank lines, CRLF,
    BOM. ``inject`` replaces the path cell of row i with raw text (not quoted)."""
    columns = draw(st.permutations(HEADER if draw(st.booleans()) else HEADER[:4]))
    end = draw(line_ends)
    lines, numbers = [",".join(columns)], []
    for i, row in enumerate(rows):
        lines += [""] * draw(st.integers(0, 1))
        cells = [f'"{row[c]}"' if "," in row[c] else row[c] for c in columns]
        if inject and i in inject:
            cells[columns.index("path")] = inject[i]
        lines.append(",".join(cells))
        numbers.append(len(lines))
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    return ("\ufeff" if draw(st.booleans()) else "") + text, numbers, columns


def plan_manifest(raw: bytes, tmp: Path):
    path = tmp / "lists" / "manifest.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    try:
        return plan_videos(manifest=path), path
    except ExtractionError as error:
        return error, path


def assert_safe_ids(entries, out: Path) -> None:
    """Every id is a plain, non-empty UTF-8 name, and its part file lies directly in ``out``."""
    for entry in entries:
        assert entry.video_id and entry.video_id not in (".", "..")
        assert not {"/", "\x00"} & set(entry.video_id), entry.video_id
        entry.video_id.encode("utf-8")  # Parquet stores ids as UTF-8 text
        part = part_path(out, entry.key)
        assert part.parent == out and os.path.realpath(part).startswith(str(out) + os.sep)


@fuzz(50)
@given(data=st.data())
def test_a_written_manifest_plans_exactly_its_rows(data):
    rows = data.draw(manifest_rows())
    text, _, columns = data.draw(manifest_text(rows))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp).resolve()
        got, path = plan_manifest(text.encode(), tmp)
        assert not isinstance(got, Exception), f"{got} <- {text!r}"
        assert [e.video_id for e in got] == [r["video_id"] for r in rows]
        for entry, row in zip(got, rows):
            assert entry.path == str((path.parent / row["path"]).resolve())
            assert (entry.label, entry.class_name, entry.split) == (int(row["label"]), row["class_name"], row["split"])
            assert entry.source == ((row["source"] or "real") if "source" in columns else "real")
        assert_safe_ids(got, tmp / "out")


BAD_CELLS = {
    "label": (st.sampled_from(["2", "-1", "1.0", "yes", "", " 1x", "01"]), "is not 0 (normal) or 1"),
    "split": (st.sampled_from(["dev", "Train", "", "training", "test "]), "is not one of train, val, test"),
    "source": (st.sampled_from(["fake", "REAL", "gen"]), "is not one of real, synthetic"),
    "class_name": (st.just(""), "empty class_name"),
    "path": (st.just(""), "empty path"),
}


@fuzz(60)
@given(data=st.data())
def test_one_bad_row_is_a_one_line_error_naming_its_line(data):
    rows = data.draw(manifest_rows())
    i = data.draw(st.integers(0, len(rows) - 1))
    kind = data.draw(st.sampled_from(sorted(BAD_CELLS) + ["duplicate", "fields", "not-utf8"]))
    inject = None
    if kind in BAD_CELLS:
        bad, say = BAD_CELLS[kind]
        rows[i][kind] = data.draw(bad)
        if kind == "split" and rows[i]["split"] == "test ":
            rows[i]["split"] = "test?"  # cells are stripped: "test " is the valid "test"
        if kind == "source":
            rows[i]["source"] = rows[i]["source"] or "x"
    elif kind == "duplicate":  # another file of the same name in another folder
        copy = dict(rows[i], path=f"other/{Path(rows[i]['path']).name}")
        rows.insert(data.draw(st.integers(i + 1, len(rows))), copy)
        say = f"video id {rows[i]['video_id']!r}"
        i = rows.index(copy)
    elif kind == "fields":
        inject = {i: rows[i]["path"] + ",extra"}
        say = "fields"
    else:
        inject = {i: rows[i]["path"] + "\udcff"}
        say = "not UTF-8 (byte 0xff)"
    text, numbers, columns = data.draw(manifest_text(rows, inject))
    if kind == "source" and "source" not in columns:
        return  # this draw has no source column: nothing is wrong
    raw = text.encode("utf-8", "surrogateescape")
    with tempfile.TemporaryDirectory() as tmp:
        got, path = plan_manifest(raw, Path(tmp))
        assert isinstance(got, ExtractionError), f"planned {got} from {raw!r}"
        assert_one_line(got, f"{path}, line {numbers[i]}", say)


# Paths that try to make an id that is not a plain file name.
HOSTILE_PATHS = st.sampled_from([
    "../../x.mp4", "/etc/x.mp4", "~/x.mp4", "~nosuchuser12345/x.mp4", "clips/..", "..", ".", "/", ".mp4",
    "dir/.avi", "a\\b.mp4", "a\\", "x\x00y.mp4", "x\ry.mp4", "\u2028.mp4", "%2e%2e%2fx.mp4", "é/ü.mkv",
    "C:\\videos\\x.mp4", "clips/../../../x.mp4", " ", "x.mp4 ", "\\\\server\\share\\y.avi", "x\x1b[2J.mp4",
    "x\ty.mp4", "x\x85y.mp4",
])


@fuzz(60)
@given(data=st.data())
def test_hostile_manifest_paths_give_plain_ids_or_a_one_line_error(data):
    rows = data.draw(manifest_rows())
    i = data.draw(st.integers(0, len(rows) - 1))
    text, _, _ = data.draw(manifest_text(rows, {i: data.draw(HOSTILE_PATHS)}))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp).resolve()
        got, path = plan_manifest(text.encode(), tmp)
        event(type(got).__name__)
        if isinstance(got, ExtractionError):
            assert_one_line(got, str(path))
        else:
            assert_safe_ids(got, tmp / "out")


@st.composite
def garbage_manifests(draw) -> bytes:
    cells = st.sampled_from(["a.mp4", "0", "1", "train", "test", "Arson", "real", "", '"', '""', "x,y", "\x00",
                             "../../x.mp4", "path", "label", "class_name", "split", "source", "é", "\\"])
    rows = draw(st.lists(st.lists(cells, max_size=6), max_size=6))
    if draw(st.booleans()):
        rows.insert(0, draw(st.permutations(HEADER[:4])))
    text = "\n".join(",".join(r) for r in rows).encode()
    return text if draw(st.booleans()) else draw(st.binary(max_size=200))


@fuzz(60)
@given(raw=garbage_manifests())
def test_any_manifest_is_a_plan_or_a_one_line_error(raw):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp).resolve()
        got, path = plan_manifest(raw, tmp)
        event(type(got).__name__)
        if isinstance(got, ExtractionError):
            assert_one_line(got, str(path))
        else:
            assert_safe_ids(got, tmp / "out")
            assert all(e.split in SPLITS and e.label in (0, 1) and e.class_name for e in got)


# --- a folder of videos and the official split lists -----------------------------------------

GOOD_FILES = [b"Arson011_x264.mp4", b"Normal_Videos_003_x264.mp4", b"sub/RoadAccidents002_x264.avi",
              b"Abuse001_x264.mkv", b"Burglary 005.mp4", b"notes.txt", b".hidden.mp4",
              b"Explosion%2e%2e.webm"]
BAD_FILES = [b"Fighting\xff01.mp4", b"sub\xfe/Shooting01.mp4", b"Shooting\xc3(.mp4", b"Stealing\n007.mp4",
             b"Robbery\r\n/Robbery009.mp4", b"Assault\x1b[2J.avi"]
GOOD_LINES = ["Arson011_x264.mp4", "sub/RoadAccidents002_x264.avi", "Arrest001_x264.mp4", "Abuse/Abuse001_x264.mkv",
              "Normal_Videos_003_x264.mp4", "C:\\ucf\\Assault001_x264.mp4", "Shoplifting001_x264.mp4 ",
              "a/../Robbery003_x264.mp4"]
BAD_LINES = ["../../Robbery001_x264.mp4", "/etc/Robbery002_x264.mp4", "dir/", "..", "Vandalism\x00001.mp4",
             "x/../../Robbery004_x264.mp4"]


@st.composite
def mostly_good(draw, good: list, bad: list, max_size: int, unique: bool = False) -> list:
    """A list of ``good`` items with, one time in three, one ``bad`` item among them."""
    items = draw(st.lists(st.sampled_from(good), max_size=max_size, unique=unique))
    if draw(st.integers(0, 2)) == 0:
        items.insert(draw(st.integers(0, len(items))), draw(st.sampled_from(bad)))
    return items


@st.composite
def split_lists(draw) -> tuple[list[str] | None, list[str] | None, bool]:
    """(train lines, test lines, whether a line is bad): unique lines cut in two, sometimes with a
    hostile line or a video listed twice."""
    lines = draw(mostly_good(GOOD_LINES, BAD_LINES, 5, unique=True))
    bad = bool(set(lines) & set(BAD_LINES))
    if lines and draw(st.integers(0, 5)) == 0:
        lines.append(draw(st.sampled_from(lines)))
        bad = True
    cut = draw(st.integers(0, len(lines)))
    return lines[:cut] or None, lines[cut:] or None, bad


@fuzz(60)
@given(names=mostly_good(GOOD_FILES, BAD_FILES, 5, unique=True), lists=split_lists(),
       split=st.sampled_from([None, "val", "val", "val"]), corrupt=st.sampled_from([None] * 5 + [b"\xff", b"\xc0\xaf"]))
def test_folders_and_split_lists_plan_inside_the_folder_or_fail_in_one_line(names, lists, split, corrupt):
    train, test, bad_line = lists
    bad = bad_line or set(names) & set(BAD_FILES)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp).resolve()
        videos = tmp / "videos"
        videos.mkdir()
        for name in names:
            path = os.path.join(os.fsencode(videos), name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(b"x")
        lists = {}
        for label, lines in (("train", train), ("test", test)):
            if lines is not None:
                lists[label] = tmp / f"{label}.txt"
                lists[label].write_bytes("\n".join(lines).encode() + (corrupt or b""))
        try:
            entries = plan_videos(videos=videos, split=split, train_list=lists.get("train"),
                                  test_list=lists.get("test"))
        except ExtractionError as error:
            event("refused")
            assert_one_line(error)
            return
        event("planned")
        assert not bad and not (corrupt and lists), "a bad name or list was planned"
        assert_safe_ids(entries, tmp / "out")
        for entry in entries:  # found under the folder, or listed and missing: a reject there
            assert entry.path.startswith(str(videos) + os.sep), entry.path
            assert entry.split in SPLITS and entry.label in (0, 1)


@pytest.mark.parametrize("text, say", [
    ("path,label,class_name,split\n../../x.mp4,1,Arson,train\n../y/x.avi,0,Normal,test\n", "line 3: video id 'x'"),
    ("path,label,class_name,split\nx\x00.mp4,1,Arson,train\n", "line 2: "),
    ("path,label,class_name,split\n~nosuchuser12345/x.mp4,1,Arson,train\n", "line 2: "),
    ("path,label,class_name,split\nclips/..,1,Arson,train\n", "line 2: "),
    ("path,label,class_name\nx.mp4,1,Arson\n", "line 1: expected header"),
])
def test_the_cli_reports_a_bad_manifest_in_one_line_with_exit_2(tmp_path, monkeypatch, text, say):
    import extraction.extract

    def no_ray(*args, **kwargs):
        raise AssertionError("a bad manifest reached the Ray pipeline")

    monkeypatch.setattr(extraction.extract, "_run", no_ray)
    (tmp_path / "m.csv").write_text(text)
    assert_cli_one_line_error(["extract", "--manifest", str(tmp_path / "m.csv"), "--dataset", "x",
                               "--backbone", "effnet-lite0", "--out", str(tmp_path / "out")],
                              f"{tmp_path / 'm.csv'}, {say}")
    assert not (tmp_path / "out").exists()
