"""`wsvad watch` on real video: a score per snippet as frames arrive, alarms, flat memory, frames/s.

The live path must compute the very features the offline path does (same recipe, PyAV decoding)
and, once its ring buffer holds the whole clip, the same score for the last snippet.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from wsvad.cli.main import main
from wsvad.train import load_checkpoint, model_from_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _live(checkpoint, window):
    from extraction import backbones
    from extraction.embed_video import plan_from_provenance
    from extraction.watch import LiveScorer

    payload = load_checkpoint(checkpoint)
    model = model_from_checkpoint(payload)
    decode, info = plan_from_provenance(payload["feature_set_provenance"], decoder="pyav")
    return model, decode, info, LiveScorer(model, decode, backbones.load(info), threshold=0.5, window=window)


def _drain(events):
    out = []
    while True:
        try:
            out.append(next(events))
        except StopIteration as done:
            return out, done.value


def test_watch_a_real_clip_with_flat_memory(trained, real_clip, tmp_path, capsys):
    root, _ = trained
    plot = tmp_path / "live.png"
    code = main(["watch", str(real_clip), "--model", str(root / "rtfm" / "checkpoint.pt"), "--window", "16",
                 "--plot", str(plot), "--threshold", "0.6"])
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    lines = [ln for ln in out.splitlines() if re.match(r"^(ALARM|clear|\s+)\s*t=", ln)]
    summary = re.search(r"watched (\d+) frames / (\d+) snippets in [\d.]+s: ([\d.]+) frames/s; (\d+) snippet\(s\) in "
                        r"alarm; RSS (\d+) MiB after snippet 1, (\d+) MiB at the end", out)
    assert summary, out[-2000:]
    frames, snippets, fps, alarms, rss_start, rss_end = (float(g) for g in summary.groups())
    assert snippets == frames // 16 == len(lines)
    if real_clip.name == "vtest.avi":
        assert frames == 795 and snippets == 49
    assert fps > 0
    # Bounded memory: nothing but one snippet of frames and 16 snippet features grows with the clip.
    assert rss_end <= rss_start * 1.10 + 30, (rss_start, rss_end)
    image = imread(plot)
    assert image.shape[1] > 600 and image[..., :3].std() > 0.05


def test_live_features_and_scores_match_the_offline_path(trained, tmp_path):
    from extraction.embed_video import VideoEmbedder

    root, toy = trained
    clip = sorted((Path(toy["manifest"]).parent / "videos").glob("*.mp4"))[0]
    model, decode, info, _ = _live(root / "rtfm" / "checkpoint.pt", window=1)
    offline = VideoEmbedder(decode, info)(clip).features                       # (crops, T, D)
    T = offline.shape[1]
    _, _, _, scorer = _live(root / "rtfm" / "checkpoint.pt", window=T)
    events, summary = _drain(scorer.run(str(clip), keep_features=True))
    assert summary.snippets == T == len(events)
    live = np.stack([e.features for e in events], axis=1)
    np.testing.assert_allclose(live, offline, atol=1e-5)
    with torch.no_grad():
        whole = model.score(torch.from_numpy(offline)).numpy()
    assert events[-1].score == pytest.approx(float(whole[-1]), abs=1e-5)
    assert [e.snippet for e in events] == list(range(T))
    assert events[-1].end_frame == T * 16


def test_watch_refuses_what_it_cannot_open(trained, tmp_path, capsys):
    root, _ = trained
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    assert main(["watch", str(bad), "--model", str(root / "rtfm" / "checkpoint.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot open" in err
