"""The `wsvad` CLI end to end on toy data; bad input exits 2 with one line, never a traceback."""

import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from wsvad.cli.main import main


def run_cli(*args):
    return main([str(a) for a in args])


def test_toy_train_writes_the_promised_files(tmp_path, capsys):
    feats = tmp_path / "toy"
    assert run_cli("toy-features", "--out", feats, "--videos", 32, "--dim", 16, "--snippets", 12) == 0
    out = tmp_path / "run"
    assert run_cli("train", "--features", feats, "--method", "mil", "--max-steps", 20, "--set", "batch_size=4",
                   "--set", "dropout=0.5", "--out", out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("auc", "auc_abnormal", "ap", "pr_auc_trapz", "far", "video_auc", "video_f1", "selected_on"):
        assert key in metrics
    frames = pq.read_table(out / "frame_scores.parquet")
    assert frames.column_names == ["video_id", "frame", "score", "label"]
    assert frames.num_rows == metrics["n_frames"]
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert payload["config"]["dropout"] == 0.5 and payload["feature_set_hash"] == metrics["feature_set_hash"]
    assert "auc" in capsys.readouterr().out


def test_score_and_convert(tmp_path, small_toy):
    from wsvad.methods import create

    model = create("rtfm", small_toy.dim)
    official = tmp_path / "official.pth"
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, official)  # DataParallel-style keys
    ckpt = tmp_path / "ours.pt"
    assert run_cli("convert", "--method", "rtfm", "--official", official, "--feature-dim", small_toy.dim, "--out", ckpt) == 0
    video = small_toy.video(0)                       # (C, T, D)
    np.save(tmp_path / "v.npy", video.transpose(1, 0, 2))  # official (T, crops, D) layout
    assert run_cli("score", "--features", tmp_path / "v.npy", "--model", ckpt, "--out", tmp_path / "s") == 0
    snippets = np.loadtxt(tmp_path / "s" / "snippet_scores.csv", delimiter=",", skiprows=1)
    frames = np.loadtxt(tmp_path / "s" / "frame_scores.csv", delimiter=",", skiprows=1)
    assert snippets.shape == (video.shape[1], 2) and frames.shape == (16 * video.shape[1], 2)
    model.eval()
    with torch.no_grad():
        expected = model.score(torch.from_numpy(video).float()).numpy()
    np.testing.assert_allclose(snippets[:, 1], expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("args, message", [
    (["train", "--features", "{tmp}/missing", "--method", "mil", "--out", "{tmp}/o"], "not a directory"),
    (["train", "--features", "{toy}", "--method", "nope", "--out", "{tmp}/o"], "unknown method 'nope'"),
    (["train", "--features", "{toy}", "--method", "mil", "--set", "lr=fast", "--out", "{tmp}/o"], "mil.lr must be float"),
    (["train", "--features", "{toy}", "--method", "mil", "--set", "colour=red", "--out", "{tmp}/o"], "unknown option 'colour'"),
    (["score", "--features", "{tmp}/bad.npy", "--model", "{tmp}/bad.npy", "--out", "{tmp}/o"], "not a loadable wsvad checkpoint"),
    (["convert", "--method", "rtfm", "--official", "{tmp}/bad.npy", "--out", "{tmp}/o.pt"], "weights_only"),
    (["import-features", "--format", "rtfm", "--out", "{tmp}/imp", "--dataset", "x", "--train-list", "{tmp}/none.txt"], "none.txt"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, small_toy, args, message):
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    toy = tmp_path / "toy"
    from wsvad.toy import make_toy_feature_set
    make_toy_feature_set(toy, videos=12, dim=8, snippets=8)
    argv = [a.format(tmp=tmp_path, toy=toy) for a in args]
    proc = subprocess.run([sys.executable, "-m", "wsvad.cli.main", *argv], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys, wsvad.cli.main as m\n"
            "try:\n    m.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [x for x in ('torch', 'ray', 'mlflow', 'open_clip', 'pyarrow', 'sklearn') if x in sys.modules]\n"
            "print('HEAVY=' + ','.join(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in proc.stdout, proc.stdout
