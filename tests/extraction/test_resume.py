"""--out bookkeeping: config identity, done videos, temp files, rejects log, progress lines."""

import io
import json

import numpy as np
import pytest

from extraction.errors import ExtractionError
from extraction.parts import part_path, write_video_part
from extraction.plan import VideoEntry
from extraction.progress import Progress
from extraction.rejects import REJECTS, RejectLog, read_rejects
from extraction.resume import IDENTITY, check_done, check_out, done_keys, init_out

IDENTITY_A = {"dataset": "toy", "backbone": "effnet-lite0", "crops": 1, "frames_per_snippet": 16, "decoder": "decord"}


def test_same_config_resumes_another_is_refused_with_the_differences(tmp_path):
    out = tmp_path / "set"
    check_out(out, IDENTITY_A)                    # new: fine, nothing written yet
    assert not out.exists()
    out.mkdir()
    init_out(out, IDENTITY_A)
    assert json.loads((out / IDENTITY).read_text())["crops"] == 1
    check_out(out, IDENTITY_A)
    changed = {**IDENTITY_A, "crops": 10, "backbone": "clip:ViT-B-16:openai"}
    check_out(out, changed)                       # no part yet: a failed first run may change its mind
    write_video_part(out, VideoEntry("/v/a.mp4", "a", "train", 1, "Arson"), np.zeros((1, 2, 3), np.float32), 32, 30.0)
    with pytest.raises(ExtractionError, match=r"another config \(backbone: 'effnet-lite0' -> 'clip:ViT-B-16:openai'; "
                                              r"crops: 1 -> 10\); use a new --out"):
        check_out(out, changed)
    init_out(out, IDENTITY_A)
    assert json.loads((out / IDENTITY).read_text())["backbone"] == "effnet-lite0"


def test_foreign_or_file_outputs_are_refused(tmp_path):
    (tmp_path / "imported").mkdir()
    (tmp_path / "imported" / "manifest.json").write_text("{}")
    with pytest.raises(ExtractionError, match=r"not empty and holds no extraction.json"):
        check_out(tmp_path / "imported", IDENTITY_A)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExtractionError, match=r"exists and is not a directory"):
        check_out(tmp_path / "file", IDENTITY_A)


def test_done_videos_are_the_parts_on_disk_and_must_agree_with_the_plan(tmp_path):
    init_out(tmp_path, IDENTITY_A)
    a = VideoEntry("/v/a.mp4", "a", "train", 1, "Arson", "real", "m.csv, line 2")
    b = VideoEntry("/v/b.mp4", "b", "test", 0, "Normal", "real", "m.csv, line 3")
    write_video_part(tmp_path, a, np.zeros((1, 3, 4), np.float32), 48, 30.0)
    (tmp_path / ".tmp-part-x.parquet.abc").write_bytes(b"half")      # what a killed write leaves
    init_out(tmp_path, IDENTITY_A)
    assert not list(tmp_path.glob(".tmp-*"))
    assert done_keys(tmp_path) == {a.key}
    assert check_done(tmp_path, [a, b]) == [a]
    relabelled = VideoEntry(a.path, "a", "test", 1, "Arson", "real", "m2.csv, line 9")
    with pytest.raises(ExtractionError, match=r"m2.csv, line 9: video 'a' was extracted into part-.* with split "
                                              r"'train' \(now 'test'\)"):
        check_done(tmp_path, [relabelled])
    assert part_path(tmp_path, a.key).name == f"part-{a.key}.parquet"


def test_reject_log_keeps_partial_rows_of_videos_in_the_set_and_drops_the_rest(tmp_path):
    log = RejectLog(tmp_path)
    assert read_rejects(tmp_path) == []                               # always written, even empty
    log.add("/v/tree.avi", "tree", "decoded 68 of the 444 frames", True, 68, 444)
    log.add("/v/cut.avi", "cut", "decoded 300 of the 795 frames", True, 300, 795)
    log.add("/v/zero.mp4", "zero", "zero-byte file", False, 0, -1)
    assert [r["video_id"] for r in read_rejects(tmp_path)] == ["tree", "cut", "zero"]
    assert [r["video_id"] for r in log.rejected] == ["zero"] and [r["video_id"] for r in log.partial] == ["tree", "cut"]
    tree = VideoEntry("/v/tree.avi", "tree", "test", 1, "Wind")
    write_video_part(tmp_path, tree, np.zeros((1, 4, 2), np.float32), 68, 15.0)
    again = RejectLog(tmp_path)              # a re-run: tree is in the set; cut (killed before its part) and zero retry
    assert [r["video_id"] for r in again.rows] == ["tree"] and (tmp_path / REJECTS).exists()


def test_progress_reports_rates_and_eta():
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(total=10, every=5.0, stream=stream, clock=lambda: now[0])
    now[0] = 2.0
    progress.update(snippets=20)
    assert stream.getvalue() == ""                                     # not yet: every 5 s
    now[0] = 6.0
    progress.update(snippets=40, rejected=True)
    line = stream.getvalue().strip()
    assert line == ("[extract] 2/10 videos (1 rejected) | 0.33 videos/s | 10.0 snippets/s | elapsed 6s | ETA 24s")
    assert progress.first == (2.0, 20)                                 # start-up latency: the first video
