"""`wsvad extract-objects`: one-line errors with exit 2, a --local run, and the same features through Ray.

``extract-objects`` is registered here the way wsvad/cli/main.py's COMMANDS will name it.
"""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wsvad.cli import main as cli
from wsvad.features.store import load_feature_set

COMMAND = ("extract_objects_cmd", "turn videos into an object-level feature set: detector + ByteTrack, one row per track")
RANDOM = "fasterrcnn_mobilenet_v3_large_fpn:random"


@pytest.fixture
def wsvad(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "extract-objects", COMMAND)
    return cli.main


@pytest.fixture(scope="module")
def two_train_clips(toy_clips, tmp_path_factory):
    with open(toy_clips["manifest"]) as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "train"][:2]
    for row in rows:
        row["path"] = str(Path(toy_clips["manifest"]).parent / row["path"])
    path = tmp_path_factory.mktemp("cli") / "train.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_help_imports_nothing_heavy():
    code = ("import sys, wsvad.cli.main as m\n"
            f"m.COMMANDS['extract-objects'] = {COMMAND!r}\n"
            "try:\n    m.main(['extract-objects', '--help'])\nexcept SystemExit:\n    pass\n"
            "print([x for x in ('ray', 'torch', 'torchvision', 'supervision', 'decord', 'av') if x in sys.modules], "
            "file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip() == "[]" and "--min-track-length" in proc.stdout and "--pooling" in proc.stdout


@pytest.mark.parametrize(("argv", "message"), [
    (["--detector", "fasterrcnn_mobilenet_v3_large_fpn"], "needs a weights file, which is not downloaded: give objects:"),
    (["--detector", "yolov8n:/w.pt"], "unknown detector 'yolov8n'"),
    (["--detector", RANDOM, "--track-threshold", "1.5"], "--track-threshold must be between 0 and 1, got 1.5"),
    (["--detector", RANDOM, "--pooling", "max"], "argument --pooling: invalid choice: 'max'"),
])
def test_bad_input_is_one_line_exit_2_before_anything_is_written(wsvad, two_train_clips, tmp_path, capsys, argv,
                                                                  message):
    args = ["extract-objects", "--manifest", str(two_train_clips), "--dataset", "toy", "--out", str(tmp_path / "out"),
            *argv]
    try:
        code = wsvad(args)
    except SystemExit as exit_:                 # argparse errors exit by themselves
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1], err
    assert "Traceback" not in "\n".join(err) and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_local_run_and_the_same_features_through_the_ray_actor_pool(wsvad, two_train_clips, tmp_path, capsys):
    common = ["extract-objects", "--manifest", str(two_train_clips), "--dataset", "toy", "--detector", RANDOM,
              "--proposals", "blobs", "--pooling", "gap", "--input-size", "112", "--frame-stride", "3",
              "--min-track-length", "4", "--progress-every", "-1"]
    assert wsvad([*common, "--out", str(tmp_path / "local"), "--local"]) == 0
    printed = capsys.readouterr().out
    assert "tracked 2 videos" in printed and "--frames-per-snippet 1" in printed
    local = load_feature_set(tmp_path / "local")

    assert wsvad([*common, "--out", str(tmp_path / "ray"), "--num-cpus", "2", "--workers", "1"]) == 0
    through_ray = load_feature_set(tmp_path / "ray")
    assert list(through_ray.video_ids) == list(local.video_ids)
    np.testing.assert_allclose(through_ray.features, local.features, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(through_ray.tracks.boxes, local.tracks.boxes)
    np.testing.assert_array_equal(through_ray.tracks.frames, local.tracks.frames)
