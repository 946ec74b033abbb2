"""`wsvad calibrate`: the stored threshold is exactly the chosen rule on the normal frames' scores."""

import numpy as np
import pytest

from wsvad.cli.main import main
from wsvad.features import load_feature_set
from wsvad.train import load_checkpoint, model_from_checkpoint
from wsvad.train.scoring import score_videos


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("calibrate")
    assert main(["toy-features", "--out", str(root / "f"), "--videos", "24", "--dim", "8", "--snippets", "8"]) == 0
    assert main(["train", "--features", str(root / "f"), "--method", "mil", "--max-steps", "30",
                 "--set", "batch_size=4", "--out", str(root / "m")]) == 0
    return root


def _normal_frame_scores(root, split):
    fs = load_feature_set(root / "f")
    model = model_from_checkpoint(load_checkpoint(root / "m" / "checkpoint.pt"))
    return np.repeat(np.concatenate(score_videos(model, fs, fs.select(split, label=0))), 16)


def test_percentile_threshold_is_the_quantile_of_normal_frames(trained, capsys):
    out = trained / "cal.pt"
    assert main(["calibrate", "--model", str(trained / "m" / "checkpoint.pt"), "--features", str(trained / "f"),
                 "--split", "train", "--method", "percentile", "--far", "0.05", "--out", str(out)]) == 0
    extra = load_checkpoint(out)["extra"]
    scores = _normal_frame_scores(trained, "train")
    assert extra["threshold"] == pytest.approx(float(np.quantile(scores, 0.95)), rel=1e-6)
    assert extra["threshold_far_observed"] == pytest.approx(float(np.mean(scores >= extra["threshold"])))
    assert extra["threshold_method"] == "percentile" and extra["threshold_far"] == 0.05
    assert 0 <= extra["threshold_far_test_normal"] <= 1
    assert "false-alarm rate" in capsys.readouterr().out
    # the calibrated checkpoint still scores exactly as before
    a = model_from_checkpoint(load_checkpoint(out))
    b = model_from_checkpoint(load_checkpoint(trained / "m" / "checkpoint.pt"))
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert np.array_equal(va.numpy(), vb.numpy()), k


def test_fixed_threshold_reports_its_false_alarm_rate(trained):
    out = trained / "fixed.pt"
    assert main(["calibrate", "--model", str(trained / "m" / "checkpoint.pt"), "--features", str(trained / "f"),
                 "--split", "train", "--method", "fixed", "--threshold", "0.5", "--out", str(out)]) == 0
    extra = load_checkpoint(out)["extra"]
    scores = _normal_frame_scores(trained, "train")
    assert extra["threshold"] == 0.5 and extra["threshold_far"] == pytest.approx(float(np.mean(scores >= 0.5)))


def test_another_feature_set_or_an_empty_split_is_refused(trained, tmp_path, capsys):
    assert main(["toy-features", "--out", str(tmp_path / "other"), "--videos", "12", "--dim", "8", "--snippets", "8",
                 "--seed", "5"]) == 0
    capsys.readouterr()
    assert main(["calibrate", "--model", str(trained / "m" / "checkpoint.pt"), "--features", str(tmp_path / "other"),
                 "--split", "train", "--out", str(tmp_path / "x.pt")]) == 2
    assert "trained on feature set" in capsys.readouterr().err
    assert main(["calibrate", "--model", str(trained / "m" / "checkpoint.pt"), "--features", str(trained / "f"),
                 "--split", "val", "--out", str(tmp_path / "x.pt")]) == 2
    assert "no normal videos in split 'val'" in capsys.readouterr().err
